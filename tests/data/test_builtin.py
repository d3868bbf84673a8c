import numpy as np
import pytest

from dataeff.data.builtin import BUILTINS, load_builtin
from dataeff.errors import DataError


@pytest.mark.parametrize("name", list(BUILTINS))
def test_builtin_loads_offline_with_readable_labels(name):
    ds = load_builtin(name)
    assert ds.target == BUILTINS[name].target
    assert "rownames" not in ds.X.columns and ds.target not in ds.X.columns
    assert len(ds.classes) == 2
    assert all(isinstance(v, str) for v in ds.y.unique())
    assert len(ds.X) == len(ds.y) > 1000


def test_churn_shape_and_classes():
    ds = load_builtin("churn")
    assert ds.X.shape == (5000, 19)
    assert ds.classes == ["no", "yes"]


def test_fine_foods_keeps_the_packages_own_split():
    ds = load_builtin("fine-foods")
    assert ds.test_mask is not None
    assert int(ds.test_mask.sum()) == 1000 and int((~ds.test_mask).sum()) == 4000
    assert list(ds.X.columns) == ["review"]
    assert set(ds.classes) == {"great", "other"}


def test_unknown_builtin_suggests_the_closest_name():
    with pytest.raises(DataError, match="Did you mean 'churn'"):
        load_builtin("chrun")


def test_fingerprint_is_stable_and_content_sensitive():
    a, b = load_builtin("attrition"), load_builtin("attrition")
    assert a.fingerprint() == b.fingerprint()
    b.X.iloc[0, 0] = np.nan
    assert a.fingerprint() != b.fingerprint()
