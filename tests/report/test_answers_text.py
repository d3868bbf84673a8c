"""Answer sentences for the edge cases of labels-to-target."""

from dataeff.analysis.types import LabelsNeeded
from dataeff.report.answers import _needed_cell, needed_text


def _need(n, how, ci=(None, None)) -> LabelsNeeded:
    return LabelsNeeded(n, how, "fit", ci, 480)


def test_a_target_past_the_extrapolation_limit_reads_as_such_not_as_a_number():
    need = _need(None, "extrapolated", (300.0, None))  # inf in the fit: None once built, as in summary.json
    assert needed_text(need).startswith("more than 100× the largest size measured")
    assert _needed_cell(need) == "> 100× largest size"
    assert needed_text(_need(0.0, "measured")) == "no labels (it gets there with none)"
    assert _needed_cell(_need(190.0, "measured", (107.0, 733.0))) == "190 [107, 733]"
    assert _needed_cell(_need(None, "unreachable")) == "not reached"
    assert needed_text(None) == "does not get there"


def test_a_learner_that_does_not_learn_from_labels_is_worth_one_clause_not_one_per_size():
    """llm-zero scores the same at every size: 'with 8, 16, 32 or 64 labels it scores 0.700, ...'
    once, not four identical clauses."""
    import numpy as np

    from dataeff.analysis.summary import summarize
    from dataeff.report.answers import worth_sentences
    from tests.analysis.test_curves import cells, pow3

    sizes = np.array([8, 16, 32, 64])
    results = cells({"lr": lambda n: pow3(n, a=0.9, c=0.5), "zero": lambda n: 0.7 + 0 * n},
                    np.random.default_rng(1), seeds=3, sigma=0.0, sizes=sizes)
    results.loc[results["learner"] == "lr", "roc_auc"] += np.random.default_rng(2).normal(0, 0.004, 12)
    analysis = summarize(results, "roc_auc", score_target=0.8, n_boot=20, families={"lr": "classic", "zero": "llm"})
    (sentence,) = [s for s in worth_sentences(analysis) if s.startswith("What zero is worth")]
    assert sentence.count("it scores") == 1 and "with 8, 16, 32 or 64 labels it scores 0.700" in sentence
