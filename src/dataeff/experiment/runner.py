"""Run cells in parallel (a process pool the run owns, or Dask), record each as it finishes,
skip finished cells on rerun."""

from __future__ import annotations

import os
import traceback
import warnings
from collections.abc import Callable, Iterator
from contextlib import closing

import numpy as np
import pandas as pd

from dataeff.data.dataset import Dataset
from dataeff.errors import ConfigError, one_line
from dataeff.experiment.metrics import score
from dataeff.experiment.plan import Cell, Plan
from dataeff.experiment.store import Store
from dataeff.learners.base import align_proba
from dataeff.learners.registry import LearnerSpec
from dataeff.learners.featurize import SHARED_KINDS


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def run_cell(spec: LearnerSpec, cell: Cell, X_train: pd.DataFrame, y_train: pd.Series,
             X_test: pd.DataFrame, y_test: pd.Series, classes: list[str]) -> dict:
    """Fit and score one cell; a failure becomes a recorded row with its traceback, not a crash."""
    row: dict = {"learner": cell.learner, "n_train": cell.n_train, "seed": cell.seed, "n_test": len(y_test)}
    learner = None
    try:
        with _one_thread(), warnings.catch_warnings():
            # Convergence and tiny-sample warnings are expected across a size sweep.
            warnings.simplefilter("ignore")
            learner = spec.build(random_state=cell.seed)
            learner.fit(X_train, y_train)
            proba = align_proba(learner.predict_proba(X_test), learner.classes_, classes)
            row.update(score(y_test.to_numpy(), proba, classes))
            row.update(learner.cost())
        row.update(status="ok", error=None, traceback=None, note="; ".join(learner.notes) or None)
    except Exception as exc:  # noqa: BLE001 - any learner failure is data for the user
        row.update(status="failed", error=f"{type(exc).__name__}: {one_line(exc)}",
                   traceback=traceback.format_exc())
    if hasattr(learner, "traffic"):  # LLM learners: what was asked of the model, even on failure
        row.update(learner.traffic())
    return row


def _one_thread():
    """BLAS/OpenMP limited to one thread per cell: cells run in parallel, and a fixed thread
    count keeps numbers identical between a resumed run and an uninterrupted one (the MLP
    pins torch's own threads the same way)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def run_group(specs: list[LearnerSpec], cells: list[Cell], X_train, y_train, X_test, y_test,
              classes: list[str]) -> list[dict]:
    """Cells of one (seed, size) whose learners share a featurization, one after the other in
    one worker: the features are computed once (see learners/featurize.py)."""
    return [run_cell(spec, cell, X_train, y_train, X_test, y_test, classes) for spec, cell in zip(specs, cells)]


def _groups(todo: list[Cell], specs: dict[str, LearnerSpec]) -> list[list[Cell]]:
    """Cells grouped by (seed, size, featurization kind) where learners share one, largest first."""
    kinds = {name: getattr(spec.build(random_state=0), "features", None) for name, spec in specs.items()}
    groups: dict[tuple, list[Cell]] = {}
    for cell in todo:
        kind = kinds.get(cell.learner)
        key = (cell.seed, cell.n_train, kind) if kind in SHARED_KINDS else (cell.seed, cell.n_train, cell.learner)
        groups.setdefault(key, []).append(cell)
    return sorted(groups.values(), key=lambda g: (-g[0].n_train, g[0].learner, g[0].seed))


def _tasks(groups: list[list[Cell]], dataset: Dataset, plan: Plan,
           specs: dict[str, LearnerSpec]) -> Iterator[tuple[Callable, tuple]]:
    """(function, arguments) of each group, made as the pool asks for them: only the groups
    in flight hold a copy of their rows."""
    for group in groups:
        split = plan.splits[group[0].seed]
        train = split.train_index(group[0].n_train)
        yield run_group, (
            [specs[c.learner] for c in group], group,
            dataset.X.iloc[train], dataset.y.iloc[train],
            dataset.X.iloc[split.test_index], dataset.y.iloc[split.test_index], plan.classes,
        )


ENGINES = ("local", "dask")


def run_cells(cells: list[Cell], dataset: Dataset, plan: Plan, specs: list[LearnerSpec], store: Store,
              *, jobs: int | None = None, progress: bool = True, engine: str = "local",
              scheduler: str | None = None) -> dict[str, int]:
    """Run every cell the store has not finished; return counts of ok, failed and skipped cells.

    ``engine`` "local" runs cells in a process pool of ``jobs`` workers that lives as long as
    this call; "dask" sends them to the Dask cluster at ``scheduler`` (or a local cluster of
    ``jobs`` one-thread workers). Either way each finished cell is written to the store as it
    arrives. An exception here (KeyboardInterrupt included) stops the workers at once: every
    worker process is killed before it propagates, and the cells written so far stay.
    """
    done = store.finished_keys()
    todo = [c for c in cells if (c.learner, c.n_train, c.seed) not in done]
    # Largest fits first: long tasks start early, so the last minutes are not one straggler.
    todo.sort(key=lambda c: (-c.n_train, c.learner, c.seed))
    counts = {"ok": 0, "failed": 0, "skipped": len(cells) - len(todo)}
    if not todo:
        return counts
    by_name = {s.name: s for s in specs}
    jobs = jobs or default_jobs()
    groups = _groups(todo, by_name)
    rows = (_on_dask(groups, dataset, plan, by_name, jobs, scheduler) if engine == "dask"
            else _on_processes(groups, dataset, plan, by_name, jobs))
    # closing(): on an exception the pool is stopped now, not when the traceback lets go of it.
    with closing(rows), _progress(progress, len(cells), counts["skipped"]) as advance:
        for row in rows:
            store.write_cell(row)
            counts[row["status"]] += 1
            advance(row)
    return counts


def _on_processes(groups, dataset, plan, by_name, jobs) -> Iterator[dict]:
    """Groups of cells in a process pool owned by this run: a few groups in flight per worker,
    rows back as they finish; when the run ends the workers exit, and when it stops early
    (an error, KeyboardInterrupt, the generator closed) they are killed, LLM calls and all."""
    workers = min(jobs, len(groups))
    if workers == 1:  # in this process: nothing to start or stop
        for function, args in _tasks(groups, dataset, plan, by_name):
            yield from function(*args)
        return
    from concurrent.futures import FIRST_COMPLETED, wait

    # loky's pool (as joblib uses it), not joblib's reusable one: its workers must not outlive the run.
    from joblib.externals.loky.process_executor import ProcessPoolExecutor

    pool = ProcessPoolExecutor(max_workers=workers, initializer=_worker_started, initargs=(os.getpid(),))
    finished = False
    try:
        running: set = set()
        for function, args in _tasks(groups, dataset, plan, by_name):
            running.add(pool.submit(function, *args))
            while len(running) >= 2 * workers:
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    yield from future.result()
        while running:
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                yield from future.result()
        finished = True
    finally:
        # Killed, not asked: a worker inside llama.cpp would not look at a request for minutes.
        pool.shutdown(wait=True, kill_workers=not finished)


def _worker_started(run_pid: int) -> None:
    """A pool worker's setup. Ctrl-C reaches every process of the terminal's group: the run's
    own process handles it by killing its workers, so they ignore it (no half-finished cell
    reported as a KeyboardInterrupt). And loky's leak check is off: it takes the memory of a
    library imported for a cell (PyTorch for the MLP, a model) for a leak and restarts the
    worker, with a warning and a reload; this pool ends with its run anyway."""
    import signal

    from joblib.externals.loky import process_executor

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    process_executor._MAX_MEMORY_LEAK_SIZE = float("inf")
    _exit_with_parent(run_pid)


def _exit_with_parent(parent: int, every: float = 1.0) -> None:
    """End this worker when the run's process is gone. A run killed outright (SIGKILL, the OOM
    killer) cannot stop its pool, and loky's idle workers then lived on, reparented (seen: two
    workers and their resource trackers 22 minutes after the kill). On Linux the kernel kills
    the worker with its parent (PR_SET_PDEATHSIG; the pool is made and fed from the run's main
    thread, which lives as long as the run); elsewhere, or should that fail, a thread watches
    the parent (it needs the GIL, so a cell busy in C code may delay it). ``parent`` is the run's
    pid, passed in: the run may have died while this worker was still starting."""
    import signal
    import sys
    import threading
    import time

    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # 1: PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(1)

    threading.Thread(target=watch, name="dataeff-exit-with-parent", daemon=True).start()


def check_dask(scheduler: str | None) -> None:
    """Dask's distributed scheduler is installed and, when named, answers, and its workers run
    one thread each."""
    try:
        from distributed import Client
    except ImportError:
        raise ConfigError("--engine dask needs Dask's distributed scheduler: pip install 'dataeff[dask]'.") from None
    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise ConfigError(f"Cannot reach the Dask scheduler {scheduler} ({one_line(exc, 120)}); start it, or "
                              "check --scheduler (tcp://HOST:PORT).") from None
        try:
            workers = client.scheduler_info(n_workers=-1)["workers"]
        finally:
            client.close()
        check_threads({address: info["nthreads"] for address, info in workers.items()}, scheduler)


def check_threads(threads: dict[str, int], scheduler: str) -> None:
    """Refuse workers of several threads: a cell's process state (the featurization memo, the
    LLM backends and their counters, the answer cache's SQLite connection, PyTorch's thread
    count) is per process, made for one cell at a time."""
    crowded = {address: n for address, n in threads.items() if n > 1}
    if crowded:
        address, n = next(iter(crowded.items()))
        raise ConfigError(f"The Dask worker {address} runs {n} threads ({len(crowded)} of {len(threads)} workers run "
                          f"several); dataeff runs one cell per worker process: start them with "
                          f"'dask worker {scheduler} --nthreads 1' (more processes, not threads, for more cores).")


def _on_dask(groups, dataset, plan, by_name, jobs, scheduler) -> Iterator[dict]:
    """Cells as Dask tasks: the table and labels are sent to the workers once (scattered),
    each task gets row positions, and results come back as they finish."""
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler:
        client = Client(scheduler, timeout="20s")
    else:
        cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    futures = []
    try:
        X, y = client.scatter([dataset.X, dataset.y], broadcast=True)
        for group in groups:
            first = group[0]
            split = plan.splits[first.seed]
            futures.append(client.submit(
                _run_group_by_position, [by_name[c.learner] for c in group], group, X, y,
                split.train_index(first.n_train), split.test_index, plan.classes, pure=False,
                key=f"cells-{first.learner}-{first.n_train}-{first.seed}-{len(group)}",
            ))
        for future in as_completed(futures):
            yield from future.result()
    finally:
        client.cancel([f for f in futures if not f.done()])  # stopped early: no cell left queued
        client.close()
        if cluster is not None:
            cluster.close()


def _run_group_by_position(specs, cells, X, y, train, test, classes) -> list[dict]:
    return run_group(specs, cells, X.iloc[train], y.iloc[train], X.iloc[test], y.iloc[test], classes)


class _progress:
    """Progress on stderr: a rich bar (cells done, ETA) on a terminal, a line every ~10%
    of the cells in a log (CI, nohup), nothing when disabled."""

    def __init__(self, enabled: bool, total: int, already: int):
        self.enabled, self.total, self.already = enabled, total, already

    def __enter__(self):
        if not self.enabled:
            return lambda row: None
        from rich.console import Console

        console = Console(stderr=True, highlight=False)
        if not console.is_terminal:
            return self._log_lines(console)
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        self._bar = Progress(TextColumn("[bold]cells"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("{task.fields[last]}"), TimeElapsedColumn(), TextColumn("ETA"),
                             TimeRemainingColumn(), console=console)
        self._bar.__enter__()
        self._task = self._bar.add_task("cells", total=self.total, completed=self.already, last="")

        def advance(row: dict) -> None:
            mark = "" if row["status"] == "ok" else " [red]failed[/red]"
            self._bar.update(self._task, advance=1, last=f"{row['learner']} n={row['n_train']}{mark}")

        return advance

    def _log_lines(self, console):
        import time

        start, state = time.monotonic(), {"done": self.already, "new": 0}
        step = max(1, (self.total - self.already) // 10)

        def advance(row: dict) -> None:
            state["done"] += 1
            state["new"] += 1
            if state["new"] % step and state["done"] != self.total:
                return
            elapsed = time.monotonic() - start
            eta = elapsed / state["new"] * (self.total - state["done"])
            console.print(f"cells {state['done']}/{self.total} ({state['done'] / self.total:.0%}), "
                          f"{elapsed:.0f} s elapsed, ETA {eta:.0f} s", markup=False)

        return advance

    def __exit__(self, *exc):
        if self.enabled and hasattr(self, "_bar"):
            self._bar.__exit__(*exc)
        return False


def results_frame(store: Store) -> pd.DataFrame:
    """The store's cells as the documented results table."""
    frame = store.cells()
    frame["n_train"] = frame["n_train"].astype(np.int64)
    return frame
