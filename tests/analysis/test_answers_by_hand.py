"""The analysis's fields on small curves whose answers are computed by hand here: prompt worth,
data advantage, the reference, crossover support, the cheapest route's saving and the rule
of thumb (each checked against numbers derived in the test, not by the code under test)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dataeff.analysis.curves import seed_resamples
from dataeff.analysis.summary import summarize

SIZES = [8, 16, 32, 64]
# Per-seed offsets that sum to zero: each size's mean is exactly the value below.
OFFSETS = np.array([0.012, -0.004, -0.008])
MEANS = {
    "majority": [0.50, 0.50, 0.50, 0.50],
    "logreg": [0.60, 0.70, 0.80, 0.90],  # straight on log n: +0.10 per doubling
    "tree": [0.55, 0.60, 0.65, 0.70],
    "llm-few": [0.75, 0.78, 0.79, 0.80],
}
FAMILIES = {"majority": "baseline", "logreg": "classic", "tree": "classic", "llm-few": "llm"}
KINDS = {"majority": "majority", "logreg": "logreg", "tree": "tree", "llm-few": "llm-few"}
N_BOOT = 40


def _results(llm_at_32=None, llm_at_64=None) -> pd.DataFrame:
    rows = []
    for learner, means in MEANS.items():
        for i, (n, mean) in enumerate(zip(SIZES, means)):
            for seed, offset in enumerate(OFFSETS):
                value = mean + (offset if learner != "majority" else 0.0)
                if learner == "llm-few" and n == 32 and llm_at_32 is not None:
                    value = llm_at_32[seed]
                if learner == "llm-few" and n == 64 and llm_at_64 is not None:
                    value = llm_at_64[seed]
                rows.append({"learner": learner, "n_train": n, "seed": seed, "n_test": 1000, "status": "ok",
                             "roc_auc": value, "fit_seconds": 0.001 * n, "predict_seconds": 0.5,
                             "tokens": 0.0 if learner != "llm-few" else 100_000.0, "predict_tokens": None})
    return pd.DataFrame(rows)


def _log_interp(n0: float, n1: float, y0: float, y1: float, y: float) -> float:
    """Labels at score y between (n0, y0) and (n1, y1), straight on log n."""
    return float(np.exp(np.log(n0) + (y - y0) / (y1 - y0) * (np.log(n1) - np.log(n0))))


def _logreg_labels(score: float) -> float:
    """logreg reaches ``score`` (0.6 to 0.9) with 8 * 2^((score - 0.6) / 0.1) labels."""
    return 8 * 2 ** ((score - 0.6) / 0.1)


def _llm_labels(score: float) -> float:
    if score <= 0.75:
        return 8.0
    points = list(zip(SIZES, MEANS["llm-few"]))
    for (n0, y0), (n1, y1) in zip(points, points[1:]):
        if score <= y1:
            return _log_interp(n0, n1, y0, y1, score)
    return float("nan")


@pytest.fixture(scope="module")
def analysis():
    return summarize(_results(), "roc_auc", score_target="0.85", n_boot=N_BOOT, families=FAMILIES, kinds=KINDS)


def test_the_reference_is_the_best_classic_learner_and_rules_of_thumb_follow_the_kind(analysis):
    assert analysis.reference == "logreg"  # 0.90 at 64 beats tree's 0.70; llm-few is no reference
    assert analysis.learners["logreg"].rule_of_thumb == (100, 1_000)
    assert analysis.learners["tree"].rule_of_thumb == (1_000, 10_000)
    assert analysis.learners["llm-few"].rule_of_thumb is None
    variant = summarize(_results(), "roc_auc", score_target="0.85", n_boot=N_BOOT, families=FAMILIES,
                      kinds={**KINDS, "logreg": "xgboost"})  # a variant named logreg, of kind xgboost
    assert variant.learners["logreg"].rule_of_thumb == (100, 10_000)


def test_prompt_worth_is_what_the_reference_needs_for_each_of_the_llm_scores(analysis):
    (worth,) = analysis.prompt_worth
    assert worth.learner == "llm-few" and worth.reference == "logreg" and worth.llm
    got = {s.n: (s.score, s.match.n) for s in worth.per_size}
    expected = {n: (score, _logreg_labels(score)) for n, score in zip(SIZES, MEANS["llm-few"])}
    # 0.75 -> 16 * 2^0.5 = 22.6 labels of logreg; 0.80 -> exactly 32
    assert got[8][1] == pytest.approx(16 * np.sqrt(2), rel=1e-6)
    for n in SIZES:
        assert got[n][0] == pytest.approx(expected[n][0], abs=1e-12)
        assert got[n][1] == pytest.approx(expected[n][1], rel=1e-6), n
    assert worth.first_size == 8 and worth.labels_to_match.n == pytest.approx(16 * np.sqrt(2), rel=1e-6)
    assert analysis.to_json()["prompt_worth"][0]["learner"] == "llm-few"
    assert [a.learner for a in analysis.data_advantage] == ["tree", "llm-few"]  # majority and logreg are not


def test_data_advantage_is_the_mean_horizontal_gap_over_the_shared_scores(analysis):
    advantage = {a.learner: a.advantage for a in analysis.data_advantage}
    # llm-few against logreg: scores 0.75 to 0.80 (llm-few's lowest to its highest), 200 points
    scores = np.linspace(0.75, 0.80, 200)
    gap = np.mean([_logreg_labels(s) - _llm_labels(s) for s in scores])
    assert advantage["llm-few"].window == pytest.approx((0.75, 0.80), abs=1e-12)
    assert advantage["llm-few"].labels == pytest.approx(gap, rel=1e-6)
    # tree against logreg: scores 0.60 to 0.70, where tree needs 8 * 2^((s - 0.55) / 0.05)
    scores = np.linspace(0.60, 0.70, 200)
    tree = [max(8.0, 8 * 2 ** ((s - 0.55) / 0.05)) for s in scores]
    gap = np.mean([_logreg_labels(s) - t for s, t in zip(scores, tree)])
    assert advantage["tree"].labels == pytest.approx(gap, rel=1e-6) and gap < 0  # tree needs more labels


def test_crossover_place_and_support_by_hand():
    """llm-few - logreg per seed is +, + at 8 and 16, then +0.02, -0.03, -0.02 at 32 and
    +0.01, -0.03, -0.01 at 64: whether the curves cross at all depends on which seeds a
    resample draws (three draws of seed 0 never cross)."""
    at_32 = [0.80 + 0.012 + 0.02, 0.80 - 0.004 - 0.03, 0.80 - 0.008 - 0.02]
    at_64 = [0.90 + 0.012 + 0.01, 0.90 - 0.004 - 0.03, 0.90 - 0.008 - 0.01]
    result = summarize(_results(at_32, at_64), "roc_auc", score_target="0.85", n_boot=N_BOOT, families=FAMILIES, kinds=KINDS)
    (cross,) = [c for c in result.crossovers if {c.winner, c.loser} == {"llm-few", "logreg"}]
    assert (cross.winner, cross.loser) == ("logreg", "llm-few")
    diff = np.array([[MEANS["llm-few"][i] - MEANS["logreg"][i]] * 3 for i in range(4)])
    diff[2] = np.array(at_32) - (0.80 + OFFSETS)
    diff[3] = np.array(at_64) - (0.90 + OFFSETS)
    mean = diff.mean(axis=1)  # +0.15, +0.08, -0.01, -0.01
    assert cross.n == pytest.approx(_log_interp(16, 32, mean[1], mean[2], 0.0), rel=1e-9)
    # support: the share of seed resamples in which llm-few - logreg also goes from + to -
    crossed = 0
    for draw in seed_resamples(3, N_BOOT):
        d = diff[:, draw].mean(axis=1)
        d = d[d != 0]
        crossed += bool(np.any((d[:-1] > 0) & (d[1:] < 0)))
    assert cross.support == pytest.approx(crossed / N_BOOT)
    assert 0.5 < cross.support < 1  # some resamples never cross
    assert cross.lead_at_largest == pytest.approx(0.01, abs=1e-12)


def test_cheapest_route_and_its_saving_by_hand(analysis):
    """Target 0.85: logreg needs 8 * 2^2.5 = 45.3 labels (between 32 and 64). Label cost 0.50,
    compute 0.10 per hour, tokens free."""
    need = analysis.learners["logreg"].labels_to_target
    assert need.how == "measured" and need.n == pytest.approx(8 * 2 ** 2.5, rel=1e-6)
    cost = analysis.learners["logreg"].cost
    fit = 0.001 * 32 + (0.001 * 64 - 0.001 * 32) * np.log(need.n / 32) / np.log(2)  # on log n
    serving = 1e6 * 0.5 / 1000 / 3600 * 0.10  # a month of predictions at the nearest size's speed
    assert cost.labels == pytest.approx(need.n * 0.50)
    assert cost.training == pytest.approx(fit / 3600 * 0.10)
    assert cost.serving_per_month == pytest.approx(serving)
    assert cost.total_first_month == pytest.approx(need.n * 0.50 + fit / 3600 * 0.10 + serving)
    # llm-few never gets there (flat at 0.80); tree, 0.70 at 64 and slowing as its forecast
    # expects of curves, not within 16x by the forecast: no cost, no runner-up
    assert analysis.learners["llm-few"].cost is None
    tree = analysis.learners["tree"]
    assert (tree.labels_to_target.method, tree.labels_to_target.n, tree.cost) == ("forecast", None, None)
    assert analysis.cheapest.runner_up is None
    # at 0.75 (llm-few, there at 8, left out), tree gets there past 64 by its forecast: the
    # runner-up, its saving by hand
    lower = summarize(_results().query("learner != 'llm-few'"), "roc_auc", score_target="0.75", n_boot=N_BOOT,
                      families=FAMILIES, kinds=KINDS)
    cost, tree = lower.learners["logreg"].cost, lower.learners["tree"]
    assert tree.labels_to_target.how == "extrapolated" and tree.labels_to_target.method == "forecast"
    assert 64 < tree.labels_to_target.n < 16 * 64 and tree.cost.labels == pytest.approx(tree.labels_to_target.n * 0.50)
    cheapest = lower.cheapest
    assert (cheapest.learner, cheapest.runner_up) == ("logreg", "tree")
    assert cheapest.total_first_month == pytest.approx(cost.total_first_month, rel=1e-12)
    assert cheapest.saving == pytest.approx(tree.cost.total_first_month - cost.total_first_month, rel=1e-12)
    assert cheapest.ratio == pytest.approx(tree.cost.total_first_month / cost.total_first_month, rel=1e-12)
