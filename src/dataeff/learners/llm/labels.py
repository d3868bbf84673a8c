"""llm-labels: an LLM's labels as training data. A labelling LLM (the ``labeller``, any LLM
learner of the study) labels a pool of unlabelled rows, and a cheap ``student`` (a classic kind)
trains on those labels together with the cell's n human labels, then serves alone.

How the labels are made, and why:
- The labeller is fitted on the cell's n human labels first (llm-few takes them as its
  demonstrations; llm-zero reads none) and labels the pool with its most likely answer
  (thresholded, hard labels). Soft labels would need a student that trains on class
  probabilities; scikit-learn's classifiers and XGBoost take one label per row, and the studies
  this route is measured against (Wang et al. 2021; Pangakis & Wolken 2024) train on hard labels.
- Each human label weighs ``human_weight`` LLM labels (default 1: a human row and an LLM row
  count the same). A weight tuned per cell would need held-out human labels, and at the sizes
  where this route matters (8 to 64 labels) there are too few to tune it on; a user who trusts
  the humans more sets it (e.g. 5).
- The pool's true labels never reach this learner: it gets the pool's features only
  (``unlabelled``); the runner compares the LLM's labels with the hidden ones afterwards, for
  the report's label-quality table (``pool_confusion``).

The labeller's answers come through its backend's cache, so a curve over sizes and seeds pays
each pool row once per labelling prompt (llm-zero: once per seed; llm-few: once per cell, its
demonstrations change with n).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from dataeff.learners.base import Learner
from dataeff.learners.registry import REGISTRY, resolve_learners

DEFAULT_POOL = 1000
DEFAULT_STUDENT = "logreg"
DEFAULT_LABELLER = "llm-zero"


class LLMLabels(Learner):
    """A student trained on the cell's human labels and an LLM's labels of ``unlabelled`` rows.

    ``labeller`` and ``student`` are LearnerSpecs (the study wires them); ``fit(X, y,
    unlabelled=...)`` takes the pool's features. After a fit, ``pool_labels_`` holds the LLM's
    label of each pool row, in the pool's order.
    """

    family = "llm"
    needs_examples = False  # at n = 0 the student learns from the LLM's labels alone
    features = None  # its own rows: no featurization shared with a cell group

    def __init__(self, labeller=None, student=None, pool: int = DEFAULT_POOL, human_weight: float = 1.0,
                 random_state: int = 0):
        self.labeller = labeller
        self.student = student
        self.pool = pool
        self.human_weight = human_weight
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: pd.Series, unlabelled: pd.DataFrame | None = None) -> Learner:
        """Label ``unlabelled`` with the labeller (fitted on X, y first), then train the student
        on both. Not the base class's fit: a subset of one class still has the pool's labels."""
        if self.labeller is None or self.student is None:
            from dataeff.errors import ConfigError

            raise ConfigError("llm-labels needs its labeller and student; run it through a Study.")
        start = time.perf_counter()
        X, y = X.reset_index(drop=True), pd.Series(y).astype(str).reset_index(drop=True)
        pool = unlabelled.reset_index(drop=True) if unlabelled is not None else X.iloc[:0]
        self._teacher = self.labeller.build(random_state=self.random_state)
        self._teacher.fit(X, y)
        if len(pool):
            proba = np.asarray(self._teacher.predict_proba(pool), float)
            answers = np.asarray(self._teacher.classes_).astype(str)[proba.argmax(axis=1)]
        else:
            answers = np.array([], dtype=object)
        self.pool_labels_ = pd.Series(answers, dtype=object)
        rows = pd.concat([X, pool], ignore_index=True)
        labels = pd.concat([y, self.pool_labels_], ignore_index=True)
        self._student = self.student.build(random_state=self.random_state)
        if self.human_weight != 1.0 and len(y):
            weights = np.concatenate([np.full(len(y), float(self.human_weight)), np.ones(len(pool))])
            self._student.fit(rows, labels, sample_weight=weights)
        else:
            self._student.fit(rows, labels)
        self.classes_ = np.asarray(self._student.classes_)
        weighted = f", each human label weighted {self.human_weight:g}" if self.human_weight != 1.0 else ""
        self.notes = [f"{len(pool):,} pool rows labelled by {self.labeller.name}{weighted}"]
        self._fit_seconds = time.perf_counter() - start
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        start = time.perf_counter()
        proba = self._student.predict_proba(X)  # served without the LLM: no predict tokens
        self._predict_seconds = time.perf_counter() - start
        return proba

    def _fit(self, X, y):  # fit above does the work
        raise NotImplementedError

    def _predict_proba(self, X):
        return self._student.predict_proba(X)

    def cost(self) -> dict[str, float]:
        """The pool's labelling tokens are paid once, in training; serving is the student's."""
        teacher = self._teacher.cost()
        return {"fit_seconds": self._fit_seconds, "predict_seconds": self._predict_seconds,
                "tokens": float(teacher["tokens"]), "predict_tokens": 0.0}

    def traffic(self) -> dict[str, int]:
        """The labeller's model calls and cached answers (the pool's and its own)."""
        return self._teacher.traffic() if hasattr(self._teacher, "traffic") else {}


def llm_labels(random_state: int = 0, **params) -> Learner:
    return LLMLabels(random_state=random_state, **params)


def with_route_partners(specs: list) -> list:
    """The specs, and for each llm-labels learner the two curves it is read against when the
    study lacks them: its labeller (an LLM kind named as the kind) and its student on human
    labels alone (the plain kind). A labeller that is not an LLM answering without labels is
    one line."""
    from dataeff.errors import LearnerError, did_you_mean

    out = list(specs)
    for spec in specs:
        if spec.kind != "llm-labels":
            continue
        names = {s.name: s for s in out}
        wanted = spec.settings.get("labeller", DEFAULT_LABELLER)
        if wanted not in names:
            if wanted not in REGISTRY:
                llms = [s.name for s in out if s.family == "llm" and s.kind != "llm-labels"]
                raise LearnerError(f"The labeller '{wanted}' of {spec.name} is not a learner of this study."
                                   f"{did_you_mean(wanted, [*llms, *REGISTRY])} Name one of its LLM learners "
                                   f"({', '.join(llms) or 'none yet'}) or a kind such as llm-zero or llm-few.")
            out.extend(resolve_learners([wanted]))
            names = {s.name: s for s in out}
        labeller = names[wanted]
        if labeller.family != "llm" or labeller.needs_examples or labeller.kind == "llm-labels":
            raise LearnerError(f"The labeller of {spec.name} must be an LLM that answers the task (llm-zero, "
                               f"llm-few, llm-few-similar, llm-finetune, or a variant of one); {labeller.name} "
                               f"({labeller.kind or 'a learner object'}) is not one.")
        if student_of(spec, out) is None:
            kind = spec.settings.get("student", DEFAULT_STUDENT)
            name = kind if kind not in names else f"{spec.name}-student"
            out.append(resolve_learners([f"{name}={kind}" if name != kind else kind])[0])
    return out


def student_of(spec, specs: list) -> str | None:
    """The name of the learner an llm-labels ``spec``'s student is on human labels alone: the
    plain student kind (no settings of its own but the column groups the route goes without)."""
    kind = spec.settings.get("student", DEFAULT_STUDENT)
    same_columns = {"without": spec.settings["without"]} if "without" in spec.settings else {}
    for other in specs:
        if other.kind == kind and other.settings == same_columns and other.acquire is None:
            return other.name
    return None


def labeller_of(spec) -> str:
    """The name of an llm-labels ``spec``'s labelling learner."""
    return spec.settings.get("labeller", DEFAULT_LABELLER)
