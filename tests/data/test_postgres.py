"""Data in a real PostgreSQL server (tests/postgres_server.py starts one): a study from a table
and from a query, through the command line, with the password nowhere in what is printed or
written; each bad input one line, exit 2, nothing written."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from dataeff.cli import app
from tests.postgres_server import PASSWORD, postgres_server

ROWS = 120


@pytest.fixture(scope="module")
def server():
    rng = np.random.default_rng(0)
    tenure = rng.integers(1, 60, ROWS).astype(float)
    churn = np.where(tenure + rng.normal(0, 10, ROWS) < 25, "yes", "no")
    table = pd.DataFrame({
        "tenure": np.where(rng.random(ROWS) < 0.1, np.nan, tenure),  # NULLs among numbers
        "plan": rng.choice(["basic", "plus", None], ROWS),  # text with NULLs
        "paperless": rng.random(ROWS) < 0.5,  # booleans
        "signup": pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 700, ROWS), unit="D"),
        "churn": churn,
    })
    with postgres_server() as running:
        running.load({"customers": table, "empty": table.iloc[:0]})
        yield running


def _run(args, out):
    return CliRunner().invoke(app, ["run", *map(str, args), "--learners", "majority,logreg,xgboost", "--seeds", "2",
                                    "--sizes", "16,32", "--out", str(out)])


def _password_anywhere(folder, *texts) -> list[str]:
    found = [str(p) for p in folder.rglob("*") if p.is_file() and PASSWORD.encode() in p.read_bytes()]
    return found + [f"printed: {t[:80]}" for t in texts if PASSWORD in (t or "")]


@pytest.mark.parametrize("what", [["--table", "customers"],
                                  ["--query", "SELECT tenure, plan, paperless, signup, churn FROM customers "
                                              "WHERE tenure IS NULL OR tenure > 0"]], ids=["table", "query"])
def test_a_study_from_postgres_with_the_password_nowhere_in_its_output(server, tmp_path, what):
    out = tmp_path / "run"
    result = _run(["--data", server.url(), *what, "--label", "churn"], out)
    assert result.exit_code == 0, result.stderr
    results = pd.read_csv(out / "results.csv")
    assert len(results) == 3 * 2 * 2 and (results["status"] == "ok").all(), results["error"].tolist()
    summary = (out / "summary.json").read_text()
    assert f"postgresql://analyst@127.0.0.1:{server.port}/crm" in summary  # how to read it again, password-less
    assert _password_anywhere(out, result.stdout, result.stderr) == []


@pytest.mark.parametrize("args, said", [
    (["--table", "customers"], "password authentication failed for user \"analyst\". Check the user and password"),
    (["--table", "custmers"], "Table 'custmers' is not in postgresql://analyst@127.0.0.1:{port}/crm. Did you mean "
                              "'customers'?"),
    (["--query", "SELECT nope FROM customers"], "The query failed on crm:query: column \"nope\" does not exist"),
    (["--table", "empty"], "The table 'empty' on crm:empty returned no rows"),
    ([], "is a database: name what to read with --table NAME or --query"),
], ids=["wrong password", "missing table", "query error", "no rows", "neither table nor query"])
def test_a_bad_database_input_is_one_line_without_the_password(server, tmp_path, args, said):
    url = server.url().replace(PASSWORD, "wrong-one") if "password" in said else server.url()
    result = _run(["--data", url, *args, "--label", "churn"], tmp_path / "run")
    assert result.exit_code == 2, result.stderr
    line = result.stderr.strip()
    assert line.startswith("error: ") and "\n" not in line and said.format(port=server.port) in line, line
    assert PASSWORD not in line and "wrong-one" not in line
    assert not (tmp_path / "run").exists()


def test_an_unreachable_server_is_one_line(tmp_path):
    result = _run(["--data", f"postgresql://analyst:{PASSWORD}@127.0.0.1:1/crm", "--table", "t", "--label", "churn"],
                  tmp_path / "run")
    assert result.exit_code == 2 and "Cannot connect to postgresql://analyst@127.0.0.1:1/crm" in result.stderr
    assert "Check the host and port" in result.stderr and PASSWORD not in result.stderr


def test_a_suite_with_a_database_dataset_keeps_the_password_out_of_its_files(server, tmp_path):
    (tmp_path / "suite.toml").write_text(f"""[suite]
datasets = [{{ source = "{server.url()}", table = "customers", label = "churn" }}, "churn"]

[study]
learners = ["majority", "logreg"]
seeds = 2
sizes = [16, 32]
test_rows = 60
""")
    out = tmp_path / "suite"
    result = CliRunner().invoke(app, ["suite", "--config", str(tmp_path / "suite.toml"), "--out", str(out),
                                      "--jobs", "1"])
    assert result.exit_code == 0, result.stderr
    assert (out / "customers" / "results.csv").exists()
    assert f"postgresql://analyst@127.0.0.1:{server.port}/crm" in (out / "suite.json").read_text()
    assert _password_anywhere(out, result.stdout, result.stderr) == []


def test_next_labels_reads_a_database_run_again_with_the_password_from_pgpassword(server, tmp_path, monkeypatch):
    """The run folder keeps the URL without its password: reading it again takes the password
    from the driver's own PGPASSWORD."""
    import dataeff

    out = tmp_path / "run"
    assert _run(["--data", server.url(), "--table", "customers", "--label", "churn"], out).exit_code == 0
    pool = tmp_path / "new.csv"
    pd.DataFrame({"tenure": [3.0, 40.0, 20.0], "plan": ["basic", "plus", None], "paperless": [True, False, True],
                  "signup": ["2024-01-02", "2024-03-04", "2024-05-06"]}).to_csv(pool, index=False)
    with pytest.raises(dataeff.DataEffError, match="no password supplied. Check the user and password .in the URL, PGPASSWORD"):
        dataeff.next_labels(out, pool, k=2, learner="logreg")
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    ranked = pd.read_csv(dataeff.next_labels(out, pool, k=2, learner="logreg"))
    assert len(ranked) == 2 and {"tenure", "plan"} <= set(ranked.columns)
