"""Flattening related tables: every aggregation, windows, filters, and point-in-time correctness."""

import sqlite3

import numpy as np
import pandas as pd
import pytest

from dataeff.config import load_config
from dataeff.data.relations import Feature, Flattening, Relation, flatten
from dataeff.errors import ConfigError, DataError

CUSTOMERS = pd.DataFrame({
    "customer_id": [1, 2, 3],
    "snapshot_date": ["2024-06-30", "2024-06-30", "2024-01-01"],  # timestamps stored as text
    "churned": ["yes", "no", "no"],
})
PURCHASES = pd.DataFrame({
    "customer_id": ["1", "1", "1", "2", "3", "3"],  # the key as text: sources disagree on types
    "purchased_at": pd.to_datetime(["2024-05-01", "2024-02-15", "2023-01-01", "2024-07-01", "2023-12-01",
                                    "2024-02-01"]),
    "category": ["food", "toys", "food", "food", "toys", "food"],
    "amount": [10.0, 25.0, 20.0, 30.0, 5.0, 7.0],
})
ALL = [
    Feature("HasFood6m", "exists", where="category = 'food'", window="180d"),
    Feature("Spend90d", "sum", column="amount", window="90d"),
    Feature("Purchases", "count"),
    Feature("MeanAmount", "mean", column="amount"),
    Feature("MinAmount", "min", column="amount"),
    Feature("MaxAmount", "max", column="amount"),
    Feature("Last", "last", column="amount"),
    Feature("First", "first", column="amount"),
    Feature("Categories", "n_distinct", column="category"),
    Feature("DaysSince", "days_since_last"),
]


def _flat(purchases=PURCHASES, features=ALL):
    decl = Flattening("customers", "customer_id", "snapshot_date",
                      relations=[Relation("purchases", "customer_id", "purchased_at", features=features)])
    return flatten(decl, {"customers": CUSTOMERS, "purchases": purchases})


def test_every_aggregation_matches_a_hand_computation():
    flat = _flat().set_index("customer_id")
    # customer 1 at 2024-06-30: purchases on 05-01 (food 10), 02-15 (toys 25), 2023-01-01 (food 20)
    one = flat.loc[1]
    assert one["HasFood6m"] == 1 and one["Spend90d"] == 10.0 and one["Purchases"] == 3
    assert one["MeanAmount"] == pytest.approx(55 / 3) and one["MinAmount"] == 10 and one["MaxAmount"] == 25
    assert one["Last"] == 10.0 and one["First"] == 20.0 and one["Categories"] == 2
    assert one["DaysSince"] == pytest.approx(60.0)
    # customer 2's only purchase is after its cutoff: as if it had none
    two = flat.loc[2]
    assert two["Purchases"] == 0 and two["HasFood6m"] == 0 and two["Spend90d"] == 0.0
    assert np.isnan(two["Last"]) and np.isnan(two["DaysSince"]) and np.isnan(two["MeanAmount"])
    # customer 3 at 2024-01-01 sees only the 2023-12-01 purchase
    three = flat.loc[3]
    assert three["Purchases"] == 1 and three["Last"] == 5.0 and three["HasFood6m"] == 0
    assert list(flat.columns[:2]) == ["snapshot_date", "churned"]  # entity columns kept, in order


def test_moving_one_purchase_past_the_cutoff_changes_exactly_the_features_it_should():
    before = _flat()
    moved = PURCHASES.copy()
    moved.loc[0, "purchased_at"] = pd.Timestamp("2024-07-15")  # customer 1's food purchase, now after cutoff
    after = _flat(moved)
    changed = {c for c in before.columns if not before[c].equals(after[c])}
    assert changed == {"HasFood6m", "Spend90d", "Purchases", "MeanAmount", "MinAmount", "Last", "DaysSince"}
    row_before, row_after = before.iloc[0], after.iloc[0]
    assert row_after["Purchases"] == row_before["Purchases"] - 1
    assert row_after["Last"] == 25.0 and row_after["DaysSince"] == pytest.approx(136.0)
    pd.testing.assert_frame_equal(before.iloc[1:], after.iloc[1:])  # other customers untouched


def test_no_feature_reads_the_future_on_random_data():
    rng = np.random.default_rng(0)
    customers = pd.DataFrame({"customer_id": range(200),
                              "snapshot_date": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, 200), "D")})
    past = pd.DataFrame({"customer_id": rng.integers(0, 200, 3000),
                         "purchased_at": pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 1000, 3000), "D"),
                         "category": rng.choice(["food", "toys"], 3000), "amount": rng.random(3000)})
    past = past.merge(customers, on="customer_id")
    past = past[past["purchased_at"] <= past["snapshot_date"]].drop(columns="snapshot_date")
    future = past.sample(500, random_state=0).assign(purchased_at=pd.Timestamp("2030-01-01"), amount=1e6)
    decl = Flattening("c", "customer_id", "snapshot_date",
                      relations=[Relation("p", "customer_id", "purchased_at", features=ALL)])
    without = flatten(decl, {"c": customers, "p": past})
    with_future = flatten(decl, {"c": customers, "p": pd.concat([past, future])})
    pd.testing.assert_frame_equal(without, with_future)


def test_toml_declaration_with_sqlite_sources(tmp_path):
    db = tmp_path / "crm.sqlite"
    with sqlite3.connect(db) as conn:
        CUSTOMERS.to_sql("customers", conn, index=False)
        PURCHASES.to_sql("purchases", conn, index=False)
    (tmp_path / "study.toml").write_text(
        '[data]\nentity = "crm.sqlite"\nentity_table = "customers"\nkey = "customer_id"\nlabel = "churned"\n'
        'cutoff = "snapshot_date"\n\n[[data.relations]]\ntable = "purchases"\nsource = "crm.sqlite"\n'
        'key = "customer_id"\ntime = "purchased_at"\nfeatures = [\n'
        '  { name = "HasPurchasedFoodLast6Months", agg = "exists", where = "category = \'food\'", window = "180d" },\n'
        '  { name = "Purchases", agg = "count" },\n]\n')
    cfg = load_config(tmp_path / "study.toml")
    flat = flatten(cfg.data.flattening).set_index("customer_id")
    assert flat["HasPurchasedFoodLast6Months"].tolist() == [1, 0, 0]
    assert flat["Purchases"].tolist() == [3, 0, 1]


@pytest.mark.parametrize(
    ("features", "message"),
    [
        ('{ name = "X", agg = "sume", column = "amount" }', "Did you mean 'sum'"),
        ('{ name = "X", agg = "sum" }', "needs a 'column'"),
        ('{ name = "X", agg = "count", window = "6 months" }', "Window '6 months' is not understood"),
        ('{ agg = "count" }', "needs a 'name' and an 'agg'"),
    ],
)
def test_bad_declarations_name_the_fix(tmp_path, features, message):
    (tmp_path / "study.toml").write_text(
        '[data]\nentity = "c.parquet"\nkey = "customer_id"\nlabel = "churned"\ncutoff = "snapshot_date"\n'
        f'[[data.relations]]\ntable = "p.parquet"\nkey = "customer_id"\ntime = "t"\nfeatures = [{features}]\n')
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path / "study.toml")


def test_a_database_entity_without_its_table_is_one_line(tmp_path):
    (tmp_path / "study.toml").write_text(
        '[data]\nentity = "postgresql://u@db/crm"\nkey = "id"\nlabel = "y"\n'
        '[[data.relations]]\ntable = "p.parquet"\nkey = "id"\nfeatures = [{ name = "n", agg = "count" }]\n')
    with pytest.raises(ConfigError, match="entity is a database URL: name the entity's table with entity_table"):
        flatten(load_config(tmp_path / "study.toml").data.flattening)


def test_unknown_columns_and_bad_sql_are_data_errors():
    with pytest.raises(DataError, match="Column 'amt' is not in purchases"):
        _flat(features=[Feature("S", "sum", column="amt")])
    with pytest.raises(DataError, match="Flattening the related tables failed"):
        _flat(features=[Feature("S", "count", where="categoryy = 'food'")])


def test_windows_in_hours_weeks_and_months_and_rows_exactly_at_an_edge():
    """A window ends at the row's cutoff, which it includes, and starts just after cutoff minus
    its length: a child row exactly at the start is out, one exactly at the cutoff is in. Months
    are calendar months (a month before 2024-03-15 12:00 is 2024-02-15 12:00, 29 days)."""
    cutoff = pd.Timestamp("2024-03-15 12:00")
    at = {  # purchase time -> the windows it falls in
        cutoff: {"H24", "H36", "W2", "M1"},  # exactly at the cutoff: in every window
        cutoff + pd.Timedelta("1min"): set(),  # after the cutoff: in none
        cutoff - pd.Timedelta("24h"): {"H36", "W2", "M1"},  # exactly at the 24h edge: out of it
        cutoff - pd.Timedelta("23h59min"): {"H24", "H36", "W2", "M1"},
        cutoff - pd.Timedelta("36h"): {"W2", "M1"},
        cutoff - pd.Timedelta("14D"): {"M1"},  # exactly two weeks before
        cutoff - pd.Timedelta("13D23h"): {"W2", "M1"},
        pd.Timestamp("2024-02-15 12:00"): set(),  # exactly a calendar month before
        pd.Timestamp("2024-02-15 12:01"): {"M1"},
        cutoff - pd.Timedelta("30D"): set(),  # a month is not 30 days
    }
    customers = pd.DataFrame({"id": [1, 2], "cut": [str(cutoff), "2024-01-01"]})
    windows = {"H24": "24h", "H36": "36h", "W2": "2w", "M1": "1m"}
    for i, (when, expected) in enumerate(at.items()):
        purchases = pd.DataFrame({"id": [1, 2], "t": [when, when], "amount": [1.0, 1.0]})
        features = [Feature(name, "count", window=w) for name, w in windows.items()]
        features.append(Feature("Spend", "sum", column="amount", window="1m"))
        decl = Flattening("c", "id", "cut", relations=[Relation("p", "id", "t", features=features)])
        flat = flatten(decl, {"c": customers, "p": purchases})
        got = {name for name in windows if flat.loc[0, name] == 1}
        assert got == expected, (str(when), got, expected)
        assert flat.loc[0, "Spend"] == (1.0 if "M1" in expected else 0.0)
        assert (flat.loc[1, list(windows)] == 0).all()  # customer 2's cutoff is before every purchase


def test_the_same_tables_flatten_to_the_same_bytes_every_time():
    """Sums and means of floats over many child rows: DuckDB's parallel aggregation added each
    customer's rows in two partial sums combined in whichever order its threads finished, so
    two flattenings of the same tables differed in the last bits (and the dataset's fingerprint
    with them). The sums must be the rows added in their order (exactly: 1,651 of 2,000
    customers differ from it when two threads share the 300,000 rows), every time."""
    import hashlib

    rng = np.random.default_rng(0)
    rows, customers = 300_000, 2_000  # more than two of DuckDB's row groups: threads split them
    entity = pd.DataFrame({"customer_id": np.arange(customers), "snapshot_date": "2024-06-30"})
    purchases = pd.DataFrame({"customer_id": rng.integers(0, customers, rows),
                              "purchased_at": pd.Timestamp("2022-01-01")
                              + pd.to_timedelta(rng.integers(0, 900 * 24 * 60, rows), "min"),
                              "amount": rng.lognormal(3, 0.7, rows)})
    decl = Flattening("customers", "customer_id", "snapshot_date", relations=[Relation(
        "purchases", "customer_id", "purchased_at", features=[Feature("Spend", "sum", column="amount"),
                                                              Feature("MeanAmount", "mean", column="amount")])])
    in_order: dict[int, float] = {}
    for customer, amount in zip(purchases["customer_id"].tolist(), purchases["amount"].tolist()):
        in_order[customer] = in_order.get(customer, 0.0) + amount
    digests = set()
    for _ in range(3):
        wide = flatten(decl, {"customers": entity, "purchases": purchases})
        assert wide["Spend"].tolist() == [in_order.get(c, 0.0) for c in range(customers)]
        digests.add(hashlib.sha256(pd.util.hash_pandas_object(wide, index=True).to_numpy().tobytes()
                                   + wide[["Spend", "MeanAmount"]].to_numpy().tobytes()).hexdigest())
    assert len(digests) == 1
