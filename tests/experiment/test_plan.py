import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataeff.data.builtin import load_builtin
from dataeff.data.dataset import prepare_dataset
from dataeff.errors import ConfigError
from dataeff.experiment.plan import anchor_sizes, make_plan


def test_anchor_sizes_follow_sqrt2_steps_and_end_at_the_pool():
    assert anchor_sizes(4000) == [8, 11, 16, 23, 32, 45, 64, 91, 128, 181, 256, 362, 512, 724, 1024, 1448,
                                  2048, 2896, 4000]
    assert anchor_sizes(100)[-1] == 100 and 91 not in anchor_sizes(100)  # 91 is a hair below 100


def _dataset(n=600, shares=(0.7, 0.2, 0.1), seed=0):
    rng = np.random.default_rng(seed)
    y = rng.choice(["a", "b", "c"][: len(shares)], n, p=shares)
    return prepare_dataset(pd.DataFrame({"x": rng.normal(size=n), "y": y}), "y", "t")


def test_subsets_are_nested_and_stratified():
    ds = _dataset()
    plan = make_plan(ds, seeds=3, sizes=[3, 10, 40, 160, 400])
    for seed, split in plan.splits.items():
        assert not set(split.test_index) & set(split.train_order)
        previous = set()
        for n in plan.sizes:
            rows = split.train_index(n)
            assert len(rows) == n and previous <= set(rows)
            previous = set(rows)
            labels = ds.y.iloc[rows]
            assert set(labels) == {"a", "b", "c"}  # n >= n_classes: every class present
            if n >= 40:
                shares = labels.value_counts(normalize=True)
                assert abs(shares["a"] - 0.7) < 0.06 and abs(shares["c"] - 0.1) < 0.06


def test_test_rows_are_stratified_fixed_per_seed_and_differ_between_seeds():
    ds = _dataset()
    plan = make_plan(ds, seeds=2)
    assert plan.n_test == 120  # 20% of 600
    again = make_plan(ds, seeds=2)
    for seed in plan.seeds:
        assert np.array_equal(plan.splits[seed].test_index, again.splits[seed].test_index)
        shares = ds.y.iloc[plan.splits[seed].test_index].value_counts(normalize=True)
        assert abs(shares["b"] - ds.y.value_counts(normalize=True)["b"]) < 0.02
    assert not np.array_equal(plan.splits[0].test_index, plan.splits[1].test_index)


def test_default_test_rows_cap_at_1000():
    assert make_plan(load_builtin("churn"), seeds=1).n_test == 1000


def test_own_test_split_is_used():
    ds = load_builtin("fine-foods")
    plan = make_plan(ds, seeds=2)
    assert plan.n_test == 1000 and plan.pool_size == 4000
    assert np.array_equal(plan.splits[0].test_index, np.flatnonzero(ds.test_mask))


def test_sizes_beyond_the_pool_are_clipped_and_reported():
    plan = make_plan(_dataset(), seeds=1, sizes=[8, 5000, 9000])
    assert plan.sizes == [8, 480]
    assert "clipped to 480" in plan.notes[0]


def test_zero_shot_learners_also_get_n_zero():
    plan = make_plan(_dataset(), seeds=2, sizes=[8, 16])
    cells = plan.cells([("logreg", True), ("llm-zero", False)])
    assert {c.n_train for c in cells if c.learner == "llm-zero"} == {0, 8, 16}
    assert {c.n_train for c in cells if c.learner == "logreg"} == {8, 16}


def test_too_few_test_rows_for_the_classes_is_refused():
    with pytest.raises(ConfigError, match="cannot hold all 3 classes"):
        make_plan(_dataset(), seeds=1, test_rows=2)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(20, 300),
    minority=st.floats(0.02, 0.5),
    seed=st.integers(0, 3),
)
def test_property_nesting_and_class_presence(n, minority, seed):
    rng = np.random.default_rng(seed)
    y = np.where(rng.random(n) < minority, "pos", "neg")
    y[:2] = ["pos", "neg"]  # both classes exist
    ds = prepare_dataset(pd.DataFrame({"x": np.arange(n), "y": y}), "y", "t")
    plan = make_plan(ds, seeds=1, test_rows=max(2, n // 5))
    order = plan.splits[0].train_order
    assert len(set(order)) == len(order) == plan.pool_size
    assert set(ds.y.iloc[order[:2]]) == set(ds.y.iloc[order])  # first n_classes rows hold every class


def _frame(labels) -> object:
    return prepare_dataset(pd.DataFrame({"x": np.arange(len(labels), dtype=float), "y": labels}), "y", "t")


def test_advice_on_too_few_rows_never_names_a_test_row_count_that_cannot_work():
    """A label that is every row's own, and a 3-row table: no --test-rows fits, so none is named."""
    from dataeff.errors import DataError

    with pytest.raises(DataError) as own_labels:
        make_plan(_frame([f"id{i}" for i in range(400)]), seeds=1)
    assert "400 rows for the 400 classes" in str(own_labels.value) and "at least 800 rows" in str(own_labels.value)
    assert "test_rows" not in str(own_labels.value)
    with pytest.raises(DataError, match="at least 4 rows") as tiny:
        make_plan(_frame(["a", "b", "a"]), seeds=1)
    assert "test_rows" not in str(tiny.value)
    make_plan(_frame(["a", "b", "a", "b"]), seeds=1)  # the number it names is enough


def test_advice_on_too_many_test_rows_names_a_count_that_works():
    ds = _dataset(400)
    with pytest.raises(ConfigError) as too_many:
        make_plan(ds, seeds=1, test_rows=100_000)
    message = str(too_many.value)
    assert "-99" not in message
    suggested = int(message.split("use test_rows=")[1].split()[0])
    assert suggested == 397
    assert make_plan(ds, seeds=1, test_rows=suggested).n_test == suggested  # following it works


def test_the_default_test_rows_hold_every_class_where_the_rows_allow():
    plan = make_plan(_frame([f"c{i % 10}" for i in range(30)]), seeds=1)  # 20% would be 6 rows for 10 classes
    assert plan.n_test == 10
