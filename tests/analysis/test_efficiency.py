"""Labels to target, crossovers, data advantage and cost: exact cases and properties."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataeff.analysis.efficiency import Prices, crossings, data_advantage, labels_to_target, route_cost
from dataeff.analysis.summary import summarize
from dataeff.config import parse_target
from dataeff.errors import ConfigError
from tests.analysis.test_curves import SIZES, cells, pow3


def test_interpolates_on_log_n_between_measured_sizes():
    need = labels_to_target(np.array([10.0, 100.0]), np.array([0.6, 0.8]), 0.7)
    assert need.how == "measured" and need.n == pytest.approx(np.sqrt(10 * 100))


def test_flags_reached_at_smallest_size_and_unreachable():
    sizes, means = np.array([8.0, 16.0, 32.0]), np.array([0.7, 0.75, 0.8])
    assert labels_to_target(sizes, means, 0.6).how == "at_most"
    assert labels_to_target(sizes, means, 0.95).how == "unreachable"
    assert labels_to_target(np.array([0.0, 8.0]), np.array([0.72, 0.8]), 0.7) .n == 0.0


def test_extrapolation_stops_at_a_hundred_times_the_largest_size():
    from dataeff.analysis.fits import fit_curve

    sizes = np.array([8.0, 16.0, 32.0, 64.0, 128.0])
    curve = 0.9 - 0.6 * sizes ** -0.5  # pow3: reaches 0.85 at n = 144, 0.899 at n = 360,000
    fit = fit_curve(sizes, curve, top=1.0)
    near = labels_to_target(sizes, curve, 0.85, fit=fit)
    assert near.how == "extrapolated" and near.n == pytest.approx(144, rel=0.05)
    far = labels_to_target(sizes, curve, 0.899, fit=fit)
    assert far.how == "extrapolated" and far.n == float("inf")  # 2,800x the largest size: not a number to print


def test_crossover_of_two_known_curves_is_found_at_the_right_n():
    """A = 0.9 - 0.6 n^-0.5 and B = 0.75 - 0.2 n^-0.5 cross where 0.15 = 0.4 n^-0.5: n = 7.1;
    C = 0.7 (flat, like a zero-shot LLM) is overtaken by A at 0.2 = 0.6 n^-0.5: n = 9."""
    a = pow3(SIZES)
    found = crossings(SIZES, a - 0.7)
    assert len(found) == 1 and found[0].direction == 1
    assert found[0].n == pytest.approx(9, rel=0.05)
    rng = np.random.default_rng(2)
    results = cells({"a": pow3, "flat": lambda n: 0.82 + 0 * n}, rng, sigma=0.004)
    # 0.9 - 0.6 n^-0.5 = 0.82  ->  n = 56.25
    cross = [c for c in summarize(results, "roc_auc", n_boot=100).crossovers if c.final]
    assert len(cross) == 1 and cross[0].winner == "a" and cross[0].loser == "flat"
    assert cross[0].n == pytest.approx(56.25, rel=0.2)
    assert cross[0].ci[0] <= 56.25 <= cross[0].ci[1]
    assert cross[0].lead_ci[0] > 0 and cross[0].settled


def test_data_advantage_of_a_curve_shifted_by_a_factor():
    """B needs 4x the labels of A for every score: the average gap is 3x A's labels."""
    sizes = np.geomspace(8, 8192, 21)
    a = 0.9 - 0.6 * sizes ** -0.5
    b = 0.9 - 0.6 * (sizes / 4) ** -0.5
    adv = data_advantage(sizes, a, sizes, b, grid=400)
    scores = np.linspace(*adv["window"], 400)
    n_a = (0.6 / (0.9 - scores)) ** 2
    assert adv["labels"] == pytest.approx(np.mean(3 * n_a), rel=0.05)


def test_route_cost_adds_labels_compute_and_serving():
    cost = route_cost(400, fit_seconds=36, predict_seconds_per_row=0.0036, tokens_per_row=100, train_tokens=0,
                      prices=Prices(label_cost=0.5, predictions=1e6, token_price=2.0, compute_price=1.0))
    assert cost["labels"] == 200 and cost["training"] == pytest.approx(0.01)
    assert cost["serving_per_month"] == pytest.approx(1.0 + 200.0)


def test_cheapest_route_is_named_with_its_margin():
    rng = np.random.default_rng(5)
    results = cells({"fast": lambda n: pow3(n, c=0.8), "slow": lambda n: pow3(n, c=0.3)}, rng, sigma=0.003)
    analysis = summarize(results, "roc_auc", score_target=0.8, n_boot=50)
    cheapest = analysis.cheapest
    # 0.9 - 0.6 n^-c = 0.8: fast (c = 0.8) needs 6^(1/0.8) = 9.4 labels, slow (c = 0.3) 6^(1/0.3) = 391
    fast, slow = analysis.learners["fast"], analysis.learners["slow"]
    assert fast.labels_to_target.n == pytest.approx(6 ** (1 / 0.8), rel=0.25)
    assert slow.labels_to_target.n == pytest.approx(6 ** (1 / 0.3), rel=0.25)
    for answer in (fast, slow):  # labels at 0.50 each dominate: training and serving cost cents
        assert answer.cost.labels == pytest.approx(0.5 * answer.labels_to_target.n, rel=1e-12)
        assert answer.cost.total_first_month == pytest.approx(
            answer.cost.labels + answer.cost.training + answer.cost.serving_per_month, rel=1e-12)
    assert cheapest.learner == "fast" and cheapest.runner_up == "slow"
    assert cheapest.saving == pytest.approx(slow.cost.total_first_month - fast.cost.total_first_month, rel=1e-12)
    assert cheapest.ratio == pytest.approx(slow.cost.total_first_month / fast.cost.total_first_month, rel=1e-12)
    assert cheapest.ratio == pytest.approx(6 ** (1 / 0.3) / 6 ** (1 / 0.8), rel=0.4)  # about 42 times cheaper


@pytest.mark.parametrize(("spec", "parsed"), [("95%", ("relative", 0.95)), ("0.85", ("absolute", 0.85)),
                                              (0.9, ("absolute", 0.9))])
def test_parse_target(spec, parsed):
    assert parse_target(spec) == parsed


@pytest.mark.parametrize("spec", ["abc", "150%", "0%"])
def test_bad_target_is_refused(spec):
    with pytest.raises(ConfigError, match="score_target must be a score like 0.85"):
        parse_target(spec)


monotone_curves = st.lists(st.floats(0.001, 0.05), min_size=2, max_size=15).map(
    lambda steps: 0.5 + np.cumsum(steps))


@settings(max_examples=200, deadline=None)
@given(means=monotone_curves, t1=st.floats(0.4, 1.3), t2=st.floats(0.4, 1.3))
def test_property_monotone_curve_gives_monotone_labels_within_range(means, t1, t2):
    sizes = 8 * np.sqrt(2) ** np.arange(len(means))
    low, high = sorted([t1, t2])
    a, b = labels_to_target(sizes, means, low), labels_to_target(sizes, means, high)
    assert a.value <= b.value  # a higher target never needs fewer labels
    for need in (a, b):
        if need.how in ("measured", "at_most"):
            assert sizes[0] <= need.n <= sizes[-1] + 1e-9  # inside the measured range unless flagged


@settings(max_examples=200, deadline=None)
@given(diff=st.lists(st.floats(-1, 1).filter(lambda v: abs(v) > 1e-6), min_size=2, max_size=15))
def test_property_crossings_lie_between_measured_sizes_and_alternate(diff):
    sizes = 8 * np.sqrt(2) ** np.arange(len(diff))
    found = crossings(sizes, np.array(diff))
    assert len(found) == int(np.sum(np.diff(np.sign(diff)) != 0))
    for c in found:
        assert sizes[0] <= c.n <= sizes[-1]
    assert all(x.direction != y.direction for x, y in zip(found, found[1:]))
    assert [c.n for c in found] == sorted(c.n for c in found)


def test_analysis_of_a_results_frame_with_failed_cells_and_one_seed():
    rng = np.random.default_rng(6)
    results = cells({"x": pow3}, rng, seeds=1)
    results.loc[3, "status"] = "failed"
    analysis = summarize(results, "roc_auc", n_boot=20)
    assert analysis.learners["x"].asymptote_ci == (None, None)  # one seed: no interval
    failed_size = int(results.loc[3, "n_train"])
    assert analysis.learners["x"].sizes == tuple(int(n) for n in SIZES if n != failed_size)  # only ok cells
    assert analysis.crossovers == ()  # one learner: nothing to cross
    two = summarize(pd.concat([results, results.assign(learner="y", roc_auc=1.5 - results["roc_auc"])]), "roc_auc",
                  n_boot=20)
    # y = 1.5 - x crosses x where x = 0.75: 0.9 - 0.6 n^-0.5 = 0.75 at n = 16, measured there or near
    (cross,) = two.crossovers
    assert (cross.winner, cross.loser) == ("x", "y") and cross.n == pytest.approx(16, rel=0.3)
