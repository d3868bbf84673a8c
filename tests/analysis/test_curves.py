"""Curve statistics and fits on synthetic curves with known parameters."""

import numpy as np
import pandas as pd
import pytest

from dataeff.analysis.curves import curve_table, expanded_tail
from dataeff.analysis.fits import fit_curve, fit_family
from dataeff.analysis.summary import summarize
from dataeff.experiment.plan import anchor_sizes

SIZES = np.array(anchor_sizes(4096), float)


def pow3(n, a=0.9, b=0.6, c=0.5):
    return a - b * np.asarray(n, float) ** -c


def cells(curves: dict, rng, seeds=5, sigma=0.006, sizes=SIZES) -> pd.DataFrame:
    """Fake cells: each learner's true curve plus independent noise per seed and size."""
    rows = []
    for learner, curve in curves.items():
        for seed in range(seeds):
            for n in sizes:
                rows.append({"learner": learner, "n_train": int(n), "seed": seed, "n_test": 1000, "status": "ok",
                             "roc_auc": float(curve(n) + rng.normal(0, sigma)), "fit_seconds": 1e-4 * n,
                             "predict_seconds": 0.01, "tokens": 0.0})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("family", ["pow3", "pow4", "mmf4", "exp3"])
def test_each_family_recovers_a_noise_free_curve(family):
    truth = {"pow3": pow3(SIZES), "pow4": 0.85 - 0.5 * (SIZES / 4096 + 0.01) ** -0.3 * 0.2,
             "mmf4": (0.5 * 0.05 + 0.92 * (SIZES / 4096) ** 0.8) / (0.05 + (SIZES / 4096) ** 0.8),
             "exp3": 0.88 - 0.3 * np.exp(-8 * SIZES / 4096)}[family]
    fit = fit_family(family, SIZES, truth, top=1.0)
    assert np.max(np.abs(fit.predict(SIZES) - truth)) < 2e-3
    assert fit.asymptote == pytest.approx({"pow3": 0.9, "pow4": 0.85, "mmf4": 0.92, "exp3": 0.88}[family], abs=0.01)


def test_asymptote_within_001_from_noisy_points_in_every_trial():
    rng = np.random.default_rng(7)
    for _ in range(20):
        means = pow3(SIZES) + rng.normal(0, 0.006, (len(SIZES), 5)).mean(axis=1)
        assert abs(fit_curve(SIZES, means, top=1.0).asymptote - 0.9) < 0.01


def test_labels_to_target_within_15_percent_from_noisy_points():
    """Target 0.87 on a - b n^-c: the truth is n* = (b / (a - 0.87))^(1/c) = 400 labels."""
    rng = np.random.default_rng(1)
    for _ in range(15):
        analysis = summarize(cells({"x": pow3}, rng), "roc_auc", score_target=0.87, n_boot=30)
        need = analysis.learners["x"].labels_to_target
        assert need.how == "measured"
        assert abs(need.n / 400 - 1) < 0.15


def test_confidence_intervals_cover_the_truth_in_at_least_90_percent_of_100_trials():
    """100 noisy trials (5 seeds, noise 0.01): coverage of the curve means, the asymptote and
    labels to target (absolute target 0.85 -> n* = 144)."""
    rng = np.random.default_rng(0)
    trials, covered = 100, {"mean": 0.0, "asymptote": 0, "labels": 0}
    for _ in range(trials):
        results = cells({"x": pow3}, rng, sigma=0.01)
        table = curve_table(results, "roc_auc")
        truth = pow3(table["n_train"])
        covered["mean"] += float(((table["ci_low"] <= truth) & (truth <= table["ci_high"])).mean())
        entry = summarize(results, "roc_auc", score_target=0.85).learners["x"]  # default 200 resamples
        covered["asymptote"] += _covers(entry.asymptote_ci, 0.9)
        covered["labels"] += _covers(entry.labels_to_target.ci, 144)
    for name, count in covered.items():
        assert count / trials >= 0.90, (name, count / trials)


def _covers(ci, truth) -> bool:
    """None at the high end is an open interval (some resamples never get there); at the low end, none."""
    low, high = ci
    return low is not None and low <= truth and (high is None or truth <= high)


def test_expanded_percentile_is_wider_for_fewer_seeds():
    assert expanded_tail(3) < expanded_tail(5) < expanded_tail(30) < 0.025


def test_ceiling_is_the_best_identified_asymptote_and_rising_curves_are_named():
    rng = np.random.default_rng(3)
    results = cells({"flat": lambda n: pow3(n, a=0.8, c=0.8), "best": lambda n: pow3(n, a=0.9, c=0.7),
                     "rising": lambda n: 0.55 + 0.05 * np.log(n) / np.log(4096) * 4}, rng, sigma=0.004)
    ceiling = summarize(results, "roc_auc", n_boot=100).ceiling
    assert ceiling.learner == "best"
    assert abs(ceiling.value - 0.9) < 0.01 and ceiling.ci[0] <= 0.9 <= ceiling.ci[1]
    assert "rising" in ceiling.still_rising


def test_log_loss_curves_fall_and_their_ceiling_is_a_floor():
    rng = np.random.default_rng(4)
    rows = cells({"x": lambda n: -(pow3(n, a=-0.3, b=0.8, c=0.5))}, rng, sigma=0.004)
    rows = rows.rename(columns={"roc_auc": "log_loss"})
    analysis = summarize(rows, "log_loss", score_target=0.33, n_boot=50)
    assert analysis.ceiling.value == pytest.approx(0.3, abs=0.01)
    need = analysis.learners["x"].labels_to_target
    # 0.3 + 0.8 n^-0.5 = 0.33  ->  n = (0.8 / 0.03)^2 = 711
    assert need.how == "measured" and abs(need.n / 711 - 1) < 0.15
