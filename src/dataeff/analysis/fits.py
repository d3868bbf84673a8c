"""Parametric learning-curve fits (LCDB families) per learner, refitted under each seed resample."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dataeff.analysis.curves import (Curve, gain, gain_bound, gain_floor, percentile_ci, quiet_runtime_warnings,
                                    robust_interval)
from dataeff.experiment.metrics import METRICS


# Every family is written y = alpha - beta * phi(x; theta): alpha is the asymptote, beta >= 0
# the amplitude (curves rise), theta one or two shape parameters. For fixed theta, alpha and
# beta are a two-parameter least squares with a closed form, so a fit is a vectorized scan of
# a theta grid (variable projection) instead of an iterative solver: fast enough to refit
# every bootstrap resample, and free of starting-point luck.
def _phi_pow3(x, c):
    return x[None, :] ** (-c[:, None])


def _phi_exp3(x, c):
    return np.exp(-c[:, None] * x[None, :])


def _phi_pow4(x, c, d):
    return (x[None, :] + d[:, None]) ** (-c[:, None])


def _phi_mmf4(x, b, d):
    # mmf4 (a*b + c*x^d) / (b + x^d) = c - (c - a) / (1 + x^d / b): alpha = c, beta = c - a.
    return 1.0 / (1.0 + x[None, :] ** d[:, None] / b[:, None])


def _grid(*axes: np.ndarray) -> list[np.ndarray]:
    mesh = np.meshgrid(*axes, indexing="ij")
    return [m.ravel() for m in mesh]


@dataclass(frozen=True)
class Family:
    name: str
    phi: object
    theta_names: tuple[str, ...]
    grid: tuple  # one array of values per theta

    @property
    def n_params(self) -> int:
        return 2 + len(self.theta_names)


FAMILIES = {
    "pow3": Family("pow3", _phi_pow3, ("c",), (np.geomspace(1e-3, 5, 400),)),
    "pow4": Family("pow4", _phi_pow4, ("c", "d"), (np.geomspace(1e-2, 5, 60),
                                                   np.r_[0.0, np.geomspace(1e-4, 10, 29)])),
    "mmf4": Family("mmf4", _phi_mmf4, ("b", "d"), (np.geomspace(1e-6, 1e2, 50), np.geomspace(1e-2, 5, 40))),
    "exp3": Family("exp3", _phi_exp3, ("c",), (np.geomspace(1e-2, 1e3, 400),)),
}


@dataclass
class Fit:
    """A fitted curve on the gain scale: y = alpha - beta * phi(n / scale; theta)."""

    family: str
    alpha: float
    beta: float
    theta: tuple[float, ...]
    scale: float
    holdout_mse: float = float("nan")

    def predict(self, n) -> np.ndarray:
        x = np.atleast_1d(np.asarray(n, float)) / self.scale
        theta = [np.array([t]) for t in self.theta]
        with np.errstate(all="ignore"):
            values = self.alpha - self.beta * FAMILIES[self.family].phi(x, *theta)[0]
        return values if np.ndim(n) else float(values[0])

    @property
    def asymptote(self) -> float:
        return self.alpha

    @classmethod
    def from_dict(cls, spec: dict) -> Fit:
        """The inverse of ``to_dict`` (summary.json -> a curve that can predict)."""
        names = FAMILIES[spec["family"]].theta_names
        return cls(spec["family"], spec["asymptote"], spec["amplitude"], tuple(spec["shape"][k] for k in names),
                   spec["x_scale"], spec.get("holdout_mse", float("nan")))

    def to_dict(self) -> dict:
        names = FAMILIES[self.family].theta_names
        return {"family": self.family, "asymptote": self.alpha, "amplitude": self.beta,
                "shape": dict(zip(names, map(float, self.theta))), "x_scale": self.scale,
                "formula": "asymptote - amplitude * phi(n / x_scale)", "holdout_mse": self.holdout_mse}


def fit_family(family: str, n: np.ndarray, y: np.ndarray, top: float, scale: float | None = None,
               zoom: int = 2) -> Fit | None:
    """Least-squares fit of one family, with asymptote <= ``top`` and a rising curve.

    A coarse grid over the shape parameters, then ``zoom`` passes of a finer grid around
    the best point (each pass narrows to the neighbouring grid values on every axis).
    """
    if len(n) < 3:
        return None
    spec = FAMILIES[family]
    scale = float(scale or np.max(n))
    x = np.asarray(n, float) / scale
    y = np.asarray(y, float)
    axes = [np.asarray(a, float) for a in spec.grid]
    best = None
    for _ in range(zoom + 1):
        theta = _grid(*axes)
        sse, alpha, beta = _scan(spec, x, y, theta, top)
        i = int(np.argmin(sse))
        if not np.isfinite(sse[i]):
            break
        best = (float(alpha[i]), float(beta[i]), tuple(float(t[i]) for t in theta))
        axes = [_narrow(axis, value) for axis, value in zip(axes, best[2])]
    if best is None:
        return None
    return Fit(family, best[0], best[1], best[2], scale)


def _narrow(axis: np.ndarray, value: float, points: int = 15) -> np.ndarray:
    """A finer axis between the grid neighbours of ``value``."""
    k = int(np.argmin(np.abs(axis - value)))
    low, high = axis[max(k - 1, 0)], axis[min(k + 1, len(axis) - 1)]
    return np.linspace(low, high, points) if high > low else np.array([value])


def _scan(spec: Family, x: np.ndarray, y: np.ndarray, theta: list[np.ndarray], top: float):
    """For every shape on the grid, the constrained closed-form (alpha, beta) and its SSE."""
    with np.errstate(all="ignore"):
        phi = spec.phi(x, *theta)  # grid x points
    phi_mean = phi.mean(axis=1)
    y_mean = float(np.mean(y))
    centered = phi - phi_mean[:, None]
    var = (centered ** 2).sum(axis=1)
    cov = centered @ (y - y_mean)
    with np.errstate(all="ignore"):
        beta = np.where(var > 1e-15, -cov / var, 0.0)
    beta = np.maximum(beta, 0.0)  # a falling curve becomes flat
    alpha = np.where(beta > 0, y_mean + beta * phi_mean, y_mean)
    over = alpha > top
    if over.any():  # asymptote pinned at the bound: refit the amplitude alone
        sq = (phi[over] ** 2).sum(axis=1)
        with np.errstate(all="ignore"):
            beta[over] = np.maximum(0.0, np.where(sq > 0, ((top - y)[None, :] * phi[over]).sum(axis=1) / sq, 0.0))
        alpha[over] = top
    with np.errstate(all="ignore"):
        residual = y[None, :] - (alpha[:, None] - beta[:, None] * phi)
        sse = np.where(np.isfinite(residual).all(axis=1), (residual ** 2).sum(axis=1), np.inf)
    return sse, alpha, beta


def fit_curve(sizes: np.ndarray, means: np.ndarray, top: float) -> Fit | None:
    """Choose the family that best extrapolates to the largest anchors, then refit on all.

    With at least 6 sizes the largest two are held back for selection (as LCDB judges
    extrapolation); with fewer, pow3 is used without selection. n = 0 (zero-shot) is left
    out: the families have no value at n = 0.
    """
    keep = (sizes > 0) & np.isfinite(means)
    n, y = sizes[keep], means[keep]
    if len(n) < 3:
        return None
    best_name, best_error = "pow3", np.inf
    if len(n) >= 6:
        for name in FAMILIES:
            error = held_out_error(name, n, y, top)
            if error is not None and error < best_error:
                best_name, best_error = name, error
    fit = fit_family(best_name, n, y, top)
    if fit is not None:
        fit.holdout_mse = best_error if np.isfinite(best_error) else float("nan")
    return fit


def held_out_error(family: str, n: np.ndarray, y: np.ndarray, top: float, hold: int = 2,
                   zoom: int = 2) -> float | None:
    """Mean squared error on the last ``hold`` sizes of ``family`` fitted without them (how
    LCDB judges extrapolation); None when too few sizes are left for its parameters or it does
    not fit."""
    if len(n) - hold < FAMILIES[family].n_params:
        return None
    fit = fit_family(family, n[:-hold], y[:-hold], top, scale=float(np.max(n)), zoom=zoom)
    if fit is None:
        return None
    with np.errstate(all="ignore"):
        return float(np.mean((fit.predict(n[-hold:]) - y[-hold:]) ** 2))


# ---------------------------------------------------------------------------------------
# Per-learner fits with bootstrap asymptotes, and the data's ceiling
# ---------------------------------------------------------------------------------------
@dataclass
class LearnerFit:
    learner: str
    fit: Fit | None
    asymptote: float  # on the metric's own scale
    asymptote_ci: tuple[float, float]
    boot_fits: list = field(default_factory=list)  # per resample: Fit or None (gain scale)
    identified: bool = False  # the data pin the asymptote down (its CI stays below the bound)
    faithful: bool = False  # the fit follows the measured means within their noise
    boot_asymptotes: np.ndarray | None = None  # gain scale
    rising: bool = False  # the fit still climbs at the largest size by more than its noise


def faithful_fit(curve: Curve, fit: Fit, metric: str, limit: float = 2.0) -> bool:
    """True when the fit's residuals are of the size of the means' own noise (RMS z <= limit).

    Only then are answers inside the measured range read off the fit; a curve with a bump
    the family cannot follow keeps plain interpolation.
    """
    keep = curve.sizes > 0
    values = gain(curve.values[keep], metric)
    counts = np.isfinite(values).sum(axis=1)
    usable = counts >= 2
    if usable.sum() < 3:
        return False
    with np.errstate(all="ignore"), quiet_runtime_warnings():
        means = np.nanmean(values[usable], axis=1)
        se = np.nanstd(values[usable], axis=1, ddof=1) / np.sqrt(counts[usable])
    # a floor on the SE: a size where every seed scored alike must not demand an exact fit
    se = np.maximum(se, max(1e-3 * abs(np.nanmean(means)), 1e-4))
    z = (means - fit.predict(curve.sizes[keep][usable])) / se
    return bool(np.sqrt(np.mean(z ** 2)) <= limit)


def fit_learners(curves: dict[str, Curve], metric: str, resamples: np.ndarray) -> dict[str, LearnerFit]:
    """Fit each learner's mean curve and refit the chosen family under each seed resample."""
    top = gain_bound(metric)
    sign = 1.0 if METRICS[metric] else -1.0
    out = {}
    for name, curve in curves.items():
        fit = fit_curve(curve.sizes, gain(curve.means, metric), top)
        boot_fits: list = []
        if fit is not None:
            keep = curve.sizes > 0
            for means in curve.resampled_means(resamples):
                y = gain(means, metric)[keep]
                ok = np.isfinite(y)
                boot_fits.append(fit_family(fit.family, curve.sizes[keep][ok], y[ok], top, scale=fit.scale,
                                            zoom=1) if ok.sum() >= 3 else None)
        asymptotes = np.array([f.asymptote if f is not None else np.nan for f in boot_fits])
        n_seeds = curve.values.shape[1]
        if fit is None:
            out[name] = LearnerFit(name, None, float("nan"), (float("nan"), float("nan")))
            continue
        low, high = robust_interval(fit.asymptote, asymptotes, n_seeds, bounds=(gain_floor(metric), top))
        identified = _identified(fit, curve, high, top)
        ci = (sign * low, sign * high) if sign > 0 else (sign * high, sign * low)
        out[name] = LearnerFit(name, fit, sign * fit.asymptote, ci, boot_fits, identified,
                               faithful_fit(curve, fit, metric), asymptotes,
                               still_rising(curve, fit, boot_fits, metric))
    return out


def still_rising(curve: Curve, fit: Fit, boot_fits: list, metric: str) -> bool:
    """Does the fitted curve still climb at the largest size by more than its noise?

    The climb is the fit's gain over the last doubling of data (n_max / 2 to n_max). It must
    exceed the standard error of the mean at the largest size, and its bootstrap interval
    (the fit redone under each seed resample) must stay above zero: a flat curve (a zero-shot
    LLM scores the same at every size) fits a tiny positive slope from noise, and is not rising.
    Whether its limit can be told is another question (``identified``).
    """
    positive = curve.sizes[curve.sizes > 0]
    if len(positive) < 2:
        return False
    n_max = float(positive.max())
    climb = float(fit.predict(n_max) - fit.predict(n_max / 2))
    last = gain(curve.values[np.argmax(curve.sizes)], metric)
    last = last[np.isfinite(last)]
    if len(last) < 2:
        return False
    se = float(np.std(last, ddof=1) / np.sqrt(len(last)))
    boot = np.array([f.predict(n_max) - f.predict(n_max / 2) if f is not None else np.nan for f in boot_fits])
    low, _ = percentile_ci(boot, len(last))
    return bool(climb > se and np.isfinite(low) and low > 0)


# How far beyond the largest size an asymptote may lie, in units of the gain over the last
# doubling of data. A power law a - b n^-c has remaining / last-doubling = 1 / (2^c - 1):
# 1.0 at c = 1, 2.4 at c = 0.5, 5 at c = 0.26. Slower curves climb like log n for as far as
# anyone can measure, and their fitted limit is a guess (seen: logreg flat at 0.855 from
# n = 4,096 to 9,000, fitted asymptote 0.915, true ceiling 0.863).
MAX_REMAINING_PER_DOUBLING = 5.0


def _identified(fit: Fit, curve: Curve, ci_high: float, top: float) -> bool:
    """Do the data pin this learner's asymptote down?

    Not when its CI reaches the metric's bound, nor when the fit says most of the climb is
    still to come far beyond the largest size measured.
    """
    if not (np.isfinite(ci_high) and ci_high < top - 1e-9 and fit.asymptote < top - 1e-3):
        return False
    n_max = float(curve.sizes.max())
    at_max = float(fit.predict(n_max))
    remaining = fit.asymptote - at_max
    last_doubling = at_max - float(fit.predict(n_max / 2))
    return bool(remaining <= 0.005 or remaining <= MAX_REMAINING_PER_DOUBLING * max(last_doubling, 0.0))
