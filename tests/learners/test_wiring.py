"""The study's wiring of learners: each LLM variant gets its own settings over the [llm] table,
its task and the cache; Learner objects that need the task get it; tuned learners the metric."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dataeff.config import Settings
from dataeff.data.dataset import prepare_dataset
from dataeff.errors import ConfigError
from dataeff.learners.llm.backends.endpoint import Endpoint
from dataeff.learners.registry import resolve_learners
from dataeff.learners.wiring import wire_learners


def _wired(learners: str, **overrides):
    frame = pd.DataFrame({"x": np.arange(40) % 7, "label": ["0", "1"] * 20})
    dataset = prepare_dataset(frame, "label", "numbers")
    settings = Settings().with_overrides(learners=learners, **overrides)
    specs = resolve_learners(settings.study.learners)
    return {s.name: s for s in wire_learners(specs, dataset, ["0", "1"], settings.llm, settings.run, "roc_auc")}


def test_each_llm_variant_gets_its_own_settings_over_the_llm_table():
    specs = _wired('few4=llm-few(shots=4), few16=llm-few(shots=16, question="Is it one?"), llm-zero, '
                   'served=llm-zero(backend=openai, url="http://127.0.0.1:9/v1", model=gemma, calibrate=false), '
                   'llm-embed', llm_answers="0=No,1=Yes", llm_question="Is the label one?", cache_dir="/tmp/c")
    assert specs["few4"].params["k_max"] == 4 and specs["few16"].params["k_max"] == 16
    assert specs["few4"].params["task"].question == "Is the label one?"  # from [llm]
    assert specs["few16"].params["task"].question == "Is it one?"  # its own
    assert specs["llm-zero"].params["task"].verbalizers == {"0": "No", "1": "Yes"}
    assert specs["llm-zero"].params["backend"] == "llamacpp" and "calibrate" not in specs["llm-zero"].params
    served = specs["served"].params
    assert served["backend"] == "openai" and served["model"] == Endpoint("http://127.0.0.1:9/v1", "gemma")
    assert str(served["model"]) == "http://127.0.0.1:9/v1::gemma"  # the text the answer cache has always keyed
    assert served["calibrate"] is False and served["backend_options"]["concurrency"] == 4
    assert "backend" not in specs["llm-embed"].params  # the local MiniLM
    assert {str(s.params["cache"].folder) for s in specs.values()} == {"/tmp/c"}
    # the same task object is shared by variants that ask the same question
    assert specs["few4"].params["task"] is specs["llm-zero"].params["task"]


def test_answer_words_missing_a_label_are_refused():
    with pytest.raises(ConfigError, match="answer words of z lack the label.*'1'"):
        _wired("z=llm-zero(answers={\"0\" = \"No\"})")


def test_a_variant_setting_out_of_range_names_the_variant():
    with pytest.raises(ConfigError, match="Learner 'few0': shots must be a positive integer. Got 0"):
        _wired("few0=llm-few(shots=0)")


def test_a_learner_object_that_needs_the_task_gets_it():
    from dataeff.learners.llm.learners import FewShot

    frame = pd.DataFrame({"x": np.arange(40) % 7, "label": ["0", "1"] * 20})
    dataset = prepare_dataset(frame, "label", "numbers")
    settings = Settings().with_overrides(llm_answers="0=No,1=Yes")
    spec = wire_learners(resolve_learners([FewShot(k_max=2)]), dataset, ["0", "1"], settings.llm, settings.run,
                         "roc_auc")[0]
    assert spec.family == "llm" and spec.needs_task
    learner = spec.build(3)
    assert learner.task.verbalizers == {"0": "No", "1": "Yes"} and learner.k_max == 2 and learner.random_state == 3


def test_tuned_learners_get_the_study_metric():
    specs = _wired("xgboost(tune=5), logreg")
    assert specs["xgboost(tune=5)"].params == {"tune": 5, "metric": "roc_auc"}
    assert specs["logreg"].params == {}
