"""llm-probe on the real default Gemma 3 270M: hidden states through llama.cpp (cached exactly,
one forward pass per distinct row for a whole curve), layer choice through transformers, and
bad layers and poolings refused through the CLI with one line, exit 2, nothing written."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

import dataeff
from dataeff.cli import app
from dataeff.errors import ConfigError
from dataeff.learners.llm.backends import Cached, LlamaCpp, get_backend
from dataeff.learners.llm.cache import AnswerCache, CacheSettings
from tests.e2e.test_bad_inputs import check_refusal, snapshot

ROWS = ['review: "I love this tea, it is delicious and fresh"', 'review: "awful, stale and broken"',
        'review: "The coffee arrived quickly and tastes great every morning"', 'review: "My dog refuses these"']


@pytest.fixture(scope="module")
def gemma(llm_cache):
    return LlamaCpp(cache_folder=llm_cache.folder)


def test_cached_states_equal_fresh_ones_exactly_and_poolings_differ(gemma, tmp_path):
    cache = CacheSettings(tmp_path / "cache")
    stored = get_backend("llamacpp", cache=cache).hidden_states(ROWS, None, "mean")  # one call, all rows
    # A new process: its own model and cache connection; every state from the file, no model call.
    reread = Cached(gemma, AnswerCache.for_settings(cache))
    again = reread.hidden_states(ROWS[::-1], None, "mean")[::-1]
    assert reread.cache.misses == 0 and reread.cache.hits == len(ROWS)
    fresh = np.stack([gemma.hidden_states([row], None, "mean")[0] for row in ROWS])  # one at a time, uncached
    assert stored.dtype == np.float32 and stored.shape == (len(ROWS), 640)
    assert np.array_equal(stored, fresh) and np.array_equal(again, fresh)
    last = reread.hidden_states(ROWS, None, "last")  # another pooling: another key, computed
    assert reread.cache.misses == len(ROWS)
    assert np.array_equal(last, np.stack([gemma.hidden_states([row], None, "last")[0] for row in ROWS]))
    assert not np.allclose(last, stored, atol=0.1)
    assert len({state.tobytes() for state in stored}) == len(ROWS)  # each row a state of its own


def _states_and_graph(monkeypatch, llm_cache, stop: bool):
    """The states of ROWS from a fresh backend whose state reader's eval callback is wrapped to
    record the tensors llama.cpp asks about; ``stop=False`` lets the whole graph run."""
    from dataeff.learners.llm.backends import llamacpp

    asked, stopping = [], llamacpp._stop_at_states

    def spy(tensor, ask, user_data):
        if ask:
            asked.append(llamacpp._tensor_name()(tensor))
        return stopping(tensor, ask, user_data) if stop else False

    monkeypatch.setattr(llamacpp, "_stop_at_states", spy)
    backend = LlamaCpp(cache_folder=llm_cache.folder)
    try:
        return {pooling: backend.hidden_states(ROWS, None, pooling) for pooling in ("mean", "last")}, asked
    finally:
        backend.close()


def test_the_state_reader_stops_before_the_output_layer_with_the_same_states(monkeypatch, llm_cache):
    stopped, asked = _states_and_graph(monkeypatch, llm_cache, stop=True)
    full, asked_full = _states_and_graph(monkeypatch, llm_cache, stop=False)
    # The whole graph ends in the 262,144-word output layer; the stopped one never reaches it.
    assert asked_full[-1] == b"result_output" and b"result_output" not in asked
    assert asked[-1] in (b"result_norm", b"result_embd_pooled") and asked.count(asked[-1]) == 2 * len(ROWS)
    for pooling in ("mean", "last"):
        assert np.abs(stopped[pooling] - full[pooling]).max() <= 1e-5, pooling


def test_llama_cpp_gives_the_last_layer_only(gemma):
    assert np.array_equal(gemma.hidden_states(ROWS[:1], 18, "last"), gemma.hidden_states(ROWS[:1], None, "last"))
    with pytest.raises(ConfigError, match=r"only the last layer's state \(18\); for layer 6 use the transformers"):
        gemma.hidden_states(ROWS, 6, "last")
    with pytest.raises(ConfigError, match="has 18 layers; choose a layer from 0"):
        gemma.hidden_states(ROWS, 19, "last")


def test_a_whole_curve_costs_one_forward_pass_per_distinct_row(tmp_path):
    from dataeff.experiment.plan import make_plan
    from dataeff.learners.llm.prompting import Task

    frame = dataeff.data.builtin.load_builtin("fine-foods")
    kwargs = dict(learners=["llm-probe", "last=llm-probe(pooling=last)", "logreg"], seeds=2, sizes=[8, 16],
                  test_rows=8, jobs=1)
    said = []
    first = dataeff.Study(frame, **kwargs).run(tmp_path / "a", progress=False, log=said.append)
    results = first.results
    assert (results["status"] == "ok").all(), results["error"].tolist()
    assert set(zip(results["learner"], results["n_train"], results["seed"])) >= {
        (name, n, seed) for name in ("llm-probe", "last") for n in (8, 16) for seed in first.results["seed"].unique()}
    assert any(line.startswith("LLM work: about") for line in said)
    plan = make_plan(frame, seeds=2, sizes=[8, 16], test_rows=8)
    task = Task.for_dataset("fine-foods", frame.label, frame.classes)
    texts = {task.row_text(frame.X.iloc[i]) for split in plan.splits.values()
             for i in [*split.test_index, *split.train_index(16)]}
    # Sizes and seeds share states: each distinct row text is read once per pooling.
    assert first.facts.llm_usage["model_calls"] == 2 * len(texts)
    assert first.facts.llm_usage["cached_answers"] > 0
    second = dataeff.Study(frame, **kwargs).run(tmp_path / "b", progress=False)
    assert second.facts.llm_usage["model_calls"] == 0
    assert np.allclose(first.results["roc_auc"], second.results["roc_auc"])


def test_one_class_or_no_labels_predicts_the_class_shares(llm_cache):
    import pandas as pd

    from dataeff.learners.llm.probe import Probe
    from dataeff.learners.llm.prompting import Task

    task = Task.for_dataset("reviews", "label", ["bad", "good"])
    X = pd.DataFrame({"review": ["nice", "great", "fine"]})
    probe = Probe(task, cache=llm_cache).fit(X, pd.Series(["good"] * 3))
    assert np.allclose(probe.predict_proba(X), [[0.0, 1.0]] * 3)
    empty = Probe(task, cache=llm_cache).fit(X.iloc[:0], pd.Series([], dtype=str))
    assert np.allclose(empty.predict_proba(X), 0.5)


def test_transformers_reads_any_layer(llm_cache, gemma):
    from dataeff.learners.llm.backends.transformers import Transformers

    hf = Transformers(device="cpu", cache_folder=llm_cache.folder)
    last = hf.hidden_states(ROWS, None, "last")
    assert np.array_equal(last, hf.hidden_states(ROWS, 18, "last"))
    # Padding never reaches a row: a batch of rows of several lengths gives each row's state alone.
    alone = np.stack([hf.hidden_states([row], 6, "mean")[0] for row in ROWS])
    assert np.abs(hf.hidden_states(ROWS, 6, "mean") - alone).max() < 1e-3
    assert not np.allclose(alone, hf.hidden_states(ROWS, None, "mean"), atol=0.1)  # layer 6 is not the last
    # The last layer agrees with llama.cpp's (same weights, Q4_K against float32 arithmetic).
    theirs = gemma.hidden_states(ROWS, None, "last")
    for ours, them in zip(last, theirs):
        assert np.corrcoef(ours, them)[0, 1] > 0.9
    with pytest.raises(ConfigError, match="has 18 layers; choose a layer from 0"):
        hf.hidden_states(ROWS, 40, "last")


BAD = [
    ("a layer the model lacks", ["--learners", "p=llm-probe(layer=40)"], "Learner 'p': The model has 18 layers"),
    ("a layer llama.cpp cannot give", ["--learners", "p=llm-probe(layer=6)"],
     "use the transformers backend, e.g. llm-probe(layer=6, backend=transformers)"),
    ("a pooling that does not exist", ["--learners", "p=llm-probe(pooling=max)"], "Learner 'p': pooling must be last or mean. Got 'max'"),
    ("a negative layer", ["--learners", "p=llm-probe(layer=-1)"], "Learner 'p': layer must be 0 or more. Got -1"),
    ("a layer through an endpoint", ["--learners", "p=llm-probe(layer=3)", "--llm-backend", "openai", "--llm-url",
                                     "http://127.0.0.1:9/v1", "--llm-model", "m"], "drop layer"),
]


@pytest.mark.parametrize("case", BAD, ids=[case[0] for case in BAD])
def test_bad_layers_and_poolings_are_one_line_exit_2_nothing_written(case, tmp_path):
    _, args, message = case
    out = tmp_path / "never"
    before = snapshot(tmp_path)
    result = CliRunner().invoke(app, ["run", "--data", "fine-foods", "--seeds", "1", "--sizes", "8", *args,
                                      "--out", str(out)])
    check_refusal(result.exit_code, result.stdout, result.stderr, message, out, case[0], folder=tmp_path,
                  before=before)
