"""Dirty tables through the featurization, as properties (tests/learners/dirty_tables.py):
the fast path gives skrub's TableVectorizer's matrix wherever skrub alone encodes a table,
and every table is featurized into numbers every learner takes or refused in one line.

Derandomized and bounded so CI sees the same examples each run in about a minute; the long
profile is benchmarks/bench_dirty_tables.py. Tables that once failed are kept as examples.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings

from dataeff.data.dataset import prepare_dataset
from dataeff.errors import DataError
from tests.learners.dirty_tables import KINDS, dirty_tables, featurized_or_refused, the_fast_path_gives_skrubs_matrix

CI = settings(max_examples=40, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

LABELS = pd.Series(["yes", "no", "no"] * 10)


def _infinities():
    column = [1.0, np.inf, 2.0, -np.inf, 3.0] * 6
    return pd.DataFrame({"c0": column}), pd.DataFrame({"c0": [np.inf, 5.0, -np.inf]}), LABELS


def _lists_and_dicts():
    fit = pd.DataFrame({"tags": [["a", "b"], [], ["c"]] * 10, "meta": [{"k": 1}, {"k": 2}, None] * 10})
    return fit, fit.iloc[:4].reset_index(drop=True), LABELS


def _mixed_objects():
    fit = pd.DataFrame({"c0": pd.Series([1, "a", 2.5, None, b"\xff", True] * 5, dtype=object)})
    return fit, fit.iloc[:5].reset_index(drop=True), LABELS


def _scaling_past_float32():
    """Found by the property: a value near float32's limit on the far side of the median
    overflowed skrub's scaling to NaN."""
    fit = pd.DataFrame({"c0": [1e300, 1.234568e08] * 3})
    return fit, pd.DataFrame({"c0": [2.5, 1e-300, 1e300, -1e300, 5e-324]}), pd.Series(["yes", "no"] * 3)


def _float32_sums_past_its_limit():
    """Found by the long run: the median of 1e38 and 3.4e38 overflows float32 to an infinity."""
    return pd.DataFrame({"c0": [1e38, 3.4e38]}), pd.DataFrame({"c0": [1e300]}), pd.Series(["yes", "no"])


def _all_constant_in_few_rows():
    return pd.DataFrame({"c0": [7.0, 7.0, 7.0, 8.0]}), pd.DataFrame({"c0": [7.0]}), pd.Series(["yes", "no", "no", "yes"])


@CI
@given(table=dirty_tables())
@example(table=_infinities())
@example(table=_lists_and_dicts())
@example(table=_mixed_objects())
@example(table=_scaling_past_float32())
@example(table=_float32_sums_past_its_limit())
def test_every_dirty_table_is_featurized_into_numbers_learners_take_or_refused_in_one_line(table):
    featurized_or_refused(*table)


@pytest.mark.parametrize("kind", KINDS)
@CI
@given(table=dirty_tables(max_rows=600))
@example(table=_all_constant_in_few_rows())
def test_the_fast_path_gives_skrubs_matrix_wherever_skrub_alone_encodes_the_table(kind, table):
    fit, new, _ = table
    the_fast_path_gives_skrubs_matrix(fit, new, kind)


def test_infinities_are_missing_values_with_a_note_naming_the_column():
    dataset = prepare_dataset(_infinities()[0].assign(y=LABELS.to_numpy()), "y", "t")
    assert dataset.X["c0"].isna().sum() == 12 and np.isfinite(dataset.X["c0"].dropna()).all()
    assert any("infinite values read as missing: 'c0' (12)" in note for note in dataset.notes)


def test_numbers_beyond_1e30_are_clipped_with_a_note():
    frame = pd.DataFrame({"c0": [1e300, -3.4e38, 1.0] * 10, "y": LABELS})
    dataset = prepare_dataset(frame, "y", "t")
    assert dataset.X["c0"].tolist()[:3] == [1e30, -1e30, 1.0]
    assert any("beyond ±1e+30 clipped" in note and "'c0' (20)" in note for note in dataset.notes)


def test_empty_columns_are_dropped_with_a_note_and_a_table_of_only_empty_columns_refused():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0] * 10, "empty": [None] * 30, "void": np.nan, "y": LABELS})
    dataset = prepare_dataset(frame, "y", "t")
    assert list(dataset.X.columns) == ["x"]
    assert "dropped 2 columns with no value: 'empty', 'void'" in dataset.notes
    with pytest.raises(DataError, match=r"^t has no feature column with a value \('empty', 'void' are empty\)"):
        prepare_dataset(frame.drop(columns="x"), "y", "t")
    with pytest.raises(DataError, match="Every feature column of t holds one value"):
        prepare_dataset(frame.assign(x=5.0), "y", "t")


def test_lists_dicts_and_bytes_are_read_as_their_text():
    fit, _, labels = _lists_and_dicts()
    frame = fit.assign(blob=[b"ab", b"\xff", None] * 10, y=labels.to_numpy())
    dataset = prepare_dataset(frame, "y", "t")
    assert dataset.X["tags"].tolist()[:3] == ['["a", "b"]', "[]", '["c"]']
    assert dataset.X["meta"].tolist()[:2] == ['{"k": 1}', '{"k": 2}'] and pd.isna(dataset.X["meta"][2])
    assert dataset.X["blob"].tolist()[:2] == ["ab", "\ufffd"] and pd.isna(dataset.X["blob"][2])
    note = next(n for n in dataset.notes if "read as their text" in n)
    assert "'tags' (lists)" in note and "'meta' (dicts)" in note and "'blob' (bytes)" in note


def test_a_clean_table_passes_through_untouched(messy_frame):
    dataset = prepare_dataset(messy_frame, "churned", "messy")
    pd.testing.assert_frame_equal(dataset.X, messy_frame.drop(columns="churned"))
    assert dataset.notes == []
