import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from dataeff.errors import LearnerError
from dataeff.learners.registry import REGISTRY, available_learners, resolve_learners
from tests.conftest import make_messy_frame

ALL = [*(n for n in REGISTRY if not n.startswith("llm")), "sklearn.svm.SVC", "sklearn.naive_bayes.GaussianNB"]  # LLMs: test_llm.py


@pytest.fixture(scope="module")
def messy_split():
    frame = make_messy_frame(n=600, seed=1)
    y = frame.pop("churned")
    return frame.iloc[:400], y.iloc[:400], frame.iloc[400:], y.iloc[400:]


@pytest.mark.parametrize("name", ALL)
def test_every_learner_handles_a_messy_table(name, messy_split):
    X_train, y_train, X_test, y_test = messy_split
    learner = resolve_learners([name])[0].build(random_state=0)
    learner.fit(X_train, y_train)
    proba = learner.predict_proba(X_test)
    assert proba.shape == (len(X_test), 2)
    assert np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert list(learner.classes_) == ["churned", "stayed"]
    auc = roc_auc_score(y_test == "stayed", proba[:, 1])
    if name == "majority":
        assert auc == 0.5
    else:
        assert auc > 0.6, f"{name} learned nothing from the messy table (AUC {auc:.3f})"
    cost = learner.cost()
    assert cost["fit_seconds"] > 0 and cost["predict_seconds"] > 0


def _one_signal_table(kind: str, n: int = 600, seed: int = 3):
    """A table whose label depends on one column only: a categorical ('plan') or a number
    stored as text ('fee', with gaps); the other columns are noise. Bayes roc_auc about 0.95."""
    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "plus", "premium", "family", "student", "business"], n)
    fee = rng.normal(50, 10, n)
    good = np.isin(plan, ["basic", "family", "student"]) if kind == "categorical" else fee > 50
    y = np.where(rng.random(n) < np.where(good, 0.95, 0.05), "yes", "no")
    fee_text = np.array([f"{v:.2f}" for v in fee], dtype=object)
    if kind == "text number":
        fee_text[rng.random(n) < 0.05] = None
    X = pd.DataFrame({"noise": rng.normal(size=n), "other": rng.choice(list("ABCD"), n),
                      "plan": plan if kind == "categorical" else rng.permutation(plan),
                      "fee": fee_text if kind == "text number" else rng.permutation(fee_text)})
    return X, pd.Series(y)


@pytest.mark.parametrize("kind", ["categorical", "text number"])
@pytest.mark.parametrize("name", ["logreg", "tree", "forest", "knn", "xgboost", "mlp"])
def test_every_learner_reads_categorical_columns_and_numbers_stored_as_text(name, kind):
    """The label depends on that one column alone: a featurizer that drops categorical or
    text-stored columns leaves the learner at chance."""
    X, y = _one_signal_table(kind)
    learner = resolve_learners([name])[0].build(random_state=0).fit(X.iloc[:400], y.iloc[:400])
    auc = roc_auc_score(y.iloc[400:] == "yes", learner.predict_proba(X.iloc[400:])[:, 1])
    assert auc > 0.8, f"{name} did not use the {kind} column (AUC {auc:.3f})"


@pytest.mark.parametrize("name", ["logreg", "tree", "xgboost", "mlp", "knn"])
def test_tiny_subsets_still_give_probabilities(name, messy_split):
    X_train, y_train, X_test, _ = messy_split
    rows = [int(np.flatnonzero(y_train == "churned")[0]), *np.flatnonzero(y_train == "stayed")[:7]]
    learner = resolve_learners([name])[0].build(random_state=0).fit(X_train.iloc[rows], y_train.iloc[rows])
    assert learner.predict_proba(X_test).shape == (len(X_test), 2)


def test_single_class_training_set_predicts_that_class(messy_split):
    X_train, y_train, X_test, _ = messy_split
    rows = np.flatnonzero(y_train == "stayed")[:5]
    learner = resolve_learners(["logreg"])[0].build(0).fit(X_train.iloc[rows], y_train.iloc[rows])
    assert list(learner.classes_) == ["stayed"]
    assert np.all(learner.predict_proba(X_test) == 1.0)


def test_fits_are_reproducible_for_a_seed(messy_split):
    X_train, y_train, X_test, _ = messy_split
    for name in ("mlp", "xgboost", "forest"):
        a = resolve_learners([name])[0].build(3).fit(X_train, y_train).predict_proba(X_test)
        b = resolve_learners([name])[0].build(3).fit(X_train, y_train).predict_proba(X_test)
        assert np.array_equal(a, b), name


def test_estimator_objects_are_accepted():
    from sklearn.ensemble import ExtraTreesClassifier

    spec = resolve_learners([ExtraTreesClassifier(n_estimators=5)])[0]
    assert spec.name == "extratreesclassifier"
    frame = make_messy_frame(120)
    y = frame.pop("churned")
    assert spec.build(0).fit(frame, y).predict_proba(frame).shape == (120, 2)


@pytest.mark.parametrize(
    ("learners", "message"),
    [
        (["xgbost"], "Did you mean 'xgboost'"),
        (["XGBoost"], "Did you mean 'xgboost'"),
        (["sklearn.svm.SVCC"], "Cannot import learner"),
        (["sklearn.preprocessing.StandardScaler"], "not a scikit-learn classifier"),
        (["logreg", "logreg"], "listed twice"),
        ([], "No learners given"),
    ],
)
def test_bad_learner_names_get_a_clear_error(learners, message):
    with pytest.raises(LearnerError, match=message):
        resolve_learners(learners)


def test_registry_lists_every_alias_without_importing_heavy_packages():
    import subprocess
    import sys

    code = ("import sys; from dataeff.learners.registry import available_learners; available_learners(); "
            "print('torch' in sys.modules, 'xgboost' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
    assert set(available_learners()) >= {"majority", "logreg", "tree", "forest", "knn", "xgboost", "mlp"}


def test_wide_table_with_hundreds_of_columns():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 300)), columns=[f"c{i}" for i in range(300)])
    y = pd.Series(np.where(X["c0"] + X["c1"] > 0, "yes", "no"))
    for name in ("logreg", "xgboost"):
        learner = resolve_learners([name])[0].build(0).fit(X.iloc[:200], y.iloc[:200])
        auc = roc_auc_score(y.iloc[200:] == "yes", learner.predict_proba(X.iloc[200:])[:, 1])
        assert auc > 0.7, name


def test_scaling_in_column_chunks_equals_scaling_all_columns_at_once():
    import skrub

    from dataeff.learners.scaling import InColumnChunks

    X = np.random.default_rng(0).normal(size=(300, 200)).astype(np.float32)
    X[::7, 3] = np.inf
    X[:, 5] = 1.0
    X[::3, 9] = np.nan
    whole = skrub.SquashingScaler(max_absolute_value=5).fit_transform(X)
    chunked = InColumnChunks(skrub.SquashingScaler(max_absolute_value=5), chunk=64).fit(X).transform(X)
    assert np.array_equal(whole, chunked, equal_nan=True)


@pytest.mark.parametrize("data", ["churn", "synthetic-customers"])
@pytest.mark.parametrize("name", ["tree", "xgboost"])
def test_tree_learners_score_the_same_from_one_float32_array_as_from_the_frame(monkeypatch, data, name):
    """The tree features (float32 numbers, float64 codes) reach the estimator as one float32
    array: the probabilities must be those of the frame the estimator got before."""
    from dataeff.data.builtin import load_builtin
    from dataeff.learners import classic

    dataset = load_builtin(data)
    X, y = dataset.X.iloc[:1500].reset_index(drop=True), dataset.y.iloc[:1500].reset_index(drop=True)
    train, test = slice(0, 1000), slice(1000, 1500)
    as_array = resolve_learners([name])[0].build(3).fit(X[train], y[train]).predict_proba(X[test])

    def as_frame(Z, trees=False):
        assert isinstance(Z, pd.DataFrame)
        return Z.set_axis([f"f{i}" for i in range(Z.shape[1])], axis=1)

    monkeypatch.setattr(classic, "_plain_names", as_frame)
    from_frame = resolve_learners([name])[0].build(3).fit(X[train], y[train]).predict_proba(X[test])
    assert np.array_equal(as_array, from_frame)
