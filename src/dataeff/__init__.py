"""dataeff: how many labelled examples does each kind of model need on your data?

Public API: :class:`Study`, :func:`run`, :func:`analyze`, :func:`load_run`, :func:`next_labels`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from dataeff.errors import DataEffError

if TYPE_CHECKING:
    from dataeff.labelling import next_labels
    from dataeff.results import RunResult, analyze, load_run
    from dataeff.study import Study, run

__version__ = "0.1.0"
__all__ = ["DataEffError", "RunResult", "Study", "analyze", "load_run", "next_labels", "run", "__version__"]

# The public names, imported on first use: every process that imports a part of dataeff runs
# this file first, and a run's worker processes need the runner only, not the study, results
# and report modules behind these names (0.7 s of imports, measured on a busy 2-core machine).
_LAZY = {"next_labels": "dataeff.labelling", "RunResult": "dataeff.results", "analyze": "dataeff.results",
         "load_run": "dataeff.results", "Study": "dataeff.study", "run": "dataeff.study"}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'dataeff' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
