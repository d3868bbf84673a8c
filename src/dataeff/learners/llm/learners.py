"""LLM learners: zero-shot (n = 0), few-shot in context, and embeddings + a linear head."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from dataeff.learners.base import Learner
from dataeff.learners.llm.prompting import Task, balanced_demonstrations, probabilities


class _LLMLearner(Learner):
    """Shared parts: the task (question, verbalizers, classes) and the backend, both set per cell."""

    def __init__(self, task: Task | None = None, backend: str = "llamacpp", model: str | None = None,
                 random_state: int = 0):
        self.task = task
        self.backend = backend
        self.model = model
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: pd.Series) -> Learner:
        if self.task is None:
            from dataeff.errors import ConfigError

            raise ConfigError("An LLM learner needs the task (question and verbalizers); run it through a Study.")
        start = time.perf_counter()
        # The answer set is the task's labels, whatever the (possibly empty) training rows hold.
        self.classes_ = np.array(self.task.classes)
        self._constant = False
        self._tokens = 0
        self._fit(X.reset_index(drop=True), pd.Series(y).astype(str).reset_index(drop=True))
        self._fit_seconds = time.perf_counter() - start
        return self

    def cost(self) -> dict[str, float]:
        out = super().cost()
        out["llm_calls"] = getattr(self, "_llm_calls", 0)
        out["llm_cached"] = getattr(self, "_llm_cached", 0)
        return out

    def _counted(self, lm, call, *args):
        """Run a backend call, adding its model calls (cache misses) and cached answers."""
        hits, misses = lm.cache.hits, lm.cache.misses
        try:
            return call(*args)
        finally:
            self._llm_calls = getattr(self, "_llm_calls", 0) + lm.cache.misses - misses
            self._llm_cached = getattr(self, "_llm_cached", 0) + lm.cache.hits - hits

    def _lm(self):
        from dataeff.learners.llm.backends import get_backend

        return get_backend(self.backend, self.model)

    def _score(self, prompts: list[str]) -> np.ndarray:
        """Summed log-likelihood of each label's answer word after each prompt -> probabilities."""
        lm = self._lm()
        endings = self.task.continuations()
        requests = [(p, e) for p in prompts for e in endings]
        scores = np.array(self._counted(lm, lm.loglikelihood, requests), float).reshape(len(prompts), len(endings))
        # What serving would cost: every prompt token once, and each answer word.
        self._tokens += int(sum(lm.count_tokens(prompts))) + len(requests)
        return probabilities(scores)


class ZeroShot(_LLMLearner):
    """Asks the LLM the task question about each row, no examples: scored at n = 0 too."""

    needs_examples = False

    def _fit(self, X, y):
        pass

    def _predict_proba(self, X):
        return self._score([self.task.query(row) for _, row in X.iterrows()])


class FewShot(_LLMLearner):
    """Up to ``k_max`` labelled rows from the training subset as demonstrations in the prompt,
    classes taking turns; the same demonstrations for every test row (a shared prefix)."""

    needs_examples = False  # at n = 0 it is the zero-shot prompt

    def __init__(self, task: Task | None = None, backend: str = "llamacpp", model: str | None = None,
                 k_max: int = 8, random_state: int = 0):
        super().__init__(task, backend, model, random_state)
        self.k_max = k_max

    def _fit(self, X, y):
        rng = np.random.default_rng(self.random_state)
        picked = balanced_demonstrations(y, min(self.k_max, len(y)), rng) if len(y) else []
        self._prefix = "".join(self.task.demonstration(X.iloc[i], y.iloc[i]) for i in picked)
        self.n_demonstrations_ = len(picked)

    def _predict_proba(self, X):
        return self._score([self._prefix + self.task.query(row) for _, row in X.iterrows()])


class EmbedLinear(_LLMLearner):
    """Sentence embeddings of the serialized rows, then L2 logistic regression."""

    def __init__(self, task: Task | None = None, backend: str = "minilm", model: str | None = None,
                 random_state: int = 0):
        super().__init__(task, backend, model, random_state)

    def _fit(self, X, y):
        from sklearn.linear_model import LogisticRegression

        if len(y) == 0 or y.nunique() < 2:
            self._prior = np.array([(y == c).mean() if len(y) else 1 / len(self.classes_) for c in self.classes_])
            self._model = None
            return
        self._model = LogisticRegression(max_iter=2000, random_state=self.random_state)
        self._model.fit(self._embed(X), y)

    def _predict_proba(self, X):
        if self._model is None:
            return np.tile(self._prior, (len(X), 1))
        proba = self._model.predict_proba(self._embed(X))
        out = np.zeros((len(X), len(self.classes_)))
        for j, c in enumerate(self._model.classes_):
            out[:, list(self.classes_).index(c)] = proba[:, j]
        return out

    def _embed(self, X) -> np.ndarray:
        from dataeff.data.serialize import serialize_row

        texts = [serialize_row(row, self.task.style) for _, row in X.iterrows()]
        self._tokens += sum(len(t) // 4 for t in texts)  # embedding models bill by tokens too (approx.)
        lm = self._lm()
        return self._counted(lm, lm.embed, texts)


def llm_zero(random_state: int = 0, **params) -> Learner:
    return ZeroShot(random_state=random_state, **params)


def llm_few(random_state: int = 0, **params) -> Learner:
    return FewShot(random_state=random_state, **params)


def llm_embed(random_state: int = 0, **params) -> Learner:
    return EmbedLinear(random_state=random_state, **params)
