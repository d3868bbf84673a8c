"""The run's facts, typed: what was studied (the data, its label, the plan), the learners as
they ran (``LearnerInfo``) and how the run went (time, cells, LLM traffic). The study writes
them into the run store and summary.json; the results, the report, the suite and the command
line read them as attributes, never as a dict of string keys.

``RunFacts.of`` reads any stored copy: run folders written before the learners were described
in one place (three parallel dicts: ``learner_settings``, ``learner_kinds``,
``learner_families``) or before the label column was called ``label`` (``target``) read the same.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

FACTS_VERSION = 2  # 1: the parallel learner dicts and 'target'; 2: learner_info and 'label'


class LearnerInfo(BaseModel):
    """One learner of the run: its registry ``kind`` (a variant's own: xgb3 -> xgboost; an import
    path for any scikit-learn classifier), its ``family`` (baseline, classic or llm; empty in a
    folder older than families: the results take its kind's) and what it is with the settings it was given (``settings``, one line for the report); an acquiring
    learner's strategy (``acquire``) and the random ``twin`` it is compared with."""

    model_config = ConfigDict(frozen=True)
    kind: str = ""
    family: str = "classic"
    settings: str = ""
    acquire: str | None = None  # margin or entropy: it chose its rows (None: the seed's random ones)
    twin: str | None = None  # an acquiring learner's random twin, the curve it is read against
    labeller: str | None = None  # llm-labels: the learner whose labels of the pool it trains on
    student: str | None = None  # llm-labels: its student on human labels alone, the curve it is read against
    given: dict[str, Any] = Field(default_factory=dict)  # a variant's settings as written (to build it again)
    without: list[str] = Field(default_factory=list)  # column groups it goes without (data/groups.py)
    full: str | None = None  # a learner without groups: its twin with every column, the curve it is read against


class RunFacts(BaseModel):
    """Dataset, plan and run facts of a run folder (summary.json's ``facts``)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    facts_version: int = FACTS_VERSION
    dataset: str = ""
    data_fingerprint: str = ""
    study_fingerprint: str = ""
    rows: int | None = None
    columns: int | None = None
    label: str = Field("", validation_alias=AliasChoices("label", "target"))
    classes: list[str] = Field(default_factory=list)
    class_counts: dict[str, int] = Field(default_factory=dict)
    n_test: int | None = None
    own_test_split: bool = False
    pool_size: int | None = None
    sizes: list[int] = Field(default_factory=list)
    seeds: list[int] = Field(default_factory=list)
    n_seeds: int = 0
    learners: list[str] = Field(default_factory=list)  # in the study's order
    data_source: dict[str, Any] | None = None  # how to read the data again: a file or built-in name, its
    # label, table, query and bins (source None: a table from Python; None: related tables)
    learner_info: dict[str, LearnerInfo] = Field(default_factory=dict)
    feature_columns: list[str] = Field(default_factory=list)
    groups: dict[str, list[str]] = Field(default_factory=dict)  # column groups: name -> feature columns
    group_costs: dict[str, float] = Field(default_factory=dict)  # a group's pipeline, dollars a month
    metric: str = ""
    notes: list[str] = Field(default_factory=list)
    known_ceiling: dict[str, Any] | None = None  # a synthetic table's truth.json
    python: str = ""
    versions: dict[str, str] = Field(default_factory=dict)
    run_seconds: float | None = None
    finished_at: str = ""
    cells: dict[str, int] = Field(default_factory=dict)  # ok, skipped, failed
    llm_usage: dict[str, Any] | None = None
    data_problem: str | None = None  # every cell failed with one error: the data's, with the columns to blame

    @model_validator(mode="before")
    @classmethod
    def _learners_described_once(cls, data: Any) -> Any:
        """Version 1 kept a learner's kind, family and settings in three parallel dicts."""
        if isinstance(data, dict) and "learner_info" not in data and any(
                key in data for key in ("learner_settings", "learner_kinds", "learner_families")):
            names = data.get("learners") or []
            parts = {part: data.get(f"learner_{part}") or {} for part in ("settings", "kinds", "families")}
            data = {**data, "learner_info": {name: {"kind": parts["kinds"].get(name, name),
                                                    "family": parts["families"].get(name) or "",
                                                    "settings": parts["settings"].get(name, "")}
                                             for name in names}}
        return data

    @classmethod
    def of(cls, facts: RunFacts | dict | None) -> RunFacts:
        """Facts as given, or read from a stored (or hand-written) dict."""
        return facts if isinstance(facts, RunFacts) else cls.model_validate(facts or {})

    def to_json(self) -> dict:
        return self.model_dump(mode="json")

    def families(self) -> dict[str, str]:
        return {name: info.family for name, info in self.learner_info.items()}

    def kinds(self) -> dict[str, str]:
        return {name: info.kind for name, info in self.learner_info.items()}

    def grown_by(self, now: RunFacts) -> RunFacts:
        """``now`` over these earlier facts of the same folder: learners, sizes and seeds are the
        union of both, since results, summary and report cover every cell in the store."""
        seeds = sorted(set(self.seeds) | set(now.seeds))
        return now.model_copy(update={
            "learners": list(dict.fromkeys([*self.learners, *now.learners])),
            "learner_info": {**self.learner_info, **now.learner_info},
            "sizes": sorted(set(self.sizes) | set(now.sizes)), "seeds": seeds, "n_seeds": len(seeds)})
