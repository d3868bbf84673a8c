"""Read a table or a query from a SQL database by URL (PostgreSQL through psycopg 3), through
SQLAlchemy, with the bad-input errors a user meets: a wrong password, an unreachable host, a
missing table, a failing query, no rows. No message carries the password."""

from __future__ import annotations

import pandas as pd

from dataeff.errors import DataError, did_you_mean, one_line
from dataeff.terms import setting_name

CONNECT_TIMEOUT_SECONDS = 10


def read_database(url: str, *, table: str | None, query: str | None, name: str) -> pd.DataFrame:
    """The rows of ``table`` (``schema.table`` too) or of ``query`` at ``url``; ``name`` is
    what messages call it."""
    from sqlalchemy import create_engine, inspect, text
    from sqlalchemy.exc import DBAPIError, NoSuchModuleError, SQLAlchemyError

    shown = without_password(url)
    url = _with_driver(parse_url(url))
    try:
        engine = create_engine(url, connect_args=_connect_args(url))
    except NoSuchModuleError:
        raise DataError(f"No driver for {url.drivername}:// URLs is installed; dataeff reads PostgreSQL "
                        f"(postgresql://) out of the box, and other databases once their SQLAlchemy driver is "
                        "installed.") from None
    try:
        with engine.connect() as connection:
            sql = query if query is not None else _select_all(connection, inspect(connection), table, shown)
            try:
                frame = pd.read_sql_query(text(sql), connection)
            except (DBAPIError, pd.errors.DatabaseError) as exc:  # pandas wraps the driver's error
                raise DataError(f"The query failed on {name}: {_said(exc.__cause__ or exc, url.password)}. Fix "
                                f"the SQL in {setting_name('query')}.") from None
    except DataError:
        raise
    except DBAPIError as exc:
        raise DataError(f"Cannot connect to {shown}: {_said(exc, url.password)}. {_connection_hint(exc)}") from None
    except SQLAlchemyError as exc:
        raise DataError(f"Cannot read {shown}: {_said(exc, url.password)}.") from None
    finally:
        engine.dispose()
    if frame.empty:
        what = f"table '{table}'" if query is None else f"{setting_name('query')}"
        raise DataError(f"The {what} on {name} returned no rows; point it at the labelled rows.")
    return frame


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


def _connection_hint(exc) -> str:
    text = str(getattr(exc, "orig", exc)).lower()
    if "password" in text or "authentication" in text:
        return "Check the user and password (in the URL, PGPASSWORD or ~/.pgpass)."
    if "does not exist" in text and "database" in text:
        return "Check the database name at the end of the URL."
    return "Check the host and port, and that the server is running and reachable."
