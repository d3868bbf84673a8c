"""What a data source is worth: each learner with a column group against itself without it
(``xgboost`` against ``xgboost-without-tickets``), paired over seeds on the same test rows.

Three numbers answer it. In labels: at each size, the labels the learner without the group
needs to score what the learner with it scores (the labels-to-a-score rule the analysis uses
for a prompt's worth), and the average horizontal gap between the two curves with its CI. The
ceiling: the best measured point of each curve, cross-fitted over seeds (a lower bound, as the
data's ceiling is), and the paired drop without the group with a t interval over seeds. The
verdict: 'raises-ceiling' when the drop is above zero beyond noise (no number of labels was
seen to replace the source), 'saves-labels' when only the learner with the group scores above
the one without it on average over the sizes both measured (the area between the curves, paired
over seeds), 'none' otherwise, and 'none' whatever the noise says where the data carry no
signal at all. Both tests are corrected for the number of pairs tested.
"""

from __future__ import annotations

import numpy as np

from dataeff.analysis.ceiling import cross_fit_best
from dataeff.analysis.compare import worth
from dataeff.analysis.curves import CONFIDENCE, Curve, gain, mean_ci
from dataeff.analysis.fits import LearnerFit
from dataeff.analysis.types import SourceAnswer, num, pair
from dataeff.experiment.metrics import METRICS

VERDICTS = ("raises-ceiling", "saves-labels", "none")


def source_answers(curves: dict[str, Curve], fits: dict[str, LearnerFit], sources: dict[str, tuple],
                   metric: str, resamples: np.ndarray, label_cost: float, signal: bool = True) -> tuple[SourceAnswer, ...]:
    """``sources``: learner without groups -> (its full twin, the groups it goes without, and
    what their pipelines cost a month or None); ``label_cost``: dollars a label, what the labels
    a group saves are worth against its running cost.

    The verdicts' two tests (the ceiling drop, the area between the curves) are t intervals
    corrected for the number of (learner, group) pairs tested (Bonferroni): with six pairs at 95%
    each, one in four studies of useless groups would otherwise claim one."""
    pairs = {v: p for v, p in sources.items() if v in curves and p[0] in curves}
    confidence = 1 - (1 - CONFIDENCE) / max(1, len(pairs))
    out = []
    for variant, (full, groups, running_cost) in pairs.items():
        a, b = curves[full], curves[variant]
        labels = worth(full, a, variant, b, metric, fits[variant], resamples, llm=False)
        with_it, without_it, drop, drop_ci = _ceilings(a, b, metric, confidence)
        area, area_ci = _area(a, b, metric, confidence)
        saved = labels.advantage
        verdict = "none"
        if signal and drop_ci[0] is not None and drop_ci[0] > 0:
            verdict = "raises-ceiling"
        elif signal and area_ci[0] is not None and area_ci[0] > 0:
            verdict = "saves-labels"
        value = saved.labels * label_cost if saved is not None and saved.labels is not None else None
        out.append(SourceAnswer(full, variant, "+".join(groups), verdict, labels.per_size, saved,
                                num(with_it), num(without_it), num(drop), pair(drop_ci), num(running_cost),
                                num(value), num(area), pair(area_ci), float(confidence)))
    return tuple(out)


def _area(full: Curve, without: Curve, metric: str, confidence: float):
    """The mean paired gain of the learner with the group over the one without it, over the
    sizes both measured (gain scale), seed by seed, and its t interval."""
    shared = np.intersect1d(full.sizes[full.sizes > 0], without.sizes[without.sizes > 0])
    if len(shared) == 0:
        return None, (None, None)
    va = gain(full.values[np.searchsorted(full.sizes, shared)], metric)
    vb = gain(without.values[np.searchsorted(without.sizes, shared)], metric)
    with np.errstate(all="ignore"):
        per_seed = np.nanmean(va - vb, axis=0)
    per_seed = per_seed[np.isfinite(per_seed)]
    if len(per_seed) < 2:
        return None, (None, None)
    return float(per_seed.mean()), mean_ci(per_seed, confidence)


def _ceilings(full: Curve, without: Curve, metric: str, confidence: float):
    """Each curve's cross-fitted best point (metric scale) and the paired drop without the group
    (gain scale: positive is worse without it), with a t interval over the seeds both have."""
    if full.values.shape[1] < 2 or without.values.shape[1] < 2:
        return None, None, None, (None, None)
    best_with, _, held_with = cross_fit_best({"with": full}, metric)
    best_without, _, held_without = cross_fit_best({"without": without}, metric)
    drops = held_with - held_without  # seed by seed: the same test rows on both sides
    drops = drops[np.isfinite(drops)]
    if len(drops) < 2 or not np.isfinite(best_with) or not np.isfinite(best_without):
        return None, None, None, (None, None)
    sign = 1.0 if METRICS[metric] else -1.0
    return sign * best_with, sign * best_without, float(drops.mean()), mean_ci(drops, confidence)
