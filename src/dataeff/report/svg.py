"""The learning-curve chart as inline SVG: log-x, bands, markers with tooltips, fits, ceiling.

Drawn by hand rather than with a JavaScript library so the report is one small offline file
that prints well; text and axes use ``currentColor`` so the chart follows light and dark
themes. Colours match ``curves.png`` (matplotlib's default cycle, in the study's order).
"""

from __future__ import annotations

import math
from html import escape

import numpy as np
import pandas as pd

from dataeff.report.plots import fitted_curve, learner_order, shows_ceiling_band, size_ticks

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf"]
WIDTH, HEIGHT = 960, 500
LEFT, RIGHT, TOP, BOTTOM = 64, 170, 24, 56


def color_for(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


class _Scale:
    """Log-x (n = 0, zero-shot, sits half a decade left of the smallest size) and linear y."""

    def __init__(self, sizes: list[float], low: float, high: float, x_end: float):
        positive = [s for s in sizes if s > 0] or [1.0]
        self.has_zero = any(s == 0 for s in sizes)
        self.lo = math.log10(min(positive)) - (0.5 if self.has_zero else 0.08)
        self.hi = math.log10(max(max(positive), x_end)) + 0.05
        self.y_lo, self.y_hi = low, high

    def x(self, n: float) -> float:
        v = self.lo + 0.04 if n <= 0 else math.log10(n)
        return LEFT + (v - self.lo) / (self.hi - self.lo) * (WIDTH - LEFT - RIGHT)

    def y(self, v: float) -> float:
        return TOP + (self.y_hi - v) / (self.y_hi - self.y_lo) * (HEIGHT - TOP - BOTTOM)


def _nice_ticks(low: float, high: float, count: int = 6) -> list[float]:
    span = high - low
    step = 10 ** math.floor(math.log10(span / count))
    for mult in (1, 2, 2.5, 5, 10):
        if span / (step * mult) <= count:
            step *= mult
            break
    start = math.ceil(low / step) * step
    return [round(start + i * step, 10) for i in range(int((high - start) / step) + 1)]


def _points(xs, ys) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys))


def curve_svg(curves: pd.DataFrame, metric: str, order: list[str], analysis: dict | None = None,
              chart_id: str = "chart") -> str:
    """One SVG: a ``<g class="series" data-learner=...>`` per learner (band, line, markers)."""
    analysis = analysis or {}
    learners = learner_order(order, curves["learner"])
    fits = {n: fitted_curve(analysis.get("learners", {}).get(n), metric) for n in learners}
    n_max = float(curves["n_train"].max()) if len(curves) else 1.0
    x_end = 2 * n_max if any(fits.values()) else n_max
    values = pd.concat([curves["mean"], curves["ci_low"], curves["ci_high"]]).dropna()
    ceil = analysis.get("ceiling") or {}
    if ceil.get("value") is not None:
        values = pd.concat([values, pd.Series([v for v in [ceil["value"], *ceil["ci"]] if v is not None])])
    low, high = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
    pad = max((high - low) * 0.06, 1e-3)
    scale = _Scale(sorted(curves["n_train"].unique().tolist()), low - pad, high + pad, x_end)
    plot_w = WIDTH - LEFT - RIGHT
    parts = [f'<svg id="{escape(chart_id)}" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="{escape(metric)} against labelled training examples" '
             f'xmlns="http://www.w3.org/2000/svg">']
    # axes and grid
    for tick in _nice_ticks(scale.y_lo, scale.y_hi):
        y = scale.y(tick)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}"/>'
                     f'<text class="tick" x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{tick:g}</text>')
    for tick in size_ticks(curves["n_train"].unique().tolist()):
        x = scale.x(tick)
        parts.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}"/>'
                     f'<text class="tick" x="{x:.1f}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle">'
                     f'{int(tick):,}</text>')
    parts.append(f'<rect class="frame" x="{LEFT}" y="{TOP}" width="{plot_w}" height="{HEIGHT - TOP - BOTTOM}"/>')
    parts.append(f'<text class="axis-label" x="{LEFT + plot_w / 2:.0f}" y="{HEIGHT - 14}" text-anchor="middle">'
                 'labelled training examples (log scale)</text>')
    parts.append(f'<text class="axis-label" transform="translate(16 {TOP + (HEIGHT - TOP - BOTTOM) / 2:.0f}) '
                 f'rotate(-90)" text-anchor="middle">{escape(metric)}</text>')
    if ceil.get("value") is not None:
        lo_c, hi_c = ceil["ci"]
        if shows_ceiling_band(ceil):
            parts.append(f'<rect class="ceiling-band" x="{LEFT}" width="{plot_w}" y="{scale.y(hi_c):.1f}" '
                         f'height="{max(scale.y(lo_c) - scale.y(hi_c), 1):.1f}"><title>data ceiling 95% CI '
                         f'[{lo_c:.3f}, {hi_c:.3f}]</title></rect>')
        y = scale.y(ceil["value"])
        parts.append(f'<line class="ceiling" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}"/>'
                     f'<text class="ceiling-label" x="{LEFT + plot_w - 6}" y="{y - 6:.1f}" text-anchor="end">'
                     f'ceiling {ceil["value"]:.3f}</text>')
    # series
    for index, name in enumerate(learners):
        color = color_for(index)
        group = curves[curves["learner"] == name].sort_values("n_train")
        xs = [scale.x(n) for n in group["n_train"]]
        parts.append(f'<g class="series" data-learner="{escape(name)}" style="--c:{color}">')
        band = group.dropna(subset=["ci_low", "ci_high"])
        if len(band) >= 2:
            upper = [(scale.x(n), scale.y(v)) for n, v in zip(band["n_train"], band["ci_high"])]
            lower = [(scale.x(n), scale.y(v)) for n, v in zip(band["n_train"], band["ci_low"])][::-1]
            parts.append(f'<polygon class="band" points="{_points(*zip(*(upper + lower)))}"/>')
        parts.append(f'<polyline class="line" points="{_points(xs, [scale.y(v) for v in group["mean"]])}"/>')
        fit = fits.get(name)
        if fit is not None:
            grid = np.geomspace(max(group["n_train"].max(), 1), x_end, 30)
            ys = fit(grid)
            parts.append(f'<polyline class="fit" points="{_points([scale.x(n) for n in grid], [scale.y(v) for v in ys])}">'
                         f'<title>{escape(name)}: fitted curve beyond the largest size (extrapolated)</title></polyline>')
        for row, x in zip(group.itertuples(), xs):
            ci = "" if not (np.isfinite(row.ci_low) and np.isfinite(row.ci_high)) else \
                f" [{row.ci_low:.3f}, {row.ci_high:.3f}]"
            parts.append(f'<circle class="point" cx="{x:.1f}" cy="{scale.y(row.mean):.1f}" r="3.5">'
                         f'<title>{escape(name)} at n = {int(row.n_train):,}: {escape(metric)} {row.mean:.3f}{ci} '
                         f'({row.n_seeds} seeds)</title></circle>')
        legend_y = TOP + 14 + index * 22
        parts.append(f'<line class="legend-line" x1="{WIDTH - RIGHT + 16}" x2="{WIDTH - RIGHT + 40}" '
                     f'y1="{legend_y}" y2="{legend_y}"/><text class="legend" x="{WIDTH - RIGHT + 46}" '
                     f'y="{legend_y + 4}">{escape(name)}</text>')
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)

