"""The analysis as typed objects: summary.json's shapes, a lossless JSON round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dataeff.analysis.summary import summarize
from dataeff.analysis.types import ANALYSIS_SCHEMA, Analysis, Target
from dataeff.errors import RunFolderError
from tests.analysis.test_curves import cells, pow3

LEARNER_KEYS = {"family", "kind", "sizes", "fit", "asymptote", "asymptote_ci", "identified", "rising",
                "rule_of_thumb", "labels_to_target", "cost", "forecast"}


def _analysis() -> Analysis:
    rng = np.random.default_rng(8)
    results = cells({"majority": lambda n: 0.5 + 0 * n, "logreg": lambda n: pow3(n, c=0.8),
                     "llm-zero": lambda n: pow3(n, a=0.85, c=0.2)}, rng, seeds=3, sigma=0.004)
    return summarize(results, "roc_auc", score_target="95%", n_boot=30,
                   families={"majority": "baseline", "logreg": "classic", "llm-zero": "llm"})


def test_to_json_has_the_documented_keys_and_reads_back_unchanged():
    analysis = _analysis()
    data = json.loads(json.dumps(analysis.to_json(), allow_nan=False))  # valid JSON: no NaN, no inf
    assert set(data) == {"metric", "higher_is_better", "n_seeds", "prices", "learners", "crossovers",
                         "data_advantage", "prompt_worth", "ceiling", "target", "reference", "cheapest",
                         "signal", "schema_version", "acquisition", "label_routes", "sources"}
    assert data["schema_version"] == ANALYSIS_SCHEMA
    assert set(data["learners"]["logreg"]) == LEARNER_KEYS
    assert set(data["ceiling"]) == {"value", "ci", "learner", "from", "best_measured", "best_measured_learner",
                                    "best_measured_n", "gap", "extrapolated", "still_rising", "selection",
                                    "largest_mean"}
    assert set(data["target"]) == {"spec", "kind", "value", "relative_to", "baseline", "baseline_from"}
    assert data["signal"]["found"] is True and data["signal"]["baseline"] == "majority"
    assert set(data["signal"]["best"]) == {"learner", "n", "score", "ci", "baseline_score", "baseline_ci",
                                           "p_adjusted"}
    assert set(data["learners"]["logreg"]["labels_to_target"]) == {"n", "how", "method", "ci", "max_measured"}
    assert set(data["learners"]["logreg"]["cost"]) == {"labels", "training", "serving_per_month",
                                                       "total_first_month", "n_labels", "how"}
    assert [w["learner"] for w in data["prompt_worth"]] == ["llm-zero"]
    assert set(data["prompt_worth"][0]) == {"learner", "reference", "llm", "first_size", "labels_to_match",
                                            "advantage", "per_size"}
    assert [w["n"] for w in data["prompt_worth"][0]["per_size"]] == data["learners"]["llm-zero"]["sizes"]
    assert Analysis.from_json(data).to_json() == data


def test_the_stored_copy_is_read_by_its_schema_version():
    data = _analysis().to_json()
    old = {k: v for k, v in data.items() if k != "schema_version"}  # stored before versions were
    old["crossovers"] = [{k: v for k, v in c.items() if k != "significant"} for c in old["crossovers"]]
    assert Analysis.from_json(old).to_json()["learners"] == data["learners"]
    with pytest.raises(RunFolderError, match=f"schema version {ANALYSIS_SCHEMA + 1}, newer than this dataeff reads"):
        Analysis.from_json({**data, "schema_version": ANALYSIS_SCHEMA + 1})
    # NaN and numpy scalars become plain JSON numbers or None the moment an object is built
    assert Target("0.8", "absolute", np.float64("nan")).value is None
    assert Target("0.8", "absolute", np.float64(0.8)).to_json()["value"] == 0.8


def test_costs_are_numbers_in_the_analysis_and_the_cheapest_is_the_smallest():
    analysis = _analysis()
    totals = {n: a.cost.total_first_month for n, a in analysis.learners.items() if a.cost is not None}
    assert totals and analysis.cheapest.learner == min(totals, key=totals.get)
    assert all(isinstance(t, float) for t in totals.values())


def test_a_run_without_curves_keeps_only_the_target_as_given():
    results = cells({"x": pow3}, np.random.default_rng(0), seeds=2).assign(status="failed")
    data = summarize(results, "roc_auc").to_json()
    assert data["target"] == {"spec": "95%", "value": None} and "ceiling" not in data and "reference" not in data
    assert Analysis.from_json(data).to_json() == data
    assert Analysis.from_stored(None) is None and Analysis.from_stored("{}") is None


def test_families_not_names_decide_baselines_references_and_llms():
    """A learner's family comes from its kind: a variant named 'zero' of llm-zero is an LLM, a
    classic learner named 'llm-ish' is not, and a baseline never becomes the reference."""
    rng = np.random.default_rng(8)
    results = cells({"floor": lambda n: 0.5 + 0 * n, "llm-ish": lambda n: pow3(n, c=0.8),
                     "zero": lambda n: pow3(n, a=0.85, c=0.2)}, rng, seeds=3, sigma=0.004)
    analysis = summarize(results, "roc_auc", n_boot=20, families={"floor": "baseline", "zero": "llm"},
                       kinds={"llm-ish": "logreg", "zero": "llm-zero"})
    assert analysis.reference == "llm-ish"
    assert [w.learner for w in analysis.prompt_worth] == ["zero"]
    assert analysis.learners["llm-ish"].rule_of_thumb == (100, 1_000)  # its kind's
    assert analysis.learners["floor"].family == "baseline"
    assert all("floor" not in (c.winner, c.loser) for c in analysis.crossovers)
    assert analysis.ceiling.learner != "floor"
