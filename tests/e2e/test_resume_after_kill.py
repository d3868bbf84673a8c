"""SIGKILL a run at different points; the rerun ends with exactly one ok row per cell and
the same numbers as a run that was never interrupted."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pandas as pd
import pytest

from tests.conftest import make_messy_frame

LEARNERS = "majority,logreg,tree,xgboost,mlp"
SIZES = "8,32,128,512"
SEEDS = 2
N_CELLS = 5 * 4 * SEEDS
METRICS = ["accuracy", "balanced_accuracy", "roc_auc", "log_loss", "f1_macro"]


def _command(data, out):
    return [sys.executable, "-m", "dataeff", "run", "--data", str(data), "--target", "churned",
            "--learners", LEARNERS, "--sizes", SIZES, "--seeds", str(SEEDS), "--jobs", "2", "--out", str(out)]


def _ok_rows(store) -> int:
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("SELECT count(*) FROM cells WHERE status = 'ok'").fetchone()[0]
    except sqlite3.Error:
        return 0


def _kill_when(data, out, ok_rows: int, deadline: float = 300) -> int:
    """Start a run, SIGKILL its whole process group once ``ok_rows`` cells are stored."""
    process = subprocess.Popen(_command(data, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    start = time.monotonic()
    try:
        while time.monotonic() - start < deadline and process.poll() is None:
            if _ok_rows(out / "store.sqlite") >= ok_rows:
                break
            time.sleep(0.05)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return _ok_rows(out / "store.sqlite")


def _results(out) -> pd.DataFrame:
    frame = pd.read_csv(out / "results.csv")
    return frame.sort_values(["learner", "n_train", "seed"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def data_and_reference(tmp_path_factory):
    root = tmp_path_factory.mktemp("kill")
    data = root / "customers.csv"
    make_messy_frame(900).to_csv(data, index=False)
    reference = root / "reference"
    finished = subprocess.run(_command(data, reference), capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr
    return data, _results(reference)


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [0, 1, N_CELLS // 3, N_CELLS - 2])
def test_kill_then_rerun_matches_an_uninterrupted_run(tmp_path, data_and_reference, kill_after):
    data, reference = data_and_reference
    out = tmp_path / "run"
    stored = _kill_when(data, out, kill_after)
    assert stored < N_CELLS or kill_after == N_CELLS - 2  # killed before the end (or just at it)
    rerun = subprocess.run(_command(data, out), capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    results = _results(out)
    assert len(results) == N_CELLS and (results["status"] == "ok").all()
    assert not results.duplicated(["learner", "n_train", "seed"]).any()
    pd.testing.assert_frame_equal(results[["learner", "n_train", "seed", "n_test", *METRICS]],
                                  reference[["learner", "n_train", "seed", "n_test", *METRICS]])
