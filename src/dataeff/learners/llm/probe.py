"""llm-probe: the LLM's own hidden state of each serialized row into logistic regression.

A row's state depends on the model, the row's text, the layer and the pooling only, so it is
computed once and kept in the answer cache (``Cached.hidden_states``): a whole curve over sizes
and seeds costs one forward pass per distinct row (training pool and test rows together).
"""

from __future__ import annotations

import numpy as np

from dataeff.learners.llm.cache import CacheSettings
from dataeff.learners.llm.learners import LinearHead
from dataeff.learners.llm.prompting import Task

# Mean over tokens by default: a causal model's last token weighs the row's end most, the mean
# every token. Compared once (bench_probe.py --pooling, fine-foods, 60 test rows, 3 seeds):
# mean 0.625, 0.711, 0.716, 0.775 at n = 8 to 64, last 0.560, 0.667, 0.710, 0.815; same cost.
DEFAULT_POOLING = "mean"
# Inverse L2 strength on standardized states: one fixed, strong C rather than an inner
# cross-validation. The states have 640 dimensions (Gemma 3 270M), more than the labels up to
# n = 640, so without a strong penalty the fit separates the training rows perfectly; at n = 8
# to 32 an inner CV has 1 to 8 rows of a class per fold and picks C from noise. A fixed C still
# lets the data outweigh the penalty as n grows (the loss is a sum over rows). Measured
# (`benchmarks/bench_probe.py --compare-c`, fine-foods, 60 test rows, 3 seeds, n = 8 to 64):
# C = 0.001, 0.01, 0.1, 1 and a 5-fold inner CV all within 0.01 roc_auc of each other (0.01:
# 0.625, 0.711, 0.716, 0.775); the inner CV cost 7x the fitting time and scored no better.
# Larger n (128 to 512) not yet measured.
PROBE_C = 0.01


class Probe(LinearHead):
    """Standardized hidden states (``layer``: None is the last; ``pooling``: "last" token or
    "mean" over tokens) into L2 logistic regression with ``PROBE_C``. With no labels or one
    class it predicts the class shares seen (as llm-embed does)."""

    def __init__(self, task: Task | None = None, backend: str = "llamacpp", model: str | None = None,
                 layer: int | None = None, pooling: str | None = DEFAULT_POOLING, C: float = PROBE_C,
                 random_state: int = 0, backend_options: dict | None = None, cache: CacheSettings | None = None):
        super().__init__(task, backend, model, False, random_state, backend_options, cache)
        self.layer, self.pooling, self.C = layer, pooling, C

    def _head(self):
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), LogisticRegression(C=self.C, max_iter=5000,
                                                                  random_state=self.random_state))

    def _features(self, X) -> np.ndarray:
        """The hidden state of each row, one forward pass per distinct row (cached)."""
        texts = [self.task.row_text(row) for _, row in X.iterrows()]
        lm = self._lm()
        self._tokens += int(sum(lm.count_tokens(texts)))  # serving reads every row once
        return self._counted(lm, lm.hidden_states, texts, self.layer, self.pooling)


def llm_probe(random_state: int = 0, **params) -> Probe:
    return Probe(random_state=random_state, **params)
