"""Read a user's table from CSV, TSV, Parquet, JSON Lines, an Excel workbook, a SQLite file or a
DuckDB file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd

from dataeff.errors import DataError, did_you_mean, one_line
from dataeff.terms import Placeholder, setting_name

TEXT_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": None}
PARQUET_SUFFIXES = {".parquet", ".pq"}
JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}
SQLITE_SUFFIXES = {".sqlite", ".sqlite3", ".db"}
DUCKDB_SUFFIXES = {".duckdb", ".ddb"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}


def read_source(path: str | Path, *, table: str | None = None, query: str | None = None,
                sheet: str | None = None) -> pd.DataFrame:
    """Read one table from a file, choosing the reader from the file's content and suffix.

    ``table`` or ``query`` picks what to read from a database file (a file with one table
    needs neither); ``sheet`` a sheet of a workbook (the first by default).
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"Data file not found: {path}. Check the path, or run 'dataeff datasets' for built-in names.")
    if path.is_dir():
        raise DataError(f"{path} is a folder; point {setting_name('source')} at a file (CSV, Parquet, JSONL, SQLite "
                        "or DuckDB).")
    kind = _kind(path)
    if sheet and kind != "excel":
        raise DataError(f"{setting_name('sheet')} picks a sheet of an Excel workbook, and {path.name} is {kind}; "
                        "drop it.")
    if kind in ("sqlite", "duckdb"):
        return _read_database(path, kind, table, query)
    if table or query:
        raise DataError(f"{setting_name('table')} and {setting_name('query')} only apply to SQLite or DuckDB files, "
                        f"and {path.name} is {kind}; drop them.")
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            # Column by column, freeing Arrow's copy as pandas takes it: half the peak memory.
            return pq.read_table(path).to_pandas(split_blocks=True, self_destruct=True)
        if kind == "jsonl":
            return pd.read_json(path, lines=path.suffix.lower() != ".json" or _is_json_lines(path))
        if kind == "excel":
            return _read_excel(path, sheet)
        return _read_text(path)
    except DataError:
        raise
    except UnicodeDecodeError:
        raise DataError(f"{path} is not UTF-8 text; re-save it as UTF-8 (e.g. 'iconv -t UTF-8').") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty; it needs a header line and data rows.") from None
    except Exception as exc:  # the reader's own message is the most precise clue
        raise DataError(f"Could not read {path} as {kind}: {one_line(exc)}. Check the file's format.") from None


def parquet_rows(path: str | Path) -> int | None:
    """Row count of a Parquet file from its footer (no data read); None for other files."""
    path = Path(path)
    if not path.is_file() or _kind(path) != "parquet":
        return None
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path).metadata.num_rows
    except Exception:  # noqa: BLE001 - an unreadable file is reported by read_source
        return None


def read_parquet_sample(path: str | Path, target: str, rows: int, seed: int = 0,
                        stratified: bool = True) -> tuple[pd.DataFrame, str]:
    """``rows`` rows of a large Parquet file, stratified by ``target`` (or at random among the
    labelled rows), read batch by batch so the whole table is never in memory; returns the rows
    (in file order) and a note."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    handle = pq.ParquetFile(path)
    if target not in handle.schema_arrow.names:
        return read_source(path), ""  # prepare_dataset names the missing target
    labels = handle.read(columns=[target]).column(0).to_pandas()
    labelled = np.flatnonzero(labels.notna().to_numpy())
    rng = np.random.default_rng(seed)
    codes = pd.factorize(labels.iloc[labelled])[0] if stratified else np.zeros(len(labelled), dtype=int)
    keep: list[np.ndarray] = []
    for code in range(codes.max() + 1):
        members = labelled[codes == code]
        take = max(1, int(round(rows * len(members) / len(labelled))))
        keep.append(rng.choice(members, size=min(take, len(members)), replace=False))
    chosen = np.sort(np.concatenate(keep))
    pieces, offset = [], 0
    for group in range(handle.num_row_groups):
        # One row group at a time, single-threaded: read-ahead would hold several (measured:
        # 0.9 GiB peak for 112,000 of 1,000,000 rows × 200 columns, 2.1 GiB with iter_batches).
        part = handle.read_row_group(group, use_threads=False)
        inside = chosen[(chosen >= offset) & (chosen < offset + part.num_rows)] - offset
        if len(inside):
            pieces.append(part.take(pa.array(inside)))
        offset += part.num_rows
        del part
    frame = pa.concat_tables(pieces).to_pandas(self_destruct=True)
    how = f"a stratified sample by '{target}'" if stratified else f"a random sample of the rows with a '{target}'"
    note = f"read {len(frame):,} of {handle.metadata.num_rows:,} rows of {path.name} ({how}): the study uses at most that many"
    return frame, note


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
    if suffix in EXCEL_SUFFIXES:
        if not head.startswith(b"PK"):
            raise DataError(f"{path} is not an Excel workbook (.xlsx is a zip file); check the file.")
        return "excel"
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


def _read_excel(path: Path, sheet: str | None) -> pd.DataFrame:
    """The first sheet of a workbook, or the one named ``sheet``; a missing one is one line
    naming the sheets there."""
    from openpyxl import load_workbook

    names = load_workbook(path, read_only=True).sheetnames
    if sheet is not None and sheet not in names:
        raise DataError(f"Sheet '{sheet}' is not in {path.name}.{did_you_mean(sheet, names)} Sheets: "
                        f"{', '.join(names)}.")
    frame = pd.read_excel(path, sheet_name=sheet or 0, engine="openpyxl")
    if len(frame) == 0:
        raise DataError(f"{path.name}'s sheet {sheet or names[0]!r} has no data rows; add rows or pick another "
                        f"sheet with {setting_name('sheet', Placeholder('NAME'))}.")
    return frame


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
        raise DataError(f"Give either {setting_name('table')} or {setting_name('query')}, not both.")
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
                        f"pick one with {setting_name('table', Placeholder('NAME'))} or pass "
                        f"{setting_name('query', 'SELECT ...')}."
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
            raise DataError(f"The query failed on {path.name}: {one_line(exc)}. Fix the SQL in "
                            f"{setting_name('query')}.") from None
    except errors as exc:
        if "locked" in str(exc).lower():
            raise DataError(f"{path.name} is locked by another program; close that program's transaction "
                            "or read a copy of the file.") from None
        raise DataError(f"Cannot read {path.name}: {one_line(exc)}.") from None
    finally:
        conn.close()
