"""`dataeff run` whose worker segfaults in the middle of a real run (churn, two jobs): the run
finishes, says which cell died of what in one line, exits 1 without a traceback or a leaked
semaphore warning, and the same command then completes it. On both engines."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
CRASHER = "tests.experiment.crashers.SegfaultsWhileMarked"


def _run(tmp_path, marker, *extra):
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(ROOT), "DATAEFF_TEST_CRASH_MARKER": str(marker),
           "DATAEFF_CACHE_DIR": str(tmp_path / "cache")}
    command = [sys.executable, "-m", "dataeff", "run", "--data", "churn", "--learners", f"logreg,{CRASHER}",
               "--seeds", "2", "--sizes", "16,64,256", "--jobs", "2", "--out", str(tmp_path / "run"), *extra]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["local", "dask"])
def test_a_segfaulting_worker_fails_one_cell_and_the_rerun_completes_the_run(tmp_path, engine):
    marker = tmp_path / "crash-once"
    marker.touch()
    first = _run(tmp_path, marker, "--engine", engine)
    said = first.stdout + first.stderr
    assert first.returncode == 1, said
    assert "Traceback" not in said and "leaked semaphore" not in said, said
    cause = "SIGSEGV" if engine == "local" else "its Dask worker was lost"
    line = f"1 cell failed: worker died: {cause} while running {CRASHER} n=64 seed 0 "
    assert line in first.stderr, first.stderr
    assert "rerun the same command to retry it." in first.stderr
    results = pd.read_csv(tmp_path / "run" / "results.csv")
    assert len(results) == 12 and (results["status"] == "ok").sum() == 11
    assert (tmp_path / "run" / "report.html").is_file()  # the answers of the cells that finished

    marker.unlink()
    again = _run(tmp_path, marker, "--engine", engine)
    assert again.returncode == 0, again.stderr
    assert "11 resumed from the store, 0 failed" in again.stdout
    assert (pd.read_csv(tmp_path / "run" / "results.csv")["status"] == "ok").all()
