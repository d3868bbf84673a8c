"""A study that grows: learners, sizes and seeds added to a finished run folder run only the
missing cells, and the folder then equals one run with everything."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

import dataeff
from dataeff.errors import RunFolderError

METRICS = ["accuracy", "balanced_accuracy", "roc_auc", "log_loss", "f1_macro"]
COMMON = dict(data="churn", test_rows=200, progress=False, jobs=2)


def _cells(result) -> pd.DataFrame:
    return result.results.set_index(["learner", "n_train", "seed"]).sort_index()[METRICS]


def test_added_learners_sizes_and_seeds_run_only_the_new_cells(tmp_path):
    out = tmp_path / "grown"
    first = dataeff.run(learners=["logreg"], seeds=2, sizes=[16, 64], out=out, **COMMON)
    assert first.facts.cells["ok"] == 4
    grown = dataeff.run(learners=["logreg", "xgboost"], seeds=3, sizes=[16, 64, 128], out=out, **COMMON)
    # 2 learners x 3 sizes x 3 seeds = 18 cells, 4 of them (logreg, 2 seeds, 2 sizes) already stored
    assert grown.facts.cells["ok"] == 14 and grown.facts.cells["skipped"] == 4
    assert grown.facts.learners == ["logreg", "xgboost"]
    assert grown.facts.sizes == [16, 64, 128] and grown.facts.n_seeds == 3
    whole = dataeff.run(learners=["logreg", "xgboost"], seeds=3, sizes=[16, 64, 128], out=tmp_path / "whole",
                        **COMMON)
    pd.testing.assert_frame_equal(_cells(grown), _cells(whole))
    # a narrower rerun keeps every stored cell in the results, summary and report
    again = dataeff.run(learners=["xgboost"], seeds=1, sizes=[16], out=out, **COMMON)
    assert again.facts.cells["ok"] == 0 and len(again.results) == 18
    assert set(again.analysis.learners) >= {"logreg", "xgboost"}


def test_a_variant_name_reused_with_other_settings_is_refused(tmp_path):
    out = tmp_path / "run"
    dataeff.run(learners=["x=xgboost(max_depth=3)"], seeds=1, sizes=[16], out=out, **COMMON)
    before = (out / "store.sqlite").read_bytes()
    with pytest.raises(RunFolderError, match="learner named 'x' with other settings.*another name.*force=True"):
        dataeff.run(learners=["x=xgboost(max_depth=4)"], seeds=1, sizes=[16], out=out, **COMMON)
    assert (out / "store.sqlite").read_bytes() == before
    redone = dataeff.run(learners=["x=xgboost(max_depth=4)"], seeds=1, sizes=[16], out=out, force=True, **COMMON)
    assert redone.facts.cells["ok"] == 1
    with sqlite3.connect(out / "store.sqlite") as conn:
        assert conn.execute("SELECT count(*) FROM cells").fetchone()[0] == 1
