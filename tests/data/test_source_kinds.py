"""Every kind of source, decided in one place (data/source.py): Polars and Arrow tables from
Python (resumed like a DataFrame), an Excel workbook's first or named sheet from the command
line, a database URL never taken for a path; and no other module reads a data string's form."""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import dataeff
from dataeff.cli import app
from dataeff.data.source import BuiltinSource, DatabaseSource, FileSource, FrameSource, source_for
from dataeff.errors import DataError
from tests.conftest import make_messy_frame

SRC = Path(__file__).parents[2] / "src" / "dataeff"


@pytest.mark.parametrize("convert", [lambda f: __import__("polars").from_pandas(f),
                                     lambda f: __import__("pyarrow").Table.from_pandas(f, preserve_index=False)],
                         ids=["polars", "arrow"])
def test_a_polars_or_arrow_table_runs_and_resumes_like_a_dataframe(tmp_path, convert):
    table = convert(make_messy_frame(160).drop(columns=["signup_date"]))
    assert isinstance(source_for(table), FrameSource)
    settings = dict(label="churned", learners=["majority", "logreg"], seeds=2, sizes=[16, 32], out=tmp_path / "r",
                    progress=False)
    first = dataeff.run(data=table, **settings)
    assert (first.results["status"] == "ok").all() and len(first.results) == 8
    again = dataeff.run(data=table, **settings)  # the same fingerprint: every cell resumed
    assert again.facts.cells.get("skipped") == 8
    pd.testing.assert_frame_equal(first.results, again.results)
    # the rows to label next: the pool is a table too, and the run's rows are handed again
    pool = convert(make_messy_frame(40, seed=5).drop(columns=["signup_date", "churned"]))
    with pytest.raises(dataeff.DataEffError, match=r"pass the run's rows again, dataeff.next_labels\(..., data=TABLE\)"):
        dataeff.next_labels(tmp_path / "r", pool, k=3, learner="logreg")
    ranked = pd.read_csv(dataeff.next_labels(tmp_path / "r", pool, k=3, learner="logreg", data=table))
    assert ranked["dataeff_rank"].tolist() == [1, 2, 3]
    other = convert(make_messy_frame(160, seed=9).drop(columns=["signup_date"]))
    with pytest.raises(dataeff.DataEffError, match="The data given has changed since"):
        dataeff.next_labels(tmp_path / "r", pool, k=3, learner="logreg", data=other)


def test_an_excel_workbook_first_or_named_sheet_from_the_command_line(tmp_path):
    path = tmp_path / "crm.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        pd.DataFrame({"note": ["read me"]}).to_excel(writer, sheet_name="about", index=False)
        make_messy_frame(120).drop(columns=["signup_date"]).to_excel(writer, sheet_name="customers", index=False)
    out = tmp_path / "run"
    args = ["run", "--data", str(path), "--label", "churned", "--learners", "majority,logreg", "--seeds", "2",
            "--sizes", "16", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--sheet", "customers"])
    assert result.exit_code == 0, result.stderr
    assert (pd.read_csv(out / "results.csv")["status"] == "ok").all()
    wrong = CliRunner().invoke(app, [*args, "--sheet", "custmers", "--force"])
    assert wrong.exit_code == 2 and "Sheet 'custmers' is not in crm.xlsx. Did you mean 'customers'?" in wrong.stderr
    first = CliRunner().invoke(app, [*args, "--force"])  # the first sheet has no label column
    assert first.exit_code == 2 and "Label column 'churned' is not in crm.xlsx" in first.stderr


def test_each_form_is_its_kind():
    assert isinstance(source_for("churn"), BuiltinSource)
    assert isinstance(source_for("data/x.csv"), FileSource)
    url = source_for("postgresql://u:pw@db.example:5432/crm", table="t")
    assert isinstance(url, DatabaseSource) and url.stored()["source"] == "postgresql://u@db.example:5432/crm"
    with pytest.raises(DataError, match="'ftp://' is no database dataeff reads"):
        source_for("ftp://u:pw@host/x.csv")
    with pytest.raises(DataError) as refused:
        source_for("postgresql://u:topsecret@db/crm")  # neither table nor query
    assert "topsecret" not in str(refused.value) and "is a database: name what to read with" in str(refused.value)


def test_no_module_but_data_source_reads_the_form_of_a_data_string():
    """'://' tests and the path-or-name guess live in data/source.py: a new kind of source
    touches one module."""
    allowed = {SRC / "data" / "source.py"}
    offenders = []
    for path in SRC.rglob("*.py"):
        if path in allowed:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value == "://":
                offenders.append(f"{path.relative_to(SRC)}: '://'")
            if isinstance(node, ast.FunctionDef) and node.name in ("looks_like_path", "is_database_url", "is_frame"):
                offenders.append(f"{path.relative_to(SRC)}: defines {node.name}")
    assert offenders == []
