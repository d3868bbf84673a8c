"""The run's facts, typed: a stored copy of either version reads the same."""

from __future__ import annotations

from dataeff.experiment.facts import FACTS_VERSION, LearnerInfo, RunFacts
from dataeff.results import RunResult, learner_families


def test_facts_of_version_1_read_as_version_2():
    old = {"dataset": "churn", "target": "churned", "learners": ["majority", "xgb3"],
           "learner_settings": {"xgb3": "xgboost: XGBoost (max_depth: 3)"},
           "learner_kinds": {"majority": "majority", "xgb3": "xgboost"},
           "learner_families": {"xgb3": "classic"}, "cells": {"ok": 4}, "unknown_later_key": 1}
    facts = RunFacts.of(old)
    assert facts.label == "churned" and facts.facts_version == FACTS_VERSION
    assert facts.learner_info["xgb3"] == LearnerInfo(kind="xgboost", family="classic",
                                                     settings="xgboost: XGBoost (max_depth: 3)")
    assert facts.kinds() == {"majority": "majority", "xgb3": "xgboost"}
    # a folder older than families: the kind's family stands for a learner named by its kind
    assert learner_families(facts) == {"majority": "baseline", "xgb3": "classic"}
    again = RunFacts.of(facts.to_json())
    assert again == facts and "learner_info" in facts.to_json() and "target" not in facts.to_json()


def test_a_run_result_reads_a_dict_of_facts():
    import pandas as pd

    result = RunResult(pd.DataFrame(), "runs/x", "roc_auc", {"dataset": "d", "learners": ["a"]})
    assert isinstance(result.facts, RunFacts) and result.facts.dataset == "d"
