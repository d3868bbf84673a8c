"""scikit-learn's side of a runner benchmark, timed three ways: ``learning_curve`` as a user
calls it (it also scores each training subset), and the same fits scored on the test rows
alone (``cross_validate`` over learning_curve's own splits: the first n rows of each shuffled
training set, one test set per split), once on the worker processes the calls before it left
running and once on new ones, as dataeff's timed call starts its own."""

from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np


class Timings(NamedTuple):
    """Wall seconds of scikit-learn's side, over every estimator."""

    as_called: float  # learning_curve, as users call it (its first call starts joblib's workers)
    fair: float  # fits + test scores, on the workers learning_curve left running (warm)
    fair_cold: float  # fits + test scores, joblib's workers started inside the timed call


def time_baselines(estimators: dict, X, y, cv, sizes: list[int], jobs: int) -> Timings:
    """scikit-learn's wall seconds each of the three ways (see the module's docstring)."""
    from joblib.externals.loky import get_reusable_executor
    from sklearn.model_selection import cross_validate, learning_curve

    start = time.perf_counter()
    for estimator in estimators.values():
        learning_curve(estimator, X, y, train_sizes=sizes, cv=cv, scoring="roc_auc", n_jobs=jobs,
                       error_score=np.nan)
    as_called = time.perf_counter() - start
    splits = [(train[:n], test) for train, test in cv.split(X, y) for n in sizes]

    def fits_and_test_scores() -> float:
        start = time.perf_counter()
        for estimator in estimators.values():
            cross_validate(estimator, X, y, cv=splits, scoring="roc_auc", n_jobs=jobs, error_score=np.nan,
                           return_train_score=False)
        return time.perf_counter() - start

    warm = fits_and_test_scores()
    get_reusable_executor().shutdown(wait=True)  # the next call starts (and imports in) new workers
    return Timings(as_called, warm, fits_and_test_scores())
