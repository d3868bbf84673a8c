"""The LLM work sized before a run counts the pool rows an acquiring learner reads."""

from __future__ import annotations

import pytest

import dataeff
from dataeff.experiment.acquire import LLM_CANDIDATES
from dataeff.learners.llm.workload import estimate


def _work(learners: list[str]):
    study = dataeff.Study("fine-foods", learners=learners, seeds=2, sizes=[8, 16], test_rows=50)
    dataset, plan, specs = study.prepare()
    return estimate(dataset, plan, specs), plan


def test_a_cold_start_counts_its_zero_shot_prompts_of_pool_rows():
    plain, _ = _work(["logreg"])
    cold, plan = _work(["cold=logreg(acquire=llm-zero)"])
    assert plain.local_tokens == 0
    zero, _ = _work(["llm-zero"])
    # the cold start reads LLM_CANDIDATES pool rows per seed, llm-zero its test rows (+3 calibration)
    per_prompt = zero.local_tokens / (len(plan.seeds) * (plan.n_test + 3))
    assert cold.local_tokens == pytest.approx(len(plan.seeds) * LLM_CANDIDATES * per_prompt, rel=1e-9)
    # two learners with the same cold start pay it once
    twice, _ = _work(["a=logreg(acquire=llm-zero)", "b=xgboost(acquire=llm-zero)"])
    assert twice.local_tokens == pytest.approx(cold.local_tokens, rel=1e-9)


def test_an_acquiring_probe_counts_the_candidates_it_scores():
    random_rows, plan = _work(["llm-probe"])
    margin, _ = _work(["llm-probe(acquire=margin)"])
    pool = len(plan.splits[plan.seeds[0]].train_order)
    assert pool > 16 and margin.local_tokens > 10 * random_rows.local_tokens


def test_an_llm_labels_learner_counts_its_labellers_prompts_of_the_pool():
    zero, plan = _work(["llm-zero"])
    per_prompt = zero.local_tokens / (len(plan.seeds) * (plan.n_test + 3))
    routed, _ = _work(["s=llm-labels(pool=300)"])  # the study adds its labeller llm-zero and its student logreg
    assert routed.local_tokens == pytest.approx(zero.local_tokens + 300 * len(plan.seeds) * per_prompt, rel=1e-9)
    # a few-shot labeller relabels the pool after each cell's demonstrations: every size pays again
    few, _ = _work(["s=llm-labels(pool=300, labeller=llm-few)"])
    few_alone, _ = _work(["llm-few"])
    assert few.local_tokens - few_alone.local_tokens > 2.5 * 300 * len(plan.seeds) * per_prompt
