"""dataeff's side of a runner benchmark, timed as scikit-learn's is (sklearn_timing.py): the
cells run on workers started inside the timed call (cold: the fork server they fork from is
new and imports the runner, scikit-learn and skrub) and again on the fork server that call
left running (warm, as scikit-learn's warm call reuses the joblib workers the call before it
left)."""

from __future__ import annotations

import tempfile
import time
from multiprocessing import forkserver
from pathlib import Path
from typing import NamedTuple

import pandas as pd


class RunnerTimings(NamedTuple):
    """Wall seconds of ``run_cells`` over one grid, and the cells' own fit + predict seconds."""

    cold: float  # a new fork server, started inside the timed call (a first run in a process)
    warm: float  # the fork server the cold call left running
    busy_cold: float
    busy_warm: float


def time_runner(dataset, plan, specs, jobs: int) -> RunnerTimings:
    """``run_cells`` on every cell of ``plan``, cold then warm, each into a new store."""
    from dataeff.experiment.runner import run_cells
    from dataeff.experiment.store import Store

    cells = plan.cells([(s.name, s.needs_examples) for s in specs])

    def once() -> tuple[float, float]:
        with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "store.sqlite") as store:
            start = time.perf_counter()
            counts = run_cells(cells, dataset, plan, specs, store, jobs=jobs, progress=False)
            wall = time.perf_counter() - start
            results: pd.DataFrame = store.cells()
        assert counts["failed"] == 0, results.query("status != 'ok'")["error"].tolist()[:3]
        return wall, float((results["fit_seconds"] + results["predict_seconds"]).sum())

    # Private, and the only way to stop it (CPython's own tests do the same): the next pool
    # then starts a new server, as a new process would.
    forkserver._forkserver._stop()
    cold, busy_cold = once()
    warm, busy_warm = once()
    return RunnerTimings(cold, warm, busy_cold, busy_warm)
