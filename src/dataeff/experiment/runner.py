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
from dataeff.experiment.workers import run_pooled
from dataeff.learners.base import align_proba
from dataeff.learners.registry import LearnerSpec
from dataeff.learners.featurize import SHARED_KINDS
from dataeff.terms import setting_name


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def run_cell(spec: LearnerSpec, cell: Cell, X_train: pd.DataFrame, y_train: pd.Series,
             X_test: pd.DataFrame, y_test: pd.Series, classes: list[str], sizes: list[int] | None = None,
             pool: tuple[pd.DataFrame, pd.Series | None] | None = None) -> dict:
    """Fit and score one cell; a failure becomes a recorded row with its traceback, not a crash.

    An acquiring learner (``spec.acquire``) gets the seed's whole pool as ``X_train`` and
    ``y_train`` and the study's ``sizes``: it chooses its ``n_train`` rows itself, reading only
    their labels (experiment/acquire.py). An llm-labels learner gets ``pool``: the unlabelled
    rows' features, which it fits on, and their hidden labels (None for a user's own unlabelled
    rows), which only this function reads, after the fit, to record how the LLM's labels agree
    with them (``pool_labels``)."""
    row: dict = {"learner": cell.learner, "n_train": cell.n_train, "seed": cell.seed, "n_test": len(y_test)}
    learner, said = None, []
    if spec.dropped:  # column groups it goes without: it never sees them (data/groups.py)
        X_train, X_test = X_train.drop(columns=list(spec.dropped)), X_test.drop(columns=list(spec.dropped))
        pool = None if pool is None else (pool[0].drop(columns=list(spec.dropped)), pool[1])
    try:
        with _one_thread(), warnings.catch_warnings():
            # Convergence and tiny-sample warnings are expected across a size sweep.
            warnings.simplefilter("ignore")
            acquired = None
            if spec.acquire is not None:
                from dataeff.experiment.acquire import Oracle, acquire

                pool_rows = np.asarray(X_train.index)
                acquired = acquire(spec, cell.seed, X_train, Oracle(y_train), sizes or [cell.n_train], cell.n_train)
                X_train, y_train = X_train.iloc[acquired.positions], y_train.iloc[acquired.positions]
                said.append(f"{spec.acquire} acquisition: {acquired.rounds} rounds, {acquired.seconds:.2f} s "
                            f"(rows {acquired.digest(pool_rows)})")
            learner = spec.build(random_state=cell.seed)
            if pool is not None:
                learner.fit(X_train, y_train, unlabelled=pool[0])
                row["pool_labels"] = pool_agreement(learner.pool_labels_, pool[1])
            else:
                learner.fit(X_train, y_train)
            proba = align_proba(learner.predict_proba(X_test), learner.classes_, classes)
            row.update(score(y_test.to_numpy(), proba, classes))
            row.update(learner.cost())
            if acquired is not None:  # choosing the rows is part of what this route costs to train
                row["fit_seconds"] += acquired.seconds
                row["tokens"] += acquired.tokens
        row.update(status="ok", error=None, traceback=None, note="; ".join([*learner.notes, *said]) or None)
    except Exception as exc:  # noqa: BLE001 - any learner failure is data for the user
        row.update(status="failed", error=f"{type(exc).__name__}: {one_line(exc)}",
                   traceback=traceback.format_exc())
    if hasattr(learner, "traffic"):  # LLM learners: what was asked of the model, even on failure
        row.update(learner.traffic())
    return row


def pool_agreement(llm_labels: pd.Series, hidden: pd.Series | None) -> str:
    """The LLM's labels of the pool against the hidden ones, as JSON: rows, and counts per
    (true label, LLM label) pair (a confusion matrix; only the rows' count without hidden labels)."""
    import json

    out: dict = {"rows": int(len(llm_labels))}
    if hidden is not None:
        pairs = pd.crosstab(hidden.astype(str).to_numpy(), llm_labels.astype(str).to_numpy())
        out["confusion"] = {str(t): {str(a): int(pairs.loc[t, a]) for a in pairs.columns} for t in pairs.index}
    return json.dumps(out, sort_keys=True)


def _one_thread():
    """BLAS/OpenMP limited to one thread per cell: cells run in parallel, and a fixed thread
    count keeps numbers identical between a resumed run and an uninterrupted one (the MLP
    pins torch's own threads the same way)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def run_group(specs: list[LearnerSpec], cells: list[Cell], X_train, y_train, X_test, y_test,
              classes: list[str], sizes: list[int] | None = None, pool=None) -> list[dict]:
    """Cells of one (seed, size) whose learners share a featurization, one after the other in
    one worker: the features are computed once (see learners/featurize.py)."""
    return [run_cell(spec, cell, X_train, y_train, X_test, y_test, classes, sizes, pool)
            for spec, cell in zip(specs, cells)]


def _groups(todo: list[Cell], specs: dict[str, LearnerSpec]) -> list[list[Cell]]:
    """Cells in tasks: one (seed, size) and a shared featurization or labeller; largest first."""
    kinds = {name: getattr(spec.build(random_state=0), "features", None) if spec.acquire is None else None
             for name, spec in specs.items()}  # an acquiring learner trains on rows of its own
    groups: dict[tuple, list[Cell]] = {}
    for cell in todo:
        groups.setdefault(_group_key(cell, specs[cell.learner], kinds.get(cell.learner)), []).append(cell)
    return sorted(groups.values(), key=lambda g: (-g[0].n_train, g[0].learner, g[0].seed))


def _group_key(cell: Cell, spec: LearnerSpec, kind: str | None) -> tuple:
    if kind in SHARED_KINDS:
        return cell.seed, cell.n_train, kind, spec.dropped
    if spec.kind == "llm-labels":
        # Routes with one labeller and pool ask it the same prompts: in one task, the second
        # reads the first one's answers from the cache instead of paying them in another worker.
        return cell.seed, cell.n_train, "llm-labels", spec.params["labeller"].name, spec.params["pool"]
    return cell.seed, cell.n_train, cell.learner


def _task(group: list[Cell], dataset: Dataset, plan: Plan, specs: dict[str, LearnerSpec]) -> tuple[Callable, tuple]:
    """(function, arguments) of one group, made as the pool asks for it: only the groups in
    flight hold a copy of their rows."""
    split = plan.splits[group[0].seed]
    train, sizes = _training_rows(group, plan, specs)
    return run_group, (
        [specs[c.learner] for c in group], group,
        dataset.X.iloc[train], dataset.y.iloc[train],
        dataset.X.iloc[split.test_index], dataset.y.iloc[split.test_index], plan.classes, sizes,
        unlabelled_pool(group, dataset, plan, specs),
    )


def unlabelled_pool(group: list[Cell], dataset: Dataset, plan: Plan, specs: dict[str, LearnerSpec]):
    """An llm-labels cell's pool (its rows' features, and their hidden labels or None), else
    None: a user's own unlabelled rows (their first ``pool``), or the seed's (``pool_index``)."""
    spec, cell = specs[group[0].learner], group[0]
    if spec.kind != "llm-labels":
        return None
    size = spec.params["pool"]
    if dataset.unlabelled is not None:
        return dataset.unlabelled.iloc[:size], None
    rows = plan.splits[cell.seed].pool_index(cell.n_train, size)
    return dataset.X.iloc[rows], dataset.y.iloc[rows]


def _training_rows(group: list[Cell], plan: Plan, specs: dict[str, LearnerSpec]) -> tuple[np.ndarray, list | None]:
    """The rows a group trains on, and the sizes an acquiring learner chooses them over: the
    seed's prefix of the group's size, or for an acquiring learner the whole pool (its labels
    behind an oracle) and the study's sizes."""
    split = plan.splits[group[0].seed]
    if specs[group[0].learner].acquire is not None:
        return split.train_order, plan.sizes
    return split.train_index(group[0].n_train), None


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
    """Groups of cells in a process pool owned by this run (experiment/workers.py), or in this
    process when one worker is all there is (nothing to start; a crash there ends the run)."""
    workers = min(jobs, len(groups))
    if workers == 1:
        for group in groups:
            function, args = _task(group, dataset, plan, by_name)
            yield from function(*args)
        return
    yield from run_pooled(groups, lambda group: _task(group, dataset, plan, by_name), workers,
                          lambda cell, cause: died_row(cell, cause, plan))


def died_row(cell: Cell, cause: str, plan: Plan) -> dict:
    """The failed row of a cell whose worker process died under it (no traceback: there was
    no Python left to write one). A rerun retries it, like every failed cell."""
    hint = " (the out-of-memory killer ends processes so)" if cause == "SIGKILL" else ""
    return {"learner": cell.learner, "n_train": cell.n_train, "seed": cell.seed,
            "n_test": len(plan.splits[cell.seed].test_index), "status": "failed",
            "error": f"worker died: {cause} while running {cell.learner} n={cell.n_train} seed {cell.seed}{hint}",
            "traceback": None}


def check_dask(scheduler: str | None) -> None:
    """Dask's distributed scheduler is installed and, when named, answers, and its workers run
    one thread each."""
    try:
        from distributed import Client
    except ImportError:
        raise ConfigError(f"{setting_name('engine', 'dask')} needs Dask's distributed scheduler: pip install "
                          "'dataeff[dask]'.") from None
    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise ConfigError(f"Cannot reach the Dask scheduler {scheduler} ({one_line(exc, 120)}); start it, or "
                              f"check {setting_name('scheduler')} (tcp://HOST:PORT).") from None
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
    each task gets row positions, and results come back as they finish.

    No more tasks are in flight than the cluster has threads, so a worker holds only the task
    it runs: Dask sends a task with dependencies to a worker at once, and a worker's death
    takes everything queued on it. A task whose worker died is a ``KilledWorker``: a group is
    retried a cell a task, a single cell recorded as failed. The run's own local cluster
    allows no retry in Dask (a segfault repeats), so a cell gets one retry here, in case a
    neighbour's death was blamed on it; a running scheduler keeps its own ``allowed-failures``
    (Dask's default: the task is tried on 3 more workers).
    """
    import logging
    import uuid
    from collections import deque
    from concurrent.futures import CancelledError

    import dask
    from distributed import Client, KilledWorker, LocalCluster, as_completed

    cluster = None
    if scheduler:
        client = Client(scheduler, timeout="20s")
    else:
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
            # silence_logs: the nanny's "Restarting worker" and the scheduler's "marked as
            # failed" lines; the dead cell's row says it in one line
            cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None,
                                   silence_logs=logging.CRITICAL)
        client = Client(cluster)
    retries = 0 if scheduler else 1
    futures: dict = {}
    try:
        data = _scatter(client, dataset)
        waiting = deque((group, 0) for group in groups)  # (cells, deaths they have seen)
        finished = as_completed()

        def fill() -> None:
            while waiting and len(futures) < max(1, sum(client.nthreads().values())):
                group, deaths = waiting.popleft()
                first = group[0]
                train, sizes = _training_rows(group, plan, by_name)
                future = client.submit(
                    _run_group_by_position, [by_name[c.learner] for c in group], group, *data,
                    train, plan.splits[first.seed].test_index, plan.classes, sizes,
                    unlabelled_pool(group, dataset, plan, by_name), pure=False,
                    key=f"cells-{first.learner}-{first.n_train}-{first.seed}-{len(group)}-{uuid.uuid4().hex[:8]}",
                )
                futures[future] = (group, deaths)
                finished.add(future)

        fill()
        for future in finished:
            group, deaths = futures.pop(future)
            rows = []
            try:
                rows = future.result()
            except (KilledWorker, CancelledError) as exc:
                # A dead worker took its copy of the table: a new one for every worker there is
                # now (the restarted one too), or a second death would leave no copy at all.
                data = _scatter(client, dataset)
                if isinstance(exc, CancelledError):  # its table was lost, not its worker
                    waiting.appendleft((group, deaths))
                elif len(group) > 1:
                    waiting.extendleft(([cell], 0) for cell in reversed(group))
                elif deaths < retries:
                    waiting.appendleft((group, deaths + 1))
                else:
                    yield died_row(group[0], "its Dask worker was lost", plan)
            fill()
            yield from rows
    finally:
        client.cancel([f for f in futures if not f.done()])  # stopped early: no cell left queued
        client.close()
        if cluster is not None:
            cluster.close()


def _scatter(client, dataset: Dataset) -> tuple:
    """The table and labels on every worker, under new keys (hash=False: a lost copy's key
    would bring back the lost future)."""
    return tuple(client.scatter([dataset.X, dataset.y], broadcast=True, hash=False))


def _run_group_by_position(specs, cells, X, y, train, test, classes, sizes=None, pool=None) -> list[dict]:
    return run_group(specs, cells, X.iloc[train], y.iloc[train], X.iloc[test], y.iloc[test], classes, sizes, pool)


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
