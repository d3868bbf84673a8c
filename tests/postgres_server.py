"""A real PostgreSQL server for the tests: Debian's PostgreSQL (`make test` installs it where it
is missing), initdb into a temporary folder, a free port on 127.0.0.1, a user with a password,
stopped and removed afterwards. The server refuses to run as root, so as root (CI) it runs as
the `postgres` system user."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

USER, PASSWORD, DATABASE = "analyst", "s3cret-Pw_9271", "crm"


@dataclass(frozen=True)
class Server:
    port: int
    folder: Path

    def url(self, password: bool = True) -> str:
        secret = f":{PASSWORD}" if password else ""
        return f"postgresql://{USER}{secret}@127.0.0.1:{self.port}/{DATABASE}"

    def load(self, tables: dict) -> None:
        """Write each DataFrame as a table (replacing one of that name)."""
        from sqlalchemy import create_engine

        engine = create_engine(self.url().replace("postgresql://", "postgresql+psycopg://"))
        try:
            with engine.begin() as connection:
                for name, frame in tables.items():
                    frame.to_sql(name, connection, index=False, if_exists="replace")
        finally:
            engine.dispose()


def _bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL is missing: `make test` installs Debian's postgresql package "
                           "(apt-get install postgresql)")
    return found[-1].parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_server_user(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run(prefix + args, check=True, capture_output=True, text=True, **kwargs)


@contextlib.contextmanager
def postgres_server():
    """A running server with ``USER`` (password ``PASSWORD``) owning ``DATABASE``."""
    binaries = _bin()
    folder = Path(tempfile.mkdtemp(prefix="dataeff-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data, port = folder / "data", _free_port()
    try:
        with tempfile.NamedTemporaryFile("w", dir=folder, delete=False) as secret:
            secret.write(PASSWORD)
        if os.geteuid() == 0:
            shutil.chown(secret.name, "postgres", "postgres")
        _as_server_user([str(binaries / "initdb"), "-D", str(data), "-U", USER, "--pwfile", secret.name,
                         "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C"])
        _as_server_user([str(binaries / "pg_ctl"), "-D", str(data), "-w", "-t", "60", "-l", str(folder / "log"),
                         "-o", f"-p {port} -k {folder} -c listen_addresses=127.0.0.1", "start"])
        env = {**os.environ, "PGPASSWORD": PASSWORD}
        subprocess.run([str(binaries / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", USER, "-d", "postgres",
                        "-c", f"CREATE DATABASE {DATABASE}"], check=True, capture_output=True, env=env)
        yield Server(port, folder)
    finally:
        if (data / "postmaster.pid").exists():
            _as_server_user([str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"])
        shutil.rmtree(folder, ignore_errors=True)
