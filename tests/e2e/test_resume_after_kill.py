"""SIGKILL a real `dataeff run` (classic fits, a learner choosing its rows, LLM scoring on
the local Gemma model, and Gemma labelling a pool for a student) at random moments and inside a store write; each rerun ends with exactly
one ok row per cell, an intact store and cache, the numbers of a run that was never
interrupted (the acquiring learner's rows included), and no LLM answer paid for twice."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from tests.conftest import make_messy_frame

LEARNERS = "majority,logreg,xgboost,margin=logreg(acquire=margin),llm-zero,llm-few,labels=llm-labels(pool=24)"
SIZES = "8,64"
SEEDS = 2
# llm-zero, llm-few and llm-labels are also scored at n = 0
N_CELLS = (4 * 2 + 3 * 3) * SEEDS
METRICS = ["accuracy", "balanced_accuracy", "roc_auc", "log_loss", "f1_macro"]
# Each kill costs a whole run (the killed part and the resumed rest): ten took 9 of the suite's
# minutes. Three, one in each third of the run's middle, still land between fits and mid-scoring.
KILLS = 3


def _command(data, out):
    return [sys.executable, "-m", "dataeff", "run", "--data", str(data), "--label", "churned",
            "--learners", LEARNERS, "--sizes", SIZES, "--seeds", str(SEEDS), "--test-rows", "10", "--llm-shots", "4",
            "--jobs", "2",
            "--out", str(out)]


def _env(cache, **extra):
    return {**os.environ, "DATAEFF_CACHE_DIR": str(cache), **extra}


def _query(path, sql):
    if not path.exists():
        return []
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
        return conn.execute(sql).fetchall()


def _ok_rows(out) -> int:
    try:
        return _query(out / "store.sqlite", "SELECT count(*) FROM cells WHERE status = 'ok'")[0][0]
    except (sqlite3.Error, IndexError):
        return 0


def _paid(cache) -> dict[str, float]:
    """Answers in the cache and when each was stored (paid for)."""
    return dict(_query(cache / "llm-cache.sqlite", "SELECT key, stored_at FROM answers"))


def _results(out) -> pd.DataFrame:
    frame = pd.read_csv(out / "results.csv")
    return frame.sort_values(["learner", "n_train", "seed"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    root = tmp_path_factory.mktemp("kill")
    data = root / "customers.csv"
    make_messy_frame(700).to_csv(data, index=False)
    started = time.monotonic()
    finished = subprocess.run(_command(data, root / "reference"), capture_output=True, text=True, timeout=900,
                              env=_env(root / "reference-cache"))
    assert finished.returncode == 0, finished.stderr
    return data, _results(root / "reference"), time.monotonic() - started, len(_paid(root / "reference-cache"))


def _rerun_and_check(data, out, cache, expected, paid_at_kill):
    rerun = subprocess.run(_command(data, out), capture_output=True, text=True, timeout=900, env=_env(cache))
    assert rerun.returncode == 0, rerun.stderr
    assert _query(out / "store.sqlite", "PRAGMA integrity_check") == [("ok",)]
    assert _query(cache / "llm-cache.sqlite", "PRAGMA integrity_check") == [("ok",)]
    results = _results(out)
    assert len(results) == N_CELLS and (results["status"] == "ok").all(), results["error"].dropna().tolist()
    assert not results.duplicated(["learner", "n_train", "seed"]).any()
    pd.testing.assert_frame_equal(results[["learner", "n_train", "seed", "n_test", *METRICS]],
                                  expected[["learner", "n_train", "seed", "n_test", *METRICS]])
    chosen = results["learner"] == "margin"  # the same rows acquired as in the uninterrupted run
    assert results.loc[chosen, "note"].str.extract(r"\(rows (\w+)\)")[0].tolist() == \
        expected.loc[chosen, "note"].str.extract(r"\(rows (\w+)\)")[0].tolist()
    assert results.loc[chosen, "note"].notna().all()
    after = _paid(cache)
    # every answer paid for before the kill came from the cache: none was asked for again
    assert all(after.get(key) == stored for key, stored in paid_at_kill.items())


@pytest.mark.slow
def test_random_kills_each_resume_to_the_uninterrupted_results(tmp_path, reference):
    data, expected, duration, answers_total = reference
    rng = np.random.default_rng(2026)
    # Stratified random moments over 30-85% of the reference run's duration (before that the
    # run is still starting: imports, the model; after it, done): one in each part of that span.
    moments = [(0.30 + 0.55 * (i + rng.uniform(0.1, 0.9)) / KILLS) * duration for i in range(KILLS)]
    states = []
    for i, moment in enumerate(moments):
        out, cache = tmp_path / f"run{i}", tmp_path / f"cache{i}"
        process = subprocess.Popen(_command(data, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True, env=_env(cache))
        time.sleep(moment)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        paid = _paid(cache)
        states.append((round(moment, 1), _ok_rows(out), len(paid)))
        _rerun_and_check(data, out, cache, expected, paid)
    print("kills (seconds in, ok cells stored, LLM answers cached):", states,
          f"of {N_CELLS} cells and {answers_total} answers")
    assert sum(0 < cells < N_CELLS for _, cells, _ in states) >= 2  # some kills landed between fits
    assert sum(0 < answers < answers_total for _, _, answers in states) >= 2  # some during LLM scoring


@pytest.mark.slow
def test_a_kill_inside_a_store_write_loses_nothing(tmp_path, reference):
    data, expected, _, _ = reference
    out, cache = tmp_path / "run", tmp_path / "cache"
    # The CLI in a process whose store kills it inside its fifth cell write.
    faulty = [sys.executable, "-c", "import sys; from dataeff.experiment.store import Store; "
              "Store.kill_in_write = 5; from dataeff.cli import main; sys.argv[0] = 'dataeff'; main()",
              *_command(data, out)[3:]]
    process = subprocess.Popen(faulty, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True, env=_env(cache))
    assert process.wait(timeout=600) == -signal.SIGKILL
    assert _ok_rows(out) == 4  # the fifth write died before its commit: rolled back, not half-written
    _rerun_and_check(data, out, cache, expected, _paid(cache))
