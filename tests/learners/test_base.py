"""The Learner contract: what a fit and a predict cost, told apart."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dataeff.learners.base import Learner


class _Reader(Learner):
    """Spends 10 tokens per training row in fit and 3 per row in predict, like llm-prior."""

    def _fit(self, X, y):
        self._tokens = 10 * len(X)

    def _predict_proba(self, X):
        self._tokens += 3 * len(X)
        return np.full((len(X), len(self.classes_)), 1 / len(self.classes_))


def test_predict_tokens_are_the_tokens_of_predicting_alone():
    X, y = pd.DataFrame({"x": range(20)}), pd.Series(["a", "b"] * 10)
    learner = _Reader().fit(X, y)
    learner.predict_proba(X.head(5))
    cost = learner.cost()
    assert cost["tokens"] == 10 * 20 + 3 * 5
    assert cost["predict_tokens"] == 3 * 5  # serving pays for these, not the training rows'
