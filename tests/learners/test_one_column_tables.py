"""A table of one feature column (numeric with gaps, categorical, text) runs with every
classic learner: no failed cell, and a signal the column carries is found."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import dataeff

CLASSIC = ["majority", "logreg", "tree", "forest", "knn", "xgboost", "mlp"]


def _one_column(kind: str, n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    signal = rng.normal(size=n)
    y = np.where(signal + 0.5 * rng.normal(size=n) > 0, "yes", "no")
    if kind == "numeric with gaps":
        x = signal.copy()
        x[rng.random(n) < 0.25] = np.nan
    elif kind == "categorical":
        x = np.where(signal > 0.3, "high", np.where(signal < -0.3, "low", "mid")).astype(object)
    else:  # text
        words = np.where(signal > 0, "delighted with the service, will stay", "fed up with the bills, leaving soon")
        x = np.array([f"customer {i}: {w}" for i, w in enumerate(words)], dtype=object)
    return pd.DataFrame({"x": x, "churned": y})


@pytest.mark.parametrize("kind", ["numeric with gaps", "categorical", "text"])
def test_one_column_tables_run_with_every_classic_learner(tmp_path, kind):
    result = dataeff.run(data=_one_column(kind), label="churned", learners=CLASSIC, seeds=2, sizes=[16, 64],
                         test_rows=100, out=tmp_path / "run", progress=False, jobs=1)
    cells = result.results
    failed = cells[cells["status"] != "ok"]
    assert failed.empty, failed[["learner", "n_train", "error"]].to_string()
    assert len(cells) == len(CLASSIC) * 2 * 2
    # the column carries the label: the learners that can read it beat chance at 64 labels
    at_64 = cells[cells["n_train"] == 64].groupby("learner")["roc_auc"].mean()
    assert (at_64.drop("majority") > 0.6).sum() >= 4, at_64.to_string()
