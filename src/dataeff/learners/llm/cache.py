"""A SQLite cache of backend answers, keyed by model fingerprint + request; errors never cached."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path


def default_cache_dir() -> Path:
    """``$DATAEFF_CACHE_DIR``, else ``$XDG_CACHE_HOME/dataeff``, else ``~/.cache/dataeff``."""
    if os.environ.get("DATAEFF_CACHE_DIR"):
        return Path(os.environ["DATAEFF_CACHE_DIR"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "dataeff"


class AnswerCache:
    """Maps (fingerprint, method, payload) to a JSON answer, shared by every run folder.

    Counts hits and misses, so a run can say how many model calls it made.
    """

    def __init__(self, path: Path | None = None, enabled: bool = True):
        self.enabled = enabled
        self.hits = 0
        self.misses = 0
        if not enabled:
            return
        self.path = Path(path or default_cache_dir() / "llm-cache.sqlite")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, value TEXT NOT NULL, "
                           "stored_at REAL)")
        columns = [row[1] for row in self._conn.execute("PRAGMA table_info(answers)")]
        if "stored_at" not in columns:  # caches written before stored_at existed
            self._conn.execute("ALTER TABLE answers ADD COLUMN stored_at REAL")

    @staticmethod
    def key(fingerprint: str, method: str, payload) -> str:
        text = json.dumps([fingerprint, method, payload], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()

    def get_many(self, keys: list[str]) -> dict[str, object]:
        if not self.enabled or not keys:
            self.misses += len(keys)
            return {}
        found: dict[str, object] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            rows = self._conn.execute(
                f"SELECT key, value FROM answers WHERE key IN ({','.join('?' * len(chunk))})", chunk)
            found.update({k: json.loads(v) for k, v in rows})
        self.hits += len(found)
        self.misses += len(keys) - len(found)
        return found

    def put_many(self, items: dict[str, object]) -> None:
        """Store answers (only ever successful ones: callers put after a call returns)."""
        if not self.enabled or not items:
            return
        import time

        now = time.time()
        with self._conn:
            self._conn.execute("BEGIN")
            # stored_at tells when an answer was paid for (a resumed run must not pay again).
            self._conn.executemany("INSERT OR REPLACE INTO answers (key, value, stored_at) VALUES (?, ?, ?)",
                                   [(k, json.dumps(v), now) for k, v in items.items()])
