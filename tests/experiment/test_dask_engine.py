"""The Dask engine: the same cells on a real distributed cluster (a LocalCluster of two worker
processes, reached by its scheduler address as a remote cluster would be) give the local
engine's numbers exactly."""

from __future__ import annotations

import pandas as pd
import pytest

import dataeff
from dataeff.errors import ConfigError
from tests.conftest import make_messy_frame

METRICS = ["accuracy", "balanced_accuracy", "roc_auc", "log_loss", "f1_macro"]
KEY = ["learner", "n_train", "seed"]


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield cluster


def test_dask_cluster_gives_the_local_engines_results(cluster, tmp_path):
    frame = make_messy_frame(400)
    common = dict(label="churned", learners=["majority", "logreg", "tree", "xgboost"], seeds=2,
                  sizes=[8, 32, 128], jobs=2)
    local = dataeff.run(frame, out=tmp_path / "local", progress=False, **common).results
    remote = dataeff.run(frame, out=tmp_path / "dask", progress=False, engine="dask",
                         scheduler=cluster.scheduler_address, **common).results
    assert len(remote) == 4 * 3 * 2 and (remote["status"] == "ok").all(), remote["error"].tolist()
    pd.testing.assert_frame_equal(local.sort_values(KEY)[KEY + METRICS].reset_index(drop=True),
                                  remote.sort_values(KEY)[KEY + METRICS].reset_index(drop=True))
    rerun = dataeff.run(frame, out=tmp_path / "dask", progress=False, engine="dask",
                        scheduler=cluster.scheduler_address, **common)
    assert rerun.facts.cells == {"ok": 0, "failed": 0, "skipped": 24}  # resume works there too


def test_unreachable_scheduler_and_local_llm_on_a_cluster_are_refused_before_any_folder(tmp_path):
    with pytest.raises(ConfigError, match="Cannot reach the Dask scheduler"):
        dataeff.run("churn", out=tmp_path / "a", engine="dask", scheduler="tcp://127.0.0.1:9", seeds=1)
    with pytest.raises(ConfigError, match="talk to an LLM endpoint"):
        dataeff.run("fine-foods", out=tmp_path / "b", engine="dask", learners=["llm-zero"], seeds=1)
    with pytest.raises(ConfigError, match="engine must be local or dask. Got 'spark'"):
        dataeff.run("churn", out=tmp_path / "c", engine="spark")
    assert not any(tmp_path.iterdir())


def test_a_cluster_of_multi_threaded_workers_is_refused_before_any_folder(tmp_path):
    """Per-process state (featurization memo, LLM backends, the answer cache's connection,
    PyTorch's threads) is made for one cell at a time: workers of two threads are refused."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None) as threaded:
        with pytest.raises(ConfigError, match=r"runs 2 threads.*dask worker tcp://\S+ --nthreads 1"):
            dataeff.run("churn", out=tmp_path / "run", engine="dask", scheduler=threaded.scheduler_address, seeds=1)
    assert not any(tmp_path.iterdir())
