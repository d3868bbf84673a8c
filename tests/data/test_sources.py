import sqlite3

import duckdb
import pandas as pd
import pytest

from dataeff.data.sources import read_source
from dataeff.errors import DataError


def test_csv_tsv_parquet_jsonl_round_trip(tmp_path, messy_frame):
    messy_frame.to_csv(tmp_path / "a.csv", index=False)
    messy_frame.to_csv(tmp_path / "a.tsv", index=False, sep="\t")
    messy_frame.to_parquet(tmp_path / "a.parquet")
    messy_frame.to_json(tmp_path / "a.jsonl", orient="records", lines=True)
    for name in ("a.csv", "a.tsv", "a.parquet", "a.jsonl"):
        frame = read_source(tmp_path / name)
        assert frame.shape == messy_frame.shape, name
        assert list(frame.columns) == list(messy_frame.columns), name
        assert (frame["churned"] == messy_frame["churned"]).all(), name


def test_csv_with_byte_order_mark_keeps_clean_column_names(tmp_path, messy_frame):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeff".encode() + messy_frame.to_csv(index=False).encode())
    assert read_source(path).columns[0] == "customer_id"


def test_sqlite_table_and_query(tmp_path, messy_frame):
    path = tmp_path / "crm.sqlite"
    with sqlite3.connect(path) as conn:
        messy_frame.to_sql("customers", conn, index=False)
        messy_frame.head(3).to_sql("other", conn, index=False)
    assert len(read_source(path, table="customers")) == len(messy_frame)
    frame = read_source(path, query="SELECT tenure_months, churned FROM customers WHERE plan = 'plus'")
    assert list(frame.columns) == ["tenure_months", "churned"]
    assert len(frame) == (messy_frame["plan"] == "plus").sum()


def test_duckdb_table_and_query(tmp_path, messy_frame):
    path = tmp_path / "crm.duckdb"
    conn = duckdb.connect(str(path))
    conn.register("frame", messy_frame)
    conn.execute("CREATE TABLE customers AS SELECT * FROM frame")
    conn.close()
    # a single table needs no --table
    assert len(read_source(path)) == len(messy_frame)
    frame = read_source(path, query="SELECT count(*) AS n FROM customers")
    assert int(frame["n"][0]) == len(messy_frame)


@pytest.mark.parametrize(
    ("setup", "kwargs", "message"),
    [
        ("missing", {}, "Data file not found"),
        ("empty_csv", {}, "is empty"),
        ("header_only", {}, "no data rows"),
        ("latin1", {}, "not UTF-8"),
        ("semicolons", {}, "delimiter is not a comma"),
        ("sqlite_two_tables", {}, "pick one with table=NAME or pass query="),
        ("sqlite_two_tables", {"table": "custmers"}, "Did you mean 'customers'"),
        ("sqlite_two_tables", {"query": "SELEC * FROM customers"}, "The query failed"),
        ("sqlite_two_tables", {"query": "SELECT * FROM nope"}, "The query failed"),
        ("fake_sqlite", {}, "not a SQLite database"),
        ("csv_with_table", {"table": "x"}, "only apply to SQLite or DuckDB"),
    ],
)
def test_bad_sources_raise_one_clear_error(tmp_path, setup, kwargs, message):
    path = {
        "missing": lambda: tmp_path / "nope.csv",
        "empty_csv": lambda: _write(tmp_path / "empty.csv", b""),
        "header_only": lambda: _write(tmp_path / "h.csv", b"a,b,c\n"),
        "latin1": lambda: _write(tmp_path / "l.csv", "name,y\nJos\u00e9,1\nAna,0\n".encode("latin-1")),
        "semicolons": lambda: _write(tmp_path / "s.csv", b"a;b;y\n1;2;x\n3;4;z\n"),
        "sqlite_two_tables": lambda: _two_tables(tmp_path / "two.sqlite"),
        "fake_sqlite": lambda: _write(tmp_path / "f.sqlite", b"this is not a database"),
        "csv_with_table": lambda: _write(tmp_path / "c.csv", b"a,y\n1,x\n"),
    }[setup]()
    with pytest.raises(DataError, match=message) as info:
        read_source(path, **kwargs)
    assert "\n" not in str(info.value)


def _write(path, content: bytes):
    path.write_bytes(content)
    return path


def _two_tables(path):
    with sqlite3.connect(path) as conn:
        pd.DataFrame({"a": [1, 2], "y": ["x", "z"]}).to_sql("customers", conn, index=False)
        pd.DataFrame({"b": [1]}).to_sql("orders", conn, index=False)
    return path


def _long_parquet(path, n=30_000):
    import numpy as np

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=n), "s": rng.choice(["a", "b", "c"], n),
                          "y": np.where(rng.random(n) < 0.2, "yes", "no")})
    frame.to_parquet(path, row_group_size=4_000)
    return frame


def test_a_long_parquet_table_is_sampled_before_it_is_loaded(tmp_path):
    """Only the rows a study can use are read (stratified by the target), batch by batch."""
    import dataeff

    path = tmp_path / "long.parquet"
    frame = _long_parquet(path)
    study = dataeff.Study(path, label="y", sizes=[50, 200], seeds=2, test_rows=100, learners=["logreg"])
    dataset = study.load_data()
    assert 2 * 100 + 200 <= dataset.n_rows < 30_000 // 2  # counted from the settings, not by rows_needed
    assert dataset.notes[0].startswith(f"read {dataset.n_rows:,} of 30,000 rows of long.parquet")
    assert (dataset.y == "yes").mean() == pytest.approx((frame["y"] == "yes").mean(), abs=0.01)
    merged = dataset.X.assign(y=dataset.y.to_numpy()).merge(frame, on=["x", "s", "y"])
    assert len(merged) == dataset.n_rows  # real rows of the file, not made-up ones
    result = study.run(tmp_path / "run", progress=False)
    assert (result.results["status"] == "ok").all()
    small = dataeff.Study(path, label="y", learners=["logreg"])  # no sizes: the whole table
    assert small.load_data().n_rows == 30_000
    # a numeric label cut into bins: the rows drawn at random, not one per distinct value
    binned = dataeff.Study(path, label="x", bins=4, sizes=[50, 200], seeds=2, test_rows=100, learners=["logreg"])
    assert binned.load_data().n_rows < 30_000 // 2 and "a random sample of the rows with a 'x'" in \
        binned.load_data().notes[0]


@pytest.mark.parametrize(("seeds", "test_rows", "largest"), [(3, 1000, 3000), (6, 500, 2500)])
def test_the_parquet_sample_holds_every_seeds_test_rows_and_the_largest_subset(tmp_path, seeds, test_rows, largest):
    """The sample is at least seeds × test rows + the largest size (what the README promises,
    counted here from the settings), so no requested size is cut and each seed's test rows and
    largest training subset are distinct rows of the sample. Sizes are large next to any fixed
    slack, so a sample that forgets the seeds or shrinks falls short."""
    import numpy as np

    import dataeff

    path = tmp_path / "long.parquet"
    _long_parquet(path)
    study = dataeff.Study(path, label="y", sizes=[50, largest], seeds=seeds, test_rows=test_rows,
                          learners=["logreg"])
    dataset, plan, _ = study.prepare()
    assert dataset.notes[0].startswith(f"read {dataset.n_rows:,} of 30,000 rows")  # sampled, not read whole
    assert dataset.n_rows >= seeds * test_rows + largest
    assert plan.sizes == [50, largest] and plan.n_test == test_rows
    assert not [note for note in plan.notes if "clipped" in note]
    for seed in plan.seeds:
        split = plan.splits[seed]
        train = split.train_index(largest)
        assert len(train) == largest and len(split.test_index) == test_rows
        assert not set(train.tolist()) & set(split.test_index.tolist())
        assert np.all((train >= 0) & (train < dataset.n_rows))
