"""The Python API: dataeff.run with a DataFrame, Study, load_run, analyze."""

import pandas as pd
import pytest
from sklearn.ensemble import ExtraTreesClassifier

import dataeff
from dataeff.errors import DataEffError
from tests.conftest import make_messy_frame


def test_run_on_a_dataframe_returns_results_and_the_run_folder(tmp_path):
    frame = make_messy_frame(300)
    result = dataeff.run(data=frame, label="churned", learners=["majority", "logreg",
                         ExtraTreesClassifier(n_estimators=20)], seeds=2, sizes=[8, 64], out=tmp_path / "x",
                         progress=False)
    assert isinstance(result.results, pd.DataFrame)
    assert len(result.results) == 3 * 2 * 2 and (result.results["status"] == "ok").all()
    assert result.out == tmp_path / "x" and (result.out / "results.csv").exists()
    curves = result.curves()
    assert set(curves["learner"]) == {"majority", "logreg", "extratreesclassifier"}
    assert (curves.query("learner == 'majority'")["mean"] == 0.5).all()
    loaded = dataeff.load_run(tmp_path / "x")
    pd.testing.assert_frame_equal(loaded.results, result.results)
    assert loaded.facts.dataset == "dataframe" and loaded.metric == "roc_auc"
    _analyze_the_folder_again(tmp_path / "x", result)


def _analyze_the_folder_again(out, result):
    """dataeff.analyze on a run folder: new answers from the stored cells, no refit; written
    to summary.json unless write=False."""
    import json

    from dataeff.analysis.efficiency import Prices

    summary_before = json.loads((out / "summary.json").read_text())
    assert summary_before["target"]["value"] != 0.6 and summary_before["prices"]["label_cost"] == 0.5
    again = dataeff.analyze(out, score_target=0.6, prices=Prices(label_cost=2.0))
    assert isinstance(again, dataeff.RunResult) and again.metric == "roc_auc"
    pd.testing.assert_frame_equal(again.results, result.results)  # the stored cells, not refitted
    assert again.analysis.to_json()["signal"]["found"]
    assert again.analysis.to_json()["target"]["value"] == 0.6
    summary = json.loads((out / "summary.json").read_text())
    assert summary["target"]["value"] == 0.6 and summary["prices"]["label_cost"] == 2.0
    assert "## Answers" in (out / "summary.md").read_text()
    unwritten = dataeff.analyze(out, score_target=0.55, metric="accuracy", write=False)
    assert unwritten.metric == "accuracy" and unwritten.analysis.to_json()["target"]["spec"] == "0.55"
    assert json.loads((out / "summary.json").read_text()) == summary  # write=False leaves the files


def test_study_object_and_headline_metric(tmp_path):
    study = dataeff.Study(make_messy_frame(200), label="churned", learners="majority,tree", seeds=1,
                          sizes=[16], metric="accuracy")
    result = study.run(tmp_path / "s", progress=False)
    assert result.metric == "accuracy"
    assert "accuracy" in (tmp_path / "s" / "summary.md").read_text()


def test_api_errors_are_dataeff_errors(tmp_path):
    with pytest.raises(DataEffError, match="positive integer"):
        dataeff.Study("churn", seeds=0)
    with pytest.raises(DataEffError, match="Unknown setting 'seed'"):
        dataeff.Study("churn", seed=3)
    with pytest.raises(DataEffError, match="not a dataeff run folder"):
        dataeff.load_run(tmp_path)
