"""Aggregate cells into learning curves: mean per learner and size, bootstrap CI over seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd

N_BOOTSTRAP = 2000
CONFIDENCE = 0.95


def bootstrap_ci(values: np.ndarray, rng: np.random.Generator, n_boot: int = N_BOOTSTRAP,
                 confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean; NaN with fewer than two values (no spread to resample)."""
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return float("nan"), float("nan")
    means = rng.choice(values, size=(n_boot, len(values)), replace=True).mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def curve_table(results: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per (learner, n_train): seeds scored, mean, 95% CI low/high of ``metric``.

    Only ``ok`` cells count. The bootstrap resamples seeds (the unit that varies the
    training subset and the test rows), with a fixed generator so reports are reproducible.
    """
    ok = results[results["status"] == "ok"]
    rng = np.random.default_rng(0)
    rows = []
    for (learner, n_train), group in ok.groupby(["learner", "n_train"], sort=True):
        values = group[metric].to_numpy(float)
        low, high = bootstrap_ci(values, rng)
        rows.append({"learner": learner, "n_train": int(n_train), "n_seeds": int(np.isfinite(values).sum()),
                     "mean": float(np.nanmean(values)) if np.isfinite(values).any() else float("nan"),
                     "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows, columns=["learner", "n_train", "n_seeds", "mean", "ci_low", "ci_high"])


def format_estimate(mean: float, low: float, high: float, digits: int = 3) -> str:
    """'0.912 ± 0.008' (half-width of the CI), or just the mean when there is no CI."""
    if not np.isfinite(mean):
        return "n/a"
    if not (np.isfinite(low) and np.isfinite(high)):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {(high - low) / 2:.{digits}f}"
