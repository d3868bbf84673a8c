"""A worker process that dies under a cell (SIGSEGV in C code, SIGKILL as the OOM killer sends
it) is that cell's failure, named with its cause; the other cells finish, on either engine."""

from __future__ import annotations

import os
import signal
import threading
import time

import psutil
import pytest

from dataeff.experiment.runner import run_cells
from dataeff.experiment.workers import death_cause
from tests.experiment.crashers import Segfaults, SegfaultsBesideLogreg, WaitsToBeKilled
from tests.experiment.test_runner import _setup


def _failed(store):
    cells = store.cells(with_traceback=True)
    return cells[cells["status"] != "ok"]


def _pool_workers_left(before: set[int]) -> list:
    return [p for p in psutil.Process().children(recursive=True)
            if p.pid not in before and "resource_tracker" not in " ".join(p.cmdline())
            and p.status() != psutil.STATUS_ZOMBIE]


def test_a_segfaulting_cell_fails_alone_with_its_cause_and_the_run_goes_on(tmp_path):
    ds, plan, specs, cells, store = _setup(tmp_path, ["majority", Segfaults()])
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    counts = run_cells(cells, ds, plan, specs, store, jobs=2, progress=False)
    assert counts == {"ok": 11, "failed": 1, "skipped": 0}
    failed = _failed(store)
    assert failed[["learner", "n_train", "seed"]].values.tolist() == [["segfaults", 64, 0]]
    assert failed["error"].iloc[0] == "worker died: SIGSEGV while running segfaults n=64 seed 0"
    assert failed["traceback"].isna().all()
    assert psutil.wait_procs(_pool_workers_left(before), timeout=5)[1] == []


def test_a_death_in_a_shared_featurization_group_is_pinned_on_its_own_cell(tmp_path):
    """logreg and the crasher share a featurization, so they travel to a worker together; the
    group is retried a cell a task, and logreg's cell at that size finishes."""
    ds, plan, specs, cells, store = _setup(tmp_path, ["logreg", SegfaultsBesideLogreg()])
    counts = run_cells(cells, ds, plan, specs, store, jobs=2, progress=False)
    assert counts == {"ok": 11, "failed": 1, "skipped": 0}
    assert _failed(store)["error"].tolist() == ["worker died: SIGSEGV while running segfaultsbesidelogreg n=64 seed 0"]
    ok = store.cells().query("status == 'ok' and n_train == 64 and seed == 0")
    assert ok["learner"].tolist() == ["logreg"]


def test_a_worker_killed_from_outside_fails_its_cell_and_the_rerun_completes_it(tmp_path):
    pid_file = tmp_path / "worker.pid"
    ds, plan, specs, cells, store = _setup(tmp_path, ["majority", WaitsToBeKilled(str(pid_file))])

    def kill_when_waiting():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not pid_file.exists():
            time.sleep(0.05)
        time.sleep(0.2)
        os.kill(int(pid_file.read_text()), signal.SIGKILL)

    killer = threading.Thread(target=kill_when_waiting)
    killer.start()
    counts = run_cells(cells, ds, plan, specs, store, jobs=2, progress=False)
    killer.join()
    assert counts == {"ok": 11, "failed": 1, "skipped": 0}
    assert _failed(store)["error"].iloc[0].startswith("worker died: SIGKILL while running waitstobekilled n=64 seed 0")

    rerun = run_cells(cells, ds, plan, specs, store, jobs=2, progress=False)
    assert rerun == {"ok": 1, "failed": 0, "skipped": 11}  # only the failed cell ran again
    assert _failed(store).empty


@pytest.mark.slow
def test_on_the_dask_engine_a_segfaulting_cell_fails_alone(tmp_path):
    ds, plan, specs, cells, store = _setup(tmp_path, ["majority", Segfaults()])
    counts = run_cells(cells, ds, plan, specs, store, jobs=2, progress=False, engine="dask")
    assert counts == {"ok": 11, "failed": 1, "skipped": 0}
    assert _failed(store)["error"].tolist() == ["worker died: its Dask worker was lost while running segfaults n=64 seed 0"]


def test_death_causes_read_as_signal_names():
    assert death_cause(-signal.SIGSEGV) == "SIGSEGV"
    assert death_cause(-signal.SIGKILL) == "SIGKILL"
    assert death_cause(3) == "exit status 3"
