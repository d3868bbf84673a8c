"""Answer sentences for the edge cases of labels-to-target."""

from dataeff.report.answers import _needed_cell, needed_text


def test_a_target_past_the_extrapolation_limit_reads_as_such_not_as_a_number():
    for n in (float("inf"), None):  # in memory, and after summary.json (null)
        need = {"labels_to_target": {"how": "extrapolated", "n": n, "ci": [300.0, None]}}
        assert needed_text(need).startswith("more than 100× the largest size measured")
        assert _needed_cell(need["labels_to_target"]) == "> 100× largest size"
    assert needed_text({"labels_to_target": {"how": "measured", "n": 0.0}}) == "no labels (it gets there with none)"
    assert _needed_cell({"how": "measured", "n": 190.0, "ci": [107.0, 733.0]}) == "190 [107, 733]"
    assert _needed_cell({"how": "unreachable", "n": None}) == "not reached"
