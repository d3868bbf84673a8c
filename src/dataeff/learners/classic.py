"""Classic learners: majority baseline, logreg, tree, forest, kNN, XGBoost, any sklearn classifier.

Each factory takes ``tune=N`` (N settings searched by cross-validation inside the cell, see
``dataeff.learners.tuning``) and ``metric`` (what the search maximizes)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit, softmax
from sklearn.base import clone
from sklearn.preprocessing import LabelEncoder

from dataeff.learners.base import Learner
from dataeff.learners.featurize import SHARED_KINDS, features_for, fit_transform_shared, transform_shared


class Majority(Learner):
    """Predicts the class shares seen in training for every row (roc_auc 0.5 by construction)."""

    def __init__(self, random_state: int = 0):
        self.random_state = random_state

    def _fit(self, X, y):
        counts = y.value_counts()
        self._prior = np.array([counts.get(c, 0) for c in self.classes_], float) / len(y)

    def _predict_proba(self, X):
        return np.tile(self._prior, (len(X), 1))


class SklearnLearner(Learner):
    """Any scikit-learn classifier behind a featurizer suited to it.

    Parameters
    ----------
    estimator : sklearn classifier
        Cloned at fit time.
    features : {'tree', 'dense', 'auto'}
        Which featurization to put in front (see ``dataeff.learners.featurize``).
    random_state : int
        Seeds the featurizer (string-encoder SVD) and, with ``search``, the tuning search.
    search : dataeff.learners.tuning.Search, optional
        Tune the estimator inside each fit (``notes`` and ``best_params_`` say how it went).
    """

    def __init__(self, estimator, features: str = "auto", random_state: int = 0, search=None):
        self.estimator = estimator
        self.features = features
        self.random_state = random_state
        self.search = search

    def _fit(self, X, y):
        estimator = clone(self.estimator)
        if "n_neighbors" in estimator.get_params():
            # k cannot exceed the rows seen; tiny subsets still get a neighbour vote.
            estimator.set_params(n_neighbors=min(estimator.get_params()["n_neighbors"], len(y)))
        # Integer codes keep xgboost (which refuses string labels) and sklearn alike.
        self._encoder = LabelEncoder().fit(self.classes_)
        if self.features in SHARED_KINDS:
            self._featurizer, Z = fit_transform_shared(self.features, self.random_state, X, y)
        else:
            self._featurizer = features_for(self.features, estimator, self.random_state)
            Z = self._featurizer.fit_transform(X, y)
        Z, codes = _plain_names(Z, self.features == "tree"), self._encoder.transform(y)
        if self.search is not None:
            from dataeff.learners.tuning import tune_estimator

            # The search runs on features made once from all training rows: the encoders are
            # unsupervised (no label reaches them), so the folds' scores stay honest, and each
            # setting costs one estimator fit per fold rather than a featurization too.
            estimator, self.best_params_, self.notes = tune_estimator(self.search, estimator, Z, codes,
                                                                      self.random_state)
        weight = getattr(self, "_sample_weight", None)
        self._model = estimator.fit(Z, codes) if weight is None else estimator.fit(Z, codes, sample_weight=weight)

    def _predict_proba(self, X):
        Z = _plain_names(transform_shared(self._featurizer, X) if self.features in SHARED_KINDS
                         else self._featurizer.transform(X), self.features == "tree")
        if hasattr(self._model, "predict_proba"):
            return self._model.predict_proba(Z)
        scores = np.asarray(self._model.decision_function(Z), float)
        if scores.ndim == 1:  # binary margin -> probability of the second class
            p = expit(scores)
            return np.column_stack([1 - p, p])
        return softmax(scores, axis=1)


def _plain_names(Z, trees: bool = False):
    """Feature columns renamed f0, f1, ...: user column names reach the encoded names, and
    XGBoost refuses names holding '[', ']' or '<' (seen with a column named '<script>').

    A frame whose columns are all float32 goes on as a writable array: pandas hands out its
    values read-only, and scikit-learn's trees cannot check a read-only float32 buffer for
    missing values ("buffer source array is read-only"; seen on a table of one numeric
    column with gaps). For ``trees``, a frame of numbers of several dtypes (float32 numbers,
    float64 ordinal codes) goes on as one float32 array too: scikit-learn's trees and XGBoost
    both split on float32 values whatever they are given, and XGBoost checks a frame's feature
    names in every boosting round (measured: 7 of 37 s of its fitting on a 515-column table).
    Other dtypes are converted by the estimator itself, into a new array."""
    if isinstance(Z, pd.DataFrame):
        if Z.shape[1] and (Z.dtypes == np.float32).all():
            return Z.to_numpy(copy=True)
        if trees and Z.shape[1] and all(pd.api.types.is_float_dtype(t) or pd.api.types.is_integer_dtype(t)
                                        for t in Z.dtypes):
            return Z.to_numpy(dtype=np.float32, na_value=np.nan)
        Z = Z.set_axis([f"f{i}" for i in range(Z.shape[1])], axis=1)
    return Z


def majority(random_state: int = 0) -> Learner:
    return Majority(random_state)


def _search(kind: str, tune, metric: str, params: dict):
    """The validated tuning request, or None without ``tune`` (the search imports Optuna, so
    only a tuned learner pays for it). Settings given in ``params`` stay fixed."""
    if tune is None:
        return None
    from dataeff.learners.tuning import Search

    return Search.given(kind, tune, metric, params)


def logreg(random_state: int = 0, tune: int | None = None, metric: str = "roc_auc", **params) -> Learner:
    from sklearn.linear_model import LogisticRegression

    search = _search("logreg", tune, metric, params)
    return SklearnLearner(LogisticRegression(max_iter=2000, random_state=random_state, **params), "dense",
                          random_state, search)


def tree(random_state: int = 0, tune: int | None = None, metric: str = "roc_auc", **params) -> Learner:
    from sklearn.tree import DecisionTreeClassifier

    search = _search("tree", tune, metric, params)
    return SklearnLearner(DecisionTreeClassifier(random_state=random_state, **params), "tree", random_state, search)


def forest(random_state: int = 0, tune: int | None = None, metric: str = "roc_auc", **params) -> Learner:
    from sklearn.ensemble import RandomForestClassifier

    search = _search("forest", tune, metric, params)
    params = {"n_estimators": 300, "n_jobs": 1, **params}
    return SklearnLearner(RandomForestClassifier(random_state=random_state, **params), "tree", random_state, search)


def knn(random_state: int = 0, tune: int | None = None, metric: str = "roc_auc", **params) -> Learner:
    from sklearn.neighbors import KNeighborsClassifier

    search = _search("knn", tune, metric, params)
    params = {"n_neighbors": 5, "weights": "distance", **params}
    return SklearnLearner(KNeighborsClassifier(**params), "dense", random_state, search)


def xgboost(random_state: int = 0, tune: int | None = None, metric: str = "roc_auc", **params) -> Learner:
    from xgboost import XGBClassifier

    search = _search("xgboost", tune, metric, params)
    # One thread per fit: the runner parallelizes across cells, and a fixed thread
    # count keeps results identical between a resumed and an uninterrupted run.
    params = {"n_estimators": 200, "learning_rate": 0.1, "tree_method": "hist", "n_jobs": 1, **params}
    return SklearnLearner(XGBClassifier(random_state=random_state, **params), "tree", random_state, search)

