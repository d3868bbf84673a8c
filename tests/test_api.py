"""The Python API: dataeff.run with a DataFrame, Study, load_run."""

import pandas as pd
import pytest
from sklearn.ensemble import ExtraTreesClassifier

import dataeff
from dataeff.errors import DataEffError
from tests.conftest import make_messy_frame


def test_run_on_a_dataframe_returns_results_and_the_run_folder(tmp_path):
    frame = make_messy_frame(300)
    result = dataeff.run(data=frame, target="churned", learners=["majority", "logreg",
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
    assert loaded.facts["dataset"] == "dataframe" and loaded.metric == "roc_auc"


def test_study_object_and_headline_metric(tmp_path):
    study = dataeff.Study(make_messy_frame(200), target="churned", learners="majority,tree", seeds=1,
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
