"""More of a real PostgreSQL server (tests/postgres_server.py starts one): a long table sampled
by the server, the password from a named environment variable, related tables flattened from
the database equal to the same tables from Parquet, and `next-labels --from` a SQL query."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from dataeff.cli import app
from dataeff.data.database import read_database, read_database_sample
from dataeff.data.relations import flatten
from dataeff.data.synthetic import declaration, generate
from dataeff.errors import DataError
from tests.postgres_server import PASSWORD, postgres_server

LONG = 3000  # rows: more than twice what a 2-seed study of 60 test rows and 32 labels can use
SYNTHETIC = generate(rows=300, seed=3)  # customers, purchases, tickets


def _customers(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 60, rows).astype(float)
    return pd.DataFrame({
        "tenure": tenure,
        "plan": rng.choice(["basic", "plus", None], rows),
        "churn": np.where(tenure + rng.normal(0, 10, rows) < 20, "yes", "no"),
    })


@pytest.fixture(scope="module")
def server():
    long = _customers(LONG, 0)
    with postgres_server() as running:
        running.load({"long": long, "shuffled": long.sample(frac=1, random_state=1), "pool": long.iloc[:200],
                      **SYNTHETIC.tables})
        yield running


def _run(args, out, env=None):
    return CliRunner(env=env).invoke(app, ["run", *map(str, args), "--learners", "majority,logreg", "--seeds", "2",
                                           "--sizes", "16,32", "--test-rows", "60", "--out", str(out)])


def test_a_long_table_is_sampled_by_the_server_the_same_whatever_its_order(server):
    sample, note = read_database_sample(server.url(), table="long", query=None, name="crm:long", label="churn",
                                        rows=500)
    again, _ = read_database_sample(server.url(), table="shuffled", query=None, name="crm:shuffled", label="churn",
                                    rows=500)
    pd.testing.assert_frame_equal(sample, again)  # the rows' own hash picks them, not where they lie
    assert list(sample.columns) == ["tenure", "plan", "churn"]
    assert abs(len(sample) - 500) <= 2 and "of 3,000 labelled rows of crm:long" in note and "in the database" in note
    whole = _customers(LONG, 0)["churn"].value_counts(normalize=True)
    assert np.allclose(sample["churn"].value_counts(normalize=True)[whole.index], whole, atol=0.002)
    # a short table is read whole, and a query is sampled like a table
    assert read_database_sample(server.url(), table="pool", query=None, name="p", label="churn", rows=500) is None
    queried, _ = read_database_sample(server.url(), table=None, query="SELECT * FROM long WHERE tenure > 5;",
                                      name="q", label="churn", rows=300)
    assert (queried["tenure"] > 5).all() and abs(len(queried) - 300) <= 2
    # a numeric label to be cut into bins: the labelled rows drawn as one (stratified, each value would keep a row)
    numeric, note = read_database_sample(server.url(), table="long", query=None, name="crm:long", label="tenure",
                                         rows=500, stratified=False)
    assert abs(len(numeric) - 500) <= 1 and "a random sample, drawn in the database" in note
    # a query ending in a comment, sampled and read whole (ADBC wraps a query in COPY (...))
    commented = "SELECT * FROM long WHERE tenure > 5 -- the customers past their first weeks"
    assert len(read_database_sample(server.url(), table=None, query=commented, name="q", label="churn",
                                    rows=300)[0]) == len(queried)
    assert len(read_database(server.url(), table=None, query=commented, name="q")) == (_customers(LONG, 0)["tenure"]
                                                                                         > 5).sum()


def test_a_study_on_a_long_table_reads_only_its_sample_and_a_missing_label_is_one_line(server, tmp_path,
                                                                                      monkeypatch):
    out = tmp_path / "run"
    result = _run(["--data", server.url(), "--table", "long", "--label", "churn"], out)
    assert result.exit_code == 0, result.stderr
    notes = json.loads((out / "summary.json").read_text())["facts"]["notes"]
    assert any("of 3,000 labelled rows of crm:long" in n and "drawn in the database" in n for n in notes), notes
    # next-labels reads the same sample again (the same rows: the same fingerprint)
    import dataeff

    monkeypatch.setenv("PGPASSWORD", PASSWORD)  # the run folder keeps the URL without it
    ranked = dataeff.next_labels(out, server.url(), k=2, learner="logreg", query="SELECT tenure, plan FROM pool")
    assert len(pd.read_csv(ranked)) == 2
    bad = _run(["--data", server.url(), "--table", "long", "--label", "churm"], tmp_path / "bad")
    assert bad.exit_code == 2 and "Label column 'churm' is not in crm:long. Did you mean 'churn'?" in bad.stderr
    assert not (tmp_path / "bad").exists()


def test_the_password_from_a_named_environment_variable_is_stored_by_name_only(server, tmp_path, monkeypatch):
    import dataeff

    out = tmp_path / "run"
    bare = server.url(password=False)
    result = _run(["--data", bare, "--table", "pool", "--label", "churn", "--password-env", "CRM_PW"], out,
                  env={"CRM_PW": PASSWORD})
    assert result.exit_code == 0, result.stderr
    stored = json.loads((out / "summary.json").read_text())["facts"]["data_source"]
    assert stored["source"] == bare and stored["password_env"] == "CRM_PW"
    assert [str(p) for p in out.rglob("*") if p.is_file() and PASSWORD.encode() in p.read_bytes()] == []
    # next-labels reads the run's data again through the same variable, and --from a query too
    monkeypatch.setenv("CRM_PW", PASSWORD)
    ranked = CliRunner().invoke(app, ["next-labels", "--run", str(out), "--from", bare, "--password-env", "CRM_PW",
                                      "--query", "SELECT tenure, plan FROM long WHERE tenure < 10", "--k", "3",
                                      "--learner", "logreg"])
    assert ranked.exit_code == 0, ranked.stderr
    picked = pd.read_csv(out / "next-labels.csv")
    assert len(picked) == 3 and (picked["tenure"] < 10).all() and PASSWORD not in ranked.stdout
    with pytest.raises(DataError, match="not set; export it with the database password"):
        dataeff.next_labels(out, bare, k=2, query="SELECT * FROM pool", password_env="NOT_THERE")


@pytest.mark.parametrize("args, env, said", [
    (["--password-env", "CRM_PW"], {}, "The environment variable --password-env names is not set"),
    (["--password-env", "CRM_PW"], {"CRM_PW": PASSWORD}, "has a password in its URL and --password-env names another"),
    (["--password-env", PASSWORD], {}, "must be the name of an environment variable (like DB_PASSWORD), not the "
                                       "password."),
], ids=["unset", "two places", "a password given as the name"])
def test_a_misplaced_password_is_one_line_without_it(server, tmp_path, args, env, said):
    url = server.url(password="two places" in said or "has a password" in said)
    result = _run(["--data", url, "--table", "pool", "--label", "churn", *args], tmp_path / "run", env=env)
    assert result.exit_code == 2 and said in result.stderr, result.stderr
    assert PASSWORD not in result.stderr and not (tmp_path / "run").exists()


def test_related_tables_from_postgres_flatten_as_the_same_tables_from_parquet(server, tmp_path, monkeypatch):
    for name, frame in SYNTHETIC.tables.items():
        frame.to_parquet(tmp_path / f"{name}.parquet", index=False)
    from_files = flatten(declaration(*(str(tmp_path / f"{n}.parquet") for n in ("customers", "purchases", "tickets"))))
    url = server.url(password=False)
    decl = dataclasses.replace(declaration(entity=url, source=url), entity_table="customers")
    monkeypatch.setenv("CRM_PW", PASSWORD)
    from_database = flatten(decl, password_env="CRM_PW")
    features = [f.name for r in decl.relations for f in r.features]
    pd.testing.assert_frame_equal(from_database[features], from_files[features])
    pd.testing.assert_frame_equal(from_database.drop(columns=features), from_files.drop(columns=features),
                                  check_dtype=False)
    assert from_files["Purchases"].sum() > 0 and from_files["Tickets90d"].sum() > 0  # the joins found rows
    # the same declared in a study TOML: `dataeff features`
    relations = "\n".join(f'[[data.relations]]\ntable = "{r.table}"\nsource = "{url}"\nkey = "customer_id"\n'
                          f'time = "{r.time}"\nfeatures = [{{ name = "N{r.table}", agg = "count" }}]\n'
                          for r in decl.relations)
    (tmp_path / "study.toml").write_text(f'[data]\nentity = "{url}"\nentity_table = "customers"\nkey = "customer_id"\n'
                                         f'label = "churned"\npassword_env = "CRM_PW"\n\n{relations}')
    result = CliRunner().invoke(app, ["features", "--config", str(tmp_path / "study.toml"), "--out",
                                      str(tmp_path / "wide.parquet")])
    assert result.exit_code == 0, result.stderr
    wide = pd.read_parquet(tmp_path / "wide.parquet")
    assert len(wide) == 300 and wide["Npurchases"].sum() == len(SYNTHETIC.tables["purchases"])


def test_adbc_reads_every_common_type_as_psycopg_does(server):
    """The whole-table read goes through ADBC (Arrow); the frame must equal what psycopg gives
    through pandas, so a table makes the same dataset whichever layer read it."""
    import psycopg
    from sqlalchemy import create_engine

    from dataeff.data.database import _read, _rows

    with psycopg.connect(server.url(), autocommit=True) as connection:
        connection.execute(
            "CREATE TABLE types (price numeric(12,2), ratio real, score double precision, small smallint, n integer, "
            "big bigint, sparse integer, name text, code varchar(8), flag boolean, maybe boolean, at timestamp, "
            "at_tz timestamptz, day date, attrs jsonb, waited interval)")
        connection.execute(
            "INSERT INTO types VALUES "
            "(1234.56, 0.1, 0.1, 3, 7, 9007199254740993, 1, 'a', 'x', true, true, '2024-01-01 10:00:00.123456', "
            "'2024-01-01 10:00+02', '2024-01-02', '{\"a\": [1, 2]}', '1 mon 2 days 03:00:00'), "
            "(-0.5, 3.4e38, 1e300, -3, -7, -1, NULL, 'b', NULL, false, NULL, NULL, NULL, NULL, NULL, NULL), "
            "(NULL, NULL, NULL, 0, 0, 0, 5, NULL, 'y', true, false, '1999-12-31', '2000-01-01 00:00Z', '2000-02-29', "
            "'[]', '-1 year -2 mons 3 days')")
    engine = create_engine(server.url().replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as connection:
            through_psycopg = _read(connection, "SELECT * FROM types", "types", None)
            through_adbc = _rows(connection, "SELECT * FROM types", "types", None)
    finally:
        engine.dispose()
    pd.testing.assert_frame_equal(through_adbc, through_psycopg)


def test_a_password_given_as_the_variable_s_name_is_never_repeated():
    """next-labels hands --password-env to the source as it is: the source checks it is a name."""
    from dataeff.data.source import source_for

    with pytest.raises(DataError) as refused:
        source_for("postgresql://analyst@127.0.0.1:5432/crm", table="pool", password_env=PASSWORD)
    assert "must be the name of an environment variable" in str(refused.value) and PASSWORD not in str(refused.value)
