"""A study's learners without column groups: the variants ``worth_of`` adds, each learner's full
twin (the one it is read against), and the columns each one drops once the data's groups are
known. What the curves then say is in analysis/sources.py."""

from __future__ import annotations

from dataclasses import replace

from dataeff.data.groups import dropped_columns
from dataeff.learners.registry import WITHOUT, LearnerSpec


def with_source_variants(specs: list[LearnerSpec], worth_of: list[str] | None) -> list[LearnerSpec]:
    """The specs, and for each group of ``worth_of`` and each learner that learns (not a
    baseline, not itself without a group) its variant without that group:
    ``xgboost-without-tickets``, unless the study lists one already."""
    out = list(specs)
    for group in worth_of or ():
        for spec in specs:
            if spec.family == "baseline" or spec.without:
                continue
            variant = replace(spec, name=f"{spec.name}-without-{group}", settings={**spec.settings, WITHOUT: group},
                              without=(group,))
            if not any(full_twin(other, [spec]) == spec.name and other.without == (group,) for other in out):
                out.append(variant)
    return out


def full_twin(spec: LearnerSpec, specs: list[LearnerSpec]) -> str | None:
    """The learner a ``without`` variant is read against: the same kind and settings, every
    column given."""
    if not spec.without:
        return None
    settings = {k: v for k, v in spec.settings.items() if k != WITHOUT}
    for other in specs:
        if not other.without and other.kind == spec.kind and other.factory == spec.factory \
                and other.acquire == spec.acquire and other.settings == settings:
            return other.name
    return None


def with_dropped_columns(specs: list[LearnerSpec], groups: dict[str, tuple[str, ...]]) -> list[LearnerSpec]:
    """Each spec with the columns of its ``without`` groups; an unknown group is one line."""
    return [replace(spec, dropped=dropped_columns(spec.without, groups, spec.name)) if spec.without else spec
            for spec in specs]
