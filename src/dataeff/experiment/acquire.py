"""Choosing which rows to label: a learner variant with ``acquire = "margin"`` (or "entropy")
is trained, at each size, on rows it chose itself instead of the seed's random prefix.

How a cell of size n is made, from its seed alone (so a resumed cell chooses the same rows):
the first size's rows are the seed's random prefix, the same rows its random twin starts from;
then, size by size up to n, the learner is fitted on the rows labelled so far, scores the
unlabelled candidates, and the most uncertain ones are labelled next until the next size is
reached. With ``acquire = "llm-zero"`` the first rows are instead the ones the zero-shot LLM
is least sure of (a cold start that reads no label), then margin. The rows at size n are nested in those at every larger size, as random
subsets are, and the cell scores on its seed's test rows like every other learner: an acquired
curve and its random twin are paired.

Only the chosen rows' labels are read (``Oracle``): the rest of the pool stays unlabelled.
A few lines of margin sampling on the project's own learners, rather than scikit-activeml or
small-text, because each cell must replay its acquisition inside the runner's cells (resume,
Dask, a learner's own featurization): those libraries own the query loop and its estimator.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dataeff.learners.registry import LearnerSpec

#: Unlabelled rows scored per round at most: the first ones of the seed's (random) order, so a
#: round costs a bounded predict on a pool of any size.
MAX_CANDIDATES = 4096
#: Rows the zero-shot LLM scores for an llm-zero cold start: the first ones of the seed's order
#: (one model pass each per seed; the answer cache serves every size after the first).
LLM_CANDIDATES = 256
#: Seeds below which an acquired curve against its random twin is mostly noise (the same
#: strategy comes out better or worse than random with 3 seeds: arXiv 2408.00426).
MIN_SEEDS = 10


@dataclass
class Oracle:
    """The pool's labels, revealed only for the rows asked for (``revealed`` keeps which)."""

    y: pd.Series
    revealed: set[int] = field(default_factory=set)

    def labels(self, positions: np.ndarray) -> pd.Series:
        self.revealed.update(int(p) for p in positions)
        return self.y.iloc[positions]


def uncertainty(proba: np.ndarray, strategy: str) -> np.ndarray:
    """How unsure the model is of each row: 1 - (top - second) for margin, the entropy of the
    class probabilities for entropy (higher: label it sooner)."""
    proba = np.clip(np.asarray(proba, float), 0.0, 1.0)
    if proba.shape[1] < 2:
        return np.zeros(len(proba))
    if strategy == "margin":
        top2 = np.sort(proba, axis=1)[:, -2:]
        return 1.0 - (top2[:, 1] - top2[:, 0])
    if strategy == "entropy":
        with np.errstate(divide="ignore", invalid="ignore"):
            return -np.nansum(np.where(proba > 0, proba * np.log(proba), 0.0), axis=1)
    raise ValueError(f"unknown acquisition strategy {strategy!r}")


@dataclass(frozen=True)
class Acquired:
    """The rows a cell trains on (positions into the seed's pool order, in the order labelled),
    the rounds it took, the seconds spent fitting and scoring along the way and the LLM tokens
    an llm-zero cold start read."""

    positions: np.ndarray
    rounds: int
    seconds: float
    tokens: float = 0.0

    def digest(self, order: np.ndarray) -> str:
        """A short fingerprint of the dataset rows chosen (the same on a resumed run)."""
        rows = np.sort(order[self.positions]).astype(np.int64)
        return hashlib.sha1(rows.tobytes()).hexdigest()[:12]


def acquire(spec: LearnerSpec, seed: int, X_pool: pd.DataFrame, oracle: Oracle, sizes: list[int],
            n: int) -> Acquired:
    """The rows labelled at size ``n`` by ``spec.acquire`` over the study's ``sizes``."""
    started = time.perf_counter()
    first = min(sizes[0] if sizes else n, n)
    labelled, tokens = np.arange(first), 0.0  # the random twin's first subset
    if spec.acquire == "llm-zero":  # a cold start: the rows the zero-shot LLM is least sure of
        labelled, tokens = _cold_start(spec, seed, X_pool, first)
    strategy = "margin" if spec.acquire == "llm-zero" else spec.acquire  # then the model's own doubt
    steps = sorted({s for s in sizes if len(labelled) < s < n} | {n})
    rounds = 0
    for size in steps:
        need = size - len(labelled)
        if need <= 0:
            continue
        unlabelled = np.setdiff1d(np.arange(len(X_pool)), labelled, assume_unique=True)[:MAX_CANDIDATES]
        learner = spec.build(random_state=seed)
        learner.fit(X_pool.iloc[labelled], oracle.labels(labelled))
        scores = uncertainty(learner.predict_proba(X_pool.iloc[unlabelled]), strategy)
        # ties (a model sure of everything) go to the seed's random order: the twin's next rows
        chosen = unlabelled[np.argsort(-scores, kind="stable")[:need]]
        labelled = np.concatenate([labelled, chosen])
        rounds += 1
    oracle.labels(labelled)
    return Acquired(labelled, rounds, time.perf_counter() - started, tokens)


def _cold_start(spec: LearnerSpec, seed: int, X_pool: pd.DataFrame, first: int) -> tuple[np.ndarray, float]:
    """The ``first`` rows of the pool's first LLM_CANDIDATES the zero-shot LLM is least sure of
    (no label read), and the tokens it spent."""
    candidates = np.arange(min(len(X_pool), LLM_CANDIDATES))
    zero = spec.acquirer.build(random_state=seed)
    zero.fit(X_pool.iloc[:0], pd.Series([], dtype=str))
    scores = uncertainty(zero.predict_proba(X_pool.iloc[candidates]), "margin")
    return candidates[np.argsort(-scores, kind="stable")[:first]], float(zero.cost()["tokens"])


def with_random_twins(specs: list[LearnerSpec]) -> list[LearnerSpec]:
    """The specs, and for each acquired one whose random twin (the same kind and settings,
    ``acquire`` left out) is not among them, that twin: an acquired curve is read against it."""
    from dataclasses import replace

    out = list(specs)
    for spec in specs:
        if spec.acquire is None or random_twin(spec, out) is not None:
            continue
        settings = {k: v for k, v in spec.settings.items() if k != "acquire"}
        name = spec.kind if not settings and spec.kind not in {s.name for s in out} else f"{spec.name}-random"
        out.append(replace(spec, name=name, settings=settings, acquire=None))
    return out


def random_twin(spec: LearnerSpec, specs: list[LearnerSpec]) -> str | None:
    """The name of the learner an acquired ``spec`` is compared with: same kind and settings,
    rows drawn at random."""
    settings = {k: v for k, v in spec.settings.items() if k != "acquire"}
    for other in specs:
        if other.acquire is None and other.kind == spec.kind and other.factory == spec.factory \
                and {k: v for k, v in other.settings.items() if k != "acquire"} == settings:
            return other.name
    return None
