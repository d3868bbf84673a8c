"""The Learner contract: fit on a raw table, class probabilities in a known order, and its cost."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod

import numpy as np
import pandas as pd


class Learner(ABC):
    """A classifier that featurizes the raw table itself.

    Subclasses implement ``_fit(X, y)`` and ``_predict_proba(X)``; this base class keeps the
    class order, times both calls and handles a training set with a single class (tiny
    subsets), so every learner answers for every cell.
    """

    #: False for learners that can answer with no labelled example (zero-shot LLMs).
    needs_examples: bool = True
    #: What a fit has to say for the record (a tuning search and its outcome); learners that
    #: have something to say assign a new list per fit.
    notes: tuple[str, ...] | list[str] = ()
    #: baseline, classic or llm: which answers it takes part in (the reference is the best classic).
    family: str = "classic"
    #: True for learners that must be told the task (the question and the answer words) by the study.
    needs_task: bool = False

    def fit(self, X: pd.DataFrame, y: pd.Series, sample_weight: np.ndarray | None = None) -> Learner:
        """Fit on the raw rows; ``sample_weight`` (a weight per row) reaches learners that take
        one (the scikit-learn and XGBoost kinds; llm-labels weighs its human rows by it)."""
        start = time.perf_counter()
        self._sample_weight = None if sample_weight is None else np.asarray(sample_weight, float)
        labels = pd.Series(y).astype(str)
        self.classes_ = np.array(sorted(labels.unique()))
        self._constant = len(self.classes_) == 1
        if not self._constant:
            self._fit(X, labels.reset_index(drop=True))
        self._fit_seconds = time.perf_counter() - start
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Class probabilities, columns in the order of ``self.classes_``."""
        start = time.perf_counter()
        tokens_before = getattr(self, "_tokens", 0)
        if self._constant:
            proba = np.ones((len(X), 1))
        else:
            proba = np.asarray(self._predict_proba(X), dtype=float)
        self._predict_seconds = time.perf_counter() - start
        # Serving pays for these alone: a learner that reads its training rows through the LLM
        # during fit (llm-prior, llm-embed) spent the rest of its tokens there.
        self._predict_tokens = getattr(self, "_tokens", 0) - tokens_before
        return proba

    def cost(self) -> dict[str, float]:
        """What the last fit and predict cost: seconds and LLM tokens."""
        return {
            "fit_seconds": getattr(self, "_fit_seconds", float("nan")),
            "predict_seconds": getattr(self, "_predict_seconds", float("nan")),
            "tokens": float(getattr(self, "_tokens", 0)),
            "predict_tokens": float(getattr(self, "_predict_tokens", 0)),
        }

    @abstractmethod
    def _fit(self, X: pd.DataFrame, y: pd.Series) -> None: ...

    @abstractmethod
    def _predict_proba(self, X: pd.DataFrame) -> np.ndarray: ...


def align_proba(proba: np.ndarray, learner_classes, classes: list[str]) -> np.ndarray:
    """Place a learner's probability columns under the study's class order (absent classes: 0)."""
    out = np.zeros((proba.shape[0], len(classes)))
    position = {c: i for i, c in enumerate(classes)}
    for j, c in enumerate(learner_classes):
        out[:, position[str(c)]] = proba[:, j]
    sums = out.sum(axis=1, keepdims=True)
    # Rows that do not sum to one (numerical slack, or all mass on unknown classes) are renormalized.
    return np.where(sums > 0, out / np.where(sums > 0, sums, 1), 1.0 / len(classes))
