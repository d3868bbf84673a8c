"""Is there any signal? Each learner against the baseline at every size, paired over seeds,
with the comparisons corrected for their number (Holm), before any other answer is given.

No model creates information the data do not hold: when no learner beats the baseline
(the majority learner of the run, or chance: 0.5 roc_auc) beyond noise at any size, every
other answer (labels to a target, crossovers as wins, the cheapest route) would be about noise.
"""

from __future__ import annotations

import numpy as np

from dataeff.analysis.curves import Curve, gain, percentile_ci, quiet_runtime_warnings
from dataeff.analysis.types import Signal, SignalPoint, num, pair

#: Family-wise error rate of the signal test: the chance that a table without signal is
#: said to have one, over all the learners and sizes of a run.
SIGNAL_ALPHA = 0.05
#: Chance levels that hold whatever the classes: a score no learner can fail to reach.
CHANCE = {"roc_auc": 0.5}


def baseline_values(curves: dict[str, Curve], baselines: set[str], metric: str) -> tuple[str | None, dict]:
    """The baseline's per-seed values by size (gain scale): the best baseline learner at each
    size, or, without one, chance (roc_auc); ``(None, {})`` when neither is known."""
    present = [curves[b] for b in baselines if b in curves]
    if present:
        by_size: dict[float, np.ndarray] = {}
        for curve in present:
            for i, n in enumerate(curve.sizes):
                values = gain(curve.values[i], metric)
                old = by_size.get(float(n))
                with np.errstate(all="ignore"), quiet_runtime_warnings():
                    if old is None or np.nanmean(values) > np.nanmean(old):
                        by_size[float(n)] = values
        return (present[0].learner if len(present) == 1 else "the best baseline"), by_size
    if metric in CHANCE:
        return "chance", {}
    return None, {}


def _baseline_at(by_size: dict, n: float, n_seeds: int, metric: str) -> np.ndarray:
    """The baseline at size n: measured there, else at the nearest size it was measured (a
    majority vote barely moves with n; n = 0 takes its smallest size), else chance."""
    if by_size:
        sizes = np.array(sorted(by_size))
        return by_size[float(sizes[np.argmin(np.abs(np.log1p(sizes) - np.log1p(n)))])]
    return np.full(n_seeds, gain(np.array([CHANCE[metric]]), metric)[0])


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (strong control of the family-wise error rate)."""
    p = np.asarray(p_values, float)
    order = np.argsort(p)
    m = len(p)
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted


def paired_p(differences: np.ndarray, pooled: tuple[float, int] | None = None) -> float:
    """One-sided p-value of a paired t test that the mean difference is above 0 (one value
    per seed). A t test, not a bootstrap: with 3 to 5 seeds a bootstrap has a handful of
    distinct resamples and no honest small p-values. ``pooled`` = (SD, degrees of freedom)
    replaces this comparison's own SD. Differences all equal: 0 when positive, 1 otherwise."""
    from scipy.stats import t

    d = np.asarray(differences, float)
    d = d[np.isfinite(d)]
    if len(d) < 2:
        return float("nan")
    mean = float(d.mean())
    sd, df = pooled if pooled is not None else (float(d.std(ddof=1)), len(d) - 1)
    if sd <= 1e-12 * max(1.0, abs(mean)):
        return 0.0 if mean > 0 else 1.0
    return float(t.sf(mean / (sd / np.sqrt(len(d))), df))


def pooled_sd(differences: list[np.ndarray]) -> tuple[float, int] | None:
    """The seeds' SD pooled over every comparison (learner, size), and its degrees of freedom.

    With 3 to 5 seeds each comparison's own SD rests on 2 to 4 degrees of freedom, and the
    t quantile Holm then asks for is huge (t = 7.6 for p = 0.05 / 6 on 2): real signal goes
    unseen. Without signal every comparison's spread is the test rows' sampling noise, alike
    across learners and sizes, so one SD pooled over all of them is the better estimate.
    Comparisons identical to the baseline on every seed (a learner predicting one class) are
    left out: their zero spread is not noise, and would make every other comparison look surer.
    """
    total, df = 0.0, 0
    for d in differences:
        d = d[np.isfinite(d)]
        if len(d) < 2 or np.all(d == 0):
            continue
        total += float(d.var(ddof=1)) * (len(d) - 1)
        df += len(d) - 1
    return (float(np.sqrt(total / df)), df) if df else None


def signal_test(curves: dict[str, Curve], baselines: set[str], metric: str, resamples: np.ndarray,
                alpha: float = SIGNAL_ALPHA) -> Signal:
    """Does some learner beat the baseline beyond noise at some size?

    Every (learner, size) of the non-baseline learners is one comparison: the per-seed
    difference learner - baseline (same seed: same test rows), a one-sided paired t test
    with the SD pooled over all comparisons (``pooled_sd``), and Holm's correction over all
    of them. The best point (smallest adjusted p, then the
    largest lead) is reported with its score and the baseline's, each with a CI.
    """
    source, by_size = baseline_values(curves, baselines, metric)
    if source is None:
        return Signal(tested=False, found=None, baseline=None, alpha=alpha,
                      reason=f"no baseline learner in the run and no chance level for {metric}: "
                             "add majority to the learners to test for a signal")
    rows = []
    for name, curve in curves.items():
        if name in baselines:
            continue
        n_seeds = curve.values.shape[1]
        for i, n in enumerate(curve.sizes):
            mine = gain(curve.values[i], metric)
            base = _baseline_at(by_size, float(n), n_seeds, metric)
            rows.append([name, int(n), mine, base, np.nan])
    pooled = pooled_sd([r[2] - r[3] for r in rows])
    for r in rows:
        r[4] = paired_p(r[2] - r[3], pooled)
    testable = [tuple(r) for r in rows if np.isfinite(r[4])]
    if not testable:
        return Signal(tested=False, found=None, baseline=source, alpha=alpha,
                      reason="fewer than two seeds at every size: nothing to pair")
    adjusted = holm(np.array([r[4] for r in testable]))
    significant = [(r, p) for r, p in zip(testable, adjusted) if p <= alpha]

    def lead(row) -> float:
        with np.errstate(all="ignore"), quiet_runtime_warnings():
            return float(np.nanmean(row[2] - row[3]))

    pool = significant or list(zip(testable, adjusted))
    best_row, best_p = min(pool, key=lambda rp: (rp[1], -lead(rp[0])))
    if not significant:  # the closest call: the largest lead, for the sentence that says "none"
        best_row, best_p = max(pool, key=lambda rp: lead(rp[0]))
    sign = 1.0 if gain(np.array([1.0]), metric)[0] > 0 else -1.0
    found_sizes = sorted({r[1] for r, _ in significant})
    all_sizes = sorted({r[1] for r in rows})
    return Signal(
        tested=True, found=bool(significant), baseline=source, alpha=alpha,
        best=_point(best_row, best_p, resamples, sign),
        sizes_with_signal=tuple(found_sizes),
        learners_with_signal=tuple(dict.fromkeys(r[0] for r, _ in significant)),
        comparisons=len(testable), largest_size=int(max(all_sizes)),
        only_at_largest=bool(found_sizes) and found_sizes[0] >= (all_sizes[-2] if len(all_sizes) > 1
                                                                  else all_sizes[-1]),
    )


def _point(row, p_adjusted: float, resamples: np.ndarray, sign: float) -> SignalPoint:
    name, n, mine, base, _ = row
    n_seeds = len(mine)
    picks = resamples[:, :n_seeds] % n_seeds if resamples.shape[1] != n_seeds else resamples
    with np.errstate(all="ignore"), quiet_runtime_warnings():
        boot_mine = np.nanmean(mine[picks], axis=1)
        boot_base = np.nanmean(base[picks], axis=1)
        score, base_score = float(np.nanmean(mine)), float(np.nanmean(base))
    low, high = percentile_ci(boot_mine, n_seeds)
    b_low, b_high = percentile_ci(boot_base, n_seeds)

    def scale(lo, hi):
        return (sign * lo, sign * hi) if sign > 0 else (sign * hi, sign * lo)

    return SignalPoint(name, n, num(sign * score), pair(scale(low, high)), num(sign * base_score),
                       pair(scale(b_low, b_high)), num(p_adjusted))
