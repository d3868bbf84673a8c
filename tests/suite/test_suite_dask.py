"""--engine dask: one local cluster for the whole suite, every dataset's cells sent to it; the
numbers are the local engine's."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.suite.conftest import write_suite

KEY = ["learner", "n_train", "seed"]
METRICS = ["accuracy", "roc_auc", "log_loss"]


def test_one_dask_cluster_for_every_dataset_gives_the_local_numbers(small_suite, tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    import distributed

    from dataeff.suite import load_suite, run_suite

    started = []
    original = distributed.LocalCluster

    def counting(*args, **kwargs):
        started.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(distributed, "LocalCluster", counting)
    _, reference, _ = small_suite
    config = write_suite(tmp_path / "data", datasets=["linear", "weak"], broken=False)
    lines = []
    result = run_suite(load_suite(config), tmp_path / "out", jobs=2, engine="dask", log=lines.append)
    assert len(started) == 1 and started[0]["n_workers"] == 2 and started[0]["threads_per_worker"] == 1
    assert [d.status for d in result.datasets] == ["ok", "ok"] and len(lines) == 2
    for name in ["linear", "weak"]:
        a = pd.read_csv(reference / name / "results.csv").sort_values(KEY)[KEY + METRICS].reset_index(drop=True)
        b = pd.read_csv(tmp_path / "out" / name / "results.csv").sort_values(KEY)[KEY + METRICS]
        pd.testing.assert_frame_equal(a, b.reset_index(drop=True))
