import numpy as np
import pandas as pd
import pytest

from dataeff.data.dataset import prepare_dataset
from dataeff.errors import DataError


def test_missing_targets_are_dropped_and_counted(messy_frame):
    messy_frame.loc[[3, 7, 11], "churned"] = None
    ds = prepare_dataset(messy_frame, "churned", "t")
    assert ds.n_rows == len(messy_frame) - 3
    assert ds.notes == ["dropped 3 rows with a missing 'churned'"]


def test_numeric_labels_become_readable_strings():
    frame = pd.DataFrame({"x": range(6), "y": [0.0, 1.0, 1.0, 0.0, 1.0, 0.0]})
    assert prepare_dataset(frame, "y", "t").classes == ["0", "1"]


@pytest.mark.parametrize(
    ("frame", "target", "message"),
    [
        (pd.DataFrame({"x": [1, 2], "y": ["a", "a"]}), "y", "single class"),
        (pd.DataFrame({"x": [1, 2], "y": [None, None]}), "y", "has no values"),
        (pd.DataFrame({"x": [1, 2], "label": ["a", "b"]}), "lable", "Did you mean 'label'"),
        (pd.DataFrame({"x": [1, 2], "y": ["a", "b"]}), None, "No label column given for t; pass label=COLUMN"),
        (pd.DataFrame({"y": ["a", "b"]}), "y", "no feature columns"),
        (pd.DataFrame(np.ones((2, 3)), columns=["a", "a", "y"]), "y", "duplicate column names"),
    ],
)
def test_bad_targets_are_refused(frame, target, message):
    with pytest.raises(DataError, match=message):
        prepare_dataset(frame, target, "t")
