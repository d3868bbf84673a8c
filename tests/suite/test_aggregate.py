"""The suite's aggregate on hand-made per-dataset answers: medians, quartiles, ranges, the
counts of datasets not reached and extrapolated, the rule of thumb, crossovers by family."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dataeff.analysis.types import Crossover, LabelsNeeded
from dataeff.suite.aggregate import DatasetAnswers, aggregate, labels_text


def need(n, how="measured", largest=1000):
    return LabelsNeeded(n, how, "interpolation", (None, None), largest)


def crossing(winner, loser, n, final=True, significant=True):
    return Crossover(winner, loser, n, (None, None), 1.0, final, 0.05, (0.01, 0.1), 1000, significant)


FAMILIES = {"majority": "baseline", "logreg": "classic", "tree": "classic", "llm-few": "llm"}


def dataset(name, logreg, tree, llm, crossovers=()):
    return DatasetAnswers(name, name, f"/runs/{name}", metric="roc_auc", ceiling=0.9, families=FAMILIES,
                          kinds={k: k for k in FAMILIES},
                          labels={"95%": {"majority": need(None, "unreachable"), "logreg": logreg, "tree": tree,
                                          "llm-few": llm}},
                          crossovers=tuple(crossovers))


@pytest.fixture
def answers():
    return [
        dataset("a", need(100), need(800), need(8, "at_most"), [crossing("logreg", "llm-few", 64)]),
        dataset("b", need(200), need(3000, "extrapolated"), need(16), [crossing("tree", "logreg", 500),
                                                                         crossing("logreg", "llm-few", 128)]),
        dataset("c", need(400), need(None, "unreachable"), need(None, "extrapolated")),
        dataset("d", need(1600), need(1200), None, [crossing("tree", "llm-few", 300, significant=False)]),
        DatasetAnswers.failure("e", "broken.csv", "/runs/e", "Label column 'y' is not in broken.csv."),
    ]


def spread(result, learner, target="95%"):
    return next(s for s in result.spreads(target) if s.learner == learner)


def test_medians_quartiles_and_ranges_over_datasets_with_a_number(answers):
    result = aggregate(answers)
    logreg = spread(result, "logreg")
    assert logreg.numbers == (100, 200, 400, 1600)
    assert logreg.median == 300 and logreg.range == (100, 1600)
    assert logreg.iqr == pytest.approx((np.quantile([100, 200, 400, 1600], 0.25), 700))
    assert (logreg.datasets, logreg.within, logreg.not_reached, logreg.extrapolated) == (4, 4, 0, 0)
    assert logreg.rule_of_thumb == (100, 1000) and logreg.verdict == "within"


def test_not_reached_within_the_sizes_measured_and_extrapolated_are_counted(answers):
    result = aggregate(answers)
    tree = spread(result, "tree")
    assert tree.numbers == (800, 3000, 1200)  # the extrapolated 3,000 counts; 'unreachable' has no number
    # never reached counts as more labels than any number: [800, 1200, 3000, inf]
    assert tree.values == [800, 1200, 3000, math.inf]
    assert tree.median == 2100 and tree.range == (800, math.inf) and tree.iqr == (1100, math.inf)
    assert (tree.within, tree.extrapolated, tree.unreachable, tree.not_reached) == (2, 1, 1, 2)
    assert tree.verdict == "within"
    llm = spread(result, "llm-few")  # 8, 16, past the extrapolation limit (inf); no target on d
    assert llm.numbers == (8, 16) and llm.values == [8, 16, math.inf] and llm.median == 16
    assert (llm.within, llm.extrapolated, llm.no_answer) == (2, 1, 1)
    assert llm.rule_of_thumb is None and llm.rule_text == "next to none" and llm.verdict is None


def test_a_learner_that_misses_on_most_datasets_has_a_median_of_not_reached():
    misses = [dataset(name, need(100), need(None, "unreachable"), need(8)) for name in "abc"]
    misses.append(dataset("d", need(100), need(50), need(8)))
    tree = spread(aggregate(misses), "tree")
    assert tree.median == math.inf and tree.range == (50, math.inf) and tree.verdict == "more"
    row = tree.to_json()
    assert row["median"] is None and row["range"] == [50, None] and row["with_answer"] == 4


def test_baselines_and_failed_datasets_do_not_count(answers):
    result = aggregate(answers)
    assert "majority" not in {s.learner for s in result.learners}
    assert all(s.datasets == 4 for s in result.learners)
    assert [d.name for d in result.datasets] == ["a", "b", "c", "d", "e"]  # the failed one is listed


def test_crossovers_between_families_across_datasets(answers):
    result = aggregate(answers)
    family = next(c for c in result.crossovers if c.by == "family" and c.early == "llm")
    # the LLM leads below n labels on 3 of the 4 datasets that have both families
    assert (family.late, family.datasets, len(family.at), family.settled) == ("classic", 4, 3, 2)
    assert dict(family.at) == {"a": 64, "b": 128, "d": 300}
    assert family.median == 128 and family.range == (64, 300)
    assert "the llm family leads the classic family below 128 labels" in family.sentence()
    assert "on 3 of 4 datasets" in family.sentence()
    learner = next(c for c in result.crossovers if c.by == "learner" and c.early == "logreg" and c.late == "tree")
    assert dict(learner.at) == {"b": 500} and learner.datasets == 4
    # a crossing inside one family is not a crossover between families
    assert not [c for c in result.crossovers if c.by == "family" and c.early == c.late]


def test_a_second_target_is_aggregated_on_its_own():
    a = dataset("a", need(100), need(800), need(8))
    b = dataset("b", need(300), need(900), need(40))
    a.labels["0.8"] = {"logreg": need(50), "tree": need(None, "unreachable"), "llm-few": need(4, "at_most")}
    b.labels["0.8"] = {"logreg": need(70), "tree": need(90), "llm-few": need(8)}
    result = aggregate([a, b])
    assert result.targets == ("95%", "0.8")
    assert spread(result, "logreg", "0.8").median == 60
    assert spread(result, "tree", "0.8").numbers == (90,)


def test_json_round_numbers_and_labels_text(answers):
    data = aggregate(answers).to_json()
    row = next(r for r in data["learners"] if r["learner"] == "logreg")
    assert row["median"] == 300 and row["range"] == [100, 1600] and row["with_number"] == 4
    tree = next(r for r in data["learners"] if r["learner"] == "tree")
    assert tree["median"] == 2100 and tree["range"] == [800, None] and tree["iqr"] == [1100, None]
    assert data["datasets"][4]["status"] == "failed" and "broken.csv" in data["datasets"][4]["error"]
    assert data["datasets"][0]["learners"]["tree"]["labels"]["95%"]["n"] == 800
    assert [labels_text(n) for n in (need(180), need(8, "at_most"), need(2300.4, "extrapolated"),
                                     need(None, "extrapolated"), need(None, "unreachable"), None)] == \
        ["180", "≤ 8", "~2,300 (extrapolated)", "> 100x largest size", "not reached", "no target"]


def test_the_largest_size_measured_shows_a_learner_run_at_fewer_sizes():
    """llm-few given max_size=8 stops at 8 labels: the table says so, next to its 'not reached'."""
    from dataeff.suite.outputs import render_markdown

    few = [dataset(name, need(100), need(800, largest=2048), need(None, "extrapolated", largest=8)) for name in "ab"]
    result = aggregate(few)
    assert spread(result, "llm-few").largest_size == 8 and spread(result, "tree").largest_size == 2048
    assert next(r for r in result.to_json()["learners"] if r["learner"] == "llm-few")["largest_size"] == 8
    table = render_markdown(result, 1.0)
    assert "largest size measured" in table
    # the baseline is the floor, neither a row of the learner table nor a column of the datasets'
    assert "| dataset | rows | ceiling | logreg | tree | llm-few | seconds |" in table
    assert any(line.startswith("| llm-few |") and line.split("|")[-3].strip() == "8" for line in table.splitlines())
