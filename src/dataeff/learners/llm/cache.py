"""The LLM cache folder: where it is, and its SQLite file of backend answers and model hashes.

Answers are keyed by model fingerprint + request, errors never cached. The same file remembers
each model file's content hash by (path, size, mtime), so a model of gigabytes is hashed once.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

CACHE_FILE = "llm-cache.sqlite"


@dataclass(frozen=True)
class CacheSettings:
    """Where the LLM cache lives and whether answers are read and stored there.

    ``folder`` holds the answer cache (``llm-cache.sqlite``), the packaged default model once
    assembled, and converted models. ``enabled=False`` (``--no-cache``) asks the model every
    time; model files and their hashes still live in ``folder``.

    Examples
    --------
    >>> from pathlib import Path
    >>> CacheSettings(Path("/tmp/llm-cache"), enabled=False).enabled
    False
    """

    folder: Path
    enabled: bool = True

    def __post_init__(self):
        object.__setattr__(self, "folder", Path(self.folder))

    @classmethod
    def default(cls) -> CacheSettings:
        """The user's cache folder, as the settings layer reads it from their environment."""
        from dataeff.config import default_cache_dir

        return cls(default_cache_dir())

    @property
    def path(self) -> Path:
        return self.folder / CACHE_FILE


def _connect(path: Path) -> sqlite3.Connection:
    """The cache file, its tables created (or brought up to date) on first use."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=60, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, value TEXT NOT NULL, stored_at REAL)")
    columns = [row[1] for row in conn.execute("PRAGMA table_info(answers)")]
    if "stored_at" not in columns:  # caches written before stored_at existed
        conn.execute("ALTER TABLE answers ADD COLUMN stored_at REAL")
    conn.execute("CREATE TABLE IF NOT EXISTS fingerprints (path TEXT NOT NULL, size INTEGER NOT NULL, "
                  "mtime_ns INTEGER NOT NULL, digest TEXT NOT NULL, PRIMARY KEY (path, size, mtime_ns))")
    return conn


class AnswerCache:
    """Maps (fingerprint, method, payload) to a JSON answer, shared by every run folder.

    Counts hits and misses, so a run can say how many model calls it made.
    """

    def __init__(self, path: Path, enabled: bool = True):
        self.enabled = enabled
        self.hits = 0
        self.misses = 0
        self.path = Path(path)
        if enabled:
            self._conn = _connect(self.path)

    @classmethod
    def for_settings(cls, settings: CacheSettings) -> AnswerCache:
        return cls(settings.path, enabled=settings.enabled)

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


class HashMemo:
    """Content hashes of model files by (resolved path, size, mtime), in the cache file.

    Used whether or not answers are cached: hashing is not asking the model. A folder that
    cannot be written (read-only cache) just means hashing again next time.
    """

    def __init__(self, folder: Path):
        try:
            self._conn: sqlite3.Connection | None = _connect(Path(folder) / CACHE_FILE)
        except (OSError, sqlite3.Error):
            self._conn = None

    def __enter__(self) -> HashMemo:
        return self

    def __exit__(self, *exc) -> None:
        if self._conn is not None:
            self._conn.close()

    def get(self, path: str, size: int, mtime_ns: int) -> str | None:
        if self._conn is None:
            return None
        row = self._conn.execute("SELECT digest FROM fingerprints WHERE path = ? AND size = ? AND mtime_ns = ?",
                                 (path, size, mtime_ns)).fetchone()
        return row[0] if row else None

    def put(self, path: str, size: int, mtime_ns: int, digest: str) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute("INSERT OR REPLACE INTO fingerprints (path, size, mtime_ns, digest) VALUES (?, ?, ?, ?)",
                               (path, size, mtime_ns, digest))
        except sqlite3.Error:
            pass  # read-only or busy past the timeout: the hash is simply computed again next time
