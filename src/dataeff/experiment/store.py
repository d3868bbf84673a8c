"""SQLite run store: one row per cell, schema versioned by migrations, crash-safe commits."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from dataeff.errors import RunFolderError, one_line
from dataeff.experiment.metrics import METRICS
from dataeff.terms import setting_name

STORE_NAME = "store.sqlite"
CELL_COLUMNS = ["learner", "n_train", "seed", "n_test", "status", "error", "fit_seconds", "predict_seconds",
                "tokens", *METRICS, "note", "predict_tokens", "pool_labels"]


def _v1(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    metric_columns = ", ".join(f"{m} REAL" for m in METRICS)
    conn.execute(
        f"""CREATE TABLE cells (
            learner TEXT NOT NULL, n_train INTEGER NOT NULL, seed INTEGER NOT NULL,
            n_test INTEGER, status TEXT NOT NULL, error TEXT, traceback TEXT,
            fit_seconds REAL, predict_seconds REAL, tokens REAL, {metric_columns},
            finished_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            PRIMARY KEY (learner, n_train, seed))"""
    )


def _v2(conn: sqlite3.Connection) -> None:
    # LLM learners: model calls made in the cell, and answers served by the shared cache.
    conn.execute("ALTER TABLE cells ADD COLUMN llm_calls INTEGER")
    conn.execute("ALTER TABLE cells ADD COLUMN llm_cached INTEGER")


def _v3(conn: sqlite3.Connection) -> None:
    # Endpoint traffic: prompts (rows) the server received, HTTP requests, retries, failures.
    for column in ENDPOINT_COLUMNS[:4]:
        conn.execute(f"ALTER TABLE cells ADD COLUMN {column} INTEGER")


def _v4(conn: sqlite3.Connection) -> None:
    # What a fit had to say for the record (a tuning search: settings tried, or why none).
    conn.execute("ALTER TABLE cells ADD COLUMN note TEXT")


def _v5(conn: sqlite3.Connection) -> None:
    # LLM tokens spent predicting (serving), apart from the cell's total (fit + predict).
    conn.execute("ALTER TABLE cells ADD COLUMN predict_tokens REAL")


def _v6(conn: sqlite3.Connection) -> None:
    # Answer words an endpoint scored without their log-probability (outside its top 20).
    conn.execute("ALTER TABLE cells ADD COLUMN endpoint_unlisted INTEGER")


def _v7(conn: sqlite3.Connection) -> None:
    # llm-labels: the pool's rows and the LLM's labels against the hidden ones (JSON).
    conn.execute("ALTER TABLE cells ADD COLUMN pool_labels TEXT")


def _v8(conn: sqlite3.Connection) -> None:
    # Written answers (sample and verbal scoring): how many, and how many named no label; the
    # tokens an endpoint billed (input, output).
    for column in ANSWER_COLUMNS:
        conn.execute(f"ALTER TABLE cells ADD COLUMN {column} INTEGER")


ANSWER_COLUMNS = ["llm_answers", "llm_unparsed", "endpoint_input_tokens", "endpoint_output_tokens"]
ENDPOINT_COLUMNS = ["endpoint_prompts", "endpoint_requests", "endpoint_retries", "endpoint_failures",
                    "endpoint_unlisted"]
# Ordered schema changes; the database records how many it has applied (PRAGMA user_version).
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v1, _v2, _v3, _v4, _v5, _v6, _v7, _v8]




def _kill_now() -> None:
    import signal

    if os.getpgid(0) == os.getpid():  # a run in its own session: take its workers down too
        os.killpg(os.getpid(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


class Store:
    """The run's cells in ``DIR/store.sqlite``.

    Each finished cell is written in one transaction (insert or replace on the cell's
    key), so a killed run keeps every cell it finished and never a half-written one.
    """

    #: Fault injection for the crash-safety test only (tests/e2e/test_resume_after_kill.py):
    #: N > 0 makes the process SIGKILL itself inside its N-th cell write, after the INSERT and
    #: before the COMMIT. Never set by dataeff itself.
    kill_in_write: int = 0

    def __init__(self, path: Path):
        self.path = Path(path)
        self._writes = 0
        try:
            self._conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise RunFolderError(
                f"{self.path} is not a usable dataeff store ({one_line(exc)}); use {setting_name('force', True)} "
                "to start over."
            ) from None

    def _migrate(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise RunFolderError(
                f"{self.path} was written by a newer dataeff (schema {version}); upgrade dataeff to read it."
            )
        for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
            with self._conn:
                self._conn.execute("BEGIN")
                migration(self._conn)
                self._conn.execute(f"PRAGMA user_version = {number}")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- study identity ---------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, values: dict[str, object]) -> None:
        with self._conn:
            self._conn.execute("BEGIN")
            self._conn.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in values.items()],
            )

    # -- cells ------------------------------------------------------------------------
    def write_cell(self, row: dict) -> None:
        """Record one finished cell (ok or failed) atomically, replacing an earlier attempt."""
        columns = [c for c in [*CELL_COLUMNS, "traceback", "llm_calls", "llm_cached", *ENDPOINT_COLUMNS,
                               *ANSWER_COLUMNS] if c in row]
        placeholders = ", ".join("?" for _ in columns)
        with self._conn:
            self._conn.execute("BEGIN")
            self._conn.execute(
                f"INSERT OR REPLACE INTO cells ({', '.join(columns)}) VALUES ({placeholders})",
                [row[c] for c in columns],
            )
            self._writes += 1
            if self._writes == self.kill_in_write:
                _kill_now()

    def finished_keys(self) -> set[tuple[str, int, int]]:
        """Keys of cells that finished ``ok``; failed cells are retried on the next run."""
        rows = self._conn.execute("SELECT learner, n_train, seed FROM cells WHERE status = 'ok'")
        return {(r[0], int(r[1]), int(r[2])) for r in rows}

    def llm_usage(self) -> dict[str, int]:
        """Model calls, cached answers and endpoint traffic over the run's LLM cells (each
        cell as last run; a failed attempt's traffic is replaced by its retry's)."""
        sums = ", ".join(f"COALESCE(SUM({c}), 0)" for c in ["llm_calls", "llm_cached", *ENDPOINT_COLUMNS,
                                                            *ANSWER_COLUMNS])
        row = self._conn.execute(f"SELECT {sums}, COUNT(llm_calls) FROM cells").fetchone()
        names = ["model_calls", "cached_answers", "endpoint_prompts", "endpoint_requests", "endpoint_retries",
                 "endpoint_failures", "endpoint_unlisted", "written_answers", "unparsed_answers", "input_tokens",
                 "output_tokens", "llm_cells"]
        return dict(zip(names, map(int, row)))

    def billed_by_learner(self) -> dict[str, dict[str, int]]:
        """Tokens an endpoint billed per learner (input, output), for learners it billed any."""
        rows = self._conn.execute("SELECT learner, COALESCE(SUM(endpoint_input_tokens), 0), "
                                  "COALESCE(SUM(endpoint_output_tokens), 0) FROM cells GROUP BY learner")
        return {learner: {"input_tokens": int(i), "output_tokens": int(o)} for learner, i, o in rows if i or o}

    def cells(self, with_traceback: bool = False) -> pd.DataFrame:
        columns = CELL_COLUMNS + (["traceback"] if with_traceback else [])
        frame = pd.read_sql_query(
            f"SELECT {', '.join(columns)} FROM cells ORDER BY learner, n_train, seed", self._conn
        )
        return frame
