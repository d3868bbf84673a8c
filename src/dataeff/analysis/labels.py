"""What an LLM's labels are worth to a cheap model: each llm-labels learner against its student
on human labels alone and against its labeller, paired over seeds.

- The exchange rate: the pool's LLM labels alone (the route at n = 0) score what the student
  reaches with N human labels; N is read off the student's curve by the one labels-to-a-score
  rule (``compare.worth``), its CI from the seed resamples of both curves. The same at each
  size says what the LLM's labels add on top of n human ones.
- The student against its teacher: the paired score difference route - labeller at n = 0 (a
  student can beat its teacher where the labels are noisy but unbiased), a t interval over seeds.
- The labels' quality: the LLM's labels of the pool against the pool's hidden labels (the
  runner's ``pool_labels``), summed over seeds at n = 0: agreement overall and per true class.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from dataeff.analysis.compare import worth
from dataeff.analysis.curves import Curve, gain, mean_ci
from dataeff.analysis.fits import LearnerFit
from dataeff.analysis.types import LabelRouteAnswer, num, pair


def label_route_answers(curves: dict[str, Curve], fits: dict[str, LearnerFit], results: pd.DataFrame,
                        routes: dict[str, tuple[str, str]], metric: str, resamples: np.ndarray,
                        signal: bool = True) -> tuple[LabelRouteAnswer, ...]:
    """``routes``: llm-labels learner -> (its labeller, its student on human labels). Without a
    ``signal`` in the data there is no exchange rate (what noise is worth in labels is moot)."""
    out = []
    for name, (labeller, student) in routes.items():
        if name not in curves:
            continue
        curve = curves[name]
        exchange = per_size = None
        if signal and student in curves:
            value = worth(name, curve, student, curves[student], metric, fits[student], resamples, llm=True)
            per_size = value.per_size
            exchange = next((w.match for w in per_size if w.n == 0), None)
        versus, versus_ci = _against_teacher(curve, curves.get(labeller), metric)
        rows, agreement, per_class, confusion = _quality(results, name)
        at_zero = curve.means[curve.sizes == 0]
        teacher = curves.get(labeller)
        teacher_zero = teacher.means[teacher.sizes == 0] if teacher is not None else np.array([])
        out.append(LabelRouteAnswer(
            learner=name, labeller=labeller, student=student, pool_rows=rows,
            score_at_zero=num(at_zero[0]) if len(at_zero) else None,
            teacher_score=num(teacher_zero[0]) if len(teacher_zero) else None,
            exchange=exchange, per_size=tuple(per_size or ()),
            versus_teacher=num(versus), versus_teacher_ci=pair(versus_ci),
            agreement=num(agreement), agreement_per_class={k: num(v) for k, v in per_class.items()},
            confusion=confusion))
    return tuple(out)


def _against_teacher(curve: Curve, teacher: Curve | None, metric: str) -> tuple[float | None, tuple]:
    """Route - labeller at n = 0, per seed on the gain scale, and its t interval."""
    if teacher is None or 0 not in curve.sizes or 0 not in teacher.sizes:
        return None, (None, None)
    mine = gain(curve.values[np.flatnonzero(curve.sizes == 0)[0]], metric)
    theirs = gain(teacher.values[np.flatnonzero(teacher.sizes == 0)[0]], metric)
    diff = mine - theirs
    diff = diff[np.isfinite(diff)]
    if not len(diff):
        return None, (None, None)
    return float(diff.mean()), (mean_ci(diff) if len(diff) >= 2 else (None, None))


def _quality(results: pd.DataFrame, name: str) -> tuple[int | None, float | None, dict, dict]:
    """Pool rows (per cell), agreement, agreement per true class and the confusion counts
    (true -> LLM label -> rows) of the route's n = 0 cells, summed over seeds; None where the
    pool's labels are not known (a user's own unlabelled rows)."""
    if "pool_labels" not in results:
        return None, None, {}, {}
    cells = results[(results["learner"] == name) & (results["status"] == "ok") & (results["n_train"] == 0)]
    stored = [json.loads(text) for text in cells["pool_labels"].dropna()]
    if not stored:
        return None, None, {}, {}
    rows = int(np.mean([s["rows"] for s in stored]))
    confusion: dict[str, dict[str, int]] = {}
    for s in stored:
        for true, answered in s.get("confusion", {}).items():
            for label, count in answered.items():
                confusion.setdefault(true, {}).setdefault(label, 0)
                confusion[true][label] += count
    if not confusion:
        return rows, None, {}, {}
    total = sum(sum(a.values()) for a in confusion.values())
    right = sum(a.get(t, 0) for t, a in confusion.items())
    per_class = {t: a.get(t, 0) / sum(a.values()) for t, a in confusion.items() if sum(a.values())}
    return rows, right / total if total else None, per_class, confusion
