"""The suite's answers across datasets: per learner, the labels it needs to reach the target on
each dataset (median, interquartile range and full range, how often it was not reached within
the sizes measured, how often extrapolated), next to the rule of thumb; crossovers between
families and between learners across datasets.

The spread is over the datasets with an answer: a target never reached (no fit reaches it, or
only past 100x the largest size measured) counts as more labels than any number, so a learner
that misses the target on most datasets has a median of "not reached" (``inf`` here, ``null``
in JSON) rather than the median of its few successes. Quartiles are numpy's linear
interpolation between order statistics, an infinite neighbour making them infinite.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from dataeff.analysis.efficiency import RULE_OF_THUMB
from dataeff.analysis.types import Analysis, Crossover, LabelsNeeded
from dataeff.config import DEFAULT_SCORE_TARGET

#: what the rule of thumb says of LLMs (no range: "next to none")
LLM_RULE = "next to none"
#: label counts reached within the sizes measured
WITHIN = ("measured", "at_most")


@dataclass(frozen=True)
class DatasetAnswers:
    """One dataset of the suite as the aggregate reads it: its status (``ok`` or ``failed`` with
    its one-line ``error``), ceiling, each learner's family, kind and labels to each target
    (``labels[target][learner]``; None when the analysis gave no answer), and its crossovers."""

    name: str
    listed: str
    folder: str
    status: str = "ok"
    error: str | None = None
    metric: str | None = None
    ceiling: float | None = None
    target: str = DEFAULT_SCORE_TARGET
    rows: int | None = None
    classes: tuple[str, ...] = ()
    families: dict[str, str] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    labels: dict[str, dict[str, LabelsNeeded | None]] = field(default_factory=dict)
    crossovers: tuple[Crossover, ...] = ()
    seconds: float = 0.0

    @classmethod
    def from_run(cls, name: str, listed: str, result, fixed: Analysis | None = None,
                 seconds: float = 0.0) -> DatasetAnswers:
        """From a finished study (a ``RunResult``) and, optionally, its analysis at a fixed score."""
        analysis: Analysis = result.analysis
        facts = result.facts
        labels = {analysis.target.spec: {n: a.labels_to_target for n, a in analysis.learners.items()}}
        if fixed is not None:
            labels[fixed.target.spec] = {n: a.labels_to_target for n, a in fixed.learners.items()}
        return cls(name, listed, str(result.out), metric=analysis.metric,
                   ceiling=analysis.ceiling.value if analysis.ceiling else None, target=analysis.target.spec,
                   rows=facts.rows, classes=tuple(facts.classes),
                   families={n: a.family for n, a in analysis.learners.items()},
                   kinds={n: a.kind or n for n, a in analysis.learners.items()},
                   labels=labels, crossovers=analysis.crossovers, seconds=round(seconds, 2))

    @classmethod
    def failure(cls, name: str, listed: str, folder: str, error: str, seconds: float = 0.0) -> DatasetAnswers:
        return cls(name, listed, folder, status="failed", error=error, seconds=round(seconds, 2))

    def to_json(self) -> dict:
        return {"name": self.name, "listed": self.listed, "folder": self.folder, "status": self.status,
                "error": self.error, "metric": self.metric, "ceiling": self.ceiling, "target": self.target,
                "rows": self.rows, "classes": list(self.classes), "seconds": self.seconds,
                "learners": {learner: {"family": family, "kind": self.kinds.get(learner),
                                       "labels": {target: _json(needs.get(learner))
                                                  for target, needs in self.labels.items()}}
                             for learner, family in self.families.items()},
                "crossovers": [c.to_json() for c in self.crossovers]}


@dataclass(frozen=True)
class LearnerSpread:
    """One learner's labels to one target across the datasets it ran on."""

    learner: str
    family: str
    kind: str
    target: str
    rule_of_thumb: tuple[int, int] | None
    datasets: int  # datasets it ran on (finished)
    numbers: tuple[float, ...]  # labels needed, one per dataset with a number, in the suite's order
    within: int  # reached within the sizes measured
    extrapolated: int  # not reached within the sizes measured; a fit's number (None past the limit)
    unreachable: int  # not reached, and no fit reaches it
    no_answer: int  # no target to reach (no signal in the data, or no ceiling)
    never: int = 0  # answered without a number: unreachable, or extrapolated past the limit
    # the most labels it was measured with on any dataset: a learner given max_size (llm-few
    # in the rule-of-thumb suite) stops there, and its 'not reached' means within those sizes
    largest_size: int | None = None

    @property
    def not_reached(self) -> int:
        """Datasets where the target was not reached within the sizes measured."""
        return self.extrapolated + self.unreachable

    @property
    def values(self) -> list[float]:
        """Labels needed on every dataset with an answer, smallest first; never reached: inf."""
        return sorted(self.numbers) + [math.inf] * self.never

    def quantile(self, q: float) -> float | None:
        """numpy's linear quantile of ``values``, infinite where an infinite value takes part."""
        values = self.values
        if not values:
            return None
        position = q * (len(values) - 1)
        low, high = math.floor(position), math.ceil(position)
        if math.isinf(values[high]) and (high != low or math.isinf(values[low])):
            return math.inf
        return float(np.quantile(values[: high + 1], position / high)) if high else float(values[0])

    @property
    def median(self) -> float | None:
        return self.quantile(0.5)

    @property
    def iqr(self) -> tuple[float | None, float | None]:
        return self.quantile(0.25), self.quantile(0.75)

    @property
    def range(self) -> tuple[float | None, float | None]:
        values = self.values
        return (values[0], values[-1]) if values else (None, None)

    @property
    def verdict(self) -> str | None:
        """The median against the rule of thumb: 'fewer', 'within' or 'more' (a median never
        reached is more); None: nothing to compare."""
        if self.median is None or self.rule_of_thumb is None:
            return None
        low, high = self.rule_of_thumb
        return "fewer" if self.median < low else "more" if self.median > high else "within"

    @property
    def rule_text(self) -> str:
        if self.rule_of_thumb:
            return f"{self.rule_of_thumb[0]:,}–{self.rule_of_thumb[1]:,}"
        return LLM_RULE if self.family == "llm" else "-"

    def to_json(self) -> dict:
        return {"learner": self.learner, "family": self.family, "kind": self.kind, "target": self.target,
                "rule_of_thumb": list(self.rule_of_thumb) if self.rule_of_thumb else None,
                "rule_of_thumb_text": self.rule_text, "datasets": self.datasets, "with_number": len(self.numbers),
                "with_answer": len(self.values), "median": _finite(self.median), "iqr": [_finite(v) for v in self.iqr],
                "range": [_finite(v) for v in self.range], "numbers": list(self.numbers),
                "within_sizes_measured": self.within, "not_reached_within_sizes_measured": self.not_reached,
                "extrapolated": self.extrapolated, "unreachable": self.unreachable, "no_answer": self.no_answer,
                "largest_size": self.largest_size, "verdict": self.verdict}


@dataclass(frozen=True)
class CrossoverSpread:
    """Across datasets, where ``early`` leads ``late`` below some labels and ``late`` leads from
    there on (the last crossing of a pair): on ``len(at)`` of ``datasets`` datasets that have
    both, at ``at`` (dataset, labels), ``settled`` of them significantly. ``by``: 'family' or
    'learner'."""

    by: str
    early: str
    late: str
    datasets: int
    at: tuple[tuple[str, float], ...]
    settled: int

    @property
    def median(self) -> float | None:
        return float(np.median([n for _, n in self.at])) if self.at else None

    @property
    def range(self) -> tuple[float | None, float | None]:
        values = [n for _, n in self.at]
        return (min(values), max(values)) if values else (None, None)

    def sentence(self) -> str:
        low, high = self.range
        spread = f" (median; from {_count(low)} to {_count(high)})" if len(self.at) > 1 else ""
        early, late = (f"the {self.early} family", f"the {self.late} family") if self.by == "family" else \
            (self.early, self.late)
        return (f"{early} leads {late} below {_count(self.median)} labels{spread} on {len(self.at)} of "
                f"{self.datasets} datasets that have both; significant at the largest size on {self.settled}.")

    def to_json(self) -> dict:
        return {"by": self.by, "early": self.early, "late": self.late, "datasets": self.datasets,
                "crossings": len(self.at), "settled": self.settled, "median": self.median,
                "range": list(self.range), "at": [{"dataset": d, "n": n} for d, n in self.at],
                "sentence": self.sentence()}


@dataclass(frozen=True)
class SuiteAggregate:
    """Every answer across the suite: learner spreads per target, crossovers, the datasets."""

    targets: tuple[str, ...]
    learners: tuple[LearnerSpread, ...]
    crossovers: tuple[CrossoverSpread, ...]
    datasets: tuple[DatasetAnswers, ...]

    def spreads(self, target: str) -> list[LearnerSpread]:
        return [s for s in self.learners if s.target == target]

    def to_json(self) -> dict:
        return {"targets": list(self.targets), "learners": [s.to_json() for s in self.learners],
                "crossovers": [c.to_json() for c in self.crossovers],
                "datasets": [d.to_json() for d in self.datasets]}


def aggregate(datasets: list[DatasetAnswers]) -> SuiteAggregate:
    """The answers of every dataset, side by side (failed datasets are listed, not counted)."""
    done = [d for d in datasets if d.status == "ok"]
    targets = list(dict.fromkeys(t for d in done for t in d.labels))
    # a baseline (majority) is the floor the target is measured from, not a route to it
    learners = list(dict.fromkeys(name for d in done for name, family in d.families.items() if family != "baseline"))
    spreads = []
    for target in targets:
        for learner in learners:
            ran = [d for d in done if learner in d.families]
            needs = [d.labels.get(target, {}).get(learner) for d in ran]
            family = next(d.families[learner] for d in ran)
            kind = next(d.kinds.get(learner, learner) for d in ran)
            spreads.append(LearnerSpread(
                learner, family, kind, target, RULE_OF_THUMB.get(kind), len(ran),
                tuple(float(n.n) for n in needs if n is not None and n.n is not None and math.isfinite(n.n)),
                within=sum(n is not None and n.how in WITHIN for n in needs),
                extrapolated=sum(n is not None and n.how == "extrapolated" for n in needs),
                unreachable=sum(n is not None and n.how == "unreachable" for n in needs),
                no_answer=sum(n is None for n in needs),
                never=sum(n is not None and (n.n is None or not math.isfinite(n.n)) for n in needs),
                largest_size=max((n.max_measured for n in needs if n is not None), default=None)))
    crossovers = [*_crossovers(done, "family"), *_crossovers(done, "learner")]
    return SuiteAggregate(tuple(targets), tuple(spreads), tuple(crossovers), tuple(datasets))


def _crossovers(done: list[DatasetAnswers], by: str) -> list[CrossoverSpread]:
    """Per (early, late) pair of families or learners: on each dataset, the last crossing where
    a member of ``late`` overtakes a member of ``early`` (the largest such n)."""
    def group(d: DatasetAnswers, learner: str) -> str:
        return d.families.get(learner, "classic") if by == "family" else learner

    found: dict[tuple[str, str], dict[str, tuple[float, bool]]] = {}
    for d in done:
        for c in d.crossovers:
            if not c.final or c.n is None or "baseline" in (d.families.get(c.winner), d.families.get(c.loser)):
                continue
            early, late = group(d, c.loser), group(d, c.winner)
            if early == late:
                continue
            n, settled = found.setdefault((early, late), {}).get(d.name, (0.0, False))
            found[(early, late)][d.name] = (max(n, float(c.n)), settled or c.settled)
    spreads = []
    for (early, late), at in found.items():
        both = sum(1 for d in done if {early, late} <= {group(d, name) for name in d.families})
        spreads.append(CrossoverSpread(by, early, late, both, tuple((name, n) for name, (n, _) in at.items()),
                                       sum(settled for _, settled in at.values())))
    return sorted(spreads, key=lambda s: (-len(s.at), s.early, s.late))


def _finite(value: float | None) -> float | None:
    """JSON has no infinity: a quantile past every number (never reached) is written null."""
    return None if value is None or math.isinf(value) else value


def _json(need: LabelsNeeded | None) -> dict | None:
    return need.to_json() if need is not None else None


def _count(n: float | None) -> str:
    return "-" if n is None else f"{n:,.0f}"


def labels_text(need: LabelsNeeded | None) -> str:
    """Labels to a target as people read them: '180', '≤ 8', '~2,300 (extrapolated)', 'not reached'."""
    if need is None:
        return "no target"
    if need.how == "unreachable":
        return "not reached"
    if need.n is None:
        return "> 100x largest size"
    if need.how == "at_most":
        return f"≤ {need.n:,.0f}"
    if need.how == "extrapolated":
        return f"~{need.n:,.0f} (extrapolated)"
    return f"{need.n:,.0f}"
