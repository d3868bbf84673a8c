"""The answers of one analysis as typed objects: ``to_json()`` writes the shapes summary.json
documents, ``from_json()`` reads them back from the run store.

Why this module is long: one small dataclass per answer (signal, target, ceiling, labels, cost,
crossover, worth, ...), each with its JSON shape and its inverse side by side, so summary.json's
documented keys live in one place.

Every number is a plain ``float`` (or ``int``) or ``None``: NaN and infinity (a CI that never
closes, a target past the extrapolation limit) become ``None`` when an object is built, so an
analysis computed now and the same analysis read back from its JSON are equal, and so are the
reports drawn from them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from dataeff.analysis.efficiency import Prices
from dataeff.analysis.fits import Fit


def num(value) -> float | None:
    """A finite float, or None for a missing, NaN or infinite value."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def pair(values) -> tuple[float | None, float | None]:
    """A (low, high) interval, each end through ``num``."""
    low, high = values
    return num(low), num(high)


def _fit_json(fit: Fit) -> dict:
    spec = fit.to_dict()
    spec["holdout_mse"] = num(spec["holdout_mse"])
    return spec


@dataclass(frozen=True)
class Target:
    """The score to reach: ``spec`` as given ('95%', '0.85'), ``kind`` 'relative' (a share of the
    way from the baseline's score to the ceiling) or 'absolute', and the ``value`` it resolves to
    (None: no curve to resolve it on, or no signal to reach for). ``baseline`` is the score the
    share is measured from and ``baseline_from`` what gave it ('majority', 'chance', ...)."""

    spec: str
    kind: str | None = None
    value: float | None = None
    relative_to: str | None = None
    baseline: float | None = None
    baseline_from: str | None = None

    def to_json(self) -> dict:
        if self.kind is None:  # no curve: nothing resolved
            return {"spec": self.spec, "value": self.value}
        return {"spec": self.spec, "kind": self.kind, "value": self.value, "relative_to": self.relative_to,
                "baseline": self.baseline, "baseline_from": self.baseline_from}

    @classmethod
    def from_json(cls, data: dict) -> Target:
        return cls(data["spec"], data.get("kind"), num(data["value"]), data.get("relative_to"),
                   num(data.get("baseline")), data.get("baseline_from"))


@dataclass(frozen=True)
class SignalPoint:
    """One (learner, size) against the baseline: both mean scores with their CIs over seeds,
    and the comparison's Holm-adjusted one-sided p-value."""

    learner: str
    n: int
    score: float | None
    ci: tuple[float | None, float | None]
    baseline_score: float | None
    baseline_ci: tuple[float | None, float | None]
    p_adjusted: float | None

    def to_json(self) -> dict:
        return {"learner": self.learner, "n": self.n, "score": self.score, "ci": list(self.ci),
                "baseline_score": self.baseline_score, "baseline_ci": list(self.baseline_ci),
                "p_adjusted": self.p_adjusted}

    @classmethod
    def from_json(cls, data: dict) -> SignalPoint:
        return cls(data["learner"], int(data["n"]), num(data["score"]), pair(data["ci"]),
                   num(data["baseline_score"]), pair(data["baseline_ci"]), num(data["p_adjusted"]))


SIGNAL_METHOD = ("one-sided paired t test over seeds of each learner against the baseline at every size "
                 "(the seeds' SD pooled over all comparisons), Holm-corrected over all (learner, size) comparisons")


@dataclass(frozen=True)
class Signal:
    """Whether any learner beats the baseline beyond noise (``found``; None when it could not be
    tested, ``reason`` says why); ``best`` is the strongest such point (without a signal: the
    closest call), ``sizes_with_signal`` where some learner does, ``only_at_largest`` when that
    is only at the largest sizes measured."""

    tested: bool
    found: bool | None
    baseline: str | None
    alpha: float
    best: SignalPoint | None = None
    sizes_with_signal: tuple[int, ...] = ()
    learners_with_signal: tuple[str, ...] = ()
    comparisons: int = 0
    largest_size: int | None = None
    only_at_largest: bool = False
    reason: str | None = None

    @property
    def absent(self) -> bool:
        """Tested and not found: the answers say so and nothing else."""
        return self.tested and not self.found

    def to_json(self) -> dict:
        return {"tested": self.tested, "found": self.found, "baseline": self.baseline, "alpha": self.alpha,
                "method": SIGNAL_METHOD, "best": self.best.to_json() if self.best else None,
                "sizes_with_signal": list(self.sizes_with_signal),
                "learners_with_signal": list(self.learners_with_signal), "comparisons": self.comparisons,
                "largest_size": self.largest_size, "only_at_largest": self.only_at_largest,
                "reason": self.reason}

    @classmethod
    def from_json(cls, data: dict) -> Signal:
        return cls(bool(data["tested"]), data["found"], data["baseline"], float(data["alpha"]),
                   SignalPoint.from_json(data["best"]) if data["best"] else None,
                   tuple(int(n) for n in data["sizes_with_signal"]), tuple(data["learners_with_signal"]),
                   int(data["comparisons"]), data["largest_size"], bool(data["only_at_largest"]), data["reason"])


@dataclass(frozen=True)
class Ceiling:
    """The data's ceiling for the metric. ``source`` is 'fit' (an identified asymptote above the
    measured ceiling) or 'measured' (the best measured point: a lower bound). The best measured
    point is estimated without the winner's curse (``selection``): chosen on some seeds, scored
    on the others; ``largest_mean`` is the plain largest mean, for comparison."""

    value: float | None
    ci: tuple[float | None, float | None]
    learner: str
    source: str
    best_measured: float | None
    best_measured_learner: str
    best_measured_n: int
    gap: float | None  # room left above the best measured point, on the gain scale
    extrapolated: bool
    still_rising: tuple[str, ...] = ()
    selection: str = "largest mean"
    largest_mean: float | None = None

    def to_json(self) -> dict:
        return {"value": self.value, "ci": list(self.ci), "learner": self.learner, "from": self.source,
                "best_measured": self.best_measured, "best_measured_learner": self.best_measured_learner,
                "best_measured_n": self.best_measured_n, "gap": self.gap, "extrapolated": self.extrapolated,
                "still_rising": list(self.still_rising), "selection": self.selection,
                "largest_mean": self.largest_mean}

    @classmethod
    def from_json(cls, data: dict) -> Ceiling:
        return cls(num(data["value"]), pair(data["ci"]), data["learner"], data["from"],
                   num(data["best_measured"]), data["best_measured_learner"], int(data["best_measured_n"]),
                   num(data["gap"]), bool(data["extrapolated"]), tuple(data["still_rising"]),
                   data.get("selection", "largest mean"), num(data.get("largest_mean")))


@dataclass(frozen=True)
class LabelsNeeded:
    """Labels one learner needs to reach the target. ``how``: 'measured', 'at_most',
    'extrapolated' or 'unreachable'; ``n`` is None when unreachable or past the extrapolation
    limit (how = 'extrapolated'); ``method``: 'fit' or 'interpolation'."""

    n: float | None
    how: str
    method: str
    ci: tuple[float | None, float | None]
    max_measured: int

    @property
    def reached(self) -> bool:
        return self.how != "unreachable"

    def to_json(self) -> dict:
        return {"n": self.n, "how": self.how, "method": self.method, "ci": list(self.ci),
                "max_measured": self.max_measured}

    @classmethod
    def from_json(cls, data: dict) -> LabelsNeeded:
        return cls(num(data["n"]), data["how"], data["method"], pair(data["ci"]), int(data["max_measured"]))


@dataclass(frozen=True)
class Cost:
    """First-month cost of one learner's route to the target, in the prices' currency."""

    labels: float
    training: float
    serving_per_month: float
    total_first_month: float
    n_labels: float
    how: str  # how the label count was found (LabelsNeeded.how)

    def to_json(self) -> dict:
        return {"labels": self.labels, "training": self.training, "serving_per_month": self.serving_per_month,
                "total_first_month": self.total_first_month, "n_labels": self.n_labels, "how": self.how}

    @classmethod
    def from_json(cls, data: dict) -> Cost:
        return cls(num(data["labels"]), num(data["training"]), num(data["serving_per_month"]),
                   num(data["total_first_month"]), num(data["n_labels"]), data["how"])


@dataclass(frozen=True)
class LearnerAnswer:
    """One learner's answers for the headline metric. ``labels_to_target`` and ``cost`` are None
    when the target has no value (no ceiling to take a share of) or the route never gets there."""

    sizes: tuple[int, ...]
    fit: Fit | None
    asymptote: float | None
    asymptote_ci: tuple[float | None, float | None]
    rule_of_thumb: tuple[int, int] | None
    labels_to_target: LabelsNeeded | None = None
    cost: Cost | None = None
    family: str = "classic"  # baseline, classic or llm: its kind's family
    kind: str | None = None  # the registry kind of a variant (xgb3 -> xgboost)
    identified: bool = False  # the data pin the asymptote down; otherwise it is "not identified"
    rising: bool = False  # the fit still climbs at the largest size by more than its noise

    def to_json(self) -> dict:
        return {"family": self.family, "kind": self.kind,
                "sizes": list(self.sizes), "fit": _fit_json(self.fit) if self.fit else None,
                "asymptote": self.asymptote, "asymptote_ci": list(self.asymptote_ci),
                "identified": self.identified, "rising": self.rising,
                "rule_of_thumb": list(self.rule_of_thumb) if self.rule_of_thumb else None,
                "labels_to_target": self.labels_to_target.to_json() if self.labels_to_target else None,
                "cost": self.cost.to_json() if self.cost else None}

    @classmethod
    def from_json(cls, data: dict) -> LearnerAnswer:
        need, cost, rule = data.get("labels_to_target"), data.get("cost"), data["rule_of_thumb"]
        return cls(tuple(int(n) for n in data["sizes"]),
                   Fit.from_dict(data["fit"]) if data["fit"] else None,
                   num(data["asymptote"]), pair(data["asymptote_ci"]),
                   (int(rule[0]), int(rule[1])) if rule else None,
                   LabelsNeeded.from_json(need) if need else None, Cost.from_json(cost) if cost else None,
                   data.get("family", "classic"), data.get("kind"), bool(data.get("identified", False)),
                   bool(data.get("rising", False)))


@dataclass(frozen=True)
class Crossover:
    """Where ``winner``'s curve crosses ``loser``'s (paired over seeds); ``final``: the last
    crossing of the pair; ``lead_at_largest`` the paired difference at the largest shared size."""

    winner: str
    loser: str
    n: float | None
    ci: tuple[float | None, float | None]
    support: float  # share of resamples with this crossing
    final: bool
    lead_at_largest: float | None
    lead_ci: tuple[float | None, float | None]
    largest_shared: int
    significant: bool = False  # final, winner ahead beyond noise, and the data carry a signal

    @property
    def settled(self) -> bool:
        """The last crossing of its pair, with the winner significantly ahead at the largest size
        (never on data without a signal: there a crossing is between two kinds of noise)."""
        return self.significant

    def to_json(self) -> dict:
        return {"winner": self.winner, "loser": self.loser, "n": self.n, "ci": list(self.ci),
                "support": self.support, "final": self.final, "lead_at_largest": self.lead_at_largest,
                "lead_ci": list(self.lead_ci), "largest_shared": self.largest_shared,
                "significant": self.significant}

    @classmethod
    def from_json(cls, data: dict) -> Crossover:
        lead = pair(data["lead_ci"])
        significant = data.get("significant", bool(data["final"]) and lead[0] is not None and lead[0] > 0)
        return cls(data["winner"], data["loser"], num(data["n"]), pair(data["ci"]), float(data["support"]),
                   bool(data["final"]), num(data["lead_at_largest"]), lead, int(data["largest_shared"]),
                   bool(significant))


@dataclass(frozen=True)
class LabelsToMatch:
    """Labels the reference learner needs to match another learner's first point."""

    n: float | None
    how: str
    ci: tuple[float | None, float | None]

    def to_json(self) -> dict:
        return {"n": self.n, "how": self.how, "ci": list(self.ci)}

    @classmethod
    def from_json(cls, data: dict) -> LabelsToMatch:
        return cls(num(data["n"]), data["how"], pair(data["ci"]))


@dataclass(frozen=True)
class SizeWorth:
    """One size of a learner's curve in the reference's labels: with ``n`` labels it scores
    ``score``, what the reference reaches with ``match`` labels."""

    n: int
    score: float | None
    match: LabelsToMatch

    def to_json(self) -> dict:
        return {"n": self.n, "score": self.score, "labels_to_match": self.match.to_json()}

    @classmethod
    def from_json(cls, data: dict) -> SizeWorth:
        return cls(int(data["n"]), num(data["score"]), LabelsToMatch.from_json(data["labels_to_match"]))


@dataclass(frozen=True)
class LabelsSaved:
    """The average horizontal gap between two curves over their shared score ``window``."""

    labels: float | None
    ci: tuple[float | None, float | None]
    window: tuple[float | None, float | None]

    def to_json(self) -> dict:
        return {"labels": self.labels, "ci": list(self.ci), "window": list(self.window)}

    @classmethod
    def from_json(cls, data: dict) -> LabelsSaved:
        return cls(num(data["labels"]), pair(data["ci"]), pair(data["window"]))


@dataclass(frozen=True)
class Advantage:
    """What ``learner`` is worth in ``reference``'s labels (Le Scao & Rush 2021)."""

    learner: str
    reference: str
    llm: bool
    first_size: int
    labels_to_match: LabelsToMatch
    advantage: LabelsSaved | None  # None: the curves share no score window
    per_size: tuple[SizeWorth, ...] = ()  # every size of the learner's curve, smallest first

    def to_json(self) -> dict:
        return {"first_size": self.first_size, "labels_to_match": self.labels_to_match.to_json(),
                "advantage": self.advantage.to_json() if self.advantage else None,
                "learner": self.learner, "reference": self.reference, "llm": self.llm,
                "per_size": [w.to_json() for w in self.per_size]}

    @classmethod
    def from_json(cls, data: dict) -> Advantage:
        return cls(data["learner"], data["reference"], bool(data["llm"]), int(data["first_size"]),
                   LabelsToMatch.from_json(data["labels_to_match"]),
                   LabelsSaved.from_json(data["advantage"]) if data["advantage"] else None,
                   tuple(SizeWorth.from_json(w) for w in data.get("per_size", [])))


@dataclass(frozen=True)
class Cheapest:
    """The cheapest route to the target and, when there is one, the runner-up and the margin."""

    learner: str
    total_first_month: float
    runner_up: str | None = None
    saving: float | None = None
    ratio: float | None = None  # runner-up / cheapest; None when the cheapest costs nothing

    @property
    def runner_up_total(self) -> float | None:
        return None if self.saving is None else self.total_first_month + self.saving

    def to_json(self) -> dict:
        out = {"learner": self.learner, "total_first_month": self.total_first_month}
        if self.runner_up is not None:
            out.update(runner_up=self.runner_up, saving=self.saving, ratio=self.ratio)
        return out

    @classmethod
    def from_json(cls, data: dict) -> Cheapest:
        return cls(data["learner"], num(data["total_first_month"]), data.get("runner_up"), num(data.get("saving")),
                   num(data.get("ratio")))


@dataclass(frozen=True)
class Analysis:
    """Every answer of one run for its headline ``metric``.

    From a result: ``result.analysis`` (``dataeff.run``, ``dataeff.analyze``, ``dataeff.load_run``).

    Examples
    --------
    >>> result = dataeff.analyze("runs/churn", score_target="90%")       # doctest: +SKIP
    >>> result.analysis.learners["xgboost"].labels_to_target.n           # doctest: +SKIP
    >>> result.analysis.ceiling.value, result.analysis.cheapest.learner  # doctest: +SKIP
    """

    metric: str
    higher_is_better: bool
    n_seeds: int
    prices: Prices
    target: Target
    learners: dict[str, LearnerAnswer] = field(default_factory=dict)  # in the study's order
    ceiling: Ceiling | None = None
    crossovers: tuple[Crossover, ...] = ()
    data_advantage: tuple[Advantage, ...] = ()
    reference: str | None = None  # the best classic learner, the others' yardstick
    cheapest: Cheapest | None = None
    signal: Signal | None = None  # tested before any other answer

    @property
    def prompt_worth(self) -> tuple[Advantage, ...]:
        """The data advantage of the LLM learners."""
        return tuple(a for a in self.data_advantage if a.llm)

    def to_json(self) -> dict:
        """The analysis in summary.json's shapes (README, 'summary.json keys'); JSON-ready."""
        out = {"metric": self.metric, "higher_is_better": self.higher_is_better, "n_seeds": self.n_seeds,
               "prices": dict(self.prices.__dict__),
               "learners": {name: answer.to_json() for name, answer in self.learners.items()},
               "crossovers": [c.to_json() for c in self.crossovers],
               "data_advantage": [a.to_json() for a in self.data_advantage],
               "prompt_worth": [a.to_json() for a in self.prompt_worth]}
        if not self.learners:  # no curve: only the target as given
            out["target"] = self.target.to_json()
            return out
        out["signal"] = self.signal.to_json() if self.signal else None
        out["ceiling"] = self.ceiling.to_json() if self.ceiling else {}
        out["target"] = self.target.to_json()
        out["reference"] = self.reference
        if self.cheapest:
            out["cheapest"] = self.cheapest.to_json()
        return out

    @classmethod
    def from_json(cls, data: dict) -> Analysis:
        """The inverse of ``to_json`` (the copy kept in the run store). Keys that an analysis
        without a target value or without curves leaves out may be missing."""
        return cls(
            metric=data["metric"], higher_is_better=bool(data["higher_is_better"]), n_seeds=int(data["n_seeds"]),
            prices=Prices(**data["prices"]), target=Target.from_json(data["target"]),
            learners={name: LearnerAnswer.from_json(entry) for name, entry in data["learners"].items()},
            ceiling=Ceiling.from_json(data["ceiling"]) if data.get("ceiling") else None,
            crossovers=tuple(Crossover.from_json(c) for c in data["crossovers"]),
            data_advantage=tuple(Advantage.from_json(a) for a in data["data_advantage"]),
            reference=data.get("reference"),
            cheapest=Cheapest.from_json(data["cheapest"]) if data.get("cheapest") else None,
            signal=Signal.from_json(data["signal"]) if data.get("signal") else None,
        )

    @classmethod
    def from_stored(cls, text: str | None) -> Analysis | None:
        """The analysis a run store keeps (its JSON text), or None when it has none yet."""
        data = json.loads(text) if text else None
        return cls.from_json(data) if data else None
