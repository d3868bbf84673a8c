"""Dirty tables for the featurization's property tests (tests/learners/test_dirty_tables.py)
and their longer run (benchmarks/bench_dirty_tables.py): the strategies and the two
properties, kept apart from the tests so both run the same checks.

A table is a few columns, each drawn from one kind of dirt real exports carry: numbers of
every dtype with NaN, ±inf, huge and tiny values; constant and all-missing columns; strings
with nulls, null words, stray spaces, digits, dates and numbers as text; booleans in several
spellings; lists, dicts and bytes; mixed-kind objects. It comes with rows to fit on (1 to
3,000) and unseen rows to transform (their own draws, so unseen levels occur).
"""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
from hypothesis import strategies as st

from dataeff.data.dataset import prepare_dataset
from dataeff.errors import DataEffError
from dataeff.learners.featurize import features_for
from dataeff.learners.registry import resolve_learners

KINDS = ("tree", "dense")
LEARNERS = ("logreg", "xgboost")  # one of each featurization kind, fitted on every table

NUMBERS = [0.0, 1.0, -1.0, 2.5, 1e-300, 5e-324, -1e-30, 3.4e38, 1e38, 1e300, -1e300, 7.0, 123456789.0]
DIRTY_NUMBERS = [np.nan, np.inf, -np.inf]
WORDS = ["red", "green", "blue", "basic", "plus"]
DIRTY_WORDS = [None, np.nan, "", " ", "NA", "null", "N/A", " red", "blue ", "a1", "B2", "2024-01-05", "2023-12-31",
               "1.5", "-3", "1e400", "inf", "NaN", "yes", "No", "TRUE", "f", "Y", "0"]
LONG_TEXT = ["the parcel came late and broken", "great product, would buy again", "refund took three weeks",
             "support answered within the hour", "never again, the worst service"]
ODD_VALUES = [[1, 2], ["a"], [], {"a": 1}, {"b": [1, 2]}, b"bytes", b"\xff\xfe", (1, "x"), 3, 2.5, "word", True,
              dt.date(2024, 1, 1), None, np.array([1.0, 2.0])]


@st.composite
def _column(draw, rows: int):
    """(values for the rows to fit, values for the unseen rows): one kind of dirt."""
    kind = draw(st.sampled_from(["float", "float32", "int", "int8", "uint8", "Int64", "Float64", "constant",
                                 "all_missing", "words", "dirty_words", "text", "bools", "bool_words",
                                 "odd", "lists", "dicts", "bytes", "dates", "numbers_as_text"]))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    n = rows + draw(st.integers(1, 40))
    dirt = draw(st.floats(0, 0.6))

    def pick(pool, size=n, p_dirt=0.0, dirty=()):
        values = np.empty(size, dtype=object)
        for i in range(size):
            use = dirty if dirty and rng.random() < p_dirt else pool
            values[i] = use[rng.integers(len(use))]
        return values

    if kind in ("float", "float32"):
        values = pick(NUMBERS, p_dirt=dirt, dirty=DIRTY_NUMBERS).astype(np.float64)
        if kind == "float32":
            with np.errstate(over="ignore"):  # 1e300 overflows to an infinity: float32's own dirt
                values = values.astype(np.float32)
        column = pd.Series(values)
    elif kind in ("int", "int8", "uint8"):
        column = pd.Series(rng.integers(0, 100, n).astype({"int": np.int64, "int8": np.int8, "uint8": np.uint8}[kind]))
    elif kind == "Int64":
        column = pd.Series(pd.array([None if rng.random() < dirt else int(rng.integers(-5, 5)) for _ in range(n)],
                                    dtype="Int64"))
    elif kind == "Float64":
        column = pd.Series(pd.array([None if rng.random() < dirt else float(rng.normal()) for _ in range(n)],
                                    dtype="Float64"))
    elif kind == "constant":
        column = pd.Series([draw(st.sampled_from([7.0, "same", True]))] * n)
    elif kind == "all_missing":
        column = pd.Series([draw(st.sampled_from([None, np.nan]))] * n, dtype=draw(st.sampled_from([object, float])))
    elif kind == "words":
        column = pd.Series(pick(WORDS[: draw(st.integers(1, len(WORDS)))]))
    elif kind == "dirty_words":
        column = pd.Series(pick(WORDS, p_dirt=dirt, dirty=DIRTY_WORDS))
    elif kind == "text":
        column = pd.Series(pick(LONG_TEXT, p_dirt=dirt, dirty=[None, ""]))
        column = column.map(lambda v: v if not v else f"{v} #{rng.integers(1000)}")
    elif kind == "bools":
        column = pd.Series(pick([True, False], p_dirt=dirt, dirty=[None]))
        column = column.astype(bool) if dirt == 0 else column
    elif kind == "bool_words":
        spelling = draw(st.sampled_from([("yes", "no"), ("Y", "N"), ("true", "false"), ("1", "0"), ("TRUE", "False")]))
        column = pd.Series(pick(list(spelling), p_dirt=dirt, dirty=[None, ""]))
    elif kind == "odd":
        column = pd.Series(pick(ODD_VALUES))
    elif kind == "lists":
        column = pd.Series([list(rng.choice(WORDS, rng.integers(0, 3))) if rng.random() > dirt else None
                            for _ in range(n)])
    elif kind == "dicts":
        column = pd.Series([{"plan": str(rng.choice(WORDS)), "n": int(rng.integers(3))} if rng.random() > dirt else None
                            for _ in range(n)])
    elif kind == "bytes":
        column = pd.Series(pick([b"abc", b"xyz", b"\x00\x01", b"\xff"], p_dirt=dirt, dirty=[None]))
    elif kind == "dates":
        days = rng.integers(0, 800, n)
        column = pd.Series(pd.Timestamp("2023-01-01") + pd.to_timedelta(days, unit="D"))
        column[rng.random(n) < dirt] = pd.NaT
    else:  # numbers_as_text
        column = pd.Series(pick(["1.5", "2", "-3.25", "100", "0.001"], p_dirt=dirt, dirty=[None, "", "1e400", "inf", "n/a"]))
    return column.iloc[:rows].reset_index(drop=True), column.iloc[rows:].reset_index(drop=True)


@st.composite
def dirty_tables(draw, max_rows: int = 3000):
    """(rows to fit on, unseen rows, labels of the rows to fit on)."""
    rows = draw(st.one_of(st.integers(1, 40), st.integers(1, max_rows)))
    width = draw(st.integers(1, 5))
    fit, new = {}, {}
    for i in range(width):
        fit[f"c{i}"], new[f"c{i}"] = draw(_column(rows))
    length = min(len(v) for v in new.values())
    labels = pd.Series(np.where(np.arange(rows) % 3 == 0, "yes", "no"))
    return pd.DataFrame(fit), pd.DataFrame({k: v.iloc[:length] for k, v in new.items()}), labels


def table_vectorizer_alone(kind: str):
    """The learner kind's featurization with every column through skrub's TableVectorizer
    (the same settings), without the numeric and category blocks."""
    from dataeff.learners.featurize import TextAwareVectorizer

    class Alone(TextAwareVectorizer):
        def fit_transform(self, X, y=None):
            self.alone_ = self._vectorizer(X)
            return self.alone_.fit_transform(X, y)

        def transform(self, X):
            return self.alone_.transform(X)

    pipeline = features_for(kind, None, 0)
    pipeline.steps[0] = ("alone", Alone(kind, 0))
    return pipeline


def the_fast_path_gives_skrubs_matrix(fit: pd.DataFrame, new: pd.DataFrame, kind: str) -> str | None:
    """Property 1: where skrub's TableVectorizer alone encodes the table (no error, finite
    numbers, at least one column), the fast path gives the same matrix, fitted and unseen rows;
    where skrub alone refuses the raw table, the same on the table as a study cleans it.
    Returns which was compared ('raw', 'cleaned') or None when skrub refused both."""
    from dataeff.data.cleaning import clean_features, clean_like

    if _same_where_skrub_encodes(fit, new, kind):
        return "raw"
    try:
        cleaned, _ = clean_features(fit, "dirty")
    except DataEffError:
        return None
    unseen = clean_like(new)[list(cleaned.columns)]
    return "cleaned" if _same_where_skrub_encodes(cleaned, unseen, kind) else None


def _same_where_skrub_encodes(fit: pd.DataFrame, new: pd.DataFrame, kind: str) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            alone = table_vectorizer_alone(kind)
            theirs = [np.asarray(alone.fit_transform(fit), float), np.asarray(alone.transform(new), float)]
        except Exception:  # noqa: BLE001 - skrub alone refused the table: nothing to compare
            return False
        if any(m.shape[1] == 0 or np.isinf(m).any() or (kind == "dense" and np.isnan(m).any()) for m in theirs):
            return False
        ours = features_for(kind, None, 0)
        mine = [np.asarray(ours.fit_transform(fit), float), np.asarray(ours.transform(new), float)]
    for a, b in zip(mine, theirs):
        assert a.shape == b.shape, (a.shape, b.shape)
        assert np.array_equal(a, b, equal_nan=True)
    return True


def featurized_or_refused(fit: pd.DataFrame, new: pd.DataFrame, labels: pd.Series) -> bool:
    """Property 2: the table, read as a study reads it, is refused with one DataEffError line,
    or every learner kind's features are finite numbers (NaN only for trees, which split on
    it) on fitted and unseen rows, and one learner of each kind fits and predicts
    probabilities. Returns whether it was studied (not refused)."""
    frame = fit.assign(label=labels.to_numpy())
    try:
        dataset = prepare_dataset(frame, "label", "dirty")
    except DataEffError as exc:
        assert "\n" not in str(exc) and str(exc).strip()
        return False
    from dataeff.data.dataset import conform_columns

    unseen = conform_columns(new, dataset.X, "unseen")[list(dataset.X.columns)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for kind in KINDS:
            featurizer = features_for(kind, None, 0)
            for matrix in (featurizer.fit_transform(dataset.X, dataset.y), featurizer.transform(unseen)):
                values = np.asarray(matrix, dtype=float)
                assert values.shape[1] >= 1
                assert not np.isinf(values).any()
                assert kind == "tree" or not np.isnan(values).any()
        for spec in resolve_learners(list(LEARNERS)):
            learner = spec.build(0).fit(dataset.X, dataset.y)
            proba = learner.predict_proba(unseen)
            assert proba.shape == (len(unseen), dataset.y.nunique()) and np.isfinite(proba).all()
    return True
