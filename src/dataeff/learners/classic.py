"""Classic learners: majority baseline, logreg, tree, forest, kNN, XGBoost, any sklearn classifier."""

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
        Seeds the featurizer (string-encoder SVD).
    """

    def __init__(self, estimator, features: str = "auto", random_state: int = 0):
        self.estimator = estimator
        self.features = features
        self.random_state = random_state

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
        self._model = estimator.fit(_plain_names(Z), self._encoder.transform(y))

    def _predict_proba(self, X):
        Z = _plain_names(transform_shared(self._featurizer, X) if self.features in SHARED_KINDS
                         else self._featurizer.transform(X))
        if hasattr(self._model, "predict_proba"):
            return self._model.predict_proba(Z)
        scores = np.asarray(self._model.decision_function(Z), float)
        if scores.ndim == 1:  # binary margin -> probability of the second class
            p = expit(scores)
            return np.column_stack([1 - p, p])
        return softmax(scores, axis=1)


def _plain_names(Z):
    """Feature columns renamed f0, f1, ...: user column names reach the encoded names, and
    XGBoost refuses names holding '[', ']' or '<' (seen with a column named '<script>').

    A frame whose columns are all float32 goes on as a writable array: pandas hands out its
    values read-only, and scikit-learn's trees cannot check a read-only float32 buffer for
    missing values ("buffer source array is read-only"; seen on a table of one numeric
    column with gaps). Other dtypes are converted by the estimator itself, into a new array."""
    if isinstance(Z, pd.DataFrame):
        if Z.shape[1] and (Z.dtypes == np.float32).all():
            return Z.to_numpy(copy=True)
        Z = Z.set_axis([f"f{i}" for i in range(Z.shape[1])], axis=1)
    return Z


def majority(random_state: int = 0) -> Learner:
    return Majority(random_state)


def logreg(random_state: int = 0, **params) -> Learner:
    from sklearn.linear_model import LogisticRegression

    return SklearnLearner(LogisticRegression(max_iter=2000, random_state=random_state, **params), "dense", random_state)


def tree(random_state: int = 0, **params) -> Learner:
    from sklearn.tree import DecisionTreeClassifier

    return SklearnLearner(DecisionTreeClassifier(random_state=random_state, **params), "tree", random_state)


def forest(random_state: int = 0, **params) -> Learner:
    from sklearn.ensemble import RandomForestClassifier

    params = {"n_estimators": 300, "n_jobs": 1, **params}
    return SklearnLearner(RandomForestClassifier(random_state=random_state, **params), "tree", random_state)


def knn(random_state: int = 0, **params) -> Learner:
    from sklearn.neighbors import KNeighborsClassifier

    params = {"n_neighbors": 5, "weights": "distance", **params}
    return SklearnLearner(KNeighborsClassifier(**params), "dense", random_state)


def xgboost(random_state: int = 0, **params) -> Learner:
    from xgboost import XGBClassifier

    # One thread per fit: the runner parallelizes across cells, and a fixed thread
    # count keeps results identical between a resumed and an uninterrupted run.
    params = {"n_estimators": 200, "learning_rate": 0.1, "tree_method": "hist", "n_jobs": 1, **params}
    return SklearnLearner(XGBClassifier(random_state=random_state, **params), "tree", random_state)

