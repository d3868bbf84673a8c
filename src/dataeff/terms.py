"""A setting named in its caller's terms: a flag to a command-line user (``--test-rows 400``), a
keyword to a Python user (``test_rows=400``), a key to whoever wrote it in a study TOML
(``[study] test_rows = 400``). Messages and advice anywhere in the code name settings through
``setting_name`` here, so nobody is told to use a flag they never passed.

``config`` declares the flat names spelled otherwise here (``declare``: ``source`` is ``data``
on the command line and in Python), so that any stage can name a setting without importing
the settings. The entry point says who the caller is: the command line enters ``caller("cli")``
(and sets ``DATAEFF_CALLER`` so the run's workers, which get its environment, name settings the
same way); Python is the default. A study's settings read from a TOML add their tables and keys
with ``from_file``: those settings are named as keys, whoever called. Nothing here imports another module of the project.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

CALLERS = ("python", "cli")
CALLER_ENV = "DATAEFF_CALLER"
MISSING: Any = object()  # no value: name the setting alone ("--test-rows", "test_rows")


class Placeholder(str):
    """A value written as it is, unquoted, in every caller's terms: ``--bins N``, ``bins=N``."""


@dataclass(frozen=True)
class Terms:
    """Who gave the settings: ``caller`` for all of them, and the file of each read from a TOML."""

    caller: str = "python"
    from_file: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # flat name -> (TOML table, key)
    in_variant: Mapping[str, str] = field(default_factory=dict)  # flat name -> a learner variant's key


def _default() -> Terms:
    caller = os.environ.get(CALLER_ENV, "python")
    return Terms(caller if caller in CALLERS else "python")


_TERMS: contextvars.ContextVar[Terms | None] = contextvars.ContextVar("dataeff_terms", default=None)


def current() -> Terms:
    return _TERMS.get() or _default()


@contextlib.contextmanager
def _scoped(**changes: Any) -> Iterator[None]:
    """The current terms with ``changes`` within the block."""
    token = _TERMS.set(dataclasses.replace(current(), **changes))
    try:
        yield
    finally:
        _TERMS.reset(token)


@contextlib.contextmanager
def caller(name: str) -> Iterator[None]:
    """Name settings as ``name`` ('cli' or 'python') within the block, and in the workers of
    runs started in it."""
    before = os.environ.get(CALLER_ENV)
    os.environ[CALLER_ENV] = name
    try:
        with _scoped(caller=name):
            yield
    finally:
        if before is None:
            os.environ.pop(CALLER_ENV, None)
        else:
            os.environ[CALLER_ENV] = before


def from_file(files: Mapping[str, tuple[str, str]]):
    """Name these settings (flat name -> (table, key) in a TOML) as the file's keys within the block."""
    return _scoped(from_file={**current().from_file, **files})


def in_variant(keys: Mapping[str, str]):
    """Name these settings (flat name -> key) as a learner variant's own ``key=value`` in the block."""
    return _scoped(in_variant={**current().in_variant, **keys})


_SPELLED: dict[str, str] = {}


def declare(spelled: Mapping[str, str]) -> None:
    """From config.py: the flat names spelled otherwise on the command line and in Python."""
    _SPELLED.update(spelled)


def flag(flat: str) -> str:
    """A setting's command-line option: ``--`` and its name with dashes (``--llm-shots``, ``--data``)."""
    return "--" + _SPELLED.get(flat, flat).replace("_", "-")


def setting_name(flat: str, value: Any = MISSING) -> str:
    """A setting (by flat name, with ``value`` when given) as the caller writes it: ``--test-rows
    400`` on the command line, ``test_rows=400`` in Python, ``[study] test_rows = 400`` for a
    setting read from a study TOML."""
    terms = current()
    if flat in terms.in_variant:
        return terms.in_variant[flat] if value is MISSING else f"{terms.in_variant[flat]}={value!r}"
    if flat in terms.from_file:
        table, key = terms.from_file[flat]
        return f"[{table}] {key}" + ("" if value is MISSING else f" = {_toml(value)}")
    if terms.caller == "cli":
        option = flag(flat)
        if value is MISSING:
            return option
        if isinstance(value, bool):
            return option if value else option.replace("--", "--no-", 1)
        return f"{option} {_cli(value)}"
    name = _SPELLED.get(flat, flat)
    if value is MISSING:
        return name
    return f"{name}={value if isinstance(value, Placeholder) else repr(value)}"


def _toml(value: Any) -> str:
    if isinstance(value, Placeholder):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, (str, list, dict)) else str(value)


def _cli(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items())
    text = str(value)
    return f"'{text}'" if any(ch.isspace() for ch in text) or not text else text
