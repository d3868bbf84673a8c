"""The run folder: checked before any work, claimed for one study, refused to another."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

from dataeff.errors import RunFolderError
from dataeff.experiment.store import STORE_NAME
from dataeff.terms import setting_name

#: Files dataeff writes into a run folder; --force removes only these.
OWNED = [STORE_NAME, f"{STORE_NAME}-wal", f"{STORE_NAME}-shm", "results.csv", "summary.md", "summary.json",
         "curves.png", "report.html"]


def check_folder(out: Path, fingerprint: str, force: bool) -> str:
    """Say what to do with ``out`` without touching it: 'new', 'resume' or 'restart'.

    Raises RunFolderError when the folder belongs to another study (without --force),
    holds files that are not dataeff's, or cannot be written.
    """
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"{setting_name('out', str(out))} is a file; give a folder path.")
    parent = out if out.exists() else _existing_parent(out)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise RunFolderError(f"Cannot write to {parent}; choose a folder you can write to for {setting_name('out')}.")
    if not out.exists():
        return "new"
    entries = {p.name for p in out.iterdir()}
    if not entries:
        return "new"
    if STORE_NAME not in entries:
        foreign = sorted(entries - set(OWNED))
        if foreign:
            raise RunFolderError(
                f"{setting_name('out', str(out))} holds files that are not a dataeff run ({', '.join(foreign[:3])}); "
                "choose an empty or new folder."
            )
        return "restart"
    stored = stored_meta(out / STORE_NAME, "fingerprint")
    if stored == fingerprint:
        return "resume"
    if stored is None and _blank_store(out / STORE_NAME):
        return "restart"  # a run killed before its store had a study in it: nothing to keep
    if force:
        return "restart"
    raise RunFolderError(
        f"{setting_name('out', str(out))} holds a study of other data, label or test rows; "
        f"choose another {setting_name('out')}, or add {setting_name('force', True)} to start over there."
    )


def clear_owned(out: Path) -> None:
    """Remove dataeff's own files from ``out`` (for --force), leaving anything else alone."""
    for name in OWNED:
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


def _blank_store(path: Path) -> bool:
    """A store file with no cell in it (empty, or killed before its schema or first cell)."""
    if path.stat().st_size == 0:
        return True
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            return "cells" not in tables or conn.execute("SELECT count(*) FROM cells").fetchone()[0] == 0
        finally:
            conn.close()
    except sqlite3.Error:
        return False  # not a SQLite file: not ours to replace


def stored_meta(path: Path, key: str) -> str | None:
    """A value from a store's meta table, read without writing anything (None if absent)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None  # unreadable or foreign store: treated as another study
    return row[0] if row else None


def _existing_parent(path: Path) -> Path:
    path = path.absolute()
    for parent in path.parents:
        if parent.exists():
            return parent
    return Path("/")
