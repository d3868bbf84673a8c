"""The plan: held-out test rows per seed, the training-size schedule and nested subsets."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dataeff.config import MAX_DEFAULT_TEST_ROWS
from dataeff.data.dataset import Dataset
from dataeff.errors import ConfigError, DataError
from dataeff.terms import Placeholder, setting_name

DEFAULT_TEST_FRACTION = 0.2
# How a seed draws its test rows and training order. Part of a run folder's identity: bump it
# when that changes, so cells drawn the old way are never mixed with new ones.
PLAN_PROTOCOL = 1
FIRST_ANCHOR = 8
#: Fewer test rows of a class than this and its one-vs-rest scores are mostly noise: said
#: before the run starts (and as a caveat in the answers).
MIN_TEST_ROWS_PER_CLASS = 5


@dataclass(frozen=True, order=True)
class Cell:
    """One unit of work: fit ``learner`` on the first ``n_train`` rows of seed ``seed``'s order."""

    learner: str
    n_train: int
    seed: int


@dataclass
class SeedSplit:
    """Test rows and the training order for one seed (positions into the dataset's rows)."""

    seed: int
    test_index: np.ndarray
    train_order: np.ndarray

    def train_index(self, n_train: int) -> np.ndarray:
        # A prefix of one fixed order: the rows at size n are a subset of those at size 2n.
        return self.train_order[:n_train]

    def pool_index(self, n_train: int, pool: int) -> np.ndarray:
        """The unlabelled rows of an llm-labels cell: the last ``pool`` rows of the order, never
        one of the first ``n_train`` (whose labels the cell has). The same rows at every size the
        two do not meet, so the LLM's answers for them are asked once per seed."""
        return self.train_order[max(n_train, len(self.train_order) - pool):]


@dataclass
class Plan:
    """Everything needed to say which rows each cell trains and tests on."""

    classes: list[str]
    sizes: list[int]
    seeds: list[int]
    n_test: int
    pool_size: int
    splits: dict[int, SeedSplit]
    notes: list[str] = field(default_factory=list)

    def cells(self, learners: list[tuple]) -> list[Cell]:
        """All cells for ``(learner name, needs_examples[, max_size])`` tuples, in a stable order.

        Learners that need no examples (zero-shot) are also scored at n = 0; a learner with a
        ``max_size`` runs only at the sizes up to it.
        """
        out = []
        for name, needs_examples, *limit in learners:
            sizes = self.sizes_up_to(limit[0] if limit else None)
            if not needs_examples:
                sizes = [0, *sizes]
            out.extend(Cell(name, n, seed) for seed in self.seeds for n in sizes)
        return out

    def sizes_up_to(self, max_size: int | None) -> list[int]:
        """The plan's training sizes a learner with ``max_size`` runs at (None: every one)."""
        return [n for n in self.sizes if max_size is None or n <= max_size]


def anchor_sizes(pool_size: int, first: int = FIRST_ANCHOR) -> list[int]:
    """Geometric anchors in steps of sqrt(2), as LCDB uses: 8, 11, 16, 23, 32, 45, 64, ...

    The schedule ends with the whole pool, so the last point uses every training row.
    """
    sizes: list[int] = []
    k = 0
    while True:
        n = int(first * 2 ** (k / 2) + 0.5)
        if n >= pool_size:
            break
        sizes.append(n)
        k += 1
    if sizes and pool_size < sizes[-1] * 1.15:
        sizes.pop()  # a last anchor a hair below the pool adds a point but no information
    sizes.append(pool_size)
    return sizes


def make_plan(
    dataset: Dataset,
    *,
    seeds: int = 5,
    sizes: list[int] | None = None,
    test_rows: int | None = None,
) -> Plan:
    """Draw the test rows and nested, stratified training orders for each seed."""
    classes = dataset.classes
    codes = dataset.y.map({c: i for i, c in enumerate(classes)}).to_numpy()
    n_classes = len(classes)
    own_split = dataset.test_mask is not None
    all_rows = np.arange(len(codes))
    if own_split:
        test_candidates = all_rows[dataset.test_mask]
        pool_rows = all_rows[~dataset.test_mask]
        available = len(test_candidates)
        n_test = available if test_rows is None else test_rows
        if n_test > available:
            raise ConfigError(
                f"{setting_name('test_rows', n_test)} exceeds the {available} rows of {dataset.name}'s own test split; "
                f"use at most {available}."
            )
    else:
        if len(codes) < 2 * n_classes:
            # No --test-rows can help: each class needs a test row and a training row.
            raise DataError(
                f"{dataset.name} has {len(codes)} rows for the {n_classes} classes of '{dataset.label}'; each class "
                f"needs a row to test and one to train on, so at least {2 * n_classes} rows: add rows, or study a "
                f"label with fewer classes (a coarser column, or {setting_name('bins', Placeholder('N'))} for a "
                "number)."
            )
        n_test = test_rows if test_rows is not None else min(
            MAX_DEFAULT_TEST_ROWS, int(round(DEFAULT_TEST_FRACTION * len(codes)))
        )
        n_test = max(n_test, n_classes) if test_rows is None else n_test
    if n_test < n_classes:
        raise ConfigError(
            f"{n_test} test rows cannot hold all {n_classes} classes of '{dataset.label}'; "
            f"use {setting_name('test_rows', n_classes)} or more."
        )
    if not own_split and len(codes) - n_test < n_classes:
        raise ConfigError(
            f"{setting_name('test_rows', n_test)} leaves too few of the {len(codes)} rows to train on (every class "
            f"needs one); use {setting_name('test_rows', len(codes) - n_classes)} or fewer."
        )
    splits: dict[int, SeedSplit] = {}
    seed_list = list(range(seeds))
    for seed in seed_list:
        rng = np.random.default_rng([seed, 20240611])
        if own_split:
            test_index = (
                test_candidates if n_test == available
                else test_candidates[_stratified_sample(codes[test_candidates], n_test, rng)]
            )
            pool = pool_rows
        else:
            picked = _stratified_sample(codes, n_test, rng)
            mask = np.zeros(len(codes), bool)
            mask[picked] = True
            test_index, pool = all_rows[mask], all_rows[~mask]
        order = pool[_nested_stratified_order(codes[pool], rng)]
        splits[seed] = SeedSplit(seed, np.sort(test_index), order)

    pool_size = len(next(iter(splits.values())).train_order)
    missing = set(range(n_classes)) - set(codes[next(iter(splits.values())).train_order].tolist())
    if missing:
        raise DataError(
            f"The training rows of {dataset.name} lack class(es) {[classes[i] for i in sorted(missing)]}; "
            "every class needs training examples."
        )
    notes: list[str] = []
    short = _few_test_rows(codes[splits[seed_list[0]].test_index], n_classes)
    if short:
        worst, count, n_short = short
        total = len(codes) if not own_split else available
        # stratified: a class of k rows gets about n_test * k / total test rows
        enough = int(np.ceil(MIN_TEST_ROWS_PER_CLASS * total / max(int((codes == worst).sum()), 1)))
        way_on = (f"use {setting_name('test_rows', enough)} or more" if not own_split and enough < len(codes) - n_classes
                  else "merge rare classes, or add rows")
        notes.append(
            f"the test rows hold fewer than {MIN_TEST_ROWS_PER_CLASS} rows of {n_short} of {n_classes} classes "
            f"('{classes[worst]}': {count}); scores averaged over classes will be noisy; {way_on}"
        )
    if sizes is None:
        chosen = anchor_sizes(pool_size)
    else:
        too_big = sorted({s for s in sizes if s > pool_size})
        chosen = sorted({min(s, pool_size) for s in sizes})
        if too_big:
            notes.append(
                f"sizes {too_big} exceed the training pool of {pool_size} rows; clipped to {pool_size}"
            )
    return Plan(classes, chosen, seed_list, len(splits[0].test_index), pool_size, splits, notes)


def _few_test_rows(test_codes: np.ndarray, n_classes: int) -> tuple[int, int, int] | None:
    """(rarest class, its test rows, classes short) when some class has fewer than
    MIN_TEST_ROWS_PER_CLASS test rows; None when every class has enough."""
    counts = np.bincount(test_codes, minlength=n_classes)
    short = np.flatnonzero(counts < MIN_TEST_ROWS_PER_CLASS)
    if not len(short):
        return None
    worst = int(short[np.argmin(counts[short])])
    return worst, int(counts[worst]), len(short)


def _stratified_sample(codes: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Positions of ``k`` rows drawn with class shares kept (largest remainder), one per class at least.

    A class with a single row is not put in the sample, so the pool keeps it for training.
    """
    classes, counts = np.unique(codes, return_counts=True)
    quota = counts / counts.sum() * k
    take = np.floor(quota).astype(int)
    take = np.minimum(np.maximum(take, (counts > 1).astype(int)), counts - (counts > 1))
    # Hand out what is left to the largest remainders, within each class's room.
    remainder = quota - np.floor(quota)
    for i in np.argsort(-remainder, kind="stable"):
        if take.sum() >= k:
            break
        if take[i] < counts[i] - 1:
            take[i] += 1
    while take.sum() > k:  # the one-per-class floor overshot: trim the largest classes
        take[np.argmax(take)] -= 1
    picked = [rng.permutation(np.flatnonzero(codes == c))[:t] for c, t in zip(classes, take)]
    return np.concatenate(picked)


def _nested_stratified_order(codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An order of the pool whose every prefix keeps the class shares.

    One row of each class leads (so any prefix of at least n_classes rows holds every
    class); the rest interleave by rank / class size, so classes stay in proportion.
    """
    leaders, rest, keys = [], [], []
    for c in np.unique(codes):
        members = rng.permutation(np.flatnonzero(codes == c))
        leaders.append(members[0])
        tail = members[1:]
        rest.append(tail)
        keys.append((np.arange(len(tail)) + rng.uniform(0.0, 1.0, len(tail))) / max(len(tail), 1))
    leaders_arr = rng.permutation(np.array(leaders))
    rest_arr, keys_arr = np.concatenate(rest), np.concatenate(keys)
    return np.concatenate([leaders_arr, rest_arr[np.argsort(keys_arr, kind="stable")]]).astype(np.int64)
