"""LLM learners: zero-shot (n = 0), few-shot in context, and embeddings + a linear head."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pandas as pd

from dataeff.learners.base import Learner, align_proba
from dataeff.learners.llm.cache import CacheSettings
from dataeff.learners.llm.prompting import (DEFAULT_K_MAX, Task, balanced_demonstrations, probabilities,
                                           similar_demonstrations)
from dataeff.learners.llm.voting import (ANSWER_FORMS, DEFAULT_SAMPLES, EXTRA_TOKENS, check_scoring, confidence_shares,
                                        vote_shares)


class _LLMLearner(Learner):
    """Shared parts: the task (question, verbalizers, classes), the backend and the answer cache
    (``cache``: its folder and whether it is used; None is ``CacheSettings.default()``), all
    set per cell. ``scoring``: how a prompt becomes class probabilities (voting.py):
    ``logprobs`` (the default), each answer word's log-probability; ``sample``, the vote
    shares of ``samples`` answers written at temperature 1; ``verbal``, one answer at
    temperature 0 naming the label and a confidence. Written answers are told the answer words,
    and one naming none is counted (``traffic()["llm_unparsed"]``); contextual calibration
    applies to ``logprobs`` only.
    """

    family = "llm"
    needs_task = True  # a study hands it the dataset's question and answer words

    def __init__(self, task: Task | None = None, backend: str = "llamacpp", model: str | None = None,
                 calibrate: bool = True, random_state: int = 0, backend_options: dict | None = None,
                 cache: CacheSettings | None = None, scoring: str = "logprobs", samples: int = DEFAULT_SAMPLES):
        self.task = task
        self.backend = backend
        self.model = model
        self.calibrate = calibrate
        self.random_state = random_state
        self.backend_options = backend_options
        self.cache = cache
        self.scoring = scoring
        self.samples = samples

    def fit(self, X: pd.DataFrame, y: pd.Series) -> Learner:
        self._traffic = dict.fromkeys(TRAFFIC, 0)
        if self.task is None:
            from dataeff.errors import ConfigError

            raise ConfigError("An LLM learner needs the task (question and verbalizers); run it through a Study.")
        check_scoring(self.scoring, self.samples)
        # A model that writes its answer is told the answer words (and, verbal, to add a confidence).
        self._task = replace(self.task, answer_form=ANSWER_FORMS[self.scoring])
        start = time.perf_counter()
        # The answer set is the task's labels, whatever the (possibly empty) training rows hold.
        self.classes_ = np.array(self.task.classes)
        self._constant = False
        self._tokens = 0
        self._fit(X.reset_index(drop=True), pd.Series(y).astype(str).reset_index(drop=True))
        self._fit_seconds = time.perf_counter() - start
        return self

    def traffic(self) -> dict[str, int]:
        """What this cell asked of the model, also when it failed: model calls (cache
        misses), answers from the cache, and for an endpoint the prompts it received, HTTP
        requests sent, retried, and failed for good."""
        return dict(getattr(self, "_traffic", {}))

    def _counted(self, lm, call, *args):
        """Run a backend call, adding its cache hits and misses and the endpoint's counters."""
        before = _counters(lm)
        try:
            return call(*args)
        finally:
            for key, value in _counters(lm).items():
                self._traffic[key] += value - before[key]

    def _lm(self, tokens: int = 0):
        """The backend, with room for prompts of ``tokens`` tokens: llama.cpp allocates its
        context up front, so a context longer than the default is made for prompts that need
        it (up to the model's trained context), never for short ones."""
        from dataeff.learners.llm.backends import get_backend

        lm = get_backend(self.backend, self.model, self.backend_options, cache=self.cache)
        if self.backend == "llamacpp" and tokens > getattr(lm.inner, "n_ctx", tokens):
            from dataeff.learners.llm.backends.llamacpp import context_size

            options = {**(self.backend_options or {}), "n_ctx": context_size(tokens, lm.inner.n_ctx_train)}
            lm = get_backend(self.backend, self.model, options, cache=self.cache)
        return lm

    def _score(self, prompts: list[str], prefix: str = "", columns=None, prefixes: list[str] | None = None
               ) -> np.ndarray:
        """Summed log-likelihood of each label's answer word after each prompt -> probabilities.

        With ``calibrate``, contextual calibration (Zhao et al. 2021, "Calibrate before use"):
        the same prompt around content-free rows ("N/A", "", "[MASK]") measures the model's
        bias toward each answer word, and the probabilities are divided by it. ``prefixes``:
        each prompt has demonstrations of its own, and its bias is measured after them (one
        "N/A" row each: a bias that varies from row to row would otherwise reorder the rows).
        """
        if self.scoring != "logprobs":
            return self._from_answers(prompts)
        lm = self._lm()
        endings = self._task.continuations()
        content_free = []
        if self.calibrate and columns is not None:
            def blank(value):
                return self._task.query(pd.Series({c: value for c in columns}))

            content_free = ([p + blank("N/A") for p in prefixes] if prefixes is not None
                            else [prefix + blank(v) for v in ("N/A", "", "[MASK]")])
        everything = list(prompts) + content_free
        lengths = lm.count_tokens(everything)
        lm = self._lm(max(lengths, default=0) + max(lm.count_tokens(endings)))
        requests = [(p, e) for p in everything for e in endings]
        scores = np.array(self._counted(lm, lm.loglikelihood, requests), float).reshape(len(everything), len(endings))
        # What serving would cost: every prompt token once, and each answer word; with prompts
        # of their own, each one's content-free prompt too (serving must calibrate it as well).
        served = len(everything) if prefixes is not None else len(prompts)
        self._tokens += int(sum(lengths[:served])) + served * len(endings)
        proba = probabilities(scores[: len(prompts)])
        if content_free:
            free = probabilities(scores[len(prompts):])
            bias = free if prefixes is not None else free.mean(axis=0)
            proba = proba / bias
            proba /= proba.sum(axis=1, keepdims=True)
        return proba

    def _from_answers(self, prompts: list[str]) -> np.ndarray:
        """Class probabilities from answers the model writes (``sample``: vote shares of
        ``samples`` answers; ``verbal``: one answer's stated confidence), and the count of
        answers that named no label."""
        from dataeff.errors import ConfigError
        from dataeff.learners.llm.backends.base import Generation

        lm = self._lm()
        if "generate" not in lm.serves:
            raise ConfigError(f"The {self.backend} backend does not write answers, so {self.scoring} scoring cannot "
                              "run on it; use logprobs scoring or a backend that generates (llamacpp, openai).")
        lengths = lm.count_tokens(prompts)
        most = max(lm.count_tokens(self._task.continuations())) + EXTRA_TOKENS[self.scoring]
        lm = self._lm(max(lengths, default=0) + most)
        verbal = self.scoring == "verbal"
        requests = [Generation(p, max_tokens=most, temperature=0.0 if verbal else 1.0, n=1 if verbal else self.samples)
                    for p in prompts]
        answers = self._counted(lm, lm.generate, requests)
        read = confidence_shares if verbal else vote_shares
        proba, unparsed = read(answers, self._task.verbalizers, list(self.classes_))
        written = [text for row in answers for text in row]
        self._traffic["llm_answers"] += len(written)
        self._traffic["llm_unparsed"] += unparsed
        # What serving would cost: each prompt once (a server samples its answers together) and
        # every answer written.
        self._tokens += int(sum(lengths)) + int(sum(lm.count_tokens(written)))
        return proba


# Per-cell counters of LLM traffic, stored with the cell (see experiment/store.py).
TRAFFIC = ("llm_calls", "llm_cached", "endpoint_prompts", "endpoint_requests", "endpoint_retries",
           "endpoint_failures", "endpoint_unlisted", "llm_answers", "llm_unparsed", "endpoint_input_tokens",
           "endpoint_output_tokens")


def _counters(lm) -> dict[str, int]:
    stats = lm.stats  # the backend's own: an endpoint's requests, retries, billed tokens
    return {"llm_calls": lm.cache.misses, "llm_cached": lm.cache.hits,
            "endpoint_prompts": stats.get("prompts", 0), "endpoint_requests": stats.get("sent", 0),
            "endpoint_retries": stats.get("retried", 0), "endpoint_failures": stats.get("failed", 0),
            # answer words outside the server's top log-probabilities: scored min(top) - 1
            "endpoint_unlisted": stats.get("unlisted", 0),
            "endpoint_input_tokens": stats.get("input_tokens", 0),
            "endpoint_output_tokens": stats.get("output_tokens", 0)}


class ZeroShot(_LLMLearner):
    """Asks the LLM the task question about each row, no examples: scored at n = 0 too."""

    needs_examples = False

    def _fit(self, X, y):
        pass

    def _predict_proba(self, X):
        return self._score([self._task.query(row) for _, row in X.iterrows()], "", list(X.columns))


class FewShot(_LLMLearner):
    """Up to ``k_max`` labelled rows from the training subset as demonstrations in the prompt.

    ``select="balanced"``: classes taking turns, the same demonstrations for every test row
    (a shared prefix whose KV cache is evaluated once per cell; ``k_max`` may be as many as the
    model's trained context holds, the llamacpp context sized to the prompts).
    ``select="similar"``: once the training rows outnumber ``k_max``, each test row may get the
    training rows nearest to it by sentence embedding, classes taking turns (each class's
    nearest, the nearest round next to the question), each prompt calibrated on its own
    demonstrations; each row then has a prompt of its own, about k_max + 1 times the tokens.
    Whether it does is decided on the labels: ``VALIDATION_ROWS`` held-out labelled rows are
    scored both ways (retrieved from the other labelled rows, and after the cell's own balanced
    demonstrations), and retrieval is kept only where it gives the true labels a higher
    log-probability beyond those rows' noise (one-sided paired t at 5%; ``retrieval_`` and the
    cell's note say which); otherwise the cell is llm-few. Measured on fine-foods (3 seeds, 128 and
    512 labels, 100 test rows), retrieval alone scored below llm-few in 5 of 6 cells: MiniLM
    neighbours share a review's topic more than its verdict, and per-row prompts add a per-row
    bias that a shared calibration cannot remove.
    """

    #: Held-out labelled rows that decide between retrieved and balanced demonstrations; fewer
    #: than MIN_VALIDATION (a quarter of the labels at most) is too few to decide: balanced.
    VALIDATION_ROWS = 32
    MIN_VALIDATION = 8

    needs_examples = False  # at n = 0 it is the zero-shot prompt

    def __init__(self, task: Task | None = None, backend: str = "llamacpp", model: str | None = None,
                 k_max: int = DEFAULT_K_MAX, calibrate: bool = True, random_state: int = 0,
                 backend_options: dict | None = None, select: str = "balanced", cache: CacheSettings | None = None,
                 scoring: str = "logprobs", samples: int = DEFAULT_SAMPLES):
        super().__init__(task, backend, model, calibrate, random_state, backend_options, cache, scoring, samples)
        self.k_max = k_max
        self.select = select

    def _fit(self, X, y):
        rng = np.random.default_rng(self.random_state)
        picked = balanced_demonstrations(y, min(self.k_max, len(y)), rng) if len(y) else []
        self._prefix = "".join(self._task.demonstration(X.iloc[i], y.iloc[i]) for i in picked)
        self.n_demonstrations_ = len(picked)
        self._pool, self.retrieval_, self.notes = None, None, []
        if self.select == "similar" and len(y) > self.k_max:
            # Drawn after the balanced picks, so those (and llm-few's prompts) stay the same.
            self._class_order = [str(c) for c in rng.permutation(sorted(y.unique()))]
            vectors = self._embed(X)
            self.retrieval_ = self._retrieval_helps(X, y, vectors, picked, rng)
            if self.retrieval_:
                self._pool = (X, y, vectors)

    def _retrieval_helps(self, X, y, vectors, picked: list[int], rng) -> bool:
        """Score held-out labelled rows with retrieved demonstrations (from the other labelled
        rows) and with the balanced ones this cell would otherwise use (``picked``: the held-out
        rows are drawn from outside them); True when retrieval gives the true labels a higher
        log-probability, significantly. The balanced side is the cell's own prefix, not another draw:
        measured on fine-foods, two draws of 8 balanced demonstrations scored roc_auc 0.60 and
        0.80 on the same rows, so a comparison with another draw judged that draw's luck."""
        outside = np.setdiff1d(np.arange(len(y)), picked)
        m = self.held_out_rows(len(y), len(picked))
        if not m:
            self.notes = [f"balanced demonstrations: {len(outside) // 4} held-out rows are too few to judge retrieval"]
            return False
        held = rng.permutation(outside)[:m]
        rest = np.setdiff1d(np.arange(len(y)), held)
        rest_X, rest_y = X.iloc[rest].reset_index(drop=True), y.iloc[rest].reset_index(drop=True)
        held_X, held_y = X.iloc[held], y.iloc[held].to_numpy()
        balanced = self._score([self._prefix + self._task.query(row) for _, row in held_X.iterrows()], self._prefix,
                               list(X.columns))
        retrieved = self._retrieved_proba(held_X, vectors[held], (rest_X, rest_y, vectors[rest]))
        truth = np.searchsorted(self.classes_, held_y)

        def log_true(proba):
            return np.log(np.clip(proba[np.arange(m), truth], 1e-12, None))

        # Retrieval must win beyond the noise of m rows (one-sided paired t at 5%): measured on
        # fine-foods, plain "higher on average" chose retrieval on gains of 0.002-0.035 nats
        # (standard error about 0.037), and those cells scored below llm-few on the test rows.
        from scipy.stats import t

        gain = log_true(retrieved) - log_true(balanced)
        se = float(gain.std(ddof=1)) / np.sqrt(m)
        statistic = float(gain.mean()) / se if se > 0 else np.inf * np.sign(gain.mean())
        needed = float(t.ppf(0.95, m - 1))
        helps = bool(statistic > needed)
        self.notes = [f"{'retrieved' if helps else 'balanced'} demonstrations: on {m} held-out labelled rows "
                      f"retrieval changed the true label's log-probability by {gain.mean():+.3f} "
                      f"(paired t {statistic:.2f}; it must exceed {needed:.2f})"]
        return helps

    @classmethod
    def held_out_rows(cls, n_labels: int, shots: int) -> int:
        """Labelled rows held out to judge retrieval, outside the ``shots`` balanced ones: a
        quarter of the others, at most VALIDATION_ROWS; 0 when fewer than MIN_VALIDATION."""
        m = min(cls.VALIDATION_ROWS, (n_labels - shots) // 4)
        return m if m >= cls.MIN_VALIDATION else 0

    def _retrieved_proba(self, X, vectors, pool) -> np.ndarray:
        """Each row's prompt with its nearest labelled rows of ``pool``, calibrated on its own
        demonstrations (a content-free row after them)."""
        pool_X, pool_y, pool_vectors = pool
        demonstrations = ["".join(self._task.demonstration(pool_X.iloc[j], pool_y.iloc[j])
                                  for j in similar_demonstrations(near, pool_y, self.k_max, self._class_order))
                          for near in vectors @ pool_vectors.T]
        prompts = [d + self._task.query(row) for d, (_, row) in zip(demonstrations, X.iterrows())]
        return self._score(prompts, columns=list(X.columns), prefixes=demonstrations)

    def _predict_proba(self, X):
        if self._pool is None:
            prompts = [self._prefix + self._task.query(row) for _, row in X.iterrows()]
            return self._score(prompts, self._prefix, list(X.columns))
        return self._retrieved_proba(X, self._embed(X), self._pool)

    def _embed(self, X) -> np.ndarray:
        from dataeff.learners.llm.backends import get_backend

        embedder = get_backend("minilm", cache=self.cache)
        return self._counted(embedder, embedder.embed, [self._task.row_text(row) for _, row in X.iterrows()])


class LinearHead(_LLMLearner):
    """Row features from a model (``_features``) into a linear classifier (``_head``); with no
    labels or one class, the class shares seen. Shared by llm-embed and llm-probe."""

    def _fit(self, X, y):
        if len(y) == 0 or y.nunique() < 2:
            self._prior = np.array([(y == c).mean() if len(y) else 1 / len(self.classes_) for c in self.classes_])
            self._model = None
            return
        self._model = self._head()
        self._model.fit(self._features(X), y)

    def _predict_proba(self, X):
        if self._model is None:
            return np.tile(self._prior, (len(X), 1))
        return align_proba(self._model.predict_proba(self._features(X)), self._model.classes_, list(self.classes_))


class EmbedLinear(LinearHead):
    """Sentence embeddings of the serialized rows, then L2 logistic regression."""

    def __init__(self, task: Task | None = None, backend: str = "minilm", model: str | None = None,
                 random_state: int = 0, backend_options: dict | None = None, cache: CacheSettings | None = None):
        super().__init__(task, backend, model, False, random_state, backend_options, cache)

    def _head(self):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(max_iter=2000, random_state=self.random_state)

    def _features(self, X) -> np.ndarray:
        return self._embed(X)

    def _embed(self, X) -> np.ndarray:
        texts = [self._task.row_text(row) for _, row in X.iterrows()]
        self._tokens += sum(len(t) // 4 for t in texts)  # embedding models bill by tokens too (approx.)
        lm = self._lm()
        return self._counted(lm, lm.embed, texts)


class LLMPrior(_LLMLearner):
    """The zero-shot LLM's log-odds as extra features next to the classic ones, into
    logistic regression (or XGBoost): the LLM's knowledge as a prior that labels refine."""

    def __init__(self, task: Task | None = None, backend: str = "llamacpp", model: str | None = None,
                 head: str = "logreg", calibrate: bool = False, random_state: int = 0,
                 backend_options: dict | None = None, cache: CacheSettings | None = None, scoring: str = "logprobs",
                 samples: int = DEFAULT_SAMPLES):
        super().__init__(task, backend, model, calibrate, random_state, backend_options, cache, scoring, samples)
        self.head = head

    def _llm_features(self, X) -> np.ndarray:
        proba = self._score([self._task.query(row) for _, row in X.iterrows()], "", list(X.columns))
        logs = np.log(np.clip(proba, 1e-9, 1))
        return logs - logs.mean(axis=1, keepdims=True)  # centred log-probabilities (log-odds for two classes)

    def _fit(self, X, y):
        from dataeff.learners.classic import logreg, xgboost

        self._inner = (xgboost if self.head == "xgboost" else logreg)(random_state=self.random_state)
        self._inner.fit(self._with_prior(X), y)

    def _with_prior(self, X) -> pd.DataFrame:
        prior = self._llm_features(X)
        extra = pd.DataFrame(prior, columns=[f"llm_logprob_{c}" for c in self.classes_], index=X.index)
        return pd.concat([X, extra], axis=1)

    def _predict_proba(self, X):
        return align_proba(self._inner.predict_proba(self._with_prior(X)), self._inner.classes_, list(self.classes_))


def llm_prior(random_state: int = 0, **params) -> Learner:
    return LLMPrior(random_state=random_state, **params)


def llm_prior_xgb(random_state: int = 0, **params) -> Learner:
    return LLMPrior(random_state=random_state, head="xgboost", **params)


def llm_zero(random_state: int = 0, **params) -> Learner:
    return ZeroShot(random_state=random_state, **params)


def llm_few(random_state: int = 0, **params) -> Learner:
    return FewShot(random_state=random_state, **params)


def llm_few_similar(random_state: int = 0, **params) -> Learner:
    return FewShot(random_state=random_state, select="similar", **params)


def llm_embed(random_state: int = 0, **params) -> Learner:
    return EmbedLinear(random_state=random_state, **params)
