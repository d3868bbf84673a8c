"""The featurization each learner kind gets, as the README states it: trees get ordinal codes
and keep missing values; linear models, kNN and the MLP get one-hot codes, imputation with
missing indicators and scaling. Numbers stored as text are numbers to both."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from dataeff.learners.featurize import features_for
from dataeff.learners.registry import REGISTRY, resolve_learners
from tests.learners.dirty_tables import table_vectorizer_alone

N = 240
COLOURS = ["red", "green", "blue"]


@pytest.fixture(scope="module")
def table():
    """A numeric column with gaps (far from 0 and 1, so scaling shows), a low-cardinality
    categorical with gaps, and numbers stored as text."""
    rng = np.random.default_rng(0)
    number = rng.normal(1000, 100, N)
    number[rng.random(N) < 0.2] = np.nan
    colour = rng.choice(COLOURS, N).astype(object)
    colour[::10] = None
    price = rng.normal(50, 10, N)
    X = pd.DataFrame({"number": number, "colour": colour, "price": [f"{v:.2f}" for v in price]})
    y = pd.Series(rng.choice(["a", "b"], N))
    return X, y, price


def _same_order(a: np.ndarray, b) -> bool:
    return bool(np.std(a) > 0 and spearmanr(a, b)[0] > 0.999)


def _columns(Z) -> list[np.ndarray]:
    Z = np.asarray(Z, dtype=float)
    return [Z[:, j] for j in range(Z.shape[1])]


def test_trees_get_one_ordinal_code_column_per_input_and_keep_missing_values(table):
    X, y, price = table
    Z = np.asarray(features_for("tree").fit_transform(X, y), dtype=float)
    assert Z.shape == (N, 3)  # one column per input column: no one-hot expansion
    number, colour, as_number = Z[:, 0], Z[:, 1], Z[:, 2]
    gaps = X["number"].isna().to_numpy()
    assert np.array_equal(np.isnan(number), gaps)  # NaN stays NaN: not imputed
    assert np.allclose(number[~gaps], X["number"][~gaps], rtol=1e-6)
    present = X["colour"].notna().to_numpy()
    assert np.isnan(colour[~present]).all()  # a missing category stays missing too
    codes = colour[present]
    assert set(codes) == {0.0, 1.0, 2.0}  # ordinal codes
    for name in COLOURS:  # one code per category, the same on every row
        assert len(set(codes[X["colour"][present] == name])) == 1
    assert np.allclose(as_number, price.round(2), rtol=1e-6)  # "43.24" is the number 43.24


@pytest.mark.parametrize("name", ["logreg", "knn", "mlp"])
def test_dense_learners_get_one_hot_codes_imputation_missing_indicators_and_scaling(table, name):
    X, y, price = table
    assert REGISTRY[name].features == "dense"
    learner = resolve_learners([name])[0].build(0).fit(X, y)
    Z = np.asarray(learner._featurizer.transform(X), dtype=float)
    assert not np.isnan(Z).any()  # imputed
    assert np.abs(Z).max() <= 5 + 1e-6  # squashed to [-5, 5]
    columns = _columns(Z)
    gaps = X["number"].isna().to_numpy()
    observed = X["number"].to_numpy()
    # the number: imputed (one value on every gap), in its own order, and scaled near 0
    numbers = [c for c in columns if len(set(c[gaps])) == 1 and _same_order(c[~gaps], observed[~gaps])]
    assert len(numbers) == 1 and abs(np.median(numbers[0][~gaps])) < 0.2 and np.std(numbers[0]) < 3
    # its missing indicator: non-zero exactly on the gaps
    assert sum(np.array_equal(c != 0, gaps) for c in columns) == 1
    # one-hot: for each colour (and for 'missing'), one column non-zero exactly on its rows
    for rows in [X["colour"] == c for c in COLOURS] + [X["colour"].isna()]:
        assert sum(np.array_equal(c != 0, rows.to_numpy()) for c in columns) == 1
    # the numbers stored as text: one column in their order
    assert sum(_same_order(c, price) for c in columns) == 1
    assert Z.shape[1] == 1 + 1 + 4 + 1  # number, its indicator, 3 colours + missing, price


@pytest.mark.parametrize("name", ["tree", "forest", "xgboost"])
def test_tree_learners_get_the_tree_features(table, name):
    X, y, _ = table
    assert REGISTRY[name].features == "tree"
    learner = resolve_learners([name])[0].build(0).fit(X, y)
    Z = np.asarray(learner._featurizer.transform(X), dtype=float)
    expected = np.asarray(features_for("tree").fit(X, y).transform(X), dtype=float)
    assert np.array_equal(Z, expected, equal_nan=True)


def _wide_table(rows: int = 300) -> pd.DataFrame:
    """Numbers of every kind the block must treat as skrub does: gaps, a constant, all missing,
    one value with gaps, integers, pandas' nullable integers, booleans, and strings between."""
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(rows, 40)), columns=[f"n{i}" for i in range(40)])
    X.iloc[rng.random(X.shape) < 0.1] = np.nan
    X.insert(5, "city", rng.choice(["oslo", "rome", "lima"], rows))
    X.insert(12, "constant", 7.0)
    X.insert(20, "empty", np.nan)
    X.insert(21, "one_value_with_gaps", np.where(rng.random(rows) < 0.5, 3.0, np.nan))
    X["count"] = rng.integers(0, 9, rows)
    X["nullable"] = pd.array(np.where(rng.random(rows) < 0.2, None, rng.integers(0, 5, rows)), dtype="Int64")
    X["flag"] = rng.random(rows) < 0.3
    X["signup"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 400, rows), unit="D")
    # Strings the category block must leave to skrub or encode as skrub does: plain levels (one
    # unseen in the fitted rows), two levels (one-hot drops one), gaps, a null word, digits,
    # a date as text, a number as text, stray spaces, one value only, and 45 levels.
    X["plan"] = rng.choice(["basic", "plus", "pro", "team"], rows)
    X.loc[250:, "plan"] = "enterprise"
    X["yes_no"] = rng.choice(["yes", "no"], rows)
    X["with_gaps"] = pd.Series(rng.choice(["a", "b", "c"], rows)).where(rng.random(rows) > 0.2)
    X["null_word"] = rng.choice(["red", "blue", "N/A"], rows)
    X["sku"] = rng.choice(["A1", "B2", "C3"], rows)
    X["day"] = rng.choice(["2024-01-05", "2024-02-11", "2024-03-09"], rows)
    X["fee"] = rng.choice(["12.50", "9.00", "30.25"], rows)
    X["spaced"] = rng.choice([" left", "right ", "mid"], rows)
    X["single"] = "same"
    X["many"] = rng.choice([f"level_{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(45)], rows)
    return X


@pytest.mark.parametrize("kind", ["tree", "dense"])
@pytest.mark.parametrize("data", ["churn", "telco-churn", "attrition", "synthetic-customers", "messy", "wide"])
def test_the_numeric_and_category_blocks_give_the_table_vectorizers_features(kind, data):
    from dataeff.data.builtin import load_builtin
    from tests.conftest import make_messy_frame

    X = (make_messy_frame().drop(columns="churned") if data == "messy" else _wide_table() if data == "wide"
         else load_builtin(data).X).reset_index(drop=True)
    train, test = X.iloc[:64], X.iloc[64:300]
    ours, alone = features_for(kind, None, 0), table_vectorizer_alone(kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unknown categories in the test rows: expected, both ways
        pairs = [(ours.fit_transform(train), alone.fit_transform(train)), (ours.transform(test), alone.transform(test))]
    for mine, theirs in pairs:
        assert np.asarray(mine).shape == np.asarray(theirs).shape
        assert np.array_equal(np.asarray(mine, float), np.asarray(theirs, float), equal_nan=True)
    if data == "wide":  # the block took the plain string columns only
        assert ours.steps[0][1].categories_ == ["city", "plan", "yes_no", "many"]



def _columns_of_every_kind(rows: int, dtype, seed: int) -> np.ndarray:
    """Columns skrub's scaler treats each its own way: spread out (robust scaling), mostly one
    value so the quartiles meet (range scaling), constant (zeros), few values with ties."""
    rng = np.random.default_rng(seed)
    spread = rng.standard_t(3, size=(rows, 40)) * rng.uniform(0.01, 1000, size=40)
    mostly_one = np.where(rng.random((rows, 10)) < 0.9, 7.0, rng.normal(size=(rows, 10)))
    constant = np.full((rows, 5), 3.25)
    ties = rng.integers(0, 4, size=(rows, 10)).astype(float)
    tiny = rng.normal(size=(rows, 3)) * np.array([1e-17, 1e-8, 1e-4])  # 1e-17: RobustScaler scales by 1
    return np.hstack([spread, mostly_one, constant, ties, tiny]).astype(dtype)


@pytest.mark.parametrize("rows", [1, 2, 7, 128, 2048])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_squashing_scaler_fitted_at_once_is_skrubs_bit_for_bit(rows, dtype):
    import skrub

    from dataeff.learners.scaling import WholeSquashingScaler

    X, unseen = _columns_of_every_kind(rows, dtype, 0), _columns_of_every_kind(50, dtype, 1)
    unseen[::7, ::3] = np.nan
    unseen[1, 0], unseen[2, 1] = np.inf, -np.inf  # new rows: missing and infinite values come through
    ours, skrubs = WholeSquashingScaler(max_absolute_value=5), skrub.SquashingScaler(max_absolute_value=5)
    np.testing.assert_array_equal(ours.fit_transform(X), skrubs.fit_transform(X))
    np.testing.assert_array_equal(ours.transform(unseen), skrubs.transform(unseen))
    assert ours.fit_transform(X).dtype == skrubs.fit_transform(X).dtype
    np.testing.assert_array_equal(ours.fit(X).transform(X), skrubs.fit(X).transform(X))


def test_the_squashing_scaler_leaves_missing_and_infinite_columns_to_skrub():
    import skrub

    from dataeff.learners.scaling import WholeSquashingScaler

    X = _columns_of_every_kind(300, np.float32, 2)
    X[::5, 3], X[0, 4] = np.nan, np.inf
    np.testing.assert_array_equal(WholeSquashingScaler().fit_transform(X), skrub.SquashingScaler().fit_transform(X))
    with pytest.raises(ValueError, match="max_absolute_value"):  # skrub's own check of the setting
        WholeSquashingScaler(max_absolute_value=0).fit(X[:, :3])
