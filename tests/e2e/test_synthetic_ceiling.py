"""On synthetic customers the true ceiling is known: curves stay under it, and the analysis finds it."""

import json
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_curves_stay_under_the_known_ceiling_and_the_estimate_is_close(tmp_path):
    out = tmp_path / "synthetic"
    result = subprocess.run([sys.executable, "-m", "dataeff", "run", "--data", "synthetic-customers",
                             "--learners", "logreg,tree,xgboost,mlp", "--seeds", "3",
                             "--sizes", "64,256,1024,4096,9000", "--out", str(out)],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    truth = summary["facts"]["known_ceiling"]["bayes_roc_auc"]
    for learner, entry in summary["learners"].items():
        for n, point in entry["curve"].items():
            low = point["roc_auc"]["ci_low"]
            assert low is None or low <= truth, (learner, n, point["roc_auc"], truth)
    estimate = summary["ceiling"]["value"]
    assert abs(estimate - truth) <= 0.02, (estimate, truth)
    assert "true (Bayes-optimal) roc_auc" in (out / "summary.md").read_text()
