"""The run's own process pool: workers that end with the run, and a worker that dies in the
middle of a cell (a segfault in native code, the out-of-memory killer, ``kill -9``) turned into
that cell's failure while the other cells go on.

pebble's pool is used rather than loky's (joblib) because it tells which task a dead worker was
running and replaces that worker alone; loky marks the whole pool broken and fails every task
in flight with one message for all. Tasks travel cloudpickled, as loky sent them, so a
classifier class defined in a notebook or script still reaches the workers.

Workers fork from a fork server (``start_fork_server``: a fresh interpreter, started once per
process, that imports the runner, scikit-learn, pandas and skrub once), not a fork of the run
itself, which may hold threads (llama.cpp, OpenMP) that a fork would copy half-way. Each spawned
worker paid those imports before its first cell (1.75 s, measured; with two workers on two
cores, that much wall time); a forked one has them already. Off Linux, workers are spawned.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import signal
import sys
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


# What a worker needs before its first cell, imported once in the fork server (the module says
# what and why).
PRELOAD = ["dataeff.experiment.preload"]
# Linux only: macOS offers a fork server too but, like Python itself, keeps to spawn there
# (a fork after Apple's system libraries have started threads is unsafe).
FORK_SERVER = sys.platform.startswith("linux")


def start_fork_server() -> None:
    """Start this process's fork server now, if it is not running: it imports ``PRELOAD`` while
    the run loads its data and checks its LLMs, and later pools (the next run in a notebook)
    fork from it too. It ends with this process."""
    if FORK_SERVER:
        _forkserver.set_forkserver_preload(PRELOAD)
        _forkserver.ensure_running()


def _start(workers: int):
    from pebble import ProcessPool

    start_fork_server()
    context = _WorkerContext() if FORK_SERVER else multiprocessing.get_context("spawn")
    # The environment as it is now: a forked worker would otherwise have the fork server's,
    # copied when it started (a DATAEFF_CACHE_DIR set since then would not reach the cells).
    return ProcessPool(max_workers=workers, initializer=_worker_started, initargs=(dict(os.environ),),
                       context=context)


if FORK_SERVER:
    from multiprocessing import context as _contexts
    from multiprocessing import forkserver as _forkserver
    from multiprocessing import popen_forkserver, reduction, spawn, util

    class _Popen(popen_forkserver.Popen):
        """The fork server's Popen, less the main module: a worker does not run the user's
        script or ``python -m`` module again, as joblib's workers do not (loky's
        ``init_main_module=False``). Nothing a task names lives there (tasks travel
        cloudpickled, a class of the script by value), and a script that calls
        ``dataeff.run()`` at its top level, with no ``if __name__ == "__main__":``, would
        start the whole run again in every worker and kill it (measured: every worker died
        before its first cell, the run gave up). ``_launch`` is CPython's, but for the two
        keys it leaves out of the data the child prepares itself from."""

        def _launch(self, process_obj):
            prep_data = spawn.get_preparation_data(process_obj._name)
            prep_data.pop("init_main_from_path", None)
            prep_data.pop("init_main_from_name", None)
            buf = io.BytesIO()
            _contexts.set_spawning_popen(self)
            try:
                reduction.dump(prep_data, buf)
                reduction.dump(process_obj, buf)
            finally:
                _contexts.set_spawning_popen(None)
            self.sentinel, w = _forkserver.connect_to_new_process(self._fds)
            _parent_w = os.dup(w)  # the data pipe's write end, the child's sentinel of its parent
            self.finalizer = util.Finalize(self, util.close_fds, (_parent_w, self.sentinel))
            with open(w, "wb", closefd=True) as f:
                f.write(buf.getbuffer())
            self.pid = _forkserver.read_signed(self.sentinel)

    class _WorkerProcess(_contexts.ForkServerProcess):
        @staticmethod
        def _Popen(process_obj):
            return _Popen(process_obj)

    class _WorkerContext(_contexts.ForkServerContext):
        Process = _WorkerProcess


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


def _worker_started(environ: dict[str, str]) -> None:
    """A pool worker's setup. Ctrl-C reaches every process of the terminal's group: the run's
    own process handles it by killing its workers, so they ignore it (pebble's default, no
    half-finished cell reported as a KeyboardInterrupt). SIGTERM ends the worker at once,
    inside C code too (pebble's handler would wait for the interpreter). The run's environment
    replaces the one the worker was forked with."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.environ.clear()
    os.environ.update(environ)
    _let_the_fork_server_end_with_the_run()
    _exit_with_parent()


def _let_the_fork_server_end_with_the_run() -> None:
    """Close this worker's copy of the pipe whose end tells the fork server its process is gone.
    CPython hands each forked child one (so that a child could fork through the same server),
    and the server lives until every copy is closed: with the workers holding theirs, a run
    killed outright left the server, and so the workers' parent, alive. Private state of
    multiprocessing.forkserver, the same from 3.11 to 3.14."""
    if not FORK_SERVER:
        return
    server = _forkserver._forkserver
    if getattr(server, "_forkserver_alive_fd", None) is not None:
        os.close(server._forkserver_alive_fd)
        server._forkserver_alive_fd = None


def _exit_with_parent() -> None:
    """End this worker when the run's process is gone. A run killed outright (SIGKILL, the OOM
    killer) cannot stop its pool, and idle workers then lived on, reparented (seen with loky:
    two workers and their resource trackers 22 minutes after the kill). On Linux the kernel
    kills the worker when its parent exits (PR_SET_PDEATHSIG): the fork server, which ends with
    the run's process (see above), or for spawned workers the run's process itself. A thread
    also waits on the run's sentinel, a pipe the run holds open while it lives, in case the
    parent died before the setting took or there is no such setting (not Linux); it needs the
    GIL, so a cell busy in C code may delay it. A run that died while this worker was still
    starting ends it here."""
    import threading
    from multiprocessing.connection import wait

    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # 1: PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    run = multiprocessing.parent_process()
    if run is None:
        return
    if wait([run.sentinel], timeout=0):
        os._exit(1)

    def watch() -> None:
        wait([run.sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="dataeff-exit-with-parent", daemon=True).start()
