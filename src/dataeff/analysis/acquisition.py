"""Does choosing the rows pay? Each acquiring learner against its random twin (the same learner
on the seed's random rows), paired over seeds: both curves are scored on the same test rows,
and the acquired rows at the first size are the twin's.

Two numbers answer it. The labels saved at the target: the labels the twin needs minus those
the acquiring learner needs (the one labels-to-a-score rule, on the mean curves), with a CI
from the same seed resamples applied to both curves. The area between the curves: the paired
per-seed score difference averaged over the shared sizes (gain scale), with a t interval over
seeds. It pays when the labels saved are above zero beyond noise (or, where either curve never
reaches the target, when the area is); it hurts when below; otherwise it does not pay here.
"""

from __future__ import annotations

import numpy as np

from dataeff.analysis.curves import Curve, gain, mean_ci, percentile_ci
from dataeff.analysis.efficiency import labels_to_target
from dataeff.analysis.types import AcquisitionAnswer, num, pair


def acquisition_answers(curves: dict[str, Curve], twins: dict[str, tuple[str, str]], metric: str,
                        goal: float | None, resamples: np.ndarray, signal: bool = True) -> tuple[AcquisitionAnswer, ...]:
    """``twins``: acquiring learner -> (its random twin, the strategy); ``goal``: the target on
    the metric's own scale (None: no target, the area alone answers). Without a ``signal`` in
    the data (the signal test), choosing rows cannot pay: the verdict is 'does not pay' whatever
    the noise between the two curves says."""
    out = []
    for name, (twin, strategy) in twins.items():
        if name not in curves or twin not in curves:
            continue
        a, b = curves[name], curves[twin]
        shared = np.intersect1d(a.sizes[a.sizes > 0], b.sizes[b.sizes > 0])
        if len(shared) == 0:
            continue
        va = gain(a.values[np.searchsorted(a.sizes, shared)], metric)
        vb = gain(b.values[np.searchsorted(b.sizes, shared)], metric)
        with np.errstate(all="ignore"):
            per_seed = np.nanmean(va - vb, axis=0)  # the area between the curves, seed by seed
        per_seed = per_seed[np.isfinite(per_seed)]
        area = float(np.mean(per_seed)) if len(per_seed) else None
        area_ci = mean_ci(per_seed) if len(per_seed) >= 2 else (None, None)
        saved, saved_ci, n_a, n_b = _labels_saved(shared, va, vb, goal, metric, resamples)
        area_ci = pair(area_ci)
        out.append(AcquisitionAnswer(name, twin, strategy, num(saved), saved_ci, num(n_a), num(n_b),
                                     num(area), area_ci,
                                     _verdict(saved, saved_ci, area_ci) if signal else "does not pay"))
    return tuple(out)


def _labels_saved(sizes, va, vb, goal, metric, resamples):
    """Twin's labels minus the acquiring learner's, to ``goal``, and its CI over the paired
    seed resamples (None where either curve never gets there)."""
    if goal is None:
        return None, (None, None), None, None
    target = float(gain(np.array([goal]), metric)[0])

    def needed(values: np.ndarray) -> float:
        with np.errstate(all="ignore"):
            means = np.nanmean(values, axis=-1)
        need = labels_to_target(sizes, means, target)
        return need.n if need.how in ("measured", "at_most") else float("nan")

    n_a, n_b = needed(va), needed(vb)
    boot = np.array([needed(vb[:, r]) - needed(va[:, r]) for r in resamples])
    ci = pair(percentile_ci(boot, va.shape[1])) if np.isfinite(boot).mean() > 0.5 else (None, None)
    saved = n_b - n_a if np.isfinite(n_a) and np.isfinite(n_b) else None
    return saved, ci, (n_a if np.isfinite(n_a) else None), (n_b if np.isfinite(n_b) else None)


def _verdict(saved, saved_ci, area_ci) -> str:
    low, high = saved_ci if saved is not None and saved_ci[0] is not None else area_ci
    if low is not None and low > 0:
        return "pays"
    if high is not None and high < 0:
        return "hurts"
    return "does not pay"
