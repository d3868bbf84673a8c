"""Many-shot prompts and retrieved demonstrations: the class balance of similar demonstrations,
a few-shot prefix evaluated once per cell on both local backends (counted in tokens), many
shots in a context longer than the default on the real Gemma, and shots no context holds."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import dataeff
from dataeff.learners.llm import backends
from dataeff.learners.llm.backends import Cached, LlamaCpp
from dataeff.learners.llm.cache import AnswerCache
from dataeff.learners.llm.learners import FewShot
from dataeff.learners.llm.prompting import Task, similar_demonstrations

TASK = Task.for_dataset("fine-foods", "score", ["great", "other"])


def _reviews(n: int, offset: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    data = dataeff.data.builtin.load_builtin("fine-foods")
    return (data.X.iloc[offset:offset + n].reset_index(drop=True),
            data.y.iloc[offset:offset + n].reset_index(drop=True))


def test_similar_demonstrations_take_each_class_in_turn_nearest_round_last():
    y = pd.Series(["a"] * 6 + ["b"] * 6)
    similarity = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.01, 0.0])  # every "a" nearer
    picked = similar_demonstrations(similarity, y, 5, ["b", "a"])
    # rounds from the nearest: [b6, a0], [b7, a1], [b8] -> the farthest round first
    assert picked == [8, 7, 1, 6, 0]
    assert similar_demonstrations(similarity, y.where(y == "a", "a"), 3, ["a"]) == [2, 1, 0]


def test_similar_demonstrations_in_a_cell_hold_every_class_though_one_is_nearer(monkeypatch, llm_cache):
    """Rows of one class crowd the neighbourhood of every test row (the old selection put 8 of
    them in each prompt); the prompts still hold 4 of each class, the nearest round last."""
    X, y = _reviews(60)
    great = (y == "great").to_numpy()
    vectors = np.where(great[:, None], [1.0, 0.0], [0.6, 0.8])  # every test row is nearer the "great" ones
    monkeypatch.setattr(FewShot, "_embed", lambda self, rows: vectors[: len(rows)] if len(rows) == len(X)
                        else np.tile([1.0, 0.0], (len(rows), 1)))
    seen = {}
    monkeypatch.setattr(FewShot, "_score", lambda self, prompts, *args, **kwargs: seen.setdefault("p", prompts)
                        and np.full((len(prompts), 2), 0.5))
    monkeypatch.setattr(FewShot, "_retrieval_helps", lambda self, *args: True)  # the labels chose retrieval
    learner = FewShot(TASK, k_max=8, select="similar", cache=llm_cache).fit(X, y)
    learner.predict_proba(X.iloc[:3])
    for prompt in seen["p"]:
        answers = [block.rsplit("Answer:", 1)[1].strip() for block in prompt.split("\n\n")[:-1]]
        assert sorted(answers) == ["No"] * 4 + ["Yes"] * 4


class _Biased:
    """A stand-in model whose answers depend on the demonstrations: after a prompt whose
    demonstrations hold ``tilt`` more than 4 times it leans to "Yes" by ``shift`` nats,
    whatever the row. The prompts and the calibration are the learner's own; the model is
    stubbed so the bias is known."""

    class _Cache:
        hits = misses = 0

    def __init__(self, shift=0.0, tilt="Answer: Yes"):
        self.shift, self.tilt = shift, tilt
        self.cache, self.requests, self.stats = self._Cache(), [], {}  # what Cached offers a learner

    def count_tokens(self, texts):
        return [len(t) // 4 for t in texts]

    def loglikelihood(self, requests):
        self.requests += requests
        out = []
        for prompt, answer in requests:
            out.append(self.shift if (answer == " Yes" and prompt.count(self.tilt) > 4) else 0.0)
        return out


def test_each_retrieved_prompt_is_calibrated_after_its_own_demonstrations(monkeypatch):
    """Two prompts whose demonstrations tilt the model differently, rows with the same content:
    calibrated after their own demonstrations they score the same; the shared calibration
    would keep the tilt (a per-row bias that reorders rows)."""
    model = _Biased(shift=2.0)
    monkeypatch.setattr(FewShot, "_lm", lambda self, *args: model)
    learner = FewShot(TASK, k_max=8)
    from dataeff.learners.llm.learners import TRAFFIC

    # What fit() sets before any scoring: the counters, and the task as asked (log-probabilities)
    learner._traffic, learner._tokens, learner._task = dict.fromkeys(TRAFFIC, 0), 0, TASK
    X, _ = _reviews(2)
    row = X.iloc[[0, 0]]
    tilted, plain = "Review: x\nQuestion: q\nAnswer: Yes\n\n" * 8, "Review: x\nQuestion: q\nAnswer: No\n\n" * 8
    prompts = [tilted + TASK.query(row.iloc[0]), plain + TASK.query(row.iloc[1])]
    raw = FewShot(TASK, k_max=8, calibrate=False)
    raw._traffic, raw._tokens, raw._task = learner._traffic, 0, TASK
    uncalibrated = raw._score(prompts, columns=list(X.columns), prefixes=[tilted, plain])
    assert uncalibrated[0, TASK.classes.index("great")] > uncalibrated[1, TASK.classes.index("great")] + 0.3
    calibrated = learner._score(prompts, columns=list(X.columns), prefixes=[tilted, plain])
    np.testing.assert_allclose(calibrated[0], calibrated[1], atol=1e-9)
    free = [p for p, _ in model.requests if "N/A" in p.rsplit("\n\n", 1)[-1]]
    assert len(free) == 2 * len(TASK.continuations())  # one content-free row per prompt, after its demonstrations
    assert free[0].startswith(tilted) and free[-1].startswith(plain)


@pytest.mark.parametrize("retrieval_is_better", [True, False])
def test_the_labels_decide_whether_retrieval_is_used(monkeypatch, llm_cache, retrieval_is_better):
    """Held-out labelled rows scored both ways: retrieval is kept only when it gives the true
    labels the higher mean log-probability; otherwise the cell's prompts are llm-few's."""
    X, y = _reviews(60)  # a quarter of the 52 rows outside the 8 demonstrations, 13, decide
    labels = {TASK.query(row): label for (_, row), label in zip(X.iterrows(), y)}
    monkeypatch.setattr(FewShot, "_embed", lambda self, rows: np.random.default_rng(len(rows)).normal(size=(len(rows), 4)))
    calls = []

    def score(self, prompts, prefix="", columns=None, prefixes=None):
        retrieved = prefixes is not None
        calls.append((retrieved, len(prompts), prompts))
        proba = np.full((len(prompts), 2), 0.5)
        if retrieved == retrieval_is_better:  # this way of prompting knows each row's label
            for i, prompt in enumerate(prompts):
                proba[i] = [0.9, 0.1] if labels[prompt.rsplit("\n\n", 1)[-1]] == "great" else [0.1, 0.9]
        return proba

    monkeypatch.setattr(FewShot, "_score", score)
    learner = FewShot(TASK, k_max=8, select="similar", cache=llm_cache, random_state=1).fit(X, y)
    assert learner.retrieval_ is retrieval_is_better
    assert sorted((r, n) for r, n, _ in calls) == [(False, 13), (True, 13)]
    llm_few = FewShot(TASK, k_max=8, cache=llm_cache, random_state=1).fit(X, y)
    assert learner._prefix == llm_few._prefix  # the balanced picks are drawn first, as llm-few's
    # the balanced side is the cell's own prefix, and no held-out row is one of its demonstrations
    balanced_prompts = next(p for r, _, p in calls if not r)
    assert all(p.startswith(learner._prefix) for p in balanced_prompts)
    assert not any(p[len(learner._prefix):].strip() in learner._prefix for p in balanced_prompts)
    assert (learner._pool is None) is (not retrieval_is_better)
    # the cell's note says which, and on what (results.csv's note column)
    assert learner.notes[0].startswith("retrieved" if retrieval_is_better else "balanced")
    assert "13 held-out labelled rows" in learner.notes[0]


def test_a_gain_within_the_noise_of_the_held_out_rows_keeps_llm_fews_prompts(monkeypatch, llm_cache):
    """Retrieval's answers differ from the balanced ones by noise of 0.3 around a shift of 0.02
    in probability, well within what 13 rows can tell apart: the cell keeps the balanced
    demonstrations."""
    X, y = _reviews(60)
    monkeypatch.setattr(FewShot, "_embed", lambda self, rows: np.random.default_rng(len(rows)).normal(size=(len(rows), 4)))
    noise = np.random.default_rng(0).normal(0, 0.3, 13)

    def score(self, prompts, prefix="", columns=None, prefixes=None):
        great = np.full(len(prompts), 0.5) + (0.02 + noise[: len(prompts)] if prefixes is not None else 0.0)
        return np.column_stack([np.clip(great, 0.01, 0.99), 1 - np.clip(great, 0.01, 0.99)])

    monkeypatch.setattr(FewShot, "_score", score)
    learner = FewShot(TASK, k_max=8, select="similar", cache=llm_cache, random_state=1).fit(X, y)
    assert learner.retrieval_ is False and learner._pool is None
    assert learner.notes[0].startswith("balanced") and "paired t" in learner.notes[0]


def test_too_few_labels_to_decide_keep_llm_fews_prompts(monkeypatch, llm_cache):
    X, y = _reviews(20)  # a quarter is 5 rows: fewer than MIN_VALIDATION
    monkeypatch.setattr(FewShot, "_embed", lambda self, rows: np.ones((len(rows), 2)))
    monkeypatch.setattr(FewShot, "_score", lambda *a, **k: pytest.fail("nothing to score while fitting"))
    learner = FewShot(TASK, k_max=8, select="similar", cache=llm_cache).fit(X, y)
    assert learner.retrieval_ is False and learner._pool is None
    assert "too few to judge" in learner.notes[0]


@pytest.fixture
def counted_gemma(llm_cache, monkeypatch):
    """A fresh llama.cpp Gemma whose evaluated tokens are counted, served to the learners
    with the answer cache off and small cache chunks (a cell's prompts in several calls)."""
    gemma = LlamaCpp(cache_folder=llm_cache.folder)
    evaluated = []
    real_eval = gemma.llm.eval
    monkeypatch.setattr(gemma.llm, "eval", lambda tokens: (evaluated.append(len(tokens)), real_eval(tokens))[1])
    monkeypatch.setattr(backends, "get_backend",
                        lambda *a, **k: Cached(gemma, AnswerCache(llm_cache.folder / "off.sqlite", enabled=False)))
    monkeypatch.setattr(Cached, "CHUNK", 4)
    yield gemma, evaluated
    gemma.close()


def test_llamacpp_evaluates_the_demonstrations_once_per_cell(counted_gemma):
    gemma, evaluated = counted_gemma
    X, y = _reviews(30)
    test = X.iloc[20:30]
    learner = FewShot(TASK, k_max=8, cache=None).fit(X.iloc[:20], y.iloc[:20])
    learner.predict_proba(test)
    prefix = gemma.count_tokens([learner._prefix])[0]
    rows = sum(gemma.count_tokens([TASK.query(row) for _, row in test.iterrows()])) + 3 * 30  # and 3 calibration rows
    assert prefix > 500
    # the prefix once, each row after it with at most one block of the prefix re-read
    assert prefix <= sum(evaluated) <= prefix + rows + 13 * LlamaCpp.BLOCK


def test_transformers_evaluates_the_demonstrations_once_per_cell(tmp_path, llm_cache, monkeypatch):
    """A small random model (MiniLM's tokenizer) through the transformers backend: the forward
    passes that read the demonstrations, counted, are one per cell although the cell's prompts
    arrive in several calls whose rows share more than the demonstrations."""
    torch = pytest.importorskip("torch")
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from dataeff.learners.llm.backends.models import default_minilm
    from dataeff.learners.llm.backends.transformers import Transformers

    tokenizer = AutoTokenizer.from_pretrained(default_minilm(), local_files_only=True)
    torch.manual_seed(0)
    LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                 num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=4096)
                     ).save_pretrained(tmp_path / "tiny")
    tokenizer.save_pretrained(tmp_path / "tiny")
    tiny = Transformers(str(tmp_path / "tiny"), device="cpu", cache_folder=llm_cache.folder)
    widths = []
    tiny.model.register_forward_pre_hook(lambda module, args, kwargs: widths.append(kwargs["input_ids"].shape[1]),
                                         with_kwargs=True)
    monkeypatch.setattr(backends, "get_backend",
                        lambda *a, **k: Cached(tiny, AnswerCache(llm_cache.folder / "off.sqlite", enabled=False)))
    monkeypatch.setattr(Cached, "CHUNK", 4)
    X, y = _reviews(30)
    learner = FewShot(TASK, k_max=8, backend="transformers", cache=None).fit(X.iloc[:20], y.iloc[:20])
    learner.predict_proba(X.iloc[20:30])
    prefix = tiny.count_tokens([learner._prefix])[0]
    assert prefix > 500
    assert sum(w >= prefix - 64 for w in widths) == 1  # one pass reads the demonstrations


def test_many_shots_fit_a_longer_context_on_the_real_gemma(llm_cache, monkeypatch):
    """40 demonstrations (about 5,000 tokens) do not fit the default 4,096-token context: the
    learner gets an 8,192-token one, which then serves every shorter prompt too."""
    monkeypatch.setattr(backends.registry, "_LOADED", {})
    X, y = _reviews(48)
    learner = FewShot(TASK, k_max=40, calibrate=False, cache=llm_cache).fit(X.iloc[:40], y.iloc[:40])
    proba = learner.predict_proba(X.iloc[40:42])
    assert proba.shape == (2, 2) and np.allclose(proba.sum(axis=1), 1)
    lm = backends.get_backend("llamacpp", cache=llm_cache)
    assert lm.count_tokens([learner._prefix])[0] > 4096
    assert lm.inner.n_ctx == 8192 and len(backends.registry._LOADED) == 1  # the 4,096 one was replaced
    assert backends.get_backend("llamacpp", None, {"n_ctx": 4096}, cache=llm_cache) is lm


def test_a_context_size_changes_no_score(llm_cache):
    prompt = 'review: "lovely tea, fresh and fragrant"\nQuestion: Is this review positive?\nAnswer:'
    scores = []
    for n_ctx in (4096, 8192):
        gemma = LlamaCpp(n_ctx=n_ctx, cache_folder=llm_cache.folder)
        scores.append(gemma.loglikelihood([(prompt, " Yes"), (prompt, " No")]))
        gemma.close()
    assert scores[0] == scores[1]


def test_shots_no_context_holds_are_one_line_and_exit_2_before_a_run_folder(tmp_path):
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "dataeff", "run", "--data", "fine-foods", "--learners",
                           "llm-zero, few1000=llm-few(shots=1000)", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: few1000: 1000 demonstrations"), done.stderr
    assert "context of 32,768" in lines[0] and "shots=" in lines[0]
    assert not out.exists()
