"""Learning curves from cells: means and CIs over seeds, and the gain scale the fits work on.

Seeds are the unit of resampling: a seed fixes both the test rows and the training order, and
every learner shares them, so one resample of seed indices applied to all learners is a
*paired* bootstrap (differences between learners keep their correlation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dataeff.experiment.metrics import METRICS

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


def mean_ci(values: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Student-t CI of the mean of ``values`` (one per seed); NaN with fewer than two values.

    Not a bootstrap: the bootstrap distribution of a mean of five seeds is discrete and
    lighter-tailed than the t distribution, so even the expanded percentile came out narrow
    (benchmarks/validity.py, 15 groups of 5 seeds per noise level: the bands held a 20-seed
    reference 86-88% of the time, where exact 95% bands hold it about 92%).
    """
    from scipy.stats import t

    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return float("nan"), float("nan")
    half = float(t.ppf(1 - (1 - confidence) / 2, len(values) - 1)) * values.std(ddof=1) / np.sqrt(len(values))
    return float(values.mean() - half), float(values.mean() + half)


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
        with np.errstate(all="ignore"), quiet_runtime_warnings():
            return np.nanmean(picked, axis=2).T


class quiet_runtime_warnings:
    """NaN means of all-NaN columns (failed cells) are expected here, not worth a warning."""

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
    rows = []
    for (learner, n_train), group in ok.groupby(["learner", "n_train"], sort=True):
        values = group[metric].to_numpy(float)
        low, high = mean_ci(values)
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
# The "gain" scale the fits work on: higher is better, bounded above
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
