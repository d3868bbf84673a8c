"""Learner variants as written: ``name=kind(setting=value, ...)`` on the command line and
``[learners.NAME]`` tables in a study TOML, parsed into ``Variant(name, kind, settings)``.

Only the syntax lives here; whether a kind exists and takes a setting is the learner
registry's to say (``learners/registry.py``), before any work starts.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from typing import Any

from dataeff.errors import ConfigError, one_line

_OPEN, _CLOSE = "([{", ")]}"


@dataclass(frozen=True)
class Variant:
    """A named learner: a kind (``xgboost``, ``llm-few``) and the settings that differ from its
    defaults. ``Variant("xgb3", "xgboost", {"max_depth": 3})``."""

    name: str
    kind: str
    settings: dict[str, Any] = field(default_factory=dict, hash=False)


def parse_learner_list(text: str) -> list[Variant]:
    """'xgboost, xgb3=xgboost(max_depth=3), llm-few(shots=32)' -> three Variants.

    A variant without a name is named as written (``llm-few(shots=32)``); values are read as
    TOML values (numbers, booleans, "strings", inline tables), and bare words as strings.
    """
    return [parse_variant(part) for part in _split_top_level(text, ",") if part.strip()]


def parse_variant(text: str) -> Variant:
    """One 'name=kind(setting=value, ...)', 'kind(...)' or 'kind'."""
    text = text.strip()
    head, paren, rest = text.partition("(")
    name, eq, kind = head.partition("=")
    if not eq:
        name, kind = "", name
    name, kind = name.strip(), kind.strip()
    if not kind or (eq and not name):
        raise ConfigError(f"Cannot read the learner '{text}'; write kind, kind(setting=value) or "
                          "name=kind(setting=value), e.g. xgb3=xgboost(max_depth=3).")
    settings: dict[str, Any] = {}
    if paren:
        if not rest.rstrip().endswith(")"):
            raise ConfigError(f"The learner '{text}' opens a '(' it does not close; write kind(setting=value, ...).")
        for item in _split_top_level(rest.rstrip()[:-1], ","):
            if not item.strip():
                continue
            key, has_value, value = item.partition("=")
            key = key.strip()
            if not has_value or not key.isidentifier():
                raise ConfigError(f"Cannot read the setting '{item.strip()}' of '{text}'; write setting=value.")
            if key in settings:
                raise ConfigError(f"The learner '{text}' sets '{key}' twice; set it once.")
            settings[key] = _value(value.strip())
    compact = f"{kind}({', '.join(f'{k}={_shown(v)}' for k, v in settings.items())})" if settings else kind
    return Variant(name or compact, kind, settings)


def variants_from_toml(tables: Any, where: str) -> list[Variant]:
    """The [learners.NAME] tables of a study TOML: each needs 'kind'; the rest are settings."""
    if not isinstance(tables, dict):
        raise ConfigError(f"'learners' in {where} must be tables like [learners.xgb3] with kind = \"xgboost\".")
    variants = []
    for name, table in tables.items():
        if not isinstance(table, dict) or not isinstance(table.get("kind"), str):
            raise ConfigError(f"[learners.{name}] in {where} needs kind = \"...\" (a learner kind such as xgboost "
                              "or llm-few); see 'dataeff learners'.")
        settings = {k: v for k, v in table.items() if k != "kind"}
        variants.append(Variant(str(name), table["kind"], settings))
    return variants


def _value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        if text.startswith("[") and text.endswith("]"):  # a list of bare words: without=[tickets, purchases]
            return [_value(part.strip()) for part in _split_top_level(text[1:-1], ",") if part.strip()]
        if any(ch in text for ch in "{}[]\"'="):
            raise ConfigError(f"Cannot read the value {text!r}; write a number, true/false, \"text\" or an inline "
                              "table like {\"0\" = \"No\", \"1\" = \"Yes\"}.") from None
        return text  # a bare word: backend=openai


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={v}" for k, v in value.items()) + "}"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _split_top_level(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside brackets and quotes."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth -= 1
            if depth < 0:
                raise ConfigError(f"Unbalanced '{ch}' in the learners '{one_line(text, 80)}'.")
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth or quote:
        raise ConfigError(f"Unbalanced brackets or quotes in the learners '{one_line(text, 80)}'.")
    parts.append(text[start:])
    return parts
