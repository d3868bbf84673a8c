"""What a data setting names, decided in one place: a built-in dataset, a file, a SQL database
by URL, or a table in memory (pandas, Polars, PyArrow, anything narwhals reads). Each kind of
``Source`` reads itself, says what it is in words safe to store and print (a database URL
never with its password), and names its own errors.

A database is read through SQLAlchemy (PostgreSQL through psycopg 3; any database SQLAlchemy
has a driver for): one well-kept layer that parses URLs, hides their passwords, and hands
pandas a connection. The password is left out of everything dataeff keeps or shows; reading
a run's data again (``next-labels``) takes it from the driver's own places (``PGPASSWORD``,
``~/.pgpass``), from the environment variable the run named (``password_env``, stored by
name), or from the URL given again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from dataeff.data.database import parse_url, read_database, read_database_sample, without_password
from dataeff.errors import DataError, one_line
from dataeff.terms import Placeholder, setting_name

#: what a password's environment variable may be called (a name, never the password itself)
ENVIRONMENT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: URL schemes read as databases (``postgresql+psycopg://``, ``mysql://``, ...).
DATABASE_SCHEMES = ("postgresql", "postgres", "mysql", "mariadb", "mssql", "oracle", "cockroachdb", "snowflake")


def is_database_url(value: Any) -> bool:
    """True when ``value`` is a database URL (``scheme://...``) rather than a path or a name."""
    if not isinstance(value, str) or "://" not in value:
        return False
    scheme = value.split("://", 1)[0].split("+", 1)[0].lower()
    return scheme in DATABASE_SCHEMES


def looks_like_path(value: str) -> bool:
    """True when ``value`` names a file rather than a built-in dataset (a separator or a suffix)."""
    return any(sep in value for sep in ("/", "\\")) or Path(value).suffix != ""


def is_frame(value: Any) -> bool:
    """A table in memory: a pandas, Polars or PyArrow table, or anything narwhals reads."""
    if isinstance(value, pd.DataFrame):
        return True
    if isinstance(value, (str, Path)) or value is None:
        return False  # the common case, without importing narwhals
    import narwhals as nw

    try:
        nw.from_native(value, eager_only=True)
    except TypeError:
        return False
    return True


@dataclass(frozen=True)
class Source:
    """One place the rows come from."""

    def read(self) -> pd.DataFrame:  # pragma: no cover - each kind reads itself
        raise NotImplementedError

    @property
    def name(self) -> str:
        """A short name for outputs (a file name, a table), safe to print."""
        raise NotImplementedError  # pragma: no cover

    def stored(self) -> dict | None:
        """The settings that read the same rows again, safe to store; None when they cannot be
        written down (a table in memory)."""
        return None

    def read_sample(self, label: str, rows: int, stratified: bool = True) -> tuple[pd.DataFrame, str] | None:
        """About ``rows`` labelled rows (stratified by ``label``, or at random) and a note saying
        so, read without holding the whole table; None where this kind reads whole (or the
        table is not long)."""
        return None


@dataclass(frozen=True)
class BuiltinSource(Source):
    dataset: str

    @property
    def name(self) -> str:
        return self.dataset

    def stored(self) -> dict:
        return {"source": self.dataset}

    def read(self) -> pd.DataFrame:
        """The built-in's rows with their label column, as a file of them would hold them."""
        from dataeff.data.builtin import load_builtin

        dataset = load_builtin(self.dataset)
        return pd.concat([dataset.X, dataset.y.rename(dataset.label)], axis=1)


@dataclass(frozen=True)
class FileSource(Source):
    path: Path
    table: str | None = None
    query: str | None = None
    sheet: str | None = None

    @property
    def name(self) -> str:
        return self.path.name + (f":{self.table}" if self.table else f":{self.sheet}" if self.sheet else "")

    def read(self) -> pd.DataFrame:
        from dataeff.data.sources import read_source

        return read_source(self.path, table=self.table, query=self.query, sheet=self.sheet)

    def stored(self) -> dict:
        path = self.path.resolve() if self.path.exists() else self.path
        return {"source": str(path), "table": self.table, "query": self.query, "sheet": self.sheet}

    def read_sample(self, label: str, rows: int, stratified: bool = True) -> tuple[pd.DataFrame, str] | None:
        from dataeff.data.sources import parquet_rows, read_parquet_sample

        total = parquet_rows(self.path)
        if not total or total <= 2 * rows:
            return None
        return read_parquet_sample(self.path, label, rows, stratified=stratified)


@dataclass(frozen=True)
class DatabaseSource(Source):
    """A table or a query of a database reached by URL (``postgresql://user@host:5432/db``)."""

    url: str = field(repr=False)  # it may hold the password: left out of the repr
    table: str | None = None
    query: str | None = None
    password_env: str | None = None  # an environment variable holding the password

    @property
    def safe_url(self) -> str:
        """The URL without its password (stored; printed)."""
        return without_password(self.url)

    @property
    def name(self) -> str:
        url = parse_url(self.url)
        where = url.database or url.host or "database"
        return f"{where}:{self.table}" if self.table else f"{where}:query"

    def stored(self) -> dict:
        stored = {"source": self.safe_url, "table": self.table, "query": self.query}
        return {**stored, "password_env": self.password_env} if self.password_env else stored

    def read(self) -> pd.DataFrame:
        return read_database(self.url, table=self.table, query=self.query, name=self.name,
                             password_env=self.password_env)

    def read_sample(self, label: str, rows: int, stratified: bool = True) -> tuple[pd.DataFrame, str] | None:
        return read_database_sample(self.url, table=self.table, query=self.query, name=self.name, label=label,
                                    rows=rows, password_env=self.password_env, stratified=stratified)


@dataclass(frozen=True)
class FrameSource(Source):
    """A table in memory; read as a pandas DataFrame (Polars and Arrow tables through narwhals)."""

    frame: Any

    @property
    def name(self) -> str:
        return "dataframe"

    def read(self) -> pd.DataFrame:
        if isinstance(self.frame, pd.DataFrame):
            return self.frame
        import narwhals as nw

        return nw.from_native(self.frame, eager_only=True).to_pandas()


def source_for(value: Any, *, table: str | None = None, query: str | None = None,
               sheet: str | None = None, password_env: str | None = None) -> Source:
    """The Source ``value`` names: the one place a data setting's kind is decided."""
    from dataeff.data.builtin import is_builtin

    if password_env and not ENVIRONMENT_NAME.fullmatch(password_env):
        raise DataError(f"{setting_name('password_env')} must be the name of an environment variable (like "
                        "DB_PASSWORD), not the password.")
    if password_env and not is_database_url(value):
        raise DataError(f"{setting_name('password_env')} names the password of a database URL, and the data named "
                        "is no database URL: drop it.")

    if is_frame(value):
        return FrameSource(value)
    if isinstance(value, Path):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise DataError(f"{setting_name('source')} must be a built-in name, a file path, a database URL or a table "
                        f"(pandas, Polars, Arrow); got {type(value).__name__}.")
    if is_database_url(value):
        if sheet:
            raise DataError(f"{setting_name('sheet')} picks a sheet of an Excel workbook, not of a database; drop it.")
        if table and query:
            raise DataError(f"Give either {setting_name('table')} or {setting_name('query')}, not both.")
        if not (table or query):
            raise DataError(f"{without_password(value)} is a database: name what to read with "
                            f"{setting_name('table', Placeholder('NAME'))} or {setting_name('query', 'SELECT ...')}.")
        return DatabaseSource(value, table, query, password_env)
    if "://" in value:
        scheme = value.split("://", 1)[0]
        raise DataError(f"'{one_line(scheme, 30)}://' is no database dataeff reads; give a "
                        f"postgresql://USER@HOST:PORT/DATABASE URL, a file path or a built-in name.")
    if is_builtin(value) and not Path(value).exists():
        if table or query or sheet:
            raise DataError(f"{setting_name('table')}, {setting_name('query')} and {setting_name('sheet')} apply to "
                            "database files, databases and workbooks, not to built-in datasets; drop them.")
        return BuiltinSource(value)
    if not looks_like_path(value) and not Path(value).exists():
        from dataeff.data.builtin import load_builtin

        load_builtin(value)  # raises 'Unknown dataset' with a suggestion
    return FileSource(Path(value), table, query, sheet)
