"""The run's own process pool: workers that end with the run, and a worker that dies in the
middle of a cell (a segfault in native code, the out-of-memory killer, ``kill -9``) turned into
that cell's failure while the other cells go on.

pebble's pool is used rather than loky's (joblib) because it tells which task a dead worker was
running and replaces that worker alone; loky marks the whole pool broken and fails every task
in flight with one message for all. Tasks travel cloudpickled, as loky sent them, so a
classifier class defined in a notebook or script still reaches the workers.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable, Iterator

from dataeff.errors import DataEffError

# A pool that breaks this many times in a row without a cell finishing is given up on.
MAX_RESTARTS = 3


def death_cause(exitcode: int | None) -> str:
    """A dead worker's exit in words: the signal that killed it, or its exit status."""
    if exitcode is not None and exitcode < 0:
        try:
            return signal.Signals(-exitcode).name
        except ValueError:
            return f"signal {-exitcode}"
    return f"exit status {exitcode}"


def run_pooled(groups: list[list], task: Callable[[list], tuple[Callable, tuple]], workers: int,
               died: Callable[[object, str], dict]) -> Iterator[dict]:
    """Rows of every group of cells, run in ``workers`` processes, as they finish.

    ``task(group)`` gives the (function, arguments) that run a group and return its rows;
    ``died(cell, cause)`` the failed row of a cell whose worker died. A group whose worker dies
    is retried one cell per task, so the death is pinned on the one cell that caused it; the
    pool replaces the dead worker and the cells in other workers go on. A few groups are in
    flight per worker, so only those hold a copy of their rows. When the caller stops early
    (an error, KeyboardInterrupt, the generator closed) every worker is killed at once.
    """
    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool  # pebble's, when every worker died idle

    from pebble import ProcessExpired

    waiting = deque(groups)
    pool, restarts = _start(workers), 0
    running: dict = {}
    try:
        while waiting or running:
            if not pool.active:  # broken: a worker died while none held a task
                restarts += 1
                if restarts > MAX_RESTARTS:
                    raise DataEffError(f"The run's worker processes died {restarts} times in a row without "
                                       "finishing a cell; check the machine's memory (dmesg) and rerun.")
                waiting.extendleft(reversed(list(running.values())))
                running.clear()
                _stop(pool)
                pool = _start(workers)
            while waiting and len(running) < 2 * workers:
                group = waiting.popleft()
                running[_submit(pool, *task(group))] = group
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                group = running.pop(future)
                try:
                    rows = future.result()
                except ProcessExpired as exc:
                    if len(group) > 1:  # retried a cell a task, to find the one that kills
                        waiting.extendleft([cell] for cell in reversed(group))
                    else:
                        yield died(group[0], death_cause(exc.exitcode))
                    continue
                except BrokenProcessPool:
                    waiting.appendleft(group)
                    continue
                restarts = 0
                yield from rows
    finally:
        _stop(pool)


def _start(workers: int):
    from pebble import ProcessPool

    # spawn, as loky starts its workers: a fresh interpreter, not a fork of a run with threads.
    return ProcessPool(max_workers=workers, initializer=_worker_started, initargs=(os.getpid(),),
                       context=multiprocessing.get_context("spawn"))


def _stop(pool) -> None:
    """Workers are killed, not asked: one inside llama.cpp would not look at a request for
    minutes (SIGTERM kills them outright, see _worker_started). A finished pool is idle."""
    pool.stop()
    pool.join()


def _submit(pool, function: Callable, args: tuple):
    import cloudpickle

    return pool.schedule(_run_cloudpickled, args=(cloudpickle.dumps((function, args)),))


def _run_cloudpickled(payload: bytes):
    import cloudpickle

    function, args = cloudpickle.loads(payload)
    return function(*args)


def _worker_started(run_pid: int) -> None:
    """A pool worker's setup. Ctrl-C reaches every process of the terminal's group: the run's
    own process handles it by killing its workers, so they ignore it (pebble's default, no
    half-finished cell reported as a KeyboardInterrupt). SIGTERM ends the worker at once,
    inside C code too (pebble's handler would wait for the interpreter)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _exit_with_parent(run_pid)


def _exit_with_parent(parent: int, every: float = 1.0) -> None:
    """End this worker when the run's process is gone. A run killed outright (SIGKILL, the OOM
    killer) cannot stop its pool, and idle workers then lived on, reparented (seen with loky:
    two workers and their resource trackers 22 minutes after the kill). On Linux the kernel
    kills the worker with the thread that started it (PR_SET_PDEATHSIG: the run's main thread,
    or pebble's manager thread for a replaced worker, which lives as long as the pool);
    elsewhere, or should that fail, a thread watches the parent (it needs the GIL, so a cell
    busy in C code may delay it). ``parent`` is the run's pid, passed in: the run may have
    died while this worker was still starting."""
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
