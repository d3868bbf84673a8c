import numpy as np
import pandas as pd

from dataeff.data.dataset import prepare_dataset
from dataeff.experiment.plan import make_plan
from dataeff.experiment.runner import run_cells
from dataeff.experiment.store import Store
from dataeff.learners.base import Learner
from dataeff.learners.registry import LearnerSpec, resolve_learners
from tests.conftest import make_messy_frame


class FailsAtSixteen(Learner):
    """Breaks on one size, to show a failed cell is recorded and the sweep goes on."""

    def __init__(self, random_state=0):
        self.random_state = random_state

    def _fit(self, X, y):
        if len(X) == 16:
            raise RuntimeError("cannot fit sixteen rows")
        self._p = np.full(len(self.classes_), 1 / len(self.classes_))

    def _predict_proba(self, X):
        return np.tile(self._p, (len(X), 1))


def _setup(tmp_path, learners):
    ds = prepare_dataset(make_messy_frame(300), "churned", "messy")
    plan = make_plan(ds, seeds=2, sizes=[8, 16, 64])
    specs = resolve_learners(learners)
    cells = plan.cells([(s.name, s.needs_examples) for s in specs])
    return ds, plan, specs, cells, Store(tmp_path / "store.sqlite")


def test_a_failing_cell_is_recorded_with_its_traceback_and_the_run_goes_on(tmp_path):
    ds, plan, specs, cells, store = _setup(tmp_path, ["logreg", FailsAtSixteen()])
    counts = run_cells(cells, ds, plan, specs, store, jobs=1, progress=False)
    assert counts == {"ok": 10, "failed": 2, "skipped": 0}
    failed = store.cells(with_traceback=True).query("status == 'failed'")
    assert set(failed["n_train"]) == {16} and set(failed["learner"]) == {"failsatsixteen"}
    assert failed["error"].str.contains("RuntimeError: cannot fit sixteen rows").all()
    assert failed["traceback"].str.contains("Traceback").all()


def test_rerun_skips_finished_cells_and_retries_failed_ones(tmp_path):
    ds, plan, specs, cells, store = _setup(tmp_path, ["majority", FailsAtSixteen()])
    run_cells(cells, ds, plan, specs, store, jobs=1, progress=False)
    counts = run_cells(cells, ds, plan, specs, store, jobs=1, progress=False)
    assert counts == {"ok": 0, "failed": 2, "skipped": 10}
    assert len(store.cells()) == len(cells)


def test_parallel_and_serial_runs_give_identical_numbers(tmp_path):
    ds, plan, specs, cells, serial = _setup(tmp_path, ["logreg", "xgboost"])
    run_cells(cells, ds, plan, specs, serial, jobs=1, progress=False)
    parallel = Store(tmp_path / "parallel.sqlite")
    run_cells(cells, ds, plan, specs, parallel, jobs=2, progress=False)
    metrics = ["accuracy", "roc_auc", "log_loss"]
    pd.testing.assert_frame_equal(serial.cells()[metrics], parallel.cells()[metrics])


class ReadsTheEnvironment(Learner):
    """Fails unless its worker has the run's environment as it is when the run starts."""

    def __init__(self, random_state=0):
        self.random_state = random_state

    def _fit(self, X, y):
        import os

        if os.environ.get("DATAEFF_TEST_SET_LATE") != "after the fork server started":
            raise RuntimeError("the worker has the fork server's environment, not the run's")
        self._p = np.full(len(self.classes_), 1 / len(self.classes_))

    def _predict_proba(self, X):
        return np.tile(self._p, (len(X), 1))


def test_workers_forked_from_an_older_fork_server_get_the_runs_environment(tmp_path, monkeypatch):
    # The fork server lives as long as the process and its workers are copies of it: a
    # setting made since it started (DATAEFF_CACHE_DIR, say) must still reach the cells.
    from dataeff.experiment.workers import start_fork_server

    start_fork_server()
    monkeypatch.setenv("DATAEFF_TEST_SET_LATE", "after the fork server started")
    ds, plan, specs, cells, store = _setup(tmp_path, [ReadsTheEnvironment()])
    counts = run_cells(cells, ds, plan, specs, store, jobs=2, progress=False)
    assert counts == {"ok": len(cells), "failed": 0, "skipped": 0}, store.cells(with_traceback=True)["error"].tolist()


class RecordsRows(Learner):
    """Notes which rows it trains and predicts on (class-level: each cell gets a copy)."""

    seen: list = []

    def __init__(self, tag="a", random_state=0):
        self.tag, self.random_state = tag, random_state

    def _fit(self, X, y):
        self._train = frozenset(X.index)

    def _predict_proba(self, X):
        RecordsRows.seen.append((self.tag, self.random_state, self._train, frozenset(X.index)))
        return np.full((len(X), len(self.classes_)), 1 / len(self.classes_))


def test_every_learner_is_scored_on_the_same_test_rows_and_nested_train_rows(tmp_path):
    RecordsRows.seen.clear()
    a = LearnerSpec("a", RecordsRows("a"))
    b = LearnerSpec("b", RecordsRows("b"))
    ds, plan, specs, cells, store = _setup(tmp_path, [a, b])
    run_cells(cells, ds, plan, specs, store, jobs=1, progress=False)
    for seed in plan.seeds:
        rows = [r for r in RecordsRows.seen if r[1] == seed]
        assert len({r[3] for r in rows}) == 1  # one test set per seed, whatever the learner
        assert {len(r[2]) for r in rows} == {8, 16, 64}
        trains = sorted({r[2] for r in rows}, key=len)
        assert trains[0] < trains[1] < trains[2]  # nested
        assert not trains[2] & next(iter({r[3] for r in rows}))


class Sleeps(Learner):
    """Busy for a minute at n = 64, as a worker inside a long LLM call would be."""

    def __init__(self, random_state=0):
        self.random_state = random_state

    def _fit(self, X, y):
        if len(X) == 64:
            import time

            time.sleep(60)
        self._p = np.full(len(self.classes_), 1 / len(self.classes_))

    def _predict_proba(self, X):
        return np.tile(self._p, (len(X), 1))


class StopsAtFirstWrite(Store):
    """A store whose first cell write is interrupted (Ctrl-C arriving in the run's process)."""

    def write_cell(self, row):
        raise KeyboardInterrupt


def _workers_started(before: set[int]) -> list:
    """Pool workers this process started since ``before``: multiprocessing's resource tracker
    and the fork server the workers fork from, shared by every pool of the process, live as
    long as the process and are not counted (by pid: a forked worker has the server's command
    line)."""
    import psutil
    from multiprocessing import forkserver, resource_tracker

    shared = {forkserver._forkserver._forkserver_pid, resource_tracker._resource_tracker._pid}
    return [p for p in psutil.Process().children(recursive=True) if p.pid not in before | shared]


def test_an_interrupted_run_kills_its_busy_workers_at_once(tmp_path):
    import time

    import psutil
    import pytest

    ds, plan, specs, cells, store = _setup(tmp_path, ["majority", Sleeps()])
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    store.close()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_cells(cells, ds, plan, specs, StopsAtFirstWrite(tmp_path / "store.sqlite"), jobs=2, progress=False)
    assert time.monotonic() - started < 30  # not the minute the sleeping cell would take
    gone, alive = psutil.wait_procs(_workers_started(before), timeout=5)
    assert alive == []


_HELD: list = []


class Grows(Learner):
    """Takes 400 MB for good in its worker at n = 16 and keeps it, as importing PyTorch for
    the MLP or loading a model does (loky's pool took that for a leak and restarted the
    worker, with a warning; the run's pool must keep it)."""

    def __init__(self, random_state=0):
        self.random_state = random_state

    def _fit(self, X, y):
        if len(X) == 16 and not _HELD:
            import time

            _HELD.append(np.ones(50_000_000))
            time.sleep(1.5)  # long enough for a pool that polls memory each second to notice
        self._p = np.full(len(self.classes_), 1 / len(self.classes_))

    def _predict_proba(self, X):
        return np.tile(self._p, (len(X), 1))


def test_a_finished_run_leaves_no_worker_and_no_leak_warning(tmp_path):
    import warnings

    import psutil

    ds, plan, specs, cells, store = _setup(tmp_path, [Grows()])
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        counts = run_cells(cells, ds, plan, specs, store, jobs=2, progress=False)
    assert counts["ok"] == len(cells)
    assert not [w for w in caught if "worker stopped" in str(w.message)]  # no worker restarted for a 'leak'
    assert _workers_started(before) == []
