"""Models that only write answers: a label read from each answer, vote shares of sampled answers,
a stated confidence; sampling on the local model; a study through a real server that never asks
for log-probabilities (llama.cpp's OpenAI-compatible server, behind a recording proxy)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dataeff.errors import ConfigError
from dataeff.learners.llm.backends.base import Cached, Generation
from dataeff.learners.llm.cache import AnswerCache
from dataeff.learners.llm.voting import confidence_shares, parse_label, vote_shares
from tests.llm_server import FaultProxy

WORDS = {"great": "Yes", "other": "No"}


@pytest.mark.parametrize("text, label", [
    (" Yes", "great"), ("yes.", "great"), (" No, because the tea was stale", "other"), ("**No**", "other"),
    (' "Yes" it is', "great"), ("Nothing to say", None), ("I think yes", None), ("", None),
    (" Yes or No", None), ("No/Yes", None), ("Yesterday", None),
])
def test_an_answer_names_a_label_only_by_starting_with_its_word(text, label):
    assert parse_label(text, WORDS) == label


def test_the_longest_answer_word_wins_where_one_starts_another():
    assert parse_label("Very good indeed", {"a": "Very", "b": "Very good"}) == "b"


def test_vote_shares_count_answers_that_name_no_label_and_give_their_rows_even_shares():
    proba, unparsed = vote_shares([[" Yes", " Yes", " No", " maybe"], ["hmm", "?"]], WORDS, ["great", "other"])
    np.testing.assert_allclose(proba, [[2 / 3, 1 / 3], [0.5, 0.5]])
    assert unparsed == 3


def test_a_stated_confidence_goes_to_the_named_label_and_the_rest_to_the_others():
    answers = [[" Yes 80"], [" No, 90%"], [" Yes"], [" dunno 70"]]
    proba, unparsed = confidence_shares(answers, WORDS, ["great", "other"])
    np.testing.assert_allclose(proba, [[0.8, 0.2], [0.1, 0.9], [1.0, 0.0], [0.5, 0.5]])
    assert unparsed == 1


def test_an_unknown_scoring_is_one_line(llm_cache):
    from dataeff.learners.llm.learners import ZeroShot
    from dataeff.learners.llm.prompting import Task

    task = Task("Is it good?", WORDS, classes=["great", "other"])
    import pandas as pd

    with pytest.raises(ConfigError, match="Unknown LLM scoring 'votes'; choose logprobs, sample, verbal"):
        ZeroShot(task, scoring="votes", cache=llm_cache).fit(pd.DataFrame({"x": []}), pd.Series([], dtype=str))


def test_local_samples_are_a_function_of_the_prompt_and_stop_where_asked(llm_cache, tmp_path):
    from dataeff.learners.llm.backends.llamacpp import LlamaCpp

    model = LlamaCpp(cache_folder=llm_cache.folder)
    try:
        prompts = ["Review: lovely tea, will buy again.\nQuestion: Is this review positive?\nAnswer:",
                   "Review: stale and bitter.\nQuestion: Is this review positive?\nAnswer:"]
        asked = [Generation(p, max_tokens=5, temperature=1.0, n=4) for p in prompts]
        first = model.generate(asked)
        again = model.generate(list(reversed(asked)))[::-1]  # another order: the same answers
        assert first == again
        assert [len(a) for a in first] == [4, 4] and all("\n" not in t for a in first for t in a)
        greedy = model.generate([Generation(prompts[0], max_tokens=5, temperature=0.0, n=3)])[0]
        assert len(set(greedy)) == 1
        # Through the cache: the second ask is answered from it, the same answers.
        cached = Cached(model, AnswerCache(tmp_path / "cache.sqlite"))
        assert cached.generate(asked) == first and cached.cache.misses == 2
        assert cached.generate(asked) == first and cached.cache.hits == 2
    finally:
        model.close()


def test_a_generate_only_study_through_a_server_never_asks_for_log_probabilities(llama_server, tmp_path):
    import dataeff
    from dataeff.data.builtin import load_builtin
    from dataeff.report.answers import llm_traffic

    proxy = FaultProxy(llama_server.base)
    try:
        settings = dict(learners=["llm-zero", "llm-few"], seeds=1, sizes=[8], test_rows=6, jobs=1,
                        llm_backend="openai", llm_url=proxy.base, llm_model="gemma", llm_scoring="sample",
                        llm_samples=3, cache_dir=str(tmp_path / "cache"))
        frame = load_builtin("fine-foods")
        run = dataeff.Study(frame, **settings).run(tmp_path / "first", progress=False)
        results = run.results
        assert (results["status"] == "ok").all(), results["error"].tolist()
        bodies = [json.loads(seen["body"]) for seen in proxy.seen]
        assert bodies and all("logprobs" not in body and "echo" not in body for body in bodies)
        assert all(body["temperature"] == 1.0 and body["max_tokens"] <= 4 for body in bodies)
        usage = run.facts.llm_usage
        # llm-zero's 6 prompts (asked at n = 0 and 8 alike), llm-few's 6 at n = 8: 3 answers each
        assert usage["written_answers"] == 3 * 6 * len(results) and 0 <= usage["unparsed_answers"] <= usage["written_answers"]
        assert "Row data sent off this machine" in llm_traffic(run.facts)
        assert "answers written (sample or verbal scoring)" in llm_traffic(run.facts)
        info = run.facts.learner_info["llm-zero"].settings
        assert "vote shares of 3 answers sampled a row" in info and "at most 4 steps" in info
        # Another run on the same cache sends nothing: every answer was paid for once.
        sent = len(proxy.seen)
        dataeff.Study(frame, **settings).run(tmp_path / "second", progress=False)
        assert len(proxy.seen) == sent
    finally:
        proxy.close()


def test_a_backend_that_cannot_write_answers_is_one_line(llm_cache):
    import pandas as pd

    from dataeff.learners.llm.learners import ZeroShot
    from dataeff.learners.llm.prompting import Task

    task = Task("Is it good?", WORDS, classes=["great", "other"])
    learner = ZeroShot(task, backend="minilm", scoring="sample", cache=llm_cache)
    learner.fit(pd.DataFrame({"text": ["a"]}).iloc[:0], pd.Series([], dtype=str))
    with pytest.raises(ConfigError, match="minilm backend does not write answers"):
        learner.predict_proba(pd.DataFrame({"text": ["good tea"]}))
