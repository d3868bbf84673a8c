"""Flatten one-to-many child tables into wide features, point in time, in one DuckDB query.

A declaration names the entity table (one row per customer, with its key, label and an
optional cutoff time) and child tables with aggregations over windows that end at each
row's cutoff, e.g. ``HasPurchasedFoodLast6Months = exists(purchases where category = 'food',
180 days before the cutoff)``. No child row after a row's cutoff reaches any feature.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from dataeff.data.source import is_database_url, source_for
from dataeff.errors import ConfigError, DataError, did_you_mean, one_line

AGGREGATIONS = ("count", "exists", "sum", "mean", "min", "max", "last", "first", "n_distinct", "days_since_last")
NEEDS_COLUMN = {"sum", "mean", "min", "max", "last", "first", "n_distinct"}
WINDOW_UNITS = {"h": "hours", "d": "days", "w": "weeks", "m": "months", "y": "years"}


@dataclass(frozen=True)
class Feature:
    name: str
    agg: str
    column: str | None = None
    where: str | None = None
    window: str | None = None


@dataclass
class Relation:
    table: str  # a file, or a table name inside ``source``
    key: str
    time: str | None = None
    source: str | None = None  # a SQLite/DuckDB file or a database URL holding ``table``
    features: list[Feature] = field(default_factory=list)


@dataclass
class Flattening:
    """The whole declaration: entity table, its key and cutoff, and the relations."""

    entity: str
    key: str
    cutoff: str | None = None
    entity_table: str | None = None  # for an entity inside a SQLite/DuckDB file or a database
    relations: list[Relation] = field(default_factory=list)

    def groups(self, columns: list[str]) -> dict[str, list[str]]:
        """The default column groups of the flattened ``columns``: each relation's features
        under its table's name, and the entity's own columns under the entity's."""
        groups: dict[str, list[str]] = {}
        for rel in self.relations:  # two relations of one table name (2024/purchases, 2025/purchases): one group
            name = _group_name(rel.table.rsplit(".", 1)[-1] if rel.source else Path(rel.table).stem)
            groups.setdefault(name, []).extend(f.name for f in rel.features)
        derived = {name for members in groups.values() for name in members}
        entity = self.entity_table or (Path(self.entity).stem if not is_database_url(self.entity) else "entity")
        return {_group_name(entity): [c for c in columns if c not in derived], **groups}

    @property
    def source_name(self) -> str:
        """What the study's data setting shows: the entity file's name (customers.csv), or a
        database table's name without the URL's password."""
        return self.name if is_database_url(self.entity) else Path(self.entity).name

    @property
    def name(self) -> str:
        """The entity table's name for outputs (a database URL's without its password)."""
        if is_database_url(self.entity):
            return source_for(self.entity, table=self.entity_table or "entity").name
        return Path(self.entity).stem


def parse_window(text: str) -> str:
    """'180d' -> '180 days' (DuckDB interval); h, d, w, m (months), y."""
    match = re.fullmatch(r"\s*(\d+)\s*([hdwmy])\s*", str(text))
    if not match:
        raise ConfigError(f"Window '{text}' is not understood; write a number and a unit: 24h, 180d, 12w, 6m or 1y.")
    return f"{int(match.group(1))} {WINDOW_UNITS[match.group(2)]}"


def parse_declaration(data: dict, base: Path | None = None) -> Flattening:
    """Build a Flattening from the [data] table of a study TOML (paths relative to ``base``)."""
    base = base or Path(".")

    def path_of(value):
        if value is None or is_database_url(value):
            return value  # a database URL is read as it is given
        p = Path(value)
        return str(p if p.is_absolute() else base / p)

    for required in ("entity", "key"):
        if not data.get(required):
            raise ConfigError(f"[data] needs '{required}' when it declares relations (see docs/guide/data.md, related tables).")
    relations = []
    for i, raw in enumerate(data.get("relations", [])):
        if not isinstance(raw, dict):
            raise ConfigError(f"[[data.relations]] entry {i + 1} must be a table of settings.")
        unknown = set(raw) - {"table", "key", "time", "source", "features"}
        if unknown:
            bad = sorted(unknown)[0]
            raise ConfigError(f"Unknown key '{bad}' in [[data.relations]] {i + 1}."
                              f"{did_you_mean(bad, ['table', 'key', 'time', 'source', 'features'])}")
        if not raw.get("table") or not raw.get("key"):
            raise ConfigError(f"[[data.relations]] {i + 1} needs 'table' and 'key'.")
        source = path_of(raw.get("source"))
        table = raw["table"] if source else path_of(raw["table"])
        features = [_feature(f, raw["table"], raw.get("time"), data.get("cutoff")) for f in raw.get("features", [])]
        if not features:
            raise ConfigError(f"[[data.relations]] {i + 1} ({raw['table']}) declares no features.")
        relations.append(Relation(table, raw["key"], raw.get("time"), source, features))
    names = [f.name for r in relations for f in r.features]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"Feature names must be unique; {dupes} appear more than once.")
    return Flattening(path_of(data["entity"]), data["key"], data.get("cutoff"), data.get("entity_table"), relations)


def _feature(raw: Any, table: str, time: str | None, cutoff: str | None) -> Feature:
    if not isinstance(raw, dict) or "name" not in raw or "agg" not in raw:
        raise ConfigError(f"Each feature of {table} needs a 'name' and an 'agg'; got {raw!r}.")
    agg = raw["agg"]
    if agg not in AGGREGATIONS:
        raise ConfigError(f"Unknown aggregation '{agg}' for {raw['name']}.{did_you_mean(agg, AGGREGATIONS)} "
                          f"Aggregations: {', '.join(AGGREGATIONS)}.")
    if agg in NEEDS_COLUMN and not raw.get("column"):
        raise ConfigError(f"Feature {raw['name']} ({agg}) needs a 'column' to aggregate.")
    if (raw.get("window") or agg in ("last", "first", "days_since_last")) and not time:
        raise ConfigError(f"Feature {raw['name']} needs the relation's 'time' column ({table}).")
    if (raw.get("window") or agg == "days_since_last") and not cutoff:
        raise ConfigError(f"Feature {raw['name']} needs a per-row 'cutoff' column in [data] to measure time from.")
    if raw.get("window"):
        parse_window(raw["window"])
    return Feature(raw["name"], agg, raw.get("column"), raw.get("where"), raw.get("window"))


def flatten(decl: Flattening, tables: dict[str, pd.DataFrame] | None = None,
            password_env: str | None = None) -> pd.DataFrame:
    """The entity table with one column per declared feature, in the entity's row order.

    ``tables`` may hold DataFrames by the names the declaration uses (tests, the synthetic
    generator); anything else is read from its file or database (each table pulled once, then
    flattened here as a file's would be: the same features from either place).
    ``password_env`` names the environment variable holding a database URL's password.
    """
    import duckdb

    tables = tables or {}

    def load(name: str, source: str | None = None) -> pd.DataFrame:
        if name in tables:
            return tables[name]
        if source is None and name == decl.entity:
            source, name = decl.entity, decl.entity_table
            if is_database_url(source) and not name:
                raise ConfigError("[data] entity is a database URL: name the entity's table with entity_table.")
            return _read(source, name, password_env)
        return _read(source or name, name if source else None, password_env)

    entity = load(decl.entity).reset_index(drop=True)
    for column in filter(None, (decl.key, decl.cutoff)):
        if column not in entity.columns:
            raise DataError(f"Column '{column}' is not in the entity table.{did_you_mean(column, entity.columns)}")
    # One thread: a parallel SUM or AVG of floats adds in whatever order its threads finish, so
    # the same tables gave features differing in their last bits from one run to the next (and
    # with them the dataset's fingerprint). One thread adds in one order, every time.
    con = duckdb.connect(config={"threads": 1})
    try:
        # concat, not assign: a wide frame built column by column would make pandas warn
        # ("highly fragmented") on the user's terminal
        con.register("entity_raw", pd.concat([entity, pd.Series(range(len(entity)), name="__row")], axis=1))
        cutoff = f"TRY_CAST(\"{decl.cutoff}\" AS TIMESTAMP)" if decl.cutoff else "NULL"
        ctes = [f'entity AS (SELECT __row, CAST("{decl.key}" AS VARCHAR) AS __key, {cutoff} AS __cutoff '
                "FROM entity_raw)"]
        selects = []
        for i, rel in enumerate(decl.relations):
            child = load(rel.table, rel.source)
            for column in filter(None, (rel.key, rel.time, *[f.column for f in rel.features])):
                if column not in child.columns:
                    raise DataError(f"Column '{column}' is not in {Path(rel.table).name}."
                                    f"{did_you_mean(column, child.columns)}")
            con.register(f"child_raw{i}", child)
            ctes.append(_relation_cte(i, rel))
            ctes.append(_aggregate_cte(i, rel, decl.cutoff is not None))
            selects.append((i, rel))
        joins = " ".join(f"LEFT JOIN agg{i} USING (__row)" for i, _ in selects)
        columns = ", ".join(f'"f{i}_{j}" AS "{f.name}"' for i, rel in selects for j, f in enumerate(rel.features))
        sql = (f"WITH {', '.join(ctes)} SELECT entity.__row{', ' + columns if columns else ''} "
               f"FROM entity {joins} ORDER BY entity.__row")
        try:
            features = con.execute(sql).df()
        except duckdb.Error as exc:
            raise DataError(f"Flattening the related tables failed: {one_line(exc)}. "
                            "Check the 'where' expressions and column names in [[data.relations]].") from None
    finally:
        con.close()
    clash = sorted(set(features.columns) & set(entity.columns))
    if clash:
        raise ConfigError(f"Feature names {clash} are already columns of the entity table; rename them.")
    return pd.concat([entity, features.drop(columns="__row")], axis=1)


def _read(where: str, table: str | None, password_env: str | None) -> pd.DataFrame:
    """A file, a table of a database file, or a table of a database by URL."""
    if is_database_url(where):
        return source_for(where, table=table, password_env=password_env).read()
    from dataeff.data.sources import read_source

    return read_source(where, table=table)


def _relation_cte(i: int, rel: Relation) -> str:
    time = f'TRY_CAST("{rel.time}" AS TIMESTAMP)' if rel.time else "NULL::TIMESTAMP"
    flags = ", ".join(f"CASE WHEN ({f.where}) THEN 1 ELSE 0 END AS __w{j}" for j, f in enumerate(rel.features)
                      if f.where)
    values = ", ".join(f'"{c}" AS __c_{_safe(c)}' for c in sorted({f.column for f in rel.features if f.column}))
    extra = ", ".join(filter(None, [flags, values]))
    return (f'child{i} AS (SELECT CAST("{rel.key}" AS VARCHAR) AS __key, {time} AS __time'
            f"{', ' + extra if extra else ''} FROM child_raw{i})")


def _aggregate_cte(i: int, rel: Relation, has_cutoff: bool) -> str:
    # Point in time: only child rows at or before the row's cutoff are joined at all.
    on = "c.__key = e.__key" + (" AND c.__time <= e.__cutoff" if has_cutoff else "")
    parts = []
    for j, f in enumerate(rel.features):
        conditions = ["c.__key IS NOT NULL"]
        if f.where:
            conditions.append(f"c.__w{j} = 1")
        if f.window:
            conditions.append(f"c.__time > e.__cutoff - INTERVAL '{parse_window(f.window)}'")
        cond = " AND ".join(conditions)
        column = f"c.__c_{_safe(f.column)}" if f.column else None
        expr = {
            "count": f"COUNT(*) FILTER (WHERE {cond})",
            "exists": f"CAST(COUNT(*) FILTER (WHERE {cond}) > 0 AS INTEGER)",
            "sum": f"COALESCE(SUM({column}) FILTER (WHERE {cond}), 0)",  # nothing bought: spent 0
            "mean": f"AVG({column}) FILTER (WHERE {cond})",
            "min": f"MIN({column}) FILTER (WHERE {cond})",
            "max": f"MAX({column}) FILTER (WHERE {cond})",
            "last": f"ARG_MAX({column}, c.__time) FILTER (WHERE {cond} AND c.__time IS NOT NULL)",
            "first": f"ARG_MIN({column}, c.__time) FILTER (WHERE {cond} AND c.__time IS NOT NULL)",
            "n_distinct": f"COUNT(DISTINCT {column}) FILTER (WHERE {cond})",
            "days_since_last": (f"DATE_DIFF('second', MAX(c.__time) FILTER (WHERE {cond}), ANY_VALUE(e.__cutoff))"
                                " / 86400.0"),
        }[f.agg]
        parts.append(f'{expr} AS "f{i}_{j}"')
    return (f"agg{i} AS (SELECT e.__row, {', '.join(parts)} FROM entity e "
            f"LEFT JOIN child{i} c ON {on} GROUP BY e.__row)")


def _group_name(table: str) -> str:
    """A table's name as a group's name: a plain word."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", table).strip("_.-") or "table"


def _safe(name: str) -> str:
    return re.sub(r"\W", "_", name)
