"""scikit-learn's side of a runner benchmark, timed both ways: ``learning_curve`` as a user
calls it (it also scores each training subset), and the same fits scored on the test rows
alone (``cross_validate`` over learning_curve's own splits: the first n rows of each shuffled
training set, one test set per split)."""

from __future__ import annotations

import time

import numpy as np


def time_both_ways(estimators: dict, X, y, cv, sizes: list[int], jobs: int) -> tuple[float, float]:
    """Wall seconds of (learning_curve as called, fits + test scores) over every estimator."""
    from sklearn.model_selection import cross_validate, learning_curve

    start = time.perf_counter()
    for estimator in estimators.values():
        learning_curve(estimator, X, y, train_sizes=sizes, cv=cv, scoring="roc_auc", n_jobs=jobs,
                       error_score=np.nan)
    as_called = time.perf_counter() - start
    splits = [(train[:n], test) for train, test in cv.split(X, y) for n in sizes]
    start = time.perf_counter()
    for estimator in estimators.values():
        cross_validate(estimator, X, y, cv=splits, scoring="roc_auc", n_jobs=jobs, error_score=np.nan,
                       return_train_score=False)
    return as_called, time.perf_counter() - start
