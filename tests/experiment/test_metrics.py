import numpy as np
import pytest

from dataeff.experiment.metrics import score
from dataeff.learners.base import align_proba


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


def _assert_sklearn_defaults(got: dict, y: np.ndarray, proba: np.ndarray, classes: list[str]) -> None:
    """balanced_accuracy and f1_macro equal scikit-learn's default calls on the same predictions."""
    import warnings

    from sklearn import metrics as skm

    predicted = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 'y_pred contains classes not in y_true', ill-defined F1
        balanced = skm.balanced_accuracy_score(y, predicted)
        f1 = skm.f1_score(y, predicted, average="macro")
    assert got["balanced_accuracy"] == pytest.approx(balanced, abs=1e-12)
    assert got["f1_macro"] == pytest.approx(f1, abs=1e-12)


def _one_hot(labels: str, classes: list[str]) -> np.ndarray:
    """Confident predictions, one letter per row: 'aab' predicts a, a, b."""
    return np.eye(len(classes))[[classes.index(c) for c in labels]] * 0.9 + 0.1 / len(classes)


@pytest.mark.parametrize("truth, predicted, why", [
    ("abcabcab", "abbcacab", "every class present and predicted"),
    ("aabbaabb", "aaaaaaaa", "a class never predicted"),
    ("aaaabbbb", "aaacbbcb", "a class predicted but missing from the test rows"),
    ("aaaabbbb", "aaabbbbb", "a class neither in the test rows nor predicted"),
    ("aaaaaaaa", "aaaaaaaa", "one class only, all right"),
    ("aaaaaaaa", "aabaacaa", "one class only in the test rows, others predicted"),
    ("abcabcab", "cccccccc", "one class predicted for every row"),
])
def test_balanced_accuracy_and_macro_f1_equal_scikit_learns_defaults_on_degenerate_cases(truth, predicted, why):
    classes = ["a", "b", "c"]
    proba = _one_hot(predicted, classes)
    got = score(np.array(list(truth), dtype=object), proba, classes)
    _assert_sklearn_defaults(got, np.array(list(truth), dtype=object), proba, classes)


@pytest.mark.parametrize("k", [2, 3, 5])
def test_numpy_metrics_equal_scikit_learns(k):
    """The runner's own metrics against scikit-learn's on random, tied and degenerate scores."""
    from sklearn import metrics as skm

    rng = np.random.default_rng(k)
    classes = [f"c{i}" for i in range(k)]
    for trial in range(40):
        n = int(rng.integers(k, 200))
        codes = rng.integers(0, k, n)
        codes[:2] = [0, 1]  # at least two classes present
        raw = rng.random((n, k))
        if trial % 4 == 1:
            raw = np.round(raw, 1)  # ties
        if trial % 4 == 2:
            raw[rng.random((n, k)) < 0.3] = 0.0  # zeros: clipped in the log loss
        proba = raw / np.where(raw.sum(axis=1, keepdims=True) > 0, raw.sum(axis=1, keepdims=True), 1)
        proba[proba.sum(axis=1) == 0] = 1.0 / k
        got = score(np.array(classes, dtype=object)[codes], proba, classes)
        predicted = proba.argmax(axis=1)
        present = np.unique(codes)
        assert got["accuracy"] == pytest.approx(skm.accuracy_score(codes, predicted), abs=1e-12)
        _assert_sklearn_defaults(got, np.array(classes, dtype=object)[codes], proba, classes)
        assert got["log_loss"] == pytest.approx(skm.log_loss(codes, np.clip(proba, 1e-15, 1), labels=range(k)),
                                                rel=1e-9)
        if len(present) == 2:
            expected = skm.roc_auc_score(codes == present[1], proba[:, present[1]])
        else:
            cols = proba[:, present] / np.clip(proba[:, present].sum(axis=1, keepdims=True), 1e-15, None)
            expected = skm.roc_auc_score(codes, cols, multi_class="ovr", average="macro", labels=present)
        assert got["roc_auc"] == pytest.approx(expected, abs=1e-12)
