import numpy as np
import pytest

from dataeff.experiment.metrics import align_proba, score


def test_constant_prediction_has_auc_one_half():
    y = np.array(["no"] * 80 + ["yes"] * 20)
    proba = np.tile([0.8, 0.2], (100, 1))
    result = score(y, proba, ["no", "yes"])
    assert result["roc_auc"] == 0.5
    assert result["accuracy"] == 0.8
    assert result["balanced_accuracy"] == 0.5


def test_perfect_multiclass_scores():
    y = np.array(["a", "b", "c"] * 10)
    proba = np.eye(3)[np.searchsorted(["a", "b", "c"], y)]
    result = score(y, proba, ["a", "b", "c"])
    assert result["roc_auc"] == 1.0 and result["f1_macro"] == 1.0 and result["log_loss"] < 1e-10


def test_align_proba_fills_absent_classes_with_zero():
    out = align_proba(np.array([[0.25, 0.75]]), ["a", "c"], ["a", "b", "c"])
    assert out.tolist() == [[0.25, 0.0, 0.75]]


def test_log_loss_is_finite_for_confident_mistakes():
    result = score(np.array(["a", "b"]), np.array([[0.0, 1.0], [1.0, 0.0]]), ["a", "b"])
    assert np.isfinite(result["log_loss"]) and result["log_loss"] > 10
    assert result["roc_auc"] == pytest.approx(0.0)
