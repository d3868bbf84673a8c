"""The data's ceiling: the best measured point without the winner's curse (cross-fitted over
seeds), or an identified asymptote above it.

What it estimates. The measured ceiling is the expected test score of the best (learner, size)
the study measured: the best these learners reach within these sizes. It is a lower bound on
what the data allow (the Bayes-optimal score): other learners, or more labels, may do better.
Its 95% CI is for that expected score; about the data, only its lower end is a claim (the data
allow at least that much). ``benchmarks/validity.py`` measures both on synthetic customers whose
Bayes-optimal roc_auc is known: the estimator against the best point's many-seed mean, and the
lower bound against the truth (the README's table)."""

from __future__ import annotations

import numpy as np

from dataeff.analysis.curves import Curve, gain, gain_bound, gain_floor, mean_ci, quiet_runtime_warnings
from dataeff.analysis.fits import LearnerFit
from dataeff.analysis.types import Ceiling, num, pair
from dataeff.experiment.metrics import METRICS

CROSS_FIT = "cross-fit: the best (learner, size) chosen on the other seeds, scored on each held-out seed"
ONE_SEED = "largest mean (one seed: nothing to cross-fit)"


def _gain_ci_low(fit: LearnerFit, sign: float) -> float:
    low, high = fit.asymptote_ci
    value = low * sign if sign > 0 else -high
    return float(value) if np.isfinite(value) else -np.inf


def cross_fit_best(pool: dict[str, Curve], metric: str) -> tuple[float, tuple[float, float], np.ndarray]:
    """The best measured point's score without the winner's curse, with a 95% CI (gain scale).

    The largest of many noisy means is biased upward: the point that won was lucky as well as
    good. Cross-fitting (leave one seed out): for each seed, choose the best (learner, size) by
    its mean over the other seeds, and score that choice on the held-out seed alone; the
    estimate is the average of those held-out scores. Choice and estimate never see the same
    noise, so the estimate is unbiased for what the chosen points really score (at worst a
    little low: a choice made on fewer seeds is sometimes not the very best). The CI is a t
    interval over the held-out scores (one per seed). The third value holds them seed by seed,
    NaN for a seed with no usable point (so two curves' scores pair by seed).
    """
    rows = [gain(c.values[i], metric) for c in pool.values() for i in range(len(c.sizes))]
    values = np.vstack(rows)  # points x seeds
    n_seeds = values.shape[1]
    by_seed = np.full(n_seeds, np.nan)
    for s in range(n_seeds):
        others = np.delete(values, s, axis=1)
        with np.errstate(all="ignore"), quiet_runtime_warnings():
            means = np.nanmean(others, axis=1)
        usable = np.isfinite(means) & np.isfinite(values[:, s])
        if usable.any():
            by_seed[s] = float(values[usable, s][np.argmax(means[usable])])
    held_arr = by_seed[np.isfinite(by_seed)]
    if len(held_arr) < 2:
        return float("nan"), (float("nan"), float("nan")), by_seed
    return float(held_arr.mean()), mean_ci(held_arr), by_seed


def ceiling(fits: dict[str, LearnerFit], curves: dict[str, Curve], metric: str, n_seeds: int,
            exclude: tuple[str, ...] = ()) -> Ceiling | None:
    """The data's ceiling: the best measured point, cross-fitted over seeds (``cross_fit_best``),
    or an identified asymptote whose whole CI lies above it.

    ``source='measured'`` is a lower bound (more labels may do better); ``source='fit'`` the
    asymptote of one learner, with that learner's asymptote CI. Learners whose fit still climbs
    at the largest size beyond its noise are named in ``still_rising``.
    """
    sign = 1.0 if METRICS[metric] else -1.0
    candidates = {k: v for k, v in fits.items() if v.fit is not None and v.identified and k not in exclude}
    pool = {k: c for k, c in curves.items() if k not in exclude}
    measured = [(sign * c.means[i], k, int(c.sizes[i])) for k, c in pool.items()
                for i in range(len(c.sizes)) if np.isfinite(c.means[i])]
    if not measured:  # only baselines measured
        return None
    largest_mean, best_learner, best_n = max(measured)
    estimate, (low, high), _ = cross_fit_best(pool, metric) if n_seeds >= 2 else (np.nan, (np.nan, np.nan), None)
    selection = CROSS_FIT
    if not np.isfinite(estimate):  # one seed: the largest mean is all there is
        estimate, selection = largest_mean, ONE_SEED
    still_rising = [k for k, v in fits.items() if v.fit is not None and v.rising and k not in exclude]
    fitted = max(candidates, key=lambda k: candidates[k].fit.asymptote) if candidates else None
    # A fitted limit replaces the measured ceiling only when its CI lies above it: an
    # asymptote "somewhere between 0.79 and 0.99" says nothing the measurements do not.
    if fitted is not None and _gain_ci_low(candidates[fitted], sign) > estimate:
        value, learner, source = candidates[fitted].fit.asymptote, fitted, "fit"
        a_low, a_high = candidates[fitted].asymptote_ci
        ci = (a_low, a_high)
    else:
        value, learner, source = estimate, best_learner, "measured"
        low, high = max(low, gain_floor(metric)), min(high, gain_bound(metric))
        ci = (sign * low, sign * high) if sign > 0 else (sign * high, sign * low)
    return Ceiling(num(sign * value), pair(ci), learner, source, num(sign * estimate), best_learner, best_n,
                   num(value - estimate), source == "fit", tuple(still_rising), selection, num(sign * largest_mean))
