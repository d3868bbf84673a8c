"""Tuning inside a cell (tune=N): every classic kind and the MLP search, refit and predict; the
search is seeded, falls back on subsets too small for folds, and refuses bad settings in one line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss

from dataeff.errors import ConfigError
from dataeff.learners.classic import forest, knn, logreg, tree, xgboost
from dataeff.learners.mlp import mlp
from dataeff.learners.tuning import SPACES
from tests.conftest import make_messy_frame

# Small settings keep each search to a second or two; the search itself is what is tested.
FAST = {
    "logreg": (logreg, {}),
    "tree": (tree, {}),
    "forest": (forest, {"n_estimators": 20}),
    "knn": (knn, {}),
    "xgboost": (xgboost, {}),
    "mlp": (mlp, {"max_epochs": 20, "fixed_steps": 60}),
}


@pytest.fixture(scope="module")
def messy_split():
    frame = make_messy_frame(n=260, seed=2)
    y = frame.pop("churned")
    return frame.iloc[:60], y.iloc[:60], frame.iloc[60:], y.iloc[60:]


@pytest.mark.parametrize("kind", list(FAST))
def test_a_tuned_learner_fits_predicts_and_says_what_it_tried(kind, messy_split):
    X_train, y_train, X_test, _ = messy_split
    factory, params = FAST[kind]
    learner = factory(random_state=0, tune=3, metric="roc_auc", **params).fit(X_train, y_train)
    proba = learner.predict_proba(X_test)
    assert proba.shape == (len(X_test), 2)
    assert np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert len(learner.notes) == 1 and learner.notes[0].startswith("tuned: 3 settings, 3-fold CV roc_auc")
    assert learner.best_params_ and learner.cost()["fit_seconds"] > 0


def test_untuned_learners_have_no_notes(messy_split):
    X_train, y_train, _, _ = messy_split
    assert list(logreg(random_state=0).fit(X_train, y_train).notes) == []


def test_the_search_is_reproducible_for_a_seed(messy_split):
    X_train, y_train, X_test, _ = messy_split
    runs = [xgboost(random_state=4, tune=5).fit(X_train, y_train) for _ in range(2)]
    assert runs[0].best_params_ == runs[1].best_params_
    assert np.array_equal(runs[0].predict_proba(X_test), runs[1].predict_proba(X_test))


def test_the_first_setting_tried_is_the_default(messy_split):
    X_train, y_train, _, _ = messy_split
    for kind in ("logreg", "xgboost", "tree"):
        factory, params = FAST[kind]
        assert factory(random_state=0, tune=1, **params).fit(X_train, y_train).best_params_ == SPACES[kind].default


def test_settings_given_stay_fixed(messy_split):
    X_train, y_train, _, _ = messy_split
    learner = xgboost(random_state=0, tune=3, max_depth=2).fit(X_train, y_train)
    assert "max_depth" not in learner.best_params_
    assert learner._model.get_params()["max_depth"] == 2


def test_a_subset_too_small_for_folds_keeps_the_defaults_and_says_so(messy_split):
    X_train, y_train, X_test, _ = messy_split
    rows = [int(np.flatnonzero(y_train == "churned")[0]), *np.flatnonzero(y_train == "stayed")[:4]]
    for kind in ("logreg", "mlp"):
        factory, params = FAST[kind]
        learner = factory(random_state=0, tune=5, **params).fit(X_train.iloc[rows], y_train.iloc[rows])
        assert learner.notes == ["tune: 5 rows cannot make 2 folds per class (smallest class: 1 row); "
                                 "default settings used"]
        assert learner.best_params_ == {}
        assert learner.predict_proba(X_test).shape == (len(X_test), 2)


def test_knn_neighbours_are_capped_by_the_folds_rows(messy_split):
    X_train, y_train, X_test, _ = messy_split
    rows = [*np.flatnonzero(y_train == "churned")[:3], *np.flatnonzero(y_train == "stayed")[:6]]
    learner = knn(random_state=0, tune=6).fit(X_train.iloc[rows], y_train.iloc[rows])
    assert learner.notes[0].startswith("tuned: 6 settings, 3-fold CV")
    assert learner.best_params_["n_neighbors"] <= 6  # 9 rows in 3 folds: 6 training rows per fold
    assert learner.predict_proba(X_test).shape == (len(X_test), 2)


def test_multiclass_roc_auc_is_one_vs_rest():
    frame = make_messy_frame(n=150, seed=5)
    frame.pop("churned")
    y = frame.pop("plan").fillna("none")
    learner = logreg(random_state=0, tune=2).fit(frame, y)
    assert learner.notes[0].startswith("tuned: 2 settings, 3-fold CV roc_auc")
    assert learner.predict_proba(frame.iloc[:5]).shape == (5, y.nunique())


@pytest.mark.parametrize("tune", [0, -1, "x", 2.5, True])
def test_a_bad_tune_setting_is_refused_in_one_line(tune):
    with pytest.raises(ConfigError) as error:
        xgboost(random_state=0, tune=tune)
    message = str(error.value)
    assert "\n" not in message
    assert message == ("The 'tune' setting of xgboost must be a positive integer (settings to try). "
                       f"Got {tune!r} instead.")
    with pytest.raises(ConfigError, match="'tune' setting of mlp"):
        mlp(random_state=0, tune=tune)


def test_an_unknown_metric_is_refused_in_one_line():
    with pytest.raises(ConfigError, match=r"The 'metric' setting of logreg must be one of accuracy, .* Got 'auc'"):
        logreg(random_state=0, tune=3, metric="auc")


def _noise_table(n: int, seed: int, noise: int = 300) -> tuple[pd.DataFrame, pd.Series]:
    """Five weak signal columns among many noise columns: with few rows, logreg at C=1
    separates the training rows and its probabilities are overconfident on new ones."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, noise + 5))
    y = np.where(X[:, :5].sum(axis=1) + rng.normal(0, 1, n) > 0, "yes", "no")
    return pd.DataFrame(X, columns=[f"c{i}" for i in range(X.shape[1])]), pd.Series(y)


def test_tuning_finds_the_regularization_a_wide_noisy_table_needs():
    # Measured over seeds 0-3 (30 rows, 305 columns): default log loss 0.80-0.89, tuned 0.68-0.76;
    # with 155 columns the 10-row folds sometimes kept C=1, so the table is this wide on purpose.
    default, tuned = [], []
    for seed in range(3):
        X, y = _noise_table(330, seed)
        X_train, y_train, X_test, y_test = X[:30], y[:30], X[30:], y[30:]
        default.append(log_loss(y_test, logreg(random_state=seed).fit(X_train, y_train).predict_proba(X_test)))
        learner = logreg(random_state=seed, tune=8, metric="log_loss").fit(X_train, y_train)
        tuned.append(log_loss(y_test, learner.predict_proba(X_test)))
    assert np.mean(tuned) <= np.mean(default) - 0.05, (default, tuned)
