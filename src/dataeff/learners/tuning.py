"""Hyperparameter search inside a cell (``tune=N``): N settings of a learner's declared space,
scored by stratified cross-validation on the cell's training rows, the best one refit on all of them.

Optuna's TPE sampler (seeded by the learner's ``random_state``) proposes the settings through
its ask-and-tell interface, so each space is declared once below as Optuna distributions; the
factory's default setting is tried first, so a search never ranks below the untuned learner on
its own folds. scikit-learn's ``cross_val_score`` and scorers do the folds and the scoring.

Examples
--------
>>> from dataeff.learners.classic import logreg
>>> learner = logreg(random_state=0, tune=20, metric="roc_auc").fit(X, y)     # doctest: +SKIP
>>> learner.notes                                                             # doctest: +SKIP
["tuned: 20 settings, 3-fold CV roc_auc 0.812, best {'C': 0.31}"]
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

import numpy as np
import optuna
import pandas as pd
from optuna.distributions import CategoricalDistribution as Choice
from optuna.distributions import FloatDistribution as Float
from optuna.distributions import IntDistribution as Int
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.model_selection import StratifiedKFold, cross_val_score

from dataeff.errors import ConfigError
from dataeff.learners.base import Learner

# The study's metric -> scikit-learn's scorer name (all of them: higher is better).
SCORERS = {"accuracy": "accuracy", "balanced_accuracy": "balanced_accuracy", "roc_auc": "roc_auc",
           "log_loss": "neg_log_loss", "f1_macro": "f1_macro"}
MAX_FOLDS = 3


def _mlp_params(setting: dict) -> dict:
    """The MLP's width searched as one number: two hidden layers, the second half as wide
    (the factory's default (128, 64) is width 128)."""
    out = dict(setting)
    if "hidden" in out:
        out["hidden"] = (int(out["hidden"]), max(1, int(out["hidden"]) // 2))
    return out


@dataclass(frozen=True)
class SearchSpace:
    """One learner kind's search space: its settings as Optuna distributions, the factory's
    default setting (tried first) and, for the MLP, how a sampled setting becomes its settings."""

    params: dict
    default: dict
    to_settings: Callable[[dict], dict] = dict
    # Settings that count rows (kNN's k): capped by the smallest fold's training rows.
    row_bounded: tuple[str, ...] = ()

    def without(self, names: Iterable[str]) -> SearchSpace:
        """The space less the settings the user fixed (they stay as given)."""
        names = set(names)
        return replace(self, params={k: v for k, v in self.params.items() if k not in names},
                       default={k: v for k, v in self.default.items() if k not in names})

    def capped(self, rows: int) -> SearchSpace:
        """The space with row-counting settings no larger than ``rows``."""
        params, default = dict(self.params), dict(self.default)
        for name in set(self.row_bounded) & set(params):
            high = max(params[name].low, min(params[name].high, rows))
            params[name] = Int(params[name].low, high, log=params[name].log)
            default[name] = min(default[name], high)
        return replace(self, params=params, default=default)


_DEPTHS = Choice([2, 3, 4, 6, 8, 12, None])  # None: grown until pure (the factories' default)

# The documented search spaces, one per kind (README: "Tuning inside a cell").
SPACES: dict[str, SearchSpace] = {
    "logreg": SearchSpace({"C": Float(1e-4, 1e2, log=True)}, {"C": 1.0}),
    "tree": SearchSpace(
        {"max_depth": _DEPTHS, "min_samples_leaf": Int(1, 32, log=True), "criterion": Choice(["gini", "entropy"])},
        {"max_depth": None, "min_samples_leaf": 1, "criterion": "gini"}),
    "forest": SearchSpace(
        {"max_depth": _DEPTHS, "min_samples_leaf": Int(1, 32, log=True),
         "max_features": Choice(["sqrt", "log2", 0.5, 1.0])},
        {"max_depth": None, "min_samples_leaf": 1, "max_features": "sqrt"}),
    "knn": SearchSpace({"n_neighbors": Int(1, 50, log=True), "weights": Choice(["uniform", "distance"])},
                       {"n_neighbors": 5, "weights": "distance"}, row_bounded=("n_neighbors",)),
    "xgboost": SearchSpace(
        {"learning_rate": Float(0.01, 0.3, log=True), "max_depth": Int(2, 10), "min_child_weight": Float(0.5, 20, log=True),
         "subsample": Float(0.5, 1.0), "colsample_bytree": Float(0.5, 1.0), "reg_lambda": Float(1e-3, 100, log=True),
         "n_estimators": Int(50, 500, log=True)},
        {"learning_rate": 0.1, "max_depth": 6, "min_child_weight": 1.0, "subsample": 1.0, "colsample_bytree": 1.0,
         "reg_lambda": 1.0, "n_estimators": 200}),
    "mlp": SearchSpace(
        {"hidden": Int(16, 256, log=True), "dropout": Float(0.0, 0.5), "lr": Float(1e-4, 1e-2, log=True),
         "weight_decay": Float(1e-6, 1e-1, log=True)},
        {"hidden": 128, "dropout": 0.1, "lr": 1e-3, "weight_decay": 1e-4}, to_settings=_mlp_params),
}


@dataclass(frozen=True)
class Search:
    """A tuning request as a learner factory got it: which kind, how many settings, which metric,
    and the settings the user fixed (left out of the search)."""

    kind: str
    trials: int
    metric: str = "roc_auc"
    fixed: frozenset = field(default_factory=frozenset)

    @classmethod
    def given(cls, kind: str, tune, metric: str, fixed: Iterable[str] = ()) -> Search:
        """The validated request; ``tune`` must be a positive integer (0 is refused: leave it out)."""
        if isinstance(tune, bool) or not isinstance(tune, numbers.Integral) or tune < 1:
            raise ConfigError(f"The 'tune' setting of {kind} must be a positive integer (settings to try). "
                              f"Got {tune!r} instead.")
        if metric not in SCORERS:
            raise ConfigError(f"The 'metric' setting of {kind} must be one of {', '.join(SCORERS)}. "
                              f"Got {metric!r} instead.")
        return cls(kind, int(tune), metric, frozenset(fixed))

    @property
    def space(self) -> SearchSpace:
        return SPACES[self.kind].without(self.fixed)


def tune_estimator(search: Search, estimator, Z, y: np.ndarray, random_state: int):
    """(estimator with the best setting, best setting, notes) by CV on the featurized rows ``Z``."""
    best, note = run_search(search, lambda setting: clone(estimator).set_params(**setting), Z, y, random_state)
    return (clone(estimator).set_params(**best) if best is not None else estimator), best or {}, [note]


def run_search(search: Search, build: Callable[[dict], object], data, y, random_state: int):
    """(best setting or None, a note saying what was done): ``search.trials`` settings, each built
    by ``build`` into a scikit-learn classifier and scored by stratified k-fold CV on ``data``.

    None (the default setting) when a class has a single row: no stratified 2-fold split exists.
    """
    y = np.asarray(y)
    _, counts = np.unique(y, return_counts=True)
    k = min(MAX_FOLDS, int(counts.min()))
    if k < 2:
        return None, (f"tune: {len(y)} rows cannot make 2 folds per class "
                      f"(smallest class: {counts.min()} row); default settings used")
    folds = list(StratifiedKFold(k, shuffle=True, random_state=random_state).split(np.zeros(len(y)), y))
    space = search.space.capped(min(len(train) for train, _ in folds))
    scorer = "roc_auc_ovr" if search.metric == "roc_auc" and len(counts) > 2 else SCORERS[search.metric]
    with _quiet_optuna():
        study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=random_state))
        study.enqueue_trial(space.default)
        for _ in range(search.trials):
            trial = study.ask(space.params)
            scores = cross_val_score(build(space.to_settings(trial.params)), data, y, cv=folds, scoring=scorer,
                                     n_jobs=1, error_score=np.nan)
            if np.isnan(scores).any():  # a setting that cannot be fitted is skipped, not fatal
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
            else:
                study.tell(trial, float(scores.mean()))
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not done:
        return None, f"tune: none of {search.trials} settings could be fitted in {k}-fold CV; default settings used"
    best = space.to_settings(study.best_params)
    score = -study.best_value if search.metric == "log_loss" else study.best_value
    return best, (f"tuned: {search.trials} settings, {k}-fold CV {search.metric} {score:.3f}, "
                  f"best {_rounded(best)}")


class _quiet_optuna:
    """Optuna's per-trial log lines off for one search, its verbosity restored afterwards (the
    caller's logging is left as it was)."""

    def __enter__(self):
        self._verbosity = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)

    def __exit__(self, *exc):
        optuna.logging.set_verbosity(self._verbosity)


def _rounded(setting: dict) -> dict:
    """Floats to 3 significant digits, for a note a person reads."""
    return {k: float(f"{v:.3g}") if isinstance(v, float) else v for k, v in setting.items()}


class TunedLearner(Learner):
    """A learner that featurizes inside its own fit (the MLP), tuned by CV fits on the raw rows
    and refit with the best setting on all of them.

    Parameters
    ----------
    make : callable
        Settings -> a new unfitted Learner (e.g. ``functools.partial(MLPLearner, random_state=0)``).
    search : Search
        What to search.
    random_state : int
        Seeds the sampler and the folds.
    """

    def __init__(self, make: Callable[..., Learner], search: Search, random_state: int = 0):
        self.make = make
        self.search = search
        self.random_state = random_state

    def _fit(self, X: pd.DataFrame, y: pd.Series) -> None:
        best, note = run_search(self.search, lambda setting: _AsEstimator(self.make(**setting)), X, y,
                                self.random_state)
        self.best_params_, self.notes = best or {}, [note]
        self._learner = self.make(**self.best_params_).fit(X, y)

    def _predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self._learner.predict_proba(X)


class _AsEstimator(ClassifierMixin, BaseEstimator):
    """A dataeff Learner seen as a scikit-learn classifier, so ``cross_val_score`` and its
    scorers take it (its ``classes_`` are the learner's, in its probability columns' order)."""

    def __init__(self, learner: Learner | None = None):
        self.learner = learner

    def fit(self, X, y):
        self.learner_ = copy.deepcopy(self.learner).fit(X, pd.Series(y))
        self.classes_ = self.learner_.classes_
        return self

    def predict_proba(self, X):
        return self.learner_.predict_proba(X)

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
