"""Synthetic customers: dirt, related tables, the label model and its exact ceiling."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from dataeff.data.relations import flatten
from dataeff.data.synthetic import _intercept, _logit, declaration, generate


@pytest.fixture(scope="module")
def small():
    return generate(rows=3000, irrelevant=10, seed=1)


def test_tables_have_realistic_dirt_and_width(small):
    customers = small.tables["customers"]
    assert customers["age"].isna().mean() > 0.03  # missing values
    assert customers["monthly_fee"].map(type).eq(str).mean() > 0.9  # numbers stored as text
    assert {"north", "North", "NORTH"} <= set(customers["region"])  # inconsistent spellings
    assert len([c for c in customers if c.startswith("attr_")]) == 10  # irrelevant columns
    assert (small.tables["tickets"]["note"].str.len() > 10).mean() > 0.5  # free text
    # some purchases happen after each customer's snapshot: the flattening must ignore them
    merged = small.tables["purchases"].merge(customers[["customer_id", "snapshot_date"]], on="customer_id")
    assert (merged["purchased_at"] > merged["snapshot_date"]).mean() > 0.01


def test_label_comes_from_the_flattened_features_and_truth_is_exact(small):
    flat = flatten(declaration(), small.tables)
    columns = sorted(small.flat.columns)
    pd.testing.assert_frame_equal(flat[columns], small.flat[columns])  # written tables re-flatten identically
    logit = _logit(flat)
    p = 1 / (1 + np.exp(-(logit + _intercept(logit, 0.25))))
    y = small.flat["churned"] == "yes"
    assert small.truth["bayes_roc_auc"] == pytest.approx(roc_auc_score(y, p))
    assert 0.8 < small.truth["bayes_roc_auc"] < 0.92
    assert abs(small.truth["positive_rate"] - 0.25) < 0.03


def test_noise_lowers_the_ceiling():
    clean = generate(rows=3000, noise=0.5, seed=2).truth["bayes_roc_auc"]
    noisy = generate(rows=3000, noise=2.0, seed=2).truth["bayes_roc_auc"]
    assert clean > noisy + 0.05


def test_learners_do_not_beat_the_known_ceiling(small):
    """xgboost with every flattened feature, fitted on 2,000 rows, stays under the Bayes score."""
    from dataeff.learners.registry import resolve_learners

    flat = small.flat.drop(columns="customer_id")
    y = flat.pop("churned")
    learner = resolve_learners(["xgboost"])[0].build(0).fit(flat.iloc[:2000], y.iloc[:2000])
    auc = roc_auc_score(y.iloc[2000:] == "yes", learner.predict_proba(flat.iloc[2000:])[:, 1])
    logit = _logit(small.flat)
    p = 1 / (1 + np.exp(-logit))
    bayes_here = roc_auc_score(y.iloc[2000:] == "yes", p[2000:])  # the ceiling on the same rows
    assert 0.7 < auc <= bayes_here + 0.01


@pytest.mark.parametrize("fmt", ["parquet", "sqlite"])
def test_synth_writes_tables_truth_and_a_study_that_runs(tmp_path, fmt):
    out = tmp_path / "data"
    made = subprocess.run([sys.executable, "-m", "dataeff", "synth", "customers", "--rows", "800", "--out", out,
                           "--format", fmt, "--irrelevant", "4"], capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    truth = json.loads((out / "truth.json").read_text())
    assert 0.75 < truth["bayes_roc_auc"] < 0.95
    wide = tmp_path / "wide.parquet"
    feats = subprocess.run([sys.executable, "-m", "dataeff", "features", "--config", out / "study.toml",
                            "--out", wide], capture_output=True, text=True)
    assert feats.returncode == 0, feats.stderr
    table = pd.read_parquet(wide)
    assert len(table) == 800 and "HasPurchasedFoodLast6Months" in table and "Tickets90d" in table
    run = subprocess.run([sys.executable, "-m", "dataeff", "run", "--config", out / "study.toml", "--learners",
                          "majority,logreg", "--seeds", "2", "--sizes", "16,128,600", "--out", tmp_path / "run"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    results = pd.read_csv(tmp_path / "run" / "results.csv")
    assert (results["status"] == "ok").all() and len(results) == 12
    assert results.query("learner == 'logreg' and n_train == 600")["roc_auc"].mean() > 0.7
