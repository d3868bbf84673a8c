"""Read a user's table from CSV, TSV, Parquet, JSON Lines, a SQLite file or a DuckDB file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd

from dataeff.errors import DataError, did_you_mean, one_line

TEXT_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": None}
PARQUET_SUFFIXES = {".parquet", ".pq"}
JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}
SQLITE_SUFFIXES = {".sqlite", ".sqlite3", ".db"}
DUCKDB_SUFFIXES = {".duckdb", ".ddb"}


def looks_like_path(source: str) -> bool:
    """True when ``source`` names a file rather than a built-in dataset."""
    return any(sep in source for sep in ("/", "\\")) or Path(source).suffix != ""


def read_source(path: str | Path, *, table: str | None = None, query: str | None = None) -> pd.DataFrame:
    """Read one table from a file, choosing the reader from the file's content and suffix.

    ``table`` or ``query`` picks what to read from a database file; a file with one table
    needs neither.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"Data file not found: {path}. Check the path, or run 'dataeff datasets' for built-in names.")
    if path.is_dir():
        raise DataError(f"{path} is a folder; point --data at a file (CSV, Parquet, JSONL, SQLite or DuckDB).")
    kind = _kind(path)
    if kind in ("sqlite", "duckdb"):
        return _read_database(path, kind, table, query)
    if table or query:
        raise DataError(f"--table/--query only apply to SQLite or DuckDB files, and {path.name} is {kind}; drop them.")
    try:
        if kind == "parquet":
            return pd.read_parquet(path)
        if kind == "jsonl":
            return pd.read_json(path, lines=path.suffix.lower() != ".json" or _is_json_lines(path))
        return _read_text(path)
    except DataError:
        raise
    except UnicodeDecodeError:
        raise DataError(f"{path} is not UTF-8 text; re-save it as UTF-8 (e.g. 'iconv -t UTF-8').") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty; it needs a header line and data rows.") from None
    except Exception as exc:  # the reader's own message is the most precise clue
        raise DataError(f"Could not read {path} as {kind}: {one_line(exc)}. Check the file's format.") from None


def _kind(path: Path) -> str:
    with path.open("rb") as handle:
        head = handle.read(16)
    if head.startswith(b"SQLite format 3\x00"):
        return "sqlite"
    if head[8:12] == b"DUCK":
        return "duckdb"
    if head.startswith(b"PAR1"):
        return "parquet"
    suffix = path.suffix.lower()
    if suffix in SQLITE_SUFFIXES:
        if not head:
            raise DataError(f"{path} is empty; it holds no SQLite database.")
        raise DataError(f"{path} is not a SQLite database (bad header); check the file.")
    if suffix in DUCKDB_SUFFIXES:
        raise DataError(f"{path} is not a DuckDB database (bad header); check the file.")
    if suffix in PARQUET_SUFFIXES:
        raise DataError(f"{path} is not a Parquet file (bad header); check the file.")
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    return "csv"


def _is_json_lines(path: Path) -> bool:
    with path.open("rb") as handle:
        first = handle.read(64).lstrip()
    return not first.startswith(b"[")


def _read_text(path: Path) -> pd.DataFrame:
    sep = TEXT_SUFFIXES.get(path.suffix.lower(), ",")
    # utf-8-sig strips a byte-order mark so the first column name stays clean;
    # sep=None lets pandas sniff the delimiter of .txt files.
    frame = pd.read_csv(path, sep=sep, encoding="utf-8-sig", engine="python" if sep is None else "c")
    if frame.shape[1] == 1 and sep == "," and any(d in str(frame.columns[0]) for d in (";", "\t", "|")):
        raise DataError(
            f"{path} has a single column '{one_line(frame.columns[0], 60)}': the delimiter is not a comma; "
            "save it comma-separated or name it .tsv for tabs."
        )
    if len(frame) == 0:
        raise DataError(f"{path} has a header but no data rows; add rows.")
    _check_header(path, frame, sep)
    return frame


def _check_header(path: Path, frame: pd.DataFrame, sep: str | None) -> None:
    """pandas renames a repeated column 'x' to 'x.1' silently; a user should hear about it."""
    import csv

    with path.open(encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle, delimiter=sep or ","), [])
    if len(header) != frame.shape[1]:
        return  # a sniffed delimiter: pandas' own header stands
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if name in seen:
            raise DataError(f"{path} repeats the column name '{one_line(name, 60)}' (columns {seen[name]} and "
                            f"{position}); rename one so each column is unique.")
        seen[name] = position


def _read_database(path: Path, kind: str, table: str | None, query: str | None) -> pd.DataFrame:
    if table and query:
        raise DataError("Give either --table or --query, not both.")
    if kind == "sqlite":
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            raise DataError(f"Cannot open SQLite file {path}: {one_line(exc)}.") from None
        list_sql = "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name"
        errors: tuple[type[BaseException], ...] = (sqlite3.Error, pd.errors.DatabaseError)
    else:
        import duckdb

        try:
            conn = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as exc:
            raise DataError(f"Cannot open DuckDB file {path}: {one_line(exc)}.") from None
        list_sql = "SELECT table_name FROM information_schema.tables ORDER BY table_name"
        errors = (duckdb.Error,)
    try:
        tables = [row[0] for row in conn.execute(list_sql).fetchall()]
        if query is None:
            if table is None:
                if len(tables) != 1:
                    raise DataError(
                        f"{path.name} holds {len(tables)} tables ({', '.join(tables) or 'none'}); "
                        "pick one with --table NAME or pass --query 'SELECT ...'."
                    )
                table = tables[0]
            if table not in tables:
                raise DataError(
                    f"Table '{table}' is not in {path.name}.{did_you_mean(table, tables)} "
                    f"Tables: {', '.join(tables) or 'none'}."
                )
            query = f'SELECT * FROM "{table}"'
        try:
            if kind == "sqlite":
                return pd.read_sql_query(query, conn)
            return conn.execute(query).df()
        except errors as exc:
            if "locked" in str(exc).lower():
                raise
            raise DataError(f"The query failed on {path.name}: {one_line(exc)}. Fix the SQL in --query.") from None
    except errors as exc:
        if "locked" in str(exc).lower():
            raise DataError(f"{path.name} is locked by another program; close that program's transaction "
                            "or read a copy of the file.") from None
        raise DataError(f"Cannot read {path.name}: {one_line(exc)}.") from None
    finally:
        conn.close()
