"""Writing the run folder's files: each one atomically (temp file, then rename), JSON always valid."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np


def atomic_write(path: Path, write, suffix: str | None = None) -> Path:
    """Call ``write(temp_path)``, then move the file into place: a reader never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix or path.suffix)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; results are ordinary files
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def json_default(value):
    """numpy scalars and paths as JSON (``json.dumps(..., default=json_default)``)."""
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def finite(value):
    """NaN and infinity become null: summary.json stays valid JSON for every reader."""
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
