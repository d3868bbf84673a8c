"""The suite TOML: its datasets, the study settings they share and per-dataset overrides, each
dataset's settings built and checked before anything is written.

```toml
[suite]
datasets = ["churn", "credit", { source = "data/customers.csv", target = "churned" }, "data/study.toml"]
score = 0.8                      # optional: labels to this fixed score too

[study]                          # [study], [analysis], [llm], [run], [learners.NAME] as in a study TOML
learners = ["logreg", "tree"]

[overrides.fine-foods]           # any flat setting name, for one dataset
test_rows = 200
```

A dataset is a built-in name, a file with its target (a table entry), or a related-tables
study TOML whose ``[data]`` table is used (its other tables are the suite's). Its name (a
built-in's own, the file's stem, or ``name =``) names its run folder inside the suite folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataeff.config import (SECTIONS, Settings, load_config, parse_target, read_toml, renamed_note,
                            settings_from_tables)
from dataeff.data.builtin import BUILTINS, is_builtin
from dataeff.data.database import without_password
from dataeff.data.source import is_database_url, looks_like_path
from dataeff.errors import ConfigError, did_you_mean
from dataeff.terms import Placeholder, setting_name
from dataeff.variants import variants_from_toml

#: the keys of [suite]
SUITE_KEYS = ("datasets", "score")
#: the keys a dataset entry written as a table may hold
ENTRY_KEYS = ("source", "label", "name", "table", "query", "sheet", "bins")
#: settings a suite decides itself: the dataset of each folder, and the folder
NOT_OVERRIDABLE = ("source", "out")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class SuiteDataset:
    """One dataset of a suite: its ``name`` (its run folder), what the TOML listed (``listed``)
    and the full settings of its study."""

    name: str
    listed: str
    settings: Settings


@dataclass(frozen=True)
class Suite:
    """Datasets with their settings, the settings they share, and an optional fixed ``score``
    to count labels to besides the share of each dataset's ceiling.

    Examples
    --------
    >>> suite = load_suite("suite.toml")                       # doctest: +SKIP
    >>> [d.name for d in suite.datasets]                       # doctest: +SKIP
    ['churn', 'credit', 'customers']
    """

    datasets: tuple[SuiteDataset, ...]
    settings: Settings
    score: float | None = None


def load_suite(path: str | Path) -> Suite:
    """Read and check a suite TOML; every problem is one ``ConfigError`` line."""
    path = Path(path)
    raw = read_toml(path, "Suite")
    table = raw.pop("suite", None)
    if not isinstance(table, dict):
        raise ConfigError(f"{path.name} has no [suite] table; add one with datasets = [\"churn\", ...].")
    for key in table:
        if key not in SUITE_KEYS:
            raise ConfigError(f"Unknown key '{key}' in [suite] of {path.name}.{did_you_mean(key, SUITE_KEYS)} "
                              f"Keys there: {', '.join(SUITE_KEYS)}.")
    overrides = raw.pop("overrides", {})
    if not isinstance(overrides, dict) or not all(isinstance(v, dict) for v in overrides.values()):
        raise ConfigError(f"Overrides in {path.name} are tables: [overrides.DATASET] with settings by flat name.")
    settings = shared_settings(raw, path)
    return make_suite(table.get("datasets"), settings, score=table.get("score"), overrides=overrides,
                      base=path.parent)


def shared_settings(raw: dict, path: Path) -> Settings:
    """The [study], [analysis], [llm], [run] and [learners.NAME] tables, read as a study TOML's
    are (``config.settings_from_tables``), less what a suite decides itself."""
    if "data" in raw:
        raise ConfigError(f"[data] in {path.name}: a suite's data are its [suite] datasets; list each there "
                          "(a related-tables study TOML is listed as a dataset).")
    if isinstance(raw.get("run"), dict) and "out" in raw["run"]:
        raise ConfigError(f"[run] out in {path.name}: a suite writes one run folder per dataset inside "
                          f"{setting_name('out', Placeholder('DIR'))}; drop it.")
    return settings_from_tables(raw, path, other_sections=("suite", "overrides"))


def make_suite(datasets: Any, settings: Settings | None = None, *, score: Any = None,
               overrides: dict[str, dict] | None = None, base: str | Path = ".") -> Suite:
    """A checked suite from its parts (what ``load_suite`` reads from a TOML); relative paths
    are taken from ``base``."""
    from dataeff.learners.registry import resolve_learners

    settings, base, overrides = settings or Settings(), Path(base), dict(overrides or {})
    if not isinstance(datasets, list) or not datasets:
        raise ConfigError("The suite has no datasets: list them in [suite] datasets = [\"churn\", \"credit\", ...].")
    if score is not None:
        if isinstance(score, bool) or not isinstance(score, (int, float)):
            raise ConfigError(f"[suite] score must be a score like 0.8. Got {score!r} instead.")
        parse_target(score)
    entries = [_entry(item, settings, base) for item in datasets]
    seen: dict[str, str] = {}
    for name, listed, _ in entries:
        if name in seen:
            raise ConfigError(f"Two datasets of the suite are named '{name}' ({seen[name]} and {listed}); give one "
                              f"another name: {{ source = \"{listed}\", name = \"{name}-2\" }}.")
        seen[name] = listed
    for name in overrides:
        if name not in seen:
            raise ConfigError(f"[overrides.{name}] names no dataset of the suite.{did_you_mean(name, seen)} "
                              f"Datasets: {', '.join(seen)}.")
    built = []
    for name, listed, own in entries:
        table = overrides.get(name, {})
        for key in NOT_OVERRIDABLE:
            if key in table:
                raise ConfigError(f"[overrides.{name}] sets '{key}'; a suite decides each dataset's {key} itself: "
                                  "drop it.")
        own = own.with_overrides(written_in=f"overrides.{name}", **table)
        resolve_learners(list(own.study.learners))  # an unknown kind or setting ends here, before any folder
        built.append(SuiteDataset(name, listed, own))
    return Suite(tuple(built), settings, None if score is None else float(score))


def _entry(item: Any, settings: Settings, base: Path) -> tuple[str, str, Settings]:
    """(name, as listed, its settings) for one entry of [suite] datasets."""
    if isinstance(item, str):
        item = {"source": item}
    elif not isinstance(item, dict):
        raise ConfigError(f"A dataset of the suite is a name, a path or a table like {{ source = \"x.csv\", "
                          f"label = \"y\" }}. Got {item!r} instead.")
    if "target" in item and "label" not in item:  # the label column's old name
        renamed_note("'target' in a dataset of [suite] datasets", "'label'")
        item = {("label" if key == "target" else key): value for key, value in item.items()}
    secret = item.get("source")
    if is_database_url(secret):  # messages and the suite's files show the URL without its password
        item = {**item, "source": without_password(secret)}
    for key in item:
        if key not in ENTRY_KEYS:
            raise ConfigError(f"Unknown key '{key}' in the suite's dataset {item}.{did_you_mean(key, ENTRY_KEYS)} "
                              f"Keys there: {', '.join(ENTRY_KEYS)}.")
    source = item.get("source")
    if not isinstance(source, str) or not source:
        raise ConfigError(f"The suite's dataset {item} has no source; add source = \"NAME or PATH\".")
    data = {k: item[k] for k in ("label", "table", "query", "sheet", "bins") if k in item}
    if is_database_url(secret):
        _check_label(source, data)
        own, stem = settings.with_overrides(source=secret, **data), item.get("table") or "query"
    elif is_builtin(source) and not (base / source).exists():
        own, stem = settings.with_overrides(source=source, **data), source
    else:
        path = Path(source) if Path(source).is_absolute() else base / source
        if not path.is_file():
            if not looks_like_path(source):
                raise ConfigError(f"Unknown dataset '{source}' in the suite.{did_you_mean(source, BUILTINS)} "
                                  f"Built-in datasets: {', '.join(BUILTINS)}; or give a file path.")
            raise ConfigError(f"Unknown dataset '{source}' in the suite: no such file {path}; check the path.")
        stem = path.stem
        if path.suffix == ".toml":
            if data:
                raise ConfigError(f"The suite's dataset {source} is a study TOML; its [data] table says "
                                  f"{', '.join(data)}: set them there.")
            study = load_config(path)
            own = Settings(**{**{name: getattr(settings, name) for name in SECTIONS}, "data": study.data})
        else:
            _check_label(source, data)
            own = settings.with_overrides(source=str(path), **data)
    name = item.get("name", stem)
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"The suite's dataset name {name!r} must be a folder name (letters, digits, '.', '_', "
                          f"'-'); give it one: {{ source = \"{source}\", name = \"...\" }}.")
    return name, source, own


def _check_label(source: str, data: dict) -> None:
    """A table of the user's names its label column (a built-in knows its own)."""
    if "label" not in data:
        raise ConfigError(f"The suite's dataset {source} needs its label column: write {{ source = "
                          f"\"{source}\", label = \"COLUMN\" }} in [suite] datasets.")
