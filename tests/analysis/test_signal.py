"""The signal test and what the answers do without a signal; the target measured from the
baseline (issue 16), on fake cells with known truth."""

from __future__ import annotations

import numpy as np
import pytest

from dataeff.analysis.signal import holm, paired_p
from dataeff.analysis.summary import summarize
from dataeff.report.answers import sentences
from tests.analysis.test_curves import cells, pow3

SIZES = np.array([16, 32, 64, 128, 256, 512], float)
FAMILIES = {"majority": "baseline", "logreg": "classic", "xgboost": "classic"}


def _null(rng, sigma=0.03, seeds=5):
    """Learners at chance (roc_auc 0.5) at every size, test-row noise sigma per seed."""
    flat = lambda n: 0.5 + 0 * n  # noqa: E731
    results = cells({"majority": flat, "logreg": flat, "xgboost": flat}, rng, seeds=seeds, sigma=sigma, sizes=SIZES)
    results.loc[results["learner"] == "majority", "roc_auc"] = 0.5  # a majority vote ranks nothing
    return results


def test_holm_adjusts_step_down():
    assert holm(np.array([0.01, 0.04, 0.03])) == pytest.approx([0.03, 0.06, 0.06])
    assert paired_p(np.array([0.1, 0.1, 0.1])) == 0.0 and paired_p(np.array([0.0, 0.0])) == 1.0


def test_null_cells_end_in_no_signal_with_no_target_labels_crossover_or_route():
    rng = np.random.default_rng(11)
    for _ in range(5):
        analysis = summarize(_null(rng), "roc_auc", n_boot=50, families=FAMILIES)
        assert analysis.signal.tested and analysis.signal.found is False
        assert analysis.target.value is None and analysis.cheapest is None
        assert all(a.labels_to_target is None and a.cost is None for a in analysis.learners.values())
        assert not any(c.settled for c in analysis.crossovers)
        said = sentences(analysis, {"dataset": "null", "target": "churned"})
        assert said[0].startswith("No signal: no learner scores above the baseline (majority)")
        assert "carry no information about churned" in said[0]
        assert not any("needs" in s or "Cheapest" in s or "overtakes" in s for s in said)
        data = analysis.to_json()
        assert data["signal"]["found"] is False and "cheapest" not in data


def test_a_weak_real_signal_is_found_and_one_only_at_the_largest_sizes_is_said():
    rng = np.random.default_rng(12)
    weak = cells({"majority": lambda n: 0.5 + 0 * n, "logreg": lambda n: 0.5 + 0.06 * (n >= 256)},
                 rng, seeds=5, sigma=0.02, sizes=SIZES)
    weak.loc[weak["learner"] == "majority", "roc_auc"] = 0.5
    analysis = summarize(weak, "roc_auc", n_boot=50, families=FAMILIES)
    signal = analysis.signal
    assert signal.found and signal.best.learner == "logreg" and signal.best.n >= 256
    assert signal.only_at_largest and min(signal.sizes_with_signal) >= 256
    assert "only at the largest sizes" in sentences(analysis, {})[0]


def test_without_a_baseline_learner_roc_auc_is_tested_against_chance():
    rng = np.random.default_rng(13)
    analysis = summarize(cells({"x": pow3}, rng, seeds=3, sizes=SIZES), "roc_auc", n_boot=30)
    assert analysis.signal.found and analysis.signal.baseline == "chance"
    accuracy = cells({"x": pow3}, rng, seeds=3, sizes=SIZES).rename(columns={"roc_auc": "accuracy"})
    untested = summarize(accuracy, "accuracy", n_boot=30).signal
    assert not untested.tested and "add majority" in untested.reason


def test_a_relative_target_is_measured_from_chance_not_from_zero():
    """Ceiling 0.60 roc_auc: '95%' is 0.5 + 0.95 x 0.10 = 0.595, not 0.95 x 0.60 = 0.57."""
    rng = np.random.default_rng(14)
    results = cells({"flat": lambda n: 0.6 + 0 * n}, rng, seeds=5, sigma=0.002, sizes=SIZES)
    analysis = summarize(results, "roc_auc", score_target="95%", n_boot=30)
    ceiling = analysis.ceiling.value
    assert analysis.target.value == pytest.approx(0.5 + 0.95 * (ceiling - 0.5))
    assert analysis.target.baseline == 0.5 and analysis.target.baseline_from == "chance"
    assert analysis.target.value > 0.59


def test_accuracy_target_is_measured_from_the_majority_score():
    rng = np.random.default_rng(15)
    results = cells({"majority": lambda n: 0.7 + 0 * n, "x": lambda n: 0.9 - 0.5 * n ** -0.5}, rng, seeds=5,
                    sigma=0.004, sizes=SIZES).rename(columns={"roc_auc": "accuracy"})
    analysis = summarize(results, "accuracy", score_target="50%", n_boot=30, families={"majority": "baseline"})
    base, top = analysis.target.baseline, analysis.ceiling.value
    assert base == pytest.approx(0.7, abs=0.01) and analysis.target.baseline_from == "majority"
    assert analysis.target.value == pytest.approx(base + 0.5 * (top - base))
