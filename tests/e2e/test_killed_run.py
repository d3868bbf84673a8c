"""A run killed outright (SIGKILL to its own process only, as the OOM killer does) leaves no
process behind: the fork server and the resource tracker end with the run, each pool worker
with the fork server it was forked from."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest


@pytest.mark.slow
def test_workers_of_a_run_killed_outright_end_within_seconds(tmp_path):
    command = [sys.executable, "-m", "dataeff", "run", "--data", "churn", "--learners", "logreg,xgboost,mlp",
               "--seeds", "5", "--sizes", "64,256,1024", "--jobs", "2", "--out", str(tmp_path / "run")]
    run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                           env={**os.environ, "DATAEFF_CACHE_DIR": str(tmp_path / "cache")})
    deadline = time.monotonic() + 120
    workers: list[psutil.Process] = []
    while time.monotonic() < deadline and len(workers) < 2:
        time.sleep(0.5)
        workers = _pool_workers(run.pid)
    assert len(workers) == 2, "the run's pool never started"
    workers = psutil.Process(run.pid).children(recursive=True)  # the fork server and resource tracker too
    run.send_signal(signal.SIGKILL)  # the run's process alone: it cannot stop its pool
    run.wait(timeout=10)
    alive = workers
    for _ in range(50):  # 5 s
        alive = [p for p in alive if _running(p)]
        if not alive:
            break
        time.sleep(0.1)
    for process in alive:
        process.kill()
    assert alive == [], f"{len(alive)} workers outlived the killed run"


def _pool_workers(run: int) -> list[psutil.Process]:
    """The run's pool workers: forked by its fork server (a child of the run), or spawned."""
    processes = psutil.Process(run).children(recursive=True)
    try:
        servers = {p.pid for p in processes
                   if p.ppid() == run and "multiprocessing.forkserver" in " ".join(p.cmdline())}
        return [p for p in processes if p.ppid() in servers or "spawn_main" in " ".join(p.cmdline())]
    except psutil.NoSuchProcess:
        return []


def _running(process: psutil.Process) -> bool:
    """Alive and not a zombie (a dead worker waits for this sandbox's init to reap it)."""
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
