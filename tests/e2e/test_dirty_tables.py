"""Dirty tables as a user brings them, through the command line: infinities in a CSV, lists in
a Parquet column, objects in a JSON Lines field each give a study of ok cells and a note naming
the column; a run whose every cell fails with one data error says so, naming the column,
instead of advising a rerun."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from typer.testing import CliRunner

import dataeff
from dataeff.cli import app
from dataeff.errors import DataEffError
from tests.learners.dirty_tables import dirty_tables

ROWS = 60


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=ROWS)
    return pd.DataFrame({"x": x, "y": np.where(x + rng.normal(0, 0.5, ROWS) > 0, "yes", "no")})


def _infinities(tmp_path):
    frame = _frame()
    frame["ratio"] = np.where(np.arange(ROWS) % 7 == 0, np.inf, frame["x"] * 2)
    frame.loc[3, "ratio"] = -np.inf
    path = tmp_path / "ratios.csv"
    frame.to_csv(path, index=False)  # written as 'inf', read back as infinities
    return path, "infinite values read as missing: 'ratio' (10)"


def _lists(tmp_path):
    frame = _frame()
    frame["tags"] = [["vip", "eu"] if v > 0 else ["us"] for v in frame["x"]]
    path = tmp_path / "tags.parquet"
    frame.to_parquet(path)
    return path, "'tags' (lists)"


def _objects(tmp_path):
    frame = _frame()
    path = tmp_path / "events.jsonl"
    with path.open("w") as out:
        for row in frame.itertuples():
            out.write(json.dumps({"x": row.x, "meta": {"plan": "pro" if row.x > 0 else "free", "seats": 3},
                                  "y": row.y}) + "\n")
    return path, "'meta' (dicts)"


@pytest.mark.parametrize("make", [_infinities, _lists, _objects], ids=["inf", "parquet-lists", "jsonl-objects"])
def test_a_dirty_file_gives_ok_cells_and_a_note_naming_the_column(tmp_path, make):
    path, note = make(tmp_path)
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", "--data", str(path), "--label", "y", "--learners", "logreg,xgboost",
                                      "--seeds", "1", "--sizes", "16", "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert note in result.stderr
    results = pd.read_csv(out / "results.csv")
    assert len(results) == 2 and (results["status"] == "ok").all(), results["error"].tolist()


def test_every_cell_failing_with_one_data_error_is_said_to_be_the_datas_naming_the_column(tmp_path):
    """A Dataset built in Python is taken as it is (not cleaned): a column of lists fails every
    cell with one error, and the run says whose problem that is."""
    frame = _frame()
    X = frame[["x"]].assign(tags=[["a"] if v > 0 else ["b", "c"] for v in frame["x"]])
    data = dataeff.data.Dataset(name="given", X=X, y=frame["y"], label="y")
    result = dataeff.run(data=data, learners=["majority", "logreg", "tree"], seeds=1, sizes=[16, 32], out=tmp_path / "r",
                         progress=False)
    assert (result.results.query("learner != 'majority'")["status"] == "failed").all()
    problem = result.facts.data_problem
    assert problem.startswith("The data, not the learners: every cell of 2 learners failed with the same error "
                              "(TypeError: unhashable type: 'list')"), problem
    assert "column 'tags' fails the same way alone" in problem and "A rerun will fail the same way" in problem
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["facts"]["data_problem"] == problem


@settings(max_examples=12, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
@given(table=dirty_tables(max_rows=300))
def test_any_dirty_table_that_loads_is_studied_with_ok_cells_or_refused_in_one_line(tmp_path_factory, table):
    """The study-level property: a generated dirty table, as a Parquet file where pyarrow can
    write it (lists come back as arrays) or as a DataFrame, runs with every cell ok, or is
    refused with one line before anything is written."""
    fit, _, labels = table
    folder = tmp_path_factory.mktemp("dirty")
    frame = fit.assign(label=labels.to_numpy())
    data = folder / "table.parquet"
    try:
        frame.to_parquet(data)
    except Exception:  # noqa: BLE001 - pyarrow refuses mixed kinds in one column: give the frame
        data = frame
    try:
        result = dataeff.run(data=data, label="label", learners=["logreg", "xgboost"], seeds=1, sizes=[8],
                             test_rows=max(2, len(frame) // 4), out=folder / "run", progress=False)
    except DataEffError as exc:
        assert "\n" not in str(exc) and str(exc).strip()
        assert not (folder / "run").exists()
        return
    assert (result.results["status"] == "ok").all(), result.results["error"].tolist()
