"""What a data source is worth: each learner with a column group against itself without it
(``xgboost`` against ``xgboost-without-tickets``), paired over seeds on the same test rows.

Three numbers answer it. In labels: at each size, the labels the learner without the group
needs to score what the learner with it scores (the labels-to-a-score rule the analysis uses
for a prompt's worth), and the average horizontal gap between the two curves with its CI. The
ceiling: the best measured point of each curve, cross-fitted over seeds (a lower bound, as the
data's ceiling is), and the paired drop without the group with a t interval over seeds. The
verdict: 'raises-ceiling' when the drop is above zero beyond noise (no number of labels was
seen to replace the source), 'saves-labels' when only the gap is, 'none' otherwise, and
'none' whatever the noise says where the data carry no signal at all.
"""

from __future__ import annotations

import numpy as np

from dataeff.analysis.ceiling import cross_fit_best
from dataeff.analysis.compare import worth
from dataeff.analysis.curves import Curve, mean_ci
from dataeff.analysis.fits import LearnerFit
from dataeff.analysis.types import SourceAnswer, num, pair
from dataeff.experiment.metrics import METRICS

VERDICTS = ("raises-ceiling", "saves-labels", "none")


def source_answers(curves: dict[str, Curve], fits: dict[str, LearnerFit], sources: dict[str, tuple],
                   metric: str, resamples: np.ndarray, label_cost: float, signal: bool = True) -> tuple[SourceAnswer, ...]:
    """``sources``: learner without groups -> (its full twin, the groups it goes without, and
    what their pipelines cost a month or None); ``label_cost``: dollars a label, what the labels
    a group saves are worth against its running cost."""
    out = []
    for variant, (full, groups, running_cost) in sources.items():
        if variant not in curves or full not in curves:
            continue
        a, b = curves[full], curves[variant]
        labels = worth(full, a, variant, b, metric, fits[variant], resamples, llm=False)
        with_it, without_it, drop, drop_ci = _ceilings(a, b, metric)
        saved = labels.advantage
        verdict = "none"
        if signal and drop_ci[0] is not None and drop_ci[0] > 0:
            verdict = "raises-ceiling"
        elif signal and saved is not None and saved.ci[0] is not None and saved.ci[0] > 0:
            verdict = "saves-labels"
        value = saved.labels * label_cost if saved is not None and saved.labels is not None else None
        out.append(SourceAnswer(full, variant, "+".join(groups), verdict, labels.per_size, saved,
                                num(with_it), num(without_it), num(drop), pair(drop_ci), num(running_cost),
                                num(value)))
    return tuple(out)


def _ceilings(full: Curve, without: Curve, metric: str):
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
    return sign * best_with, sign * best_without, float(drops.mean()), mean_ci(drops)
