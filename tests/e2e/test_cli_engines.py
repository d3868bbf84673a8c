"""Command-line flags that change where cells run or what the answers cost, checked by their
effect: --engine dask without --scheduler (a local cluster), --cache-dir, and the token and
compute prices of 'dataeff analyze'."""

from __future__ import annotations

import json
import sqlite3

import pandas as pd
import pytest
from typer.testing import CliRunner

from dataeff.cli import app
from dataeff.errors import ConfigError
from tests.conftest import make_messy_frame

METRICS = ["accuracy", "balanced_accuracy", "roc_auc", "log_loss", "f1_macro"]
KEY = ["learner", "n_train", "seed"]


def _invoke(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result


def test_engine_dask_without_a_scheduler_starts_a_local_cluster_of_jobs_workers(tmp_path, monkeypatch):
    """Same numbers as the local engine, from a Dask LocalCluster of --jobs single-thread workers."""
    import distributed

    started = []

    class Recorded(distributed.LocalCluster):
        def __init__(self, *args, **kwargs):
            started.append(kwargs)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(distributed, "LocalCluster", Recorded)
    data = tmp_path / "c.csv"
    make_messy_frame(300).to_csv(data, index=False)
    common = ["run", "--data", data, "--label", "churned", "--learners", "majority,logreg,tree", "--seeds", 2,
              "--sizes", "16,64", "--jobs", 2, "--quiet"]
    on_dask = _invoke(*common, "--engine", "dask", "--out", tmp_path / "dask")
    assert on_dask.exit_code == 0, on_dask.stderr
    assert len(started) == 1 and started[0]["n_workers"] == 2 and started[0]["threads_per_worker"] == 1
    local = _invoke(*common, "--out", tmp_path / "local")
    assert local.exit_code == 0, local.stderr
    assert len(started) == 1  # the local engine starts no cluster
    dask_cells, local_cells = (pd.read_csv(tmp_path / name / "results.csv").sort_values(KEY)[KEY + METRICS]
                               .reset_index(drop=True) for name in ("dask", "local"))
    assert len(dask_cells) == 3 * 2 * 2
    pd.testing.assert_frame_equal(dask_cells, local_cells)


def test_cache_dir_reaches_every_llm_learner_over_the_environment(tmp_path, monkeypatch, private_llm_cache):
    """LLM-free: the wired learners are caught at the preflight, before any model is loaded."""
    seen = {}

    def stop(specs, dataset, engine):
        seen["specs"] = specs
        raise ConfigError("stopped at the preflight")

    monkeypatch.setattr("dataeff.study.preflight_llms", stop)
    data = tmp_path / "c.csv"
    make_messy_frame(60).to_csv(data, index=False)
    answers = tmp_path / "answers"
    args = ["run", "--data", data, "--label", "churned", "--learners", "logreg,llm-zero,llm-few",
            "--out", tmp_path / "run"]
    result = _invoke(*args, "--cache-dir", answers)
    assert result.exit_code == 2 and "stopped at the preflight" in result.stderr
    caches = {spec.name: spec.params.get("cache") for spec in seen["specs"]}
    assert caches["logreg"] is None
    for name in ("llm-zero", "llm-few"):
        assert caches[name].folder == answers and caches[name].enabled, caches[name]
    assert str(answers) != private_llm_cache  # the flag wins over DATAEFF_CACHE_DIR
    _invoke(*args, "--cache-dir", answers, "--no-cache")
    assert not seen["specs"][1].params["cache"].enabled
    _invoke(*args)  # no flag: the environment's folder
    assert str(seen["specs"][1].params["cache"].folder) == private_llm_cache
    assert not (tmp_path / "run").exists() and not answers.exists()


@pytest.fixture(scope="module")
def priced_run(tmp_path_factory):
    """A run whose logreg cells are given 5,000 predict tokens each, as if an LLM had served them."""
    folder = tmp_path_factory.mktemp("priced")
    data = folder / "c.csv"
    make_messy_frame(500).to_csv(data, index=False)
    out = folder / "run"
    result = _invoke("run", "--data", data, "--label", "churned", "--learners", "majority,logreg,xgboost",
                     "--seeds", 3, "--sizes", "8,32,128,400", "--quiet", "--out", out)
    assert result.exit_code == 0, result.stderr
    with sqlite3.connect(out / "store.sqlite") as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(cells)")]
        tokens = ", predict_tokens = 5000" if "predict_tokens" in columns else ""
        conn.execute(f"UPDATE cells SET tokens = 5000{tokens} WHERE learner = 'logreg'")
    return out


def _costs(out, *prices) -> tuple[dict, dict]:
    result = _invoke("analyze", out, "--score-target", "0.7", *prices)
    assert result.exit_code == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    return {name: entry["cost"] for name, entry in summary["learners"].items()}, summary["prices"]


def test_token_and_compute_prices_change_the_costs_as_documented(priced_run):
    """Serving a month = predictions × (CPU hours per row × compute price + tokens per row /
    1e6 × token price); training = fit hours × compute price; labels do not depend on either."""
    base, prices = _costs(priced_run, "--compute-price", "0.1", "--token-price", "0")
    assert prices["compute_price"] == 0.1 and prices["token_price"] == 0.0
    dearer, prices = _costs(priced_run, "--compute-price", "1.0", "--token-price", "0")
    assert prices["compute_price"] == 1.0
    tokens, prices = _costs(priced_run, "--compute-price", "0.1", "--token-price", "2.0")
    assert prices["token_price"] == 2.0
    for name in ("logreg", "xgboost"):
        assert base[name] is not None, f"{name} has no route to the target"
        assert dearer[name]["labels"] == base[name]["labels"] > 0
        assert dearer[name]["training"] == pytest.approx(10 * base[name]["training"], rel=1e-9)
        assert dearer[name]["serving_per_month"] == pytest.approx(10 * base[name]["serving_per_month"], rel=1e-9)
        assert base[name]["serving_per_month"] > 0
    n_test = 100  # 20% of 500 rows
    # 1e6 predictions × 5,000 / 100 tokens per row / 1e6 × 2.0 per million tokens = 100 a month
    assert tokens["logreg"]["serving_per_month"] == pytest.approx(
        base["logreg"]["serving_per_month"] + 1e6 * 5000 / n_test / 1e6 * 2.0, rel=1e-9)
    assert tokens["logreg"]["training"] == pytest.approx(base["logreg"]["training"], rel=1e-9)
    assert tokens["xgboost"] == base["xgboost"]  # no tokens: the token price changes nothing
    assert tokens["logreg"]["total_first_month"] == pytest.approx(
        tokens["logreg"]["labels"] + tokens["logreg"]["training"] + tokens["logreg"]["serving_per_month"], rel=1e-9)
