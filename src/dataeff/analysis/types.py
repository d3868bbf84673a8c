"""The answers of one analysis as typed objects, serialized by their declaration: pydantic
dataclasses whose fields are summary.json's documented keys (a key spelled otherwise names its
alias beside the field), so ``to_json()`` and ``from_json()`` are pydantic's dump and
validation, not code written per class. The stored analysis carries ``schema_version``; a copy
written by a newer dataeff is refused in one line instead of misread.

Why this module is long: one small dataclass per answer (signal, target, ceiling, labels, cost,
crossover, worth, ...), with its docstring and the few keys its JSON leaves out, so
summary.json's documented keys live in one place.

Every number is a plain ``float`` (or ``int``) or ``None``: NaN and infinity (a CI that never
closes, a target past the extrapolation limit) become ``None`` when an object is built, so an
analysis computed now and the same analysis read back from its JSON are equal, and so are the
reports drawn from them.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import field
from typing import Annotated, Any

from pydantic import (AliasChoices, BeforeValidator, ConfigDict, Field, PlainSerializer, TypeAdapter,
                      computed_field, model_serializer, model_validator)
from pydantic.dataclasses import dataclass as _pydantic_dataclass

from dataeff.analysis.efficiency import Prices
from dataeff.analysis.fits import Fit
from dataeff.errors import RunFolderError

#: The stored analysis's shape; a change to its keys is a new version (1: before it was stored
#: with one, 2026-12-04, and the same keys since).
ANALYSIS_SCHEMA = 3  # 2: label_routes; 3: sources


def num(value) -> float | None:
    """A finite float, or None for a missing, NaN or infinite value."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def pair(values) -> Interval:
    """A (low, high) interval, each end through ``num``."""
    low, high = values
    return num(low), num(high)


def _fit_json(fit: Fit) -> dict:
    spec = fit.to_dict()
    spec["holdout_mse"] = num(spec["holdout_mse"])
    return spec


# Field types: numbers are finite or None from the moment an object is built (NaN, infinity
# and numpy scalars included), intervals are (low, high) of such numbers.
Num = Annotated[float | None, BeforeValidator(num)]
Interval = tuple[Num, Num]
FitField = Annotated[Fit | None, BeforeValidator(lambda v: Fit.from_dict(v) if isinstance(v, dict) else v),
                     PlainSerializer(lambda fit: _fit_json(fit) if fit is not None else None)]
dataclass = functools.partial(_pydantic_dataclass, frozen=True,
                              config=ConfigDict(arbitrary_types_allowed=True, populate_by_name=True))


class _Json:
    """``to_json`` / ``from_json`` through the class's pydantic declaration."""

    def to_json(self) -> dict:
        return _adapter(type(self)).dump_python(self, mode="json", by_alias=True)

    @classmethod
    def from_json(cls, data: dict):
        return _adapter(cls).validate_python(data)


@functools.cache
def _adapter(cls) -> TypeAdapter:
    return TypeAdapter(cls)


@dataclass
class Target(_Json):
    """The score to reach: ``spec`` as given ('95%', '0.85'), ``kind`` 'relative' (a share of the
    way from the baseline's score to the ceiling) or 'absolute', and the ``value`` it resolves to
    (None: no curve to resolve it on, or no signal to reach for). ``baseline`` is the score the
    share is measured from and ``baseline_from`` what gave it ('majority', 'chance', ...)."""

    spec: str
    kind: str | None = None
    value: Num = None
    relative_to: str | None = None
    baseline: Num = None
    baseline_from: str | None = None

    @model_serializer(mode="wrap")
    def _shape(self, dump) -> dict:
        out = dump(self)
        return out if self.kind is not None else {"spec": out["spec"], "value": out["value"]}  # nothing resolved


@dataclass
class SignalPoint(_Json):
    """One (learner, size) against the baseline: both mean scores with their CIs over seeds,
    and the comparison's Holm-adjusted one-sided p-value."""

    learner: str
    n: int
    score: Num
    ci: Interval
    baseline_score: Num
    baseline_ci: Interval
    p_adjusted: Num

SIGNAL_METHOD = ("one-sided paired t test over seeds of each learner against the baseline at every size "
                 "(the seeds' SD pooled over all comparisons), Holm-corrected over all (learner, size) comparisons")


@dataclass
class Signal(_Json):
    """Whether any learner beats the baseline beyond noise (``found``; None when it could not be
    tested, ``reason`` says why); ``best`` is the strongest such point (without a signal: the
    closest call), ``sizes_with_signal`` where some learner does, ``only_at_largest`` when that
    is only at the largest sizes measured."""

    tested: bool
    found: bool | None
    baseline: str | None
    alpha: Num
    best: SignalPoint | None = None
    sizes_with_signal: tuple[int, ...] = ()
    learners_with_signal: tuple[str, ...] = ()
    comparisons: int = 0
    largest_size: int | None = None
    only_at_largest: bool = False
    reason: str | None = None

    @computed_field
    @property
    def method(self) -> str:
        return SIGNAL_METHOD

    @property
    def absent(self) -> bool:
        """Tested and not found: the answers say so and nothing else."""
        return self.tested and not self.found


@dataclass
class Ceiling(_Json):
    """The data's ceiling for the metric. ``source`` is 'fit' (an identified asymptote above the
    measured ceiling) or 'measured' (the best measured point: a lower bound). The best measured
    point is estimated without the winner's curse (``selection``): chosen on some seeds, scored
    on the others; ``largest_mean`` is the plain largest mean, for comparison."""

    value: Num
    ci: Interval
    learner: str
    source: Annotated[str, Field(validation_alias=AliasChoices("from", "source"), serialization_alias="from")]
    best_measured: Num
    best_measured_learner: str
    best_measured_n: int
    gap: Num  # room left above the best measured point, on the gain scale
    extrapolated: bool
    still_rising: tuple[str, ...] = ()
    selection: str = "largest mean"
    largest_mean: Num = None

@dataclass
class LabelsNeeded(_Json):
    """Labels one learner needs to reach the target. ``how``: 'measured', 'at_most',
    'extrapolated' or 'unreachable'; ``n`` is None when unreachable or past the extrapolation
    limit (how = 'extrapolated'); ``method``: 'fit' or 'interpolation' inside the sizes
    measured, 'forecast' beyond them (analysis/forecast.py: its predictive interval, and
    'unreachable' only when even its upper band stays below the target)."""

    n: Num
    how: str
    method: str
    ci: Interval
    max_measured: int

    @property
    def reached(self) -> bool:
        return self.how != "unreachable"

@dataclass
class Cost(_Json):
    """First-month cost of one learner's route to the target, in the prices' currency."""

    labels: Num
    training: Num
    serving_per_month: Num
    total_first_month: Num
    n_labels: Num
    how: str  # how the label count was found (LabelsNeeded.how)

@dataclass
class ForecastEntry(_Json):
    """The score forecast at ``n`` labels (a multiple of the largest size measured) and its 95%
    predictive interval, on the metric's own scale (analysis/forecast.py)."""

    n: int
    score: Num
    ci: Interval


@dataclass
class LearnerAnswer(_Json):
    """One learner's answers for the headline metric. ``labels_to_target`` and ``cost`` are None
    when the target has no value (no ceiling to take a share of) or the route never gets there."""

    sizes: tuple[int, ...]
    fit: FitField
    asymptote: Num
    asymptote_ci: Interval
    rule_of_thumb: tuple[int, int] | None
    labels_to_target: LabelsNeeded | None = None
    cost: Cost | None = None
    family: str = "classic"  # baseline, classic or llm: its kind's family
    kind: str | None = None  # the registry kind of a variant (xgb3 -> xgboost)
    identified: bool = False  # the data pin the asymptote down; otherwise it is "not identified"
    rising: bool = False  # the fit still climbs at the largest size by more than its noise
    forecast: tuple[ForecastEntry, ...] = ()  # the score at 2x to 16x the largest size measured

@dataclass
class Crossover(_Json):
    """Where ``winner``'s curve crosses ``loser``'s (paired over seeds); ``final``: the last
    crossing of the pair; ``lead_at_largest`` the paired difference at the largest shared size."""

    winner: str
    loser: str
    n: Num
    ci: Interval
    support: Num  # share of resamples with this crossing
    final: bool
    lead_at_largest: Num
    lead_ci: Interval
    largest_shared: int
    significant: bool = False  # final, winner ahead beyond noise, and the data carry a signal

    @model_validator(mode="before")
    @classmethod
    def _significance_of_old_copies(cls, data: Any) -> Any:
        """Stored before 'significant' was: final, and the winner's lead CI above 0."""
        if isinstance(data, dict) and "significant" not in data:
            low = num((data.get("lead_ci") or [None])[0])
            data = {**data, "significant": bool(data.get("final")) and low is not None and low > 0}
        return data

    @property
    def settled(self) -> bool:
        """The last crossing of its pair, with the winner significantly ahead at the largest size
        (never on data without a signal: there a crossing is between two kinds of noise)."""
        return self.significant

@dataclass
class LabelsToMatch(_Json):
    """Labels the reference learner needs to match another learner's first point."""

    n: Num
    how: str
    ci: Interval

@dataclass
class SizeWorth(_Json):
    """One size of a learner's curve in the reference's labels: with ``n`` labels it scores
    ``score``, what the reference reaches with ``match`` labels."""

    n: int
    score: Num
    match: Annotated[LabelsToMatch, Field(validation_alias=AliasChoices("labels_to_match", "match"),
                                          serialization_alias="labels_to_match")]

@dataclass
class LabelsSaved(_Json):
    """The average horizontal gap between two curves over their shared score ``window``."""

    labels: Num
    ci: Interval
    window: Interval

@dataclass
class Advantage(_Json):
    """What ``learner`` is worth in ``reference``'s labels (Le Scao & Rush 2021)."""

    learner: str
    reference: str
    llm: bool
    first_size: int
    labels_to_match: LabelsToMatch
    advantage: LabelsSaved | None  # None: the curves share no score window
    per_size: tuple[SizeWorth, ...] = ()  # every size of the learner's curve, smallest first

@dataclass
class Cheapest(_Json):
    """The cheapest route to the target and, when there is one, the runner-up and the margin."""

    learner: str
    total_first_month: Num
    runner_up: str | None = None
    saving: Num = None
    ratio: Num = None  # runner-up / cheapest; None when the cheapest costs nothing

    @property
    def runner_up_total(self) -> float | None:
        return None if self.saving is None else self.total_first_month + self.saving

    @model_serializer(mode="wrap")
    def _shape(self, dump) -> dict:
        out = dump(self)
        return out if self.runner_up is not None else {k: out[k] for k in ("learner", "total_first_month")}


@dataclass
class AcquisitionAnswer(_Json):
    """An acquiring learner against its random twin (analysis/acquisition.py): the labels saved
    at the target (the twin's labels minus its own, with a paired CI over seeds; None where
    either never reaches it), the area between the curves (mean paired gain over the shared
    sizes) and the verdict: 'pays', 'does not pay' or 'hurts'."""

    learner: str
    twin: str
    strategy: str
    labels_saved: Num
    labels_saved_ci: Interval
    labels: Num  # the acquiring learner's labels to the target
    twin_labels: Num
    area: Num
    area_ci: Interval
    verdict: str


@dataclass
class SourceAnswer(_Json):
    """A column group's worth to one learner (analysis/sources.py): ``learner`` with every
    column against ``variant`` without ``group``. ``per_size``: with n labels the learner scores
    what the variant reaches with ``labels_to_match`` labels; ``labels_saved``: the average
    horizontal gap between the curves; the ceilings (cross-fitted best points, metric scale)
    and the paired drop without the group (gain scale) with its t interval; the verdict:
    'raises-ceiling', 'saves-labels' or 'none'."""

    learner: str
    variant: str
    group: str
    verdict: str
    per_size: tuple[SizeWorth, ...]
    labels_saved: LabelsSaved | None
    ceiling_with: Num
    ceiling_without: Num
    ceiling_drop: Num
    ceiling_drop_ci: Interval
    running_cost: Num = None  # the group's pipelines, dollars a month ([data] group_costs)
    labels_value: Num = None  # the labels it saves on average, at the study's label cost
    area: Num = None  # mean paired gain with the group over the sizes both measured (gain scale)
    area_ci: Interval = (None, None)
    confidence: float = 0.95  # of the two tests' intervals: 95% corrected for the pairs tested

@dataclass
class LabelRouteAnswer(_Json):
    """An llm-labels learner (analysis/labels.py): the pool's LLM labels alone are worth
    ``exchange`` of its ``student``'s human labels (and ``per_size``: the route with n human
    labels in the student's labels); its score at n = 0 against its ``labeller``'s (the paired
    difference, gain scale, with a t interval); the LLM labels' agreement with the pool's hidden
    labels, overall and per true class, and the confusion counts (true -> LLM label -> rows)."""

    learner: str
    labeller: str
    student: str | None
    pool_rows: int | None
    score_at_zero: Num
    teacher_score: Num
    exchange: LabelsToMatch | None
    per_size: tuple[SizeWorth, ...]
    versus_teacher: Num
    versus_teacher_ci: Interval
    agreement: Num
    agreement_per_class: dict[str, Num]
    confusion: dict[str, dict[str, int]]


@dataclass
class Analysis(_Json):
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
    acquisition: tuple[AcquisitionAnswer, ...] = ()  # choosing rows against random ones
    label_routes: tuple[LabelRouteAnswer, ...] = ()  # an LLM's labels turned into a cheap model
    sources: tuple[SourceAnswer, ...] = ()  # what each column group is worth to each learner

    @computed_field
    @property
    def prompt_worth(self) -> tuple[Advantage, ...]:
        """The data advantage of the LLM learners."""
        return tuple(a for a in self.data_advantage if a.llm)

    @computed_field
    @property
    def schema_version(self) -> int:
        return ANALYSIS_SCHEMA

    @model_serializer(mode="wrap")
    def _shape(self, dump) -> dict:
        """summary.json's shape (docs/guide/running.md): without curves, only the target as
        given; without a ceiling, an empty one; no cheapest route, no key."""
        out = dump(self)
        if not self.learners:
            return {k: v for k, v in out.items() if k not in ("signal", "ceiling", "reference", "cheapest")}
        if self.ceiling is None:
            out["ceiling"] = {}
        if self.cheapest is None:
            del out["cheapest"]
        return out

    @classmethod
    def from_json(cls, data: dict) -> Analysis:
        """The inverse of ``to_json`` (the copy kept in the run store); a copy of a newer schema
        than this dataeff reads is refused in one line."""
        version = data.get("schema_version", 1)
        if not isinstance(version, int) or version > ANALYSIS_SCHEMA:
            raise RunFolderError(f"The stored analysis has schema version {version}, newer than this dataeff reads "
                                 f"({ANALYSIS_SCHEMA}); upgrade dataeff, or run 'dataeff analyze' on the folder to "
                                 "write it again.")
        data = {k: v for k, v in data.items() if k not in ("prompt_worth", "schema_version")}
        if data.get("ceiling") == {}:
            data["ceiling"] = None
        return _adapter(cls).validate_python(data)

    @classmethod
    def from_stored(cls, text: str | None) -> Analysis | None:
        """The analysis a run store keeps (its JSON text), or None when it has none yet."""
        data = json.loads(text) if text else None
        return cls.from_json(data) if data else None
