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


@pytest.fixture(scope="module", params=["parquet", "sqlite"])
def synth_out(request, tmp_path_factory):
    """What ``dataeff synth`` writes (800 customers), read back from disk by the tests below."""
    out = tmp_path_factory.mktemp(f"synth-{request.param}") / "data"
    made = subprocess.run([sys.executable, "-m", "dataeff", "synth", "customers", "--rows", "800", "--out", out,
                           "--format", request.param, "--irrelevant", "4", "--noise", "1.3", "--seed", "3"],
                          capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    return out


def _documented_logit(label_model: str, X: pd.DataFrame) -> np.ndarray:
    """truth.json's ``label_model`` evaluated on flattened features, written from the text
    (not from the generator's code), so a term the generator drops, or a feature the study
    builds otherwise, no longer reproduces truth.json's scores.

    Conventions the formula's text leaves implicit: a missing age adds nothing, no purchase
    counts as 365 days since the last one, and a region is its canonical name ('S.' is south)."""
    import re

    expression = label_model.split("=", 1)[1].replace("intercept + ", "").replace("/ noise", "")
    expression = re.sub(r"\[(\w+)=(\w+)\]", r'(\1 == "\2")', expression)
    expression = expression.replace("log1p(", "np.log1p(").replace("min(", "np.minimum(")
    abbreviations = {"n.": "north", "s.": "south", "w.": "west", "e.": "east", "ctr.": "central"}
    region = X["region"].astype(str).str.strip().str.lower()
    names = {column: X[column].to_numpy(float) for column in
             ("HasPurchasedFoodLast6Months", "Tickets90d", "HighSeverityTickets6m", "Spend90d")}
    names |= {
        "DaysSinceLastPurchase": X["DaysSinceLastPurchase"].fillna(365).to_numpy(float),
        "age": X["age"].fillna(42).to_numpy(float),
        "plan": X["plan"].to_numpy(), "region": region.replace(abbreviations).to_numpy(),
    }
    used = set(re.findall(r"[A-Za-z_]\w*", re.sub(r'"\w+"', "", expression))) - {"np", "log1p", "minimum"}
    assert used <= set(names), f"truth.json's label model names {used - set(names)}"
    return eval(expression, {"np": np}, names)  # noqa: S307 - our own truth.json, in a test


def test_truth_json_is_reproduced_from_the_study_the_synth_command_writes(synth_out):
    """Read the written tables back through the written study.toml, as 'dataeff run --config'
    does, and recompute truth.json's scores with its documented label model: a dropped window in
    study.toml, a term dropped from the generator, or a ceiling measured on other features
    breaks the equality."""
    from scipy.optimize import brentq
    from scipy.special import expit

    from dataeff.config import load_config
    from dataeff.data.load import load

    truth = json.loads((synth_out / "truth.json").read_text())
    settings = load_config(synth_out / "study.toml")
    dataset = load(settings.data, settings.study)
    assert dataset.n_rows == truth["rows"] == 800 and truth["noise"] == 1.3
    y = (dataset.y == "yes").to_numpy()
    logit = _documented_logit(truth["label_model"], dataset.X) / truth["noise"]
    # The intercept makes the mean probability the generator's churn rate (0.25 by default).
    intercept = brentq(lambda b: expit(logit + b).mean() - 0.25, -30, 30, xtol=1e-14)
    p = expit(logit + intercept)
    # Two rows whose probabilities round to one float tie; a last-bit difference may break one
    # such tie (4e-6 of AUC each here), a changed feature or term moves the AUC by far more.
    assert truth["bayes_roc_auc"] == pytest.approx(roc_auc_score(y, p), abs=2e-5)
    assert truth["bayes_accuracy"] == pytest.approx(np.mean((p > 0.5) == y), abs=1e-12)
    assert truth["expected_bayes_accuracy"] == pytest.approx(np.mean(np.maximum(p, 1 - p)), abs=1e-9)
    assert truth["positive_rate"] == pytest.approx(y.mean(), abs=1e-12)
    assert 0.5 < truth["bayes_accuracy"] < 1 and 0.7 < truth["bayes_roc_auc"] < 0.95


def test_synth_writes_tables_truth_and_a_study_that_runs(synth_out, tmp_path):
    out = synth_out
    truth = json.loads((out / "truth.json").read_text())
    assert 0.7 < truth["bayes_roc_auc"] < 0.95
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
    assert results.query("learner == 'logreg' and n_train == 600")["roc_auc"].mean() > 0.65


def test_a_wide_synth_and_its_flattening_print_no_library_warning(tmp_path):
    """300 irrelevant columns: pandas' "DataFrame is highly fragmented" warning came from the
    generator and the flattening (columns inserted one by one) onto the user's terminal."""
    out = tmp_path / "data"
    made = subprocess.run([sys.executable, "-m", "dataeff", "synth", "customers", "--rows", "500", "--out", out,
                           "--irrelevant", "300"], capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    feats = subprocess.run([sys.executable, "-m", "dataeff", "features", "--config", out / "study.toml",
                            "--out", tmp_path / "wide.parquet"], capture_output=True, text=True)
    assert feats.returncode == 0, feats.stderr
    for said in (made.stderr, feats.stderr, made.stdout, feats.stdout):
        assert "Warning" not in said, said
    assert pd.read_parquet(tmp_path / "wide.parquet").shape[1] > 300
