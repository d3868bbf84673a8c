"""The data's ceiling: the best identified asymptote across learners, or the best measured point."""

from __future__ import annotations

import numpy as np

from dataeff.analysis.curves import Curve, quiet_runtime_warnings, gain, gain_bound, gain_floor, robust_interval
from dataeff.analysis.fits import LearnerFit
from dataeff.analysis.types import Ceiling, num, pair
from dataeff.experiment.metrics import METRICS


def _gain_ci_low(fit: LearnerFit, sign: float) -> float:
    low, high = fit.asymptote_ci
    value = low * sign if sign > 0 else -high
    return float(value) if np.isfinite(value) else -np.inf


def ceiling(fits: dict[str, LearnerFit], curves: dict[str, Curve], metric: str, n_seeds: int,
            resamples: np.ndarray | None = None, exclude: tuple[str, ...] = ()) -> Ceiling | None:
    """The data's ceiling: the best identified asymptote across learners, with its CI.

    It is never below the best measured mean (a score some learner did reach); when no
    identified asymptote lies above that (its whole CI), the ceiling is the best measured
    point, flagged ``source='measured'`` (a lower bound). The CI uses the same seed resamples for
    every learner: in each resample the ceiling is recomputed the same way.
    """
    sign = 1.0 if METRICS[metric] else -1.0
    candidates = {k: v for k, v in fits.items() if v.fit is not None and v.identified and k not in exclude}
    pool = {k: c for k, c in curves.items() if k not in exclude}
    measured = [(sign * c.means[i], k, int(c.sizes[i])) for k, c in pool.items()
                for i in range(len(c.sizes)) if np.isfinite(c.means[i])]
    if not measured:  # only baselines measured
        return None
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
        with np.errstate(all="ignore"), quiet_runtime_warnings():
            per_resample = np.nanmax(np.vstack(rows), axis=0)
        low, high = robust_interval(value, per_resample, n_seeds, bounds=(gain_floor(metric), gain_bound(metric)))
    ci = (sign * low, sign * high) if sign > 0 else (sign * high, sign * low)
    return Ceiling(num(sign * value), pair(ci), learner, source, num(sign * best_gain), best_learner, best_n,
                   num(value - best_gain), source == "fit", tuple(still_rising))
