"""Column groups: named sets of feature columns, the unit a data source is valued in.

A group is what a pipeline feeds into the table (tickets, purchases, clickstream). In a
related-tables study each relation is a group named after its table, and the entity table's own
columns another; a user declares more in the study TOML (``[data.groups]``, patterns over
column names such as ``clickstream = ["page_*", "session_*"]``). A declared group takes its
columns out of the default ones; a column in two declared groups is refused. A learner setting
``without`` names groups to leave out (analysis/sources.py then says what they are worth).
"""

from __future__ import annotations

import fnmatch
import re

from dataeff.data.cleaning import quoted_names
from dataeff.errors import ConfigError, did_you_mean

#: what a group's name may be: it becomes part of learner names (xgboost-without-tickets)
GROUP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def column_groups(columns: list[str], declared: dict | None = None,
                  defaults: dict[str, list[str]] | None = None) -> dict[str, tuple[str, ...]]:
    """Group name -> its feature columns, in the table's order.

    ``declared`` (name -> patterns, fnmatch style) comes from ``[data.groups]``; ``defaults``
    (name -> columns) from the relations of a related-tables study, each losing the columns a
    declared group takes. A declared group that is empty, a pattern that matches nothing, a
    column two declared groups claim or a name that is not a plain word is one line."""
    groups: dict[str, tuple[str, ...]] = {}
    owner: dict[str, str] = {}
    for name, patterns in (declared or {}).items():
        _check_name(name)
        if isinstance(patterns, str):
            patterns = [patterns]
        if not isinstance(patterns, (list, tuple)) or not patterns \
                or not all(isinstance(p, str) and p for p in patterns):
            raise ConfigError(f"Group '{name}' in [data.groups] must be a list of column names or patterns, like "
                              f'{name} = ["page_*", "session_*"].')
        taken = []
        for pattern in patterns:
            matched = [c for c in columns if fnmatch.fnmatchcase(c, pattern)]
            if not matched:
                raise ConfigError(f"Group '{name}': '{pattern}' matches no feature column.{did_you_mean(pattern, columns)}"
                                  f" Columns: {quoted_names(columns)}.")
            taken += [c for c in matched if c not in taken]
        for column in taken:
            if column in owner and owner[column] != name:
                raise ConfigError(f"Column '{column}' is in two groups, '{owner[column]}' and '{name}'; a column "
                                  "belongs to one group: narrow one of the patterns.")
            owner[column] = name
        groups[name] = tuple(c for c in columns if c in taken)
    for name, members in (defaults or {}).items():
        if name in groups:
            continue  # a declared group of that name replaces the default one
        left = tuple(c for c in columns if c in members and c not in owner)
        if left:
            groups[name] = left
    return groups


def dropped_columns(without: tuple[str, ...], groups: dict[str, tuple[str, ...]], learner: str) -> tuple[str, ...]:
    """The columns a learner's ``without`` groups name; an unknown group is one line."""
    columns: list[str] = []
    for name in without:
        if name not in groups:
            known = f"The data's groups: {quoted_names(list(groups))}." if groups else (
                "The data declares no groups: add [data.groups] to the study TOML, or use related tables.")
            raise ConfigError(f"{learner}: no column group '{name}'.{did_you_mean(name, groups)} {known}")
        columns += [c for c in groups[name] if c not in columns]
    return tuple(columns)


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not GROUP_NAME.fullmatch(name):
        raise ConfigError(f"Group name {name!r} in [data.groups] must be a plain word (letters, digits, '_', '-', "
                          "'.'): it becomes part of learner names.")
