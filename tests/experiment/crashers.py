"""Learners whose worker process dies under one cell, as a segfault in native code (llama.cpp on
an AMX CPU) or the out-of-memory killer would end it. Importable by path, so the spawned pool
workers and a `dataeff run --learners tests.experiment.crashers.X` subprocess both find them."""

from __future__ import annotations

import ctypes
import os
import time
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from dataeff.learners.base import Learner

CRASH_AT = 64


def segfault() -> None:
    """A real SIGSEGV: C code reading address 0, as a bad kernel does."""
    ctypes.string_at(0)


class _Uniform(Learner):
    def __init__(self, random_state=0):
        self.random_state = random_state

    def _fit(self, X, y):
        self._p = np.full(len(self.classes_), 1 / len(self.classes_))

    def _predict_proba(self, X):
        return np.tile(self._p, (len(X), 1))


class Segfaults(_Uniform):
    """Segfaults in fit at n = 64, seed 0 only."""

    def _fit(self, X, y):
        if len(X) == CRASH_AT and self.random_state == 0:
            segfault()
        super()._fit(X, y)


class SegfaultsBesideLogreg(Segfaults):
    """The same, sharing logreg's featurization: the runner sends both to one worker together."""

    features = "dense"


class WaitsToBeKilled(_Uniform):
    """At n = 64, seed 0: writes its pid to ``pid_file`` and sleeps, for the test to SIGKILL it;
    once the file is there (a rerun), it fits like the rest."""

    def __init__(self, pid_file="", random_state=0):
        self.pid_file, self.random_state = pid_file, random_state

    def _fit(self, X, y):
        if len(X) == CRASH_AT and self.random_state == 0 and not Path(self.pid_file).exists():
            Path(self.pid_file).write_text(str(os.getpid()))
            time.sleep(120)
        super()._fit(X, y)


class SegfaultsWhileMarked(ClassifierMixin, BaseEstimator):
    """A scikit-learn classifier (by import path on the command line) that segfaults in its fit
    at 64 rows, seed 0, while the file named by DATAEFF_TEST_CRASH_MARKER exists: a run dies
    there every time, until the test removes the file for the rerun."""

    def __init__(self, random_state=0):
        self.random_state = random_state

    def fit(self, X, y):
        marker = Path(os.environ.get("DATAEFF_TEST_CRASH_MARKER", "/nonexistent"))
        if len(X) == CRASH_AT and self.random_state == 0 and marker.exists():
            segfault()
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        return np.full((len(X), len(self.classes_)), 1 / len(self.classes_))

    def predict(self, X):
        return np.repeat(self.classes_[0], len(X))
