"""Forecasts beyond the sizes measured: the score at 2x to 16x the largest size, with a
predictive interval that holds, and the labels to reach a score out there.

A learning curve's future is mostly model error, not seed noise: a family fitted to eight
anchors can level off early or climb on, and the bootstrap over seeds never sees that. So the
point forecast is an average of the LCDB families (pow3, pow4, mmf4, exp3) weighted by how
well each predicted the last anchors when held back, its rise past the largest size shrunk
toward "the score stays where it is" (last1, which LCDB 1.0's analysis finds hard to beat),
and its interval is split-conformal: the forecast's errors on published curves (LCDB 1.0,
even OpenML ids, cut at 128 and 256 labels), in units of how much the curve still moves at
its end (the fitted rise over the last doubling, the mean's standard error, and how far the
last mean fell below the best one: a peaking curve gets wide bands), give the band's width at
each multiple. ``CALIBRATION`` holds those numbers and the command that made them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dataeff.analysis.curves import Curve, gain, gain_bound, gain_floor, quiet_runtime_warnings
from dataeff.analysis.fits import FAMILIES, fit_family, held_out_error
from dataeff.analysis.types import ForecastEntry, num, pair
from dataeff.experiment.metrics import METRICS

#: How far past the largest size measured a forecast reaches (the planning answers' multiples).
MULTIPLES = (2, 4, 8, 16)


@dataclass(frozen=True)
class Calibration:
    """The forecast's constants at each multiple k of the largest size: the weights of the
    ensemble's fitted rise (``fitted``) and of the rise the means made over the last doubling
    measured (``recent``: fitted curves level off too early, and a curve still climbing fast
    climbs on), and the quantiles ``low``, ``high`` of the errors left, in spreads (a 95%
    band); ``source`` says how they were measured."""

    multiples: tuple[float, ...]
    fitted: tuple[float, ...]
    recent: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    source: str

    def at(self, k: np.ndarray) -> tuple[np.ndarray, ...]:
        """(fitted, recent, low, high) at multiples ``k`` >= 1, linear in log k from k = 1 (the
        measured point itself: no rise, no width) through the calibrated multiples."""
        logs = np.log([1.0, *self.multiples])
        lk = np.log(np.clip(k, 1.0, self.multiples[-1]))
        return tuple(np.interp(lk, logs, np.array([0.0, *values]))
                     for values in (self.fitted, self.recent, self.low, self.high))


# Measured by benchmarks/forecast_calibration.py (see its docstring) on LCDB 1.0's accuracy
# curves with even OpenML ids; benchmarks/forecast_harness.py --ids odd checks them on the others.
CALIBRATION = Calibration(
    multiples=(2.0, 4.0, 8.0, 16.0),
    fitted=(0.391, 0.415, 0.425, 0.513),
    recent=(0.485, 0.766, 0.938, 0.913),
    low=(-1.35, -2.345, -3.056, -3.912),
    high=(2.163, 3.412, 6.076, 9.068),
    source="LCDB 1.0 accuracy, even OpenML ids, 1,180 curves cut at 128 and 256, the peaking ones aside "
           "(benchmarks/forecast_calibration.py, 2026-12-07)",
)


@dataclass(frozen=True)
class CurveForecast:
    """A curve's forecast past its largest size ``n_max``, on the gain scale (``gain``): the
    measured running best ``best``, the anchor (the ensemble's value at n_max) and its
    fitted rise, and ``spread``, the unit its errors are counted in."""

    n_max: float
    best: float
    anchor: float
    recent: float  # the means' rise over the last doubling measured (0 when they fell)
    spread: float
    ensemble: tuple  # (weight, Fit) pairs
    floor: float
    top: float
    calibration: Calibration = CALIBRATION
    # how fast the means fell per doubling since their peak, when the fall is beyond their
    # noise (an ill-behaved, peaking curve; 0 otherwise): its point stays at the last mean,
    # and its band reaches down to the fall continued
    fall: float = 0.0
    last: float = float("nan")

    def rise(self, n) -> np.ndarray:
        """The ensemble's rise from n_max to ``n``."""
        n = np.atleast_1d(np.asarray(n, float))
        with np.errstate(all="ignore"):
            total = sum(w * (fit.predict(n) - fit.predict(self.n_max)) for w, fit in self.ensemble)
        return np.maximum(np.nan_to_num(np.asarray(total, float)), 0.0)

    def band(self, n) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(point, low, high) at sizes ``n`` >= n_max, on the gain scale."""
        n = np.atleast_1d(np.asarray(n, float))
        fitted, recent, low, high = self.calibration.at(n / self.n_max)
        if self.fall > 0:
            point = np.full(n.shape, self.last)
            lower = np.minimum(point + low * self.spread, point - self.fall * np.log2(n / self.n_max) - self.spread)
        else:
            point = self.anchor + fitted * self.rise(n) + recent * self.recent
            lower = point + low * self.spread
        clip = lambda v: np.clip(v, self.floor, self.top)  # noqa: E731
        return clip(point), clip(lower), clip(point + high * self.spread)

    def score(self, n: float) -> tuple[float, float, float]:
        """(point, low, high) at ``n`` on the gain scale (the metric's own for a score)."""
        point, low, high = self.band([n])
        return float(point[0]), float(low[0]), float(high[0])

    def labels_to(self, goal: float) -> tuple[float, float, float, str]:
        """(point, low, high, how) for reaching ``goal`` (gain scale): 'measured' when the
        measured curve reached it (n_max, an upper bound: ask the curve for the size), else
        'forecast' with the first sizes where the point, the upper and the lower band reach
        it (inf: not within the last multiple); 'not_reached' when even the upper band stays
        below it there."""
        if self.best >= goal:
            return self.n_max, self.n_max, self.n_max, "measured"
        n = self.n_max * np.geomspace(1.0, self.calibration.multiples[-1], 241)
        point, low, high = self.band(n)
        first = lambda values: float(n[np.argmax(values >= goal)]) if (values >= goal).any() else float("inf")  # noqa: E731
        if not (high >= goal).any():
            return float("inf"), float("inf"), float("inf"), "not_reached"
        return first(point), first(high), first(low), "forecast"


def forecast_curve(curve: Curve, metric: str, calibration: Calibration = CALIBRATION) -> CurveForecast | None:
    """The forecast of ``curve`` past its largest size, or None with fewer than three sizes
    above zero (nothing to fit)."""
    keep = curve.sizes > 0
    sizes = np.asarray(curve.sizes[keep], float)
    values = gain(np.asarray(curve.values[keep], float), metric)
    with np.errstate(all="ignore"), quiet_runtime_warnings():
        means = np.nanmean(values, axis=1)
        counts = np.isfinite(values).sum(axis=1)
        se_last = float(np.nanstd(values[-1], ddof=1) / np.sqrt(counts[-1])) if counts[-1] > 1 else 0.0
    se_last = se_last if np.isfinite(se_last) else 0.0
    ok = np.isfinite(means)
    sizes, means = sizes[ok], means[ok]
    if len(sizes) < 3:
        return None
    top, floor = gain_bound(metric), gain_floor(metric)
    ensemble = _ensemble(sizes, means, top)
    if not ensemble:
        return None
    n_max = float(sizes[-1])
    with np.errstate(all="ignore"):
        anchor = float(sum(w * fit.predict(n_max) for w, fit in ensemble))
        last_doubling = float(sum(w * (fit.predict(n_max) - fit.predict(n_max / 2)) for w, fit in ensemble))
    best = float(np.max(means))
    drop = best - float(means[-1])  # a curve that peaked and fell: its future is less certain
    spread = abs(last_doubling) + se_last + max(drop, 0.0) + 1e-3
    recent = max(float(means[-1] - np.interp(np.log(n_max / 2), np.log(sizes), means)), 0.0) \
        if sizes[0] <= n_max / 2 else 0.0
    peak = int(np.argmax(means))
    noise = 2 * se_last + 1e-3
    fall = drop / np.log2(n_max / sizes[peak]) if drop > noise and sizes[peak] < n_max else 0.0
    return CurveForecast(n_max, best, anchor, recent, spread, tuple(ensemble), floor, top, calibration, fall,
                         float(means[-1]))


def _ensemble(sizes: np.ndarray, means: np.ndarray, top: float, hold: int = 2) -> list:
    """(weight, fit on every size) per family, weighted by the inverse of its error on the
    last ``hold`` sizes when fitted without them; equal weights with too few sizes to hold
    any back."""
    scale = float(sizes[-1])
    pairs = []
    for name, spec in FAMILIES.items():
        if len(sizes) < spec.n_params:
            continue
        fit = fit_family(name, sizes, means, top, scale=scale, zoom=1)
        if fit is None:
            continue
        error = 1.0
        if len(sizes) - hold >= spec.n_params:
            error = held_out_error(name, sizes, means, top, hold, zoom=1)
            if error is None or not np.isfinite(error):
                continue
        pairs.append((fit, error))
    if not pairs:
        return []
    inverse = np.array([1.0 / (error + 1e-6) for _, error in pairs])
    weights = inverse / inverse.sum()
    return [(float(w), fit) for w, (fit, _) in zip(weights, pairs)]


def forecast_entries(forecast: CurveForecast | None, metric: str) -> tuple[ForecastEntry, ...]:
    """The forecast at each of ``MULTIPLES`` of the largest size, on the metric's own scale."""
    if forecast is None:
        return ()
    sign = 1.0 if METRICS[metric] else -1.0
    entries = []
    for k in MULTIPLES:
        point, low, high = forecast.score(forecast.n_max * k)
        ci = (low, high) if sign > 0 else (-high, -low)
        entries.append(ForecastEntry(int(round(forecast.n_max * k)), num(sign * point), pair(ci)))
    return tuple(entries)

