"""How a run stops on SIGINT or SIGTERM: the signal becomes ``Stopped`` in the main thread, once,
whatever C library happened to be running when it came."""

from __future__ import annotations

import contextlib
import os
import signal
import threading

#: The code of Python functions that a C library calls back (llama.cpp's log sink). An exception
#: raised inside one is printed and dropped by ctypes, so a stop signal is not raised there but
#: delivered again a moment later.
C_CALLBACKS: set = set()


class Stopped(KeyboardInterrupt):
    """SIGINT or SIGTERM during a run, raised in the main thread: the runner kills its workers
    on the way out (experiment/runner.py), the CLI says how to resume (cli.py)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def stop_on_signals():
    """SIGINT and SIGTERM end the run through ``Stopped``; a second signal while it stops is
    ignored, so the workers are surely killed (a third party may still SIGKILL). A signal that
    lands inside a C library's callback (llama.cpp logs ~1,400 lines while loading a model,
    each through Python) is delivered again 10 ms later: raised there, ctypes would print the
    exception and drop it, and the run would go on deaf to the next signal."""
    received: list[int] = []

    def stop(signum, frame):
        if received:
            return
        if frame is not None and frame.f_code in C_CALLBACKS:
            threading.Timer(0.01, os.kill, (os.getpid(), signum)).start()
            return
        received.append(signum)
        raise Stopped(signum)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    except Exception:
        if received:  # an error the stop itself caused (a worker the signal ended first)
            raise Stopped(received[0]) from None
        raise
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
