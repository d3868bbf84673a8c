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
