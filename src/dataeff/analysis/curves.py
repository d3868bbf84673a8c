"""Learning curves from cells: means and CIs over seeds, parametric fits, asymptotes, the ceiling.

Seeds are the unit of resampling: a seed fixes both the test rows and the training order, and
every learner shares them, so one resample of seed indices applied to all learners is a
*paired* bootstrap (differences between learners keep their correlation).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dataeff.experiment.metrics import METRICS

N_BOOTSTRAP = 2000
N_FIT_BOOTSTRAP = 200
CONFIDENCE = 0.95


# ---------------------------------------------------------------------------------------
# Bootstrap over seeds
# ---------------------------------------------------------------------------------------
def expanded_tail(n: int, confidence: float = CONFIDENCE) -> float:
    """Tail level for an expanded percentile interval (Hesterberg 2015).

    With five seeds the plain percentile bootstrap is too narrow (it acts like a z interval
    on a biased standard deviation); widening the percentile so that
    z = sqrt(n / (n - 1)) * t_{n-1} restores nominal coverage for small n.
    """
    from scipy.stats import norm, t

    alpha = 1 - confidence
    if n < 2:
        return alpha / 2
    return float(norm.sf(np.sqrt(n / (n - 1)) * t.ppf(1 - alpha / 2, n - 1)))


def percentile_ci(samples: np.ndarray, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Expanded percentile interval of bootstrap ``samples`` drawn from ``n`` seeds (NaN-safe)."""
    samples = np.asarray(samples, float)
    samples = samples[~np.isnan(samples)]
    if n < 2 or len(samples) < 10:
        return float("nan"), float("nan")
    tail = expanded_tail(n, confidence) * 100
    # No interpolation: samples may hold inf (a target never reached), and inf - inf is NaN.
    low, high = np.percentile(samples, [tail, 100 - tail], method="inverted_cdf")
    return float(low), float(high)


def robust_interval(point: float, samples: np.ndarray, n: int, confidence: float = CONFIDENCE,
                    bounds: tuple[float, float] = (-np.inf, np.inf)) -> tuple[float, float]:
    """point ± t * bootstrap SE, the SE taken robustly (1.4826 × MAD) over resamples.

    Used for fitted quantities (asymptotes, the ceiling): a handful of resamples whose
    flexible fit runs off to the bound would otherwise stretch a percentile interval to it.
    The t quantile with the sqrt(n / (n - 1)) factor keeps coverage honest for few seeds.
    """
    from scipy.stats import t

    samples = np.asarray(samples, float)
    samples = samples[np.isfinite(samples)]
    if n < 2 or len(samples) < 10 or not np.isfinite(point):
        return float("nan"), float("nan")
    se = 1.4826 * float(np.median(np.abs(samples - np.median(samples))))
    half = float(t.ppf(1 - (1 - confidence) / 2, n - 1)) * np.sqrt(n / (n - 1)) * se
    return float(max(point - half, bounds[0])), float(min(point + half, bounds[1]))


def bootstrap_ci(values: np.ndarray, rng: np.random.Generator, n_boot: int = N_BOOTSTRAP,
                 confidence: float = CONFIDENCE) -> tuple[float, float]:
    """CI of the mean of ``values`` (one per seed); NaN with fewer than two values."""
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return float("nan"), float("nan")
    means = rng.choice(values, size=(n_boot, len(values)), replace=True).mean(axis=1)
    return percentile_ci(means, len(values), confidence)


def seed_resamples(n_seeds: int, n_boot: int, seed: int = 0) -> np.ndarray:
    """Seed-index resamples shared by every learner (the paired bootstrap)."""
    return np.random.default_rng(seed).integers(0, n_seeds, size=(n_boot, n_seeds))


# ---------------------------------------------------------------------------------------
# Curve data: one matrix (sizes x seeds) per learner
# ---------------------------------------------------------------------------------------
@dataclass
class Curve:
    """One learner's measurements of one metric: ``values[i, j]`` at ``sizes[i]``, seed j."""

    learner: str
    sizes: np.ndarray
    values: np.ndarray  # NaN where a cell failed or is missing

    @property
    def means(self) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.nanmean(self.values, axis=1)

    def resampled_means(self, resamples: np.ndarray) -> np.ndarray:
        """(n_boot, n_sizes) means under each seed resample."""
        picked = self.values[:, resamples]  # sizes x boot x seeds
        with np.errstate(all="ignore"), _quiet():
            return np.nanmean(picked, axis=2).T


class _quiet:
    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


def curves_from_results(results: pd.DataFrame, metric: str) -> tuple[dict[str, Curve], list[int]]:
    """Per-learner curves of ``metric`` from ok cells; also the seed list (shared columns)."""
    ok = results[results["status"] == "ok"]
    seeds = sorted(results["seed"].unique().tolist())
    position = {s: j for j, s in enumerate(seeds)}
    curves: dict[str, Curve] = {}
    for learner, group in ok.groupby("learner", sort=False):
        sizes = np.array(sorted(group["n_train"].unique()), dtype=float)
        index = {n: i for i, n in enumerate(sizes)}
        values = np.full((len(sizes), len(seeds)), np.nan)
        for n, seed, value in zip(group["n_train"], group["seed"], group[metric]):
            values[index[float(n)], position[seed]] = value
        curves[learner] = Curve(learner, sizes, values)
    return curves, seeds


def curve_table(results: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per (learner, n_train): seeds scored, mean, 95% CI low/high of ``metric``."""
    ok = results[results["status"] == "ok"]
    rng = np.random.default_rng(0)
    rows = []
    for (learner, n_train), group in ok.groupby(["learner", "n_train"], sort=True):
        values = group[metric].to_numpy(float)
        low, high = bootstrap_ci(values, rng)
        finite = np.isfinite(values)
        rows.append({"learner": learner, "n_train": int(n_train), "n_seeds": int(finite.sum()),
                     "mean": float(values[finite].mean()) if finite.any() else float("nan"),
                     "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows, columns=["learner", "n_train", "n_seeds", "mean", "ci_low", "ci_high"])


def curve_tables(results: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """``curve_table`` for every metric: computed once per write of a run folder's files."""
    return {metric: curve_table(results, metric) for metric in METRICS}


def format_estimate(mean: float, low: float, high: float, digits: int = 3) -> str:
    """'0.912 ± 0.008' (half-width of the CI), or just the mean when there is no CI."""
    if not np.isfinite(mean):
        return "n/a"
    if not (np.isfinite(low) and np.isfinite(high)):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {(high - low) / 2:.{digits}f}"


# ---------------------------------------------------------------------------------------
# Parametric fits (LCDB families), on the "gain" scale: higher is better, bounded above
# ---------------------------------------------------------------------------------------
def gain(values: np.ndarray, metric: str) -> np.ndarray:
    """Scores with higher-is-better: log_loss is negated so every curve rises to a ceiling."""
    return values if METRICS[metric] else -values


def gain_floor(metric: str) -> float:
    """The worst value on the gain scale: 0 for scores in [0, 1], unbounded for -log_loss."""
    return 0.0 if METRICS[metric] else -np.inf


def gain_bound(metric: str) -> float:
    """The best value a metric can take on the gain scale (1 for scores, 0 for -log_loss)."""
    return 1.0 if METRICS[metric] else 0.0


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
        hold = 2
        for name, spec in FAMILIES.items():
            if len(n) - hold < spec.n_params:
                continue
            fit = fit_family(name, n[:-hold], y[:-hold], top, scale=float(np.max(n)))
            if fit is None:
                continue
            error = float(np.mean((fit.predict(n[-hold:]) - y[-hold:]) ** 2))
            if error < best_error:
                best_name, best_error = name, error
    fit = fit_family(best_name, n, y, top)
    if fit is not None:
        fit.holdout_mse = best_error if np.isfinite(best_error) else float("nan")
    return fit


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
    with np.errstate(all="ignore"), _quiet():
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
                               faithful_fit(curve, fit, metric), asymptotes)
    return out


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


def _gain_ci_low(fit: LearnerFit, sign: float) -> float:
    low, high = fit.asymptote_ci
    value = low * sign if sign > 0 else -high
    return float(value) if np.isfinite(value) else -np.inf


def ceiling(fits: dict[str, LearnerFit], curves: dict[str, Curve], metric: str, n_seeds: int,
            resamples: np.ndarray | None = None, exclude: tuple[str, ...] = ("majority",)) -> dict:
    """The data's ceiling: the best identified asymptote across learners, with its CI.

    It is never below the best measured mean (a score some learner did reach); when no
    identified asymptote lies above that (its whole CI), the ceiling is the best measured
    point, flagged ``from: measured`` (a lower bound). The CI uses the same seed resamples for
    every learner: in each resample the ceiling is recomputed the same way.
    """
    sign = 1.0 if METRICS[metric] else -1.0
    candidates = {k: v for k, v in fits.items() if v.fit is not None and v.identified and k not in exclude}
    pool = {k: c for k, c in curves.items() if k not in exclude}
    measured = [(sign * c.means[i], k, int(c.sizes[i])) for k, c in pool.items()
                for i in range(len(c.sizes)) if np.isfinite(c.means[i])]
    if not measured:
        return {}
    best_gain, best_learner, best_n = max(measured)
    still_rising = [k for k, v in fits.items() if v.fit is not None and not v.identified and k not in exclude]
    fitted = max(candidates, key=lambda k: candidates[k].fit.asymptote) if candidates else None
    # A fitted limit replaces the best measured score only when its CI lies above it: an
    # asymptote "somewhere between 0.79 and 0.99" says nothing the measurements do not.
    if fitted is not None and _gain_ci_low(candidates[fitted], sign) > best_gain:
        value, learner, source = candidates[fitted].fit.asymptote, fitted, "fit"
    else:
        value, learner, source = best_gain, best_learner, "measured"
    low = high = float("nan")
    if resamples is not None and len(resamples):
        rows = [np.nanmax(gain(c.resampled_means(resamples), metric), axis=1) for c in pool.values()]
        if source == "fit":  # resampled the same way the point was found: best of both
            rows += [v.boot_asymptotes for v in candidates.values()]
        with np.errstate(all="ignore"), _quiet():
            per_resample = np.nanmax(np.vstack(rows), axis=0)
        low, high = robust_interval(value, per_resample, n_seeds, bounds=(gain_floor(metric), gain_bound(metric)))
    ci = [sign * low, sign * high] if sign > 0 else [sign * high, sign * low]
    return {"value": sign * value, "ci": ci, "learner": learner, "from": source,
            "best_measured": sign * best_gain, "best_measured_learner": best_learner, "best_measured_n": best_n,
            # room left above the best measured point (0 when the ceiling is that point)
            "gap": float(value - best_gain), "extrapolated": source == "fit", "still_rising": still_rising}
