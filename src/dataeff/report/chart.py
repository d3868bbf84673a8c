"""The learning-curve chart as data: what both drawings (curves.png and the report's SVG) show.

Everything a reader could compare between the two is decided here, once: the series and
their colours, where each fitted extrapolation ends, the ceiling and whether its band shows,
the x scale and ticks, and the y range. ``plots`` draws a Chart with matplotlib, ``svg`` as
inline SVG; neither adds data of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dataeff.analysis.types import Analysis, LabelsNeeded
from dataeff.experiment.metrics import metric_range
from dataeff.report.tables import learner_order

# matplotlib's default cycle (tab10), so a chart drawn on a notebook's Axes matches the files.
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf"]
# A ceiling band wider than this (few seeds) would cover the chart and say little; the answer
# sentences still give the interval.
CEILING_BAND_MAX_WIDTH = 0.2
X_LABEL = "labelled training examples (n_train, log scale)"
FIT_POINTS = 40
# The dashed fit runs to 2x the largest size measured, or on to just past an extrapolated
# target (1.2x its labels), but never beyond 20x: further out a fit is a guess.
FIT_SPAN, FIT_PAST_TARGET, FIT_SPAN_MAX = 2.0, 1.2, 20.0
Y_PAD = 0.06  # share of the data's span left free above and below


def size_ticks(sizes: list) -> list[int]:
    """x ticks: 0 and powers of two among the sizes, and the largest size (the whole pool); sizes
    of the user's own (50, 100, 200, ...) with fewer than three powers of two: every size, at
    most eight of them."""
    sizes = sorted(sizes)
    ticks = [s for s in sizes if s == 0 or np.log2(s) == int(np.log2(s))]
    if len([t for t in ticks if t > 0]) < 3 and len(sizes) > 1:
        step = -(-len(sizes) // 8)
        return [int(t) for t in sizes[::step]] + ([int(sizes[-1])] if (len(sizes) - 1) % step else [])
    if sizes and sizes[-1] not in ticks and (not ticks or sizes[-1] > ticks[-1] * 1.3):
        ticks.append(sizes[-1])
    return [int(t) for t in (ticks or sizes)]


def extrapolation_end(n_max: float, need: LabelsNeeded | None) -> float:
    """Where a learner's dashed fit ends (it starts at its largest measured size ``n_max``)."""
    end = FIT_SPAN * n_max
    if need is not None and need.how == "extrapolated" and need.n:
        end = min(max(end, FIT_PAST_TARGET * need.n), FIT_SPAN_MAX * n_max)
    return end


@dataclass(frozen=True)
class Series:
    """One learner: mean and 95% band per measured size; its forecast (or fitted curve) past the
    largest size."""

    learner: str
    color: str
    x: tuple[int, ...]
    mean: tuple[float, ...]
    low: tuple[float, ...]  # NaN where a size has no CI (one seed)
    high: tuple[float, ...]
    n_seeds: tuple[int, ...]
    fit_x: tuple[float, ...] = ()  # empty: no fit drawn
    fit_y: tuple[float, ...] = ()
    twin: str | None = None  # the curve it is read against (a random twin, a full learner): its colour, dash-dotted
    # the forecast's 95% predictive band along fit_x (a fan from the largest size measured);
    # empty where the dashed line is a fit without one
    fan_low: tuple[float, ...] = ()
    fan_high: tuple[float, ...] = ()


@dataclass(frozen=True)
class CeilingMark:
    """The data's ceiling as a line, with its CI as a band when that is narrow enough to say something."""

    value: float
    low: float | None
    high: float | None

    @property
    def band(self) -> bool:
        return self.low is not None and self.high is not None and self.high - self.low <= CEILING_BAND_MAX_WIDTH

    @property
    def label(self) -> str:
        return f"ceiling {self.value:.3f}"


@dataclass(frozen=True)
class Chart:
    """One learning-curve chart: ``metric`` against labelled examples on a log x axis
    ('symlog' when n = 0, zero-shot, is among the sizes)."""

    metric: str
    title: str
    series: tuple[Series, ...]
    ceiling: CeilingMark | None
    x_scale: str
    x_ticks: tuple[int, ...]
    x_max: float  # the largest x drawn: measured or extrapolated
    y_range: tuple[float, float]
    x_label: str = X_LABEL

    @property
    def y_label(self) -> str:
        return self.metric

    @property
    def sizes(self) -> list[int]:
        return sorted({n for s in self.series for n in s.x})

    @classmethod
    def from_curves(cls, curves: pd.DataFrame, metric: str, order: list[str] | None = None,
                    analysis: Analysis | None = None, title: str = "") -> Chart:
        """From a curve table (``analysis.curves.curve_table``) and, for the analysed metric, the
        fits and ceiling of ``analysis`` (ignored for any other metric)."""
        # an acquiring learner beside its random twin, a learner without a column group beside itself
        # with every column: the partner's colour, dash-dotted
        twins = ({a.learner: a.twin for a in analysis.acquisition} | {s.variant: s.learner for s in analysis.sources}
                 if analysis is not None else {})
        if analysis is not None and analysis.metric != metric:
            analysis = None
        learners = learner_order(order, curves["learner"])
        colors: dict[str, str] = {}
        partners: dict[str, int] = {}  # how many curves are drawn beside each one so far
        for learner in [n for n in learners if n not in twins] + [n for n in learners if n in twins]:
            twin = twins.get(learner)
            if twin in colors:  # its partner's colour family: the same, then darker and lighter shades
                colors[learner] = shade(colors[twin], partners.get(twin, 0))
                partners[twin] = partners.get(twin, 0) + 1
            else:
                colors[learner] = PALETTE[len(colors) % len(PALETTE)]
        series = []
        low, high = metric_range(metric)  # bands within it: two seeds' t interval spans roc_auc -0.5 to 2.2
        for learner in learners:
            group = curves[curves["learner"] == learner].sort_values("n_train")
            fit_x, fit_y, fan = _extrapolation(analysis, learner, float(group["n_train"].max()),
                                               float(group["mean"].iloc[-1]) if len(group) else float("nan"))
            series.append(Series(
                learner, colors[learner], tuple(int(n) for n in group["n_train"]),
                tuple(map(float, group["mean"])), tuple(float(v) for v in group["ci_low"].clip(lower=low)),
                tuple(float(v) for v in group["ci_high"].clip(upper=high)), tuple(int(n) for n in group["n_seeds"]),
                fit_x, fit_y,
                twins.get(learner) if twins.get(learner) in colors else None, *fan))
        ceiling = None
        if analysis is not None and analysis.ceiling is not None and analysis.ceiling.value is not None:
            ceiling = CeilingMark(analysis.ceiling.value, *analysis.ceiling.ci)
        sizes = curves["n_train"].unique().tolist()
        return cls(
            metric=metric, title=title or f"Learning curves ({metric}, mean and 95% CI over seeds)",
            series=tuple(series), ceiling=ceiling, x_scale="symlog" if 0 in sizes else "log",
            x_ticks=tuple(size_ticks(sizes)),
            x_max=max([float(max(sizes, default=1))] + [s.fit_x[-1] for s in series if s.fit_x]),
            y_range=_y_range(series, ceiling),
        )


def shade(color: str, k: int) -> str:
    """The ``k``-th shade of a ``#rrggbb`` colour: itself, then darker and lighter by turns."""
    if k == 0:
        return color
    rgb = [int(color[i:i + 2], 16) for i in (1, 3, 5)]
    amount = min(0.6, 0.3 * ((k + 1) // 2))
    target = 0 if k % 2 else 255  # odd: toward black; even: toward white
    return "#" + "".join(f"{round(c + (target - c) * amount):02x}" for c in rgb)


def _extrapolation(analysis: Analysis | None, learner: str, n_max: float, last: float) -> tuple[tuple, tuple, tuple]:
    """(x, y, (low, high)) of what is drawn past the largest size: the forecast and its band,
    starting from the last mean measured, where the learner has one; else its fitted curve."""
    answer = analysis.learners.get(learner) if analysis is not None else None
    if answer is None or answer.fit is None or n_max <= 0:
        return (), (), ((), ())
    entries = [e for e in answer.forecast if e.score is not None and None not in e.ci]
    if entries and np.isfinite(last) and entries[0].n > n_max:
        return ((n_max, *(float(e.n) for e in entries)), (last, *(e.score for e in entries)),
                ((last, *(e.ci[0] for e in entries)), (last, *(e.ci[1] for e in entries))))
    grid = np.geomspace(n_max, extrapolation_end(n_max, answer.labels_to_target), FIT_POINTS)
    sign = 1.0 if analysis.higher_is_better else -1.0  # fits live on the gain scale (log_loss negated)
    return tuple(map(float, grid)), tuple(map(float, sign * answer.fit.predict(grid))), ((), ())


def _y_range(series: list[Series], ceiling: CeilingMark | None) -> tuple[float, float]:
    """Everything drawn fits: means, bands, fitted curves, the ceiling (and its band when shown)."""
    values = [v for s in series for v in (*s.mean, *s.low, *s.high, *s.fit_y, *s.fan_low, *s.fan_high)]
    if ceiling is not None:
        values += [ceiling.value, *((ceiling.low, ceiling.high) if ceiling.band else ())]
    values = [v for v in values if np.isfinite(v)]
    if not values:
        return 0.0, 1.0
    low, high = min(values), max(values)
    pad = max((high - low) * Y_PAD, 1e-3)
    return low - pad, high + pad
