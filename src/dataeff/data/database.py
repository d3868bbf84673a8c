"""Read a table or a query from a SQL database by URL (PostgreSQL through psycopg 3), through
SQLAlchemy, with the bad-input errors a user meets: a wrong password, an unreachable host, a
missing table, a failing query, no rows. No message carries the password. A long PostgreSQL
table is sampled by the server (a stratified sample by the label), not pulled whole."""

from __future__ import annotations

import os
from contextlib import contextmanager

import pandas as pd

from dataeff.data.dataset import check_label_column
from dataeff.errors import DataError, did_you_mean, one_line
from dataeff.terms import setting_name

CONNECT_TIMEOUT_SECONDS = 10


def read_database(url: str, *, table: str | None, query: str | None, name: str,
                  password_env: str | None = None) -> pd.DataFrame:
    """The rows of ``table`` (``schema.table`` too) or of ``query`` at ``url``; ``name`` is
    what messages call it; ``password_env`` names an environment variable holding the password."""
    with _connected(url, password_env) as (connection, shown, password):
        frame = _rows(connection, _selected(connection, table, query, shown), name, password)
    if frame.empty:
        raise DataError(f"The {_what(table)} on {name} returned no rows; point it at the labelled rows.")
    return frame


def read_database_sample(url: str, *, table: str | None, query: str | None, name: str, label: str, rows: int,
                         password_env: str | None = None, stratified: bool = True) -> tuple[pd.DataFrame, str] | None:
    """About ``rows`` rows stratified by ``label``, drawn by the database itself, so a long table
    never crosses the wire whole; with a note saying so. None where the rows are not worth
    sampling (at most twice ``rows`` labelled) or the database is not PostgreSQL (read whole).

    Each class keeps its share of the labelled rows (at least one row; ``stratified`` False: the
    labelled rows drawn as one, for a numeric label cut into bins later). Within a class, rows are
    ranked by the MD5 of their text, so the same rows give the same sample whatever order the
    server scans them in, and the sample comes back in that order."""
    if not parse_url(url).drivername.startswith(("postgresql", "postgres")):
        return None
    with _connected(url, password_env) as (connection, shown, password):
        inner = _inner(_selected(connection, table, query, shown))
        columns = _read(connection, f"SELECT * FROM ({inner}) AS t LIMIT 0", name, password).columns
        check_label_column(columns, label, name)
        quoted = connection.dialect.identifier_preparer.quote(label)
        total = int(_read(connection, f"SELECT count(*) AS n FROM ({inner}) AS t WHERE {quoted} IS NOT NULL",
                          name, password)["n"].iloc[0])
        if total <= 2 * rows:
            return None
        # window functions in the database: only the chosen rows are sent
        classes = f"PARTITION BY {quoted}" if stratified else ""
        ranked = (f"SELECT t.*, md5(CAST(ROW(t.*) AS text)) AS {_HASH}, "
                  f"row_number() OVER ({classes} ORDER BY md5(CAST(ROW(t.*) AS text))) AS {_RANK}, "
                  f"count(*) OVER ({classes}) AS {_CLASS} FROM ({inner}) AS t WHERE {quoted} IS NOT NULL")
        frame = _rows(connection, f"SELECT * FROM ({ranked}) AS s WHERE {_RANK} <= "
                                  f"GREATEST(1, ROUND({int(rows)} * {_CLASS} / {float(total)!r})) ORDER BY {_HASH}",
                      name, password, drop=(_HASH, _RANK, _CLASS))
    how = f"a stratified sample by '{label}'" if stratified else "a random sample"
    note = (f"read {len(frame):,} of {total:,} labelled rows of {name} ({how}, drawn in the database): the study "
            "uses at most that many")
    return frame, note


# the sampling query's own columns, dropped before the rows are handed on
_HASH, _RANK, _CLASS = "__dataeff_hash", "__dataeff_rank", "__dataeff_class"


@contextmanager
def _connected(url: str, password_env: str | None):
    """A connection to ``url`` with the password resolved, its URL shown without the password,
    and the password (to take out of the driver's messages); connection failures are one line."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import DBAPIError, NoSuchModuleError, SQLAlchemyError

    shown = without_password(url)
    parsed = _with_driver(_with_password(parse_url(url), password_env, shown))
    try:
        engine = create_engine(parsed, connect_args=_connect_args(parsed))
    except NoSuchModuleError:
        raise DataError(f"No driver for {parsed.drivername}:// URLs is installed; dataeff reads PostgreSQL "
                        f"(postgresql://) out of the box, and other databases once their SQLAlchemy driver is "
                        "installed.") from None
    try:
        with engine.connect() as connection:
            yield connection, shown, parsed.password
    except DataError:
        raise
    except DBAPIError as exc:
        raise DataError(f"Cannot connect to {shown}: {_said(exc, parsed.password)}. {_connection_hint(exc)}") from None
    except SQLAlchemyError as exc:
        raise DataError(f"Cannot read {shown}: {_said(exc, parsed.password)}.") from None
    finally:
        engine.dispose()


def _read(connection, sql: str, name: str, password: str | None) -> pd.DataFrame:
    """The rows ``sql`` returns; a failing query is one line in the driver's words."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    try:
        return pd.read_sql_query(text(sql), connection)
    except (DBAPIError, pd.errors.DatabaseError) as exc:  # pandas wraps the driver's error
        raise DataError(f"The query failed on {name}: {_said(exc.__cause__ or exc, password)}. Fix "
                        f"the SQL in {setting_name('query')}.") from None


def _rows(connection, sql: str, name: str, password: str | None, drop: tuple[str, ...] = ()) -> pd.DataFrame:
    """The rows ``sql`` returns, the whole table's worth: from PostgreSQL through ADBC (Arrow
    columns straight from libpq's binary protocol: 8× faster than psycopg through pandas and a
    ninth of its memory on a million rows, benchmarks/bench_database.py), read as psycopg
    would read them; from any other database through SQLAlchemy."""
    if connection.dialect.name != "postgresql":
        return _read(connection, sql, name, password).drop(columns=list(drop))
    import adbc_driver_postgresql.dbapi as adbc
    from adbc_driver_manager import Error as AdbcError

    url = connection.engine.url.set(drivername="postgresql")  # libpq's own URI form
    url = url.update_query_dict({"connect_timeout": str(CONNECT_TIMEOUT_SECONDS)})
    try:
        with adbc.connect(url.render_as_string(hide_password=False)) as link, link.cursor() as cursor:
            cursor.execute(_inner(sql))  # ADBC runs it as COPY (<sql>) TO STDOUT: a -- comment ends on its line
            # handed on unnamed: with no other reference, pandas may free each column as it goes
            return as_psycopg_reads(cursor.fetch_arrow_table(), drop)
    except AdbcError as exc:
        raise DataError(f"The query failed on {name}: {_adbc_said(exc, password)}. Fix "
                        f"the SQL in {setting_name('query')}.") from None


def as_psycopg_reads(table, drop: tuple[str, ...] = ()) -> pd.DataFrame:
    """An Arrow table from ADBC as the pandas frame psycopg gives through ``pd.read_sql``:
    numeric (ADBC: text) and real (float32) as float64 of their decimal text, smaller integers
    as int64, intervals as timedeltas (a month 30 days), JSON as its parsed values; ``drop``
    names columns to leave out. The same rows then make the same dataset, whichever layer read
    them. Converted in Arrow, then handed to pandas column by column as Arrow lets go of each
    (self_destruct), so the rows are held about once, not three times."""
    import pyarrow as pa

    table = table.drop_columns([name for name in drop if name in table.column_names])
    by_value = {}  # rare kinds, converted value by value once in pandas
    for i, field in enumerate(table.schema):
        kind = (field.metadata or {}).get(b"POSTGRESQL:type", b"").decode()
        column = table.column(i)
        if kind == "numeric" or pa.types.is_float32(field.type):  # 0.1 as 0.1, not float32's 0.10000000149
            column = _as_float64(column.cast(pa.string()))
        elif pa.types.is_integer(field.type) and column.null_count == 0:
            column = column.cast(pa.int64())
        elif pa.types.is_interval(field.type) or kind in ("json", "jsonb"):
            by_value[field.name] = (column.to_pylist(), _timedeltas if pa.types.is_interval(field.type) else _parsed)
            column = pa.nulls(len(column))
        else:
            continue
        table = table.set_column(i, pa.field(field.name, column.type), column)
    frame = table.to_pandas(self_destruct=True)  # consolidated blocks, as a Parquet read gives
    for name, (values, convert) in by_value.items():
        frame[name] = convert(values)
    return frame


def _timedeltas(values: list) -> pd.Series:
    """Intervals as psycopg reads them: a year 365 days, a leftover month 30."""
    def days(months: int) -> int:
        years, rest = divmod(abs(months), 12)
        return (1 if months >= 0 else -1) * (365 * years + 30 * rest)

    return pd.Series([None if v is None else pd.Timedelta(days=days(v.months) + v.days, nanoseconds=v.nanoseconds)
                      for v in values], dtype="timedelta64[us]")


def _parsed(values: list) -> pd.Series:
    import json

    return pd.Series([None if v is None else json.loads(v) for v in values], dtype=object)


def _as_float64(text):
    """Decimal text (numeric's, or a real's shortest form) as float64; 'Infinity' and 'NaN' too."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        return pc.cast(text, pa.float64())
    except pa.ArrowInvalid:  # a spelling Arrow does not parse: pandas' parser, value by value
        return pa.chunked_array([pa.array(pd.to_numeric(pd.Series(text.to_pylist(), dtype=object), errors="coerce"),
                                          pa.float64())])


def _inner(sql: str) -> str:
    """A query as a subquery: its trailing ';' dropped, on lines of its own (a trailing -- comment
    would swallow the closing parenthesis)."""
    return "\n" + sql.strip().rstrip(";").rstrip() + "\n"


def _selected(connection, table: str | None, query: str | None, shown: str) -> str:
    from sqlalchemy import inspect

    return query if query is not None else _select_all(connection, inspect(connection), table, shown)


def _what(table: str | None) -> str:
    return f"table '{table}'" if table is not None else f"{setting_name('query')}"


def _with_password(url, password_env: str | None, shown: str):
    """``url`` with the password from the environment variable ``password_env``, if named: the
    password then stays out of the URL, the shell's history and every file."""
    if not password_env:
        return url
    if url.password:
        raise DataError(f"{shown} has a password in its URL and {setting_name('password_env')} names another "
                        "place for it; give it in one place (the environment variable keeps it out of files).")
    password = os.environ.get(password_env)
    if not password:  # its name is not repeated: a password typed in its place would be printed
        raise DataError(f"The environment variable {setting_name('password_env')} names is not set; export it with "
                        "the database password, or drop the setting.")
    return url.set(password=password)


def parse_url(url: str):
    """SQLAlchemy's URL of ``url``; an unparsable one is one line (without the URL: it may hold
    a password)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url)
    except (ArgumentError, ValueError):
        raise DataError("The database URL cannot be parsed; write it as "
                        "postgresql://USER:PASSWORD@HOST:PORT/DATABASE.") from None


def without_password(url: str) -> str:
    """``url`` with no password in it (it stays in the caller's hands only)."""
    from sqlalchemy.engine import URL

    parsed = parse_url(url)  # URL.set(password=None) keeps it: None there means "unchanged"
    return URL.create(parsed.drivername, parsed.username, None, parsed.host, parsed.port, parsed.database,
                      parsed.query).render_as_string(hide_password=False)


def _with_driver(url):
    """PostgreSQL through psycopg 3 unless the URL names a driver (SQLAlchemy's default for a
    bare postgresql:// is psycopg2, which dataeff does not install)."""
    if url.drivername in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+psycopg")
    return url


def _connect_args(url) -> dict:
    """A short connect timeout: an unreachable host is one line in seconds, not a hang."""
    return {"connect_timeout": CONNECT_TIMEOUT_SECONDS} if url.drivername.startswith("postgresql") else {}


def _select_all(connection, inspector, table: str, shown: str) -> str:
    """``SELECT * FROM`` the table, quoted as the database quotes names; a missing one is one
    line naming the tables there."""
    schema, _, name = table.rpartition(".")
    schema = schema or None
    try:
        names = inspector.get_table_names(schema=schema) + inspector.get_view_names(schema=schema)
    except Exception:  # noqa: BLE001 - an unknown schema: say which tables there are instead
        names = []
    if name not in names:
        listed = ", ".join(sorted(names)[:20]) or "none"
        raise DataError(f"Table '{table}' is not in {shown}.{did_you_mean(name, names)} Tables"
                        f"{' in ' + schema if schema else ''}: {listed}.")
    quote = connection.dialect.identifier_preparer.quote
    return f"SELECT * FROM {quote(schema) + '.' if schema else ''}{quote(name)}"


def _said(exc, password: str | None) -> str:
    """The driver's own first line (not SQLAlchemy's wrapper with its SQL and link), with any
    trace of the password taken out."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = one_line(text, 300)
    return text.replace(password, "***") if password else text


def _adbc_said(exc, password: str | None) -> str:
    """ADBC's message without its status prefix and echoed query ('NOT_FOUND: Failed to prepare
    query: ERROR:  column "x" does not exist')."""
    text = str(exc).split("ERROR:", 1)[-1].strip() if "ERROR:" in str(exc) else str(exc).split(": ", 1)[-1]
    return _said(text, password)


def _connection_hint(exc) -> str:
    text = str(getattr(exc, "orig", exc)).lower()
    if "password" in text or "authentication" in text:
        return "Check the user and password (in the URL, PGPASSWORD or ~/.pgpass)."
    if "does not exist" in text and "database" in text:
        return "Check the database name at the end of the URL."
    return "Check the host and port, and that the server is running and reachable."
