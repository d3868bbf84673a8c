"""Scores of one cell's predictions: the metrics every run reports."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from dataeff.errors import ConfigError, did_you_mean

#: Metric name -> True when higher is better.
METRICS: dict[str, bool] = {
    "accuracy": True,
    "balanced_accuracy": True,
    "roc_auc": True,
    "log_loss": False,
    "f1_macro": True,
}
DEFAULT_METRIC = "roc_auc"


def check_metric(name: str) -> str:
    if name not in METRICS:
        raise ConfigError(f"Unknown metric '{name}'.{did_you_mean(name, METRICS)} Choose one of: {', '.join(METRICS)}.")
    return name


def align_proba(proba: np.ndarray, learner_classes, classes: list[str]) -> np.ndarray:
    """Place a learner's probability columns under the study's class order (absent classes: 0)."""
    out = np.zeros((proba.shape[0], len(classes)))
    position = {c: i for i, c in enumerate(classes)}
    for j, c in enumerate(learner_classes):
        out[:, position[str(c)]] = proba[:, j]
    sums = out.sum(axis=1, keepdims=True)
    # Rows that do not sum to one (numerical slack, or all mass on unknown classes) are renormalized.
    return np.where(sums > 0, out / np.where(sums > 0, sums, 1), 1.0 / len(classes))


def score(y_true: np.ndarray, proba: np.ndarray, classes: list[str]) -> dict[str, float]:
    """All metrics for string labels ``y_true`` and probabilities in ``classes`` order."""
    y_true = np.asarray(y_true, dtype=object)
    codes = np.searchsorted(np.asarray(classes, dtype=object), y_true)
    predicted = proba.argmax(axis=1)
    out = {
        "accuracy": skm.accuracy_score(codes, predicted),
        "balanced_accuracy": skm.balanced_accuracy_score(codes, predicted),
        "f1_macro": skm.f1_score(codes, predicted, average="macro", labels=range(len(classes)), zero_division=0),
        "log_loss": skm.log_loss(codes, np.clip(proba, 1e-15, 1.0), labels=range(len(classes))),
    }
    present = np.unique(codes)
    if len(present) < 2:
        out["roc_auc"] = float("nan")  # undefined with one class in the test rows
    elif len(present) == 2:
        out["roc_auc"] = skm.roc_auc_score(codes == present[1], proba[:, present[1]])
    else:
        # Macro one-vs-rest over the classes present in the test rows.
        cols = proba[:, present] / np.clip(proba[:, present].sum(axis=1, keepdims=True), 1e-15, None)
        out["roc_auc"] = skm.roc_auc_score(codes, cols, multi_class="ovr", average="macro", labels=present)
    return {k: float(v) for k, v in out.items()}
