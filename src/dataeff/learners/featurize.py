"""Tabular featurization per learner kind, built from skrub's encoders.

Trees get ordinal codes and keep missing values (they split on them); linear models,
kNN and the MLP get one-hot codes, imputation with missing indicators and scaling.
High-cardinality strings (zip codes, free text) go through skrub's StringEncoder.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OrdinalEncoder

from dataeff.data.cleaning import plain_number
from dataeff.learners.scaling import InColumnChunks, WholeSquashingScaler


class TextAwareVectorizer(TransformerMixin, BaseEstimator):
    """skrub's TableVectorizer for the columns that need encoding, with free-text-like string
    columns always sent to the string encoder, and plain numeric columns around it as one
    float32 block.

    skrub picks the encoder by the number of distinct values in the rows it sees, so on 8
    training rows a review column (8 distinct texts) would be one-hot encoded and carry
    nothing to the test rows (measured: logreg roc_auc 0.50 on fine-foods at n = 8 and 32).
    A string column whose values are mostly distinct is treated as text at any size.

    The numeric block: skrub handles a column at a time (about 4 ms per column for each fit
    and each transform, profiled on a 10,000-column table), while a number needs no encoding.
    The block does what the TableVectorizer does to such a column: float32, missing values kept
    as NaN, a column dropped when it is all missing or constant (one value, none missing) on
    the fitted rows. The category block, likewise: plain low-cardinality string columns
    (``_plain_category``) through one encoder, the one skrub would give each of them (one-hot
    codes, or ordinal codes for trees), instead of about 12 per-column steps each (skrub's
    CleanNullStrings alone, a pandas replace per column, was a sixth of a wide table's run).
    The output keeps the input's column order, so the features are the same as the
    TableVectorizer's alone (tests/learners/test_featurize.py compares them).
    """

    def __init__(self, kind: str = "dense", random_state: int = 0):
        self.kind = kind
        self.random_state = random_state

    def _vectorizer(self, X: pd.DataFrame):
        import skrub

        text = [c for c in X.columns if _looks_like_text(X[c])]
        params = dict(high_cardinality=skrub.StringEncoder(random_state=self.random_state), drop_if_constant=True)
        if text:
            params["specific_transformers"] = [(skrub.StringEncoder(random_state=self.random_state), text)]
        if self.kind == "tree":
            params["low_cardinality"] = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
        else:
            params["datetime"] = skrub.DatetimeEncoder(periodic_encoding="spline")
        return skrub.TableVectorizer(**params)

    def fit(self, X, y=None):
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X, y=None):
        X = _with_string_names(X)
        numbers = [c for c in X.columns if plain_number(X[c])]
        block = _float32_block(X, numbers)
        missing = np.isnan(block)
        informative = ~missing.all(axis=0) & ~((np.nanmax(block, axis=0, initial=-np.inf) ==
                                                np.nanmin(block, axis=0, initial=np.inf)) & ~missing.any(axis=0))
        self.numbers_ = [c for c, keep in zip(numbers, informative) if keep]
        taken = set(numbers)
        self.categories_ = [c for c in X.columns if c not in taken and _plain_category(X[c]) and not _looks_like_text(X[c])]
        taken |= set(self.categories_)
        self.rest_ = [c for c in X.columns if c not in taken]
        self.codes_, codes = None, None
        if self.categories_:
            self.codes_ = _category_encoder(self.kind)
            codes = self._codes_frame(self.codes_.fit_transform(_objects(X, self.categories_)))
        self.vectorizer_ = self._vectorizer(X[self.rest_]) if self.rest_ else None
        encoded = self.vectorizer_.fit_transform(X[self.rest_], y) if self.rest_ else None
        # the output in the input's column order: each column's outputs where the column was
        position = {c: [i] for i, c in enumerate(self.numbers_)}
        start = len(self.numbers_)
        if codes is not None:
            for c, outputs in zip(self.categories_, _outputs_per_column(self.codes_)):
                position[c] = list(range(start, start + outputs))
                start += outputs
        names = list(encoded.columns) if encoded is not None else []
        at_encoded = {name: start + i for i, name in enumerate(names)}
        outputs = self.vectorizer_.input_to_outputs_ if encoded is not None else {}
        order = []
        for c in X.columns:
            if c in position:
                order.extend(position[c])
            else:
                order.extend(at_encoded[o] for o in outputs.get(c, ()) if o in at_encoded)
        order += sorted(set(range(start + len(names))) - set(order))  # none expected
        self.order_ = None if order == sorted(order) else order
        return self._assemble(block[:, informative], codes, encoded)

    def transform(self, X):
        X = _with_string_names(X)
        encoded = self.vectorizer_.transform(X[self.rest_]) if self.vectorizer_ is not None else None
        return self._assemble(_float32_block(X, self.numbers_), self._codes(X), encoded)

    def _codes(self, X: pd.DataFrame) -> pd.DataFrame | None:
        if self.codes_ is None:
            return None
        return self._codes_frame(self.codes_.transform(_objects(X, self.categories_)))

    def _codes_frame(self, codes: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(codes, columns=self.codes_.get_feature_names_out(self.categories_))

    def _assemble(self, block: np.ndarray, codes: pd.DataFrame | None, encoded: pd.DataFrame | None) -> pd.DataFrame:
        # the category codes need no such check: an encoder's codes are finite
        parts = [pd.DataFrame(_infinities_missing(block), columns=self.numbers_)] if self.numbers_ else []
        parts += [codes] if codes is not None else []
        if encoded is not None and encoded.shape[1]:
            infinite = np.isinf(encoded.to_numpy())
            parts.append((encoded.mask(infinite) if infinite.any() else encoded).reset_index(drop=True))
        if not parts:
            # Every column dropped on these rows (constant or empty in a small subset): one
            # constant column, so every learner still fits and predicts the class balance,
            # which is what can be learnt from rows that do not differ.
            return pd.DataFrame(np.zeros((len(block), 1), dtype=np.float32), columns=[NO_FEATURES])
        joined = pd.concat(parts, axis=1) if len(parts) > 1 else parts[0]
        return joined if self.order_ is None else joined.iloc[:, self.order_]


#: The one column a featurizer gives when no column of the fitted rows carries a value.
NO_FEATURES = "no_features"


def _infinities_missing(values: np.ndarray) -> np.ndarray:
    """Infinities as missing values, as data/cleaning.py reads them in a table: none reaches a
    learner (scikit-learn refuses them) even from a Dataset given as it is, or from numbers
    written as text beyond float32's range, which skrub parses to an infinity."""
    infinite = np.isinf(values)
    return np.where(infinite, np.nan, values).astype(values.dtype) if infinite.any() else values


def _with_string_names(X: pd.DataFrame) -> pd.DataFrame:
    """Column names as text, as skrub makes them."""
    if all(isinstance(c, str) for c in X.columns):
        return X
    return X.set_axis([str(c) for c in X.columns], axis=1)


def _float32_block(X: pd.DataFrame, columns: list[str]) -> np.ndarray:
    if not columns:
        return np.empty((len(X), 0), dtype=np.float32)
    return X[columns].to_numpy(dtype=np.float32, na_value=np.nan)


# skrub's TableVectorizer one-hot (or ordinal-) encodes a string column of fewer distinct
# values than this (its cardinality_threshold) and sends the others to the string encoder.
CARDINALITY_THRESHOLD = 40


def _plain_category(column: pd.Series) -> bool:
    """A string column that skrub's cleaning steps leave as it is and then encode as a
    low-cardinality column: 2 to 39 distinct values, none missing, and no value that skrub
    reads as a null, a date or a number (none has a digit, a null word or stray spaces).
    Anything less plain stays with skrub."""
    if not (pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column)):
        return False
    if column.isna().any():
        return False
    values = column.unique()
    if not 2 <= len(values) < CARDINALITY_THRESHOLD:
        return False
    null_words = _null_words()
    return all(isinstance(v, str) and v == v.strip() and v and v.lower() not in null_words
               and not any(ch.isdigit() for ch in v) for v in values)


def _objects(X: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """The columns as one object array: an encoder checks a frame column by column (measured:
    11 of 27 s of a 515-column table's featurization), an array at once."""
    return X[columns].to_numpy(dtype=object)


@functools.cache
def _null_words() -> frozenset:
    """The strings skrub's CleanNullStrings reads as missing, lower-cased; on first use, so
    that importing this module (every CLI start) does not import skrub."""
    from skrub._clean_null_strings import STR_NA_VALUES

    return frozenset(word.lower() for word in STR_NA_VALUES)


def _category_encoder(kind: str):
    """The encoder skrub's TableVectorizer applies to each low-cardinality column, here fitted
    on all of them at once (it encodes each column on its own either way)."""
    from sklearn.preprocessing import OneHotEncoder

    if kind == "tree":
        return OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    return OneHotEncoder(sparse_output=False, dtype=np.float32, handle_unknown="ignore", drop="if_binary")


def _outputs_per_column(encoder) -> list[int]:
    """How many output columns each input column of a fitted category encoder has."""
    if isinstance(encoder, OrdinalEncoder):
        return [1] * len(encoder.categories_)
    drops = encoder.drop_idx_ if encoder.drop_idx_ is not None else [None] * len(encoder.categories_)
    return [len(levels) - (drop is not None) for levels, drop in zip(encoder.categories_, drops)]


def _looks_like_text(column: pd.Series) -> bool:
    if not (pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column)):
        return False
    values = column.dropna()
    if len(values) < 2 or not all(isinstance(v, str) for v in values.head(50)):
        return False
    if not (values.nunique() / len(values) > 0.5 and values.str.len().mean() >= 12):
        return False  # checked first: far cheaper than parsing every value as a number
    return pd.to_numeric(values, errors="coerce").notna().mean() <= 0.9  # else numbers stored as text


def tree_features(random_state: int = 0) -> Pipeline:
    return make_pipeline(TextAwareVectorizer("tree", random_state))


def dense_features(random_state: int = 0) -> Pipeline:
    from sklearn.preprocessing import FunctionTransformer

    return make_pipeline(
        TextAwareVectorizer("dense", random_state),
        # float32 from here on: a wide table's one-hot codes take half the memory (measured:
        # logreg on 100,000 × 200 mixed columns peaked 2.3 GiB above its input in float64).
        FunctionTransformer(_as_float32, feature_names_out="one-to-one"),
        # keep_empty_features: a column all-missing in a tiny subset keeps its slot.
        SimpleImputer(add_indicator=True, keep_empty_features=True, copy=False),
        InColumnChunks(WholeSquashingScaler(max_absolute_value=5)),
    )


def _as_float32(Z):
    return np.asarray(Z, dtype=np.float32)


def features_for(kind: str, estimator=None, random_state: int = 0) -> Pipeline:
    """The featurizer for ``kind``: 'tree', 'dense', or 'auto' (skrub decides from the estimator).

    ``random_state`` seeds the string encoder's SVD: without it, two fits on the same
    rows differ, and a resumed run would not reproduce an uninterrupted one.
    """
    if kind == "tree":
        return tree_features(random_state)
    if kind == "dense":
        return dense_features(random_state)
    import skrub

    steps = skrub.tabular_pipeline(estimator).steps[:-1]
    for _, step in steps:
        if isinstance(step, skrub.TableVectorizer):
            step.set_params(high_cardinality=skrub.StringEncoder(random_state=random_state))
    return Pipeline(steps)


SHARED_KINDS = ("tree", "dense")

# Learners of one featurization kind (tree and xgboost: 'tree') fitted on the same rows with
# the same seed get the same features; the runner sends them to one worker together, and this
# memo featurizes once. Keys hash the rows' content, so different data never collide.
_MEMO: dict[tuple, tuple] = {}
_MEMO_SIZE = 8


def _content_key(X: pd.DataFrame, y=None) -> tuple:
    hashed = pd.util.hash_pandas_object(X, index=True).to_numpy()
    key = (X.shape, tuple(map(str, X.columns)), hash(hashed.tobytes()))
    if y is not None:
        key += (hash(pd.util.hash_pandas_object(pd.Series(y), index=False).to_numpy().tobytes()),)
    return key


def fit_transform_shared(kind: str, random_state: int, X: pd.DataFrame, y):
    """(fitted featurizer, features of X) for 'tree' or 'dense', reused when the same rows
    were featurized the same way just before in this process."""
    key = ("fit", kind, random_state, _content_key(X, y))
    if key not in _MEMO:
        featurizer = features_for(kind, None, random_state)
        _remember(key, (featurizer, featurizer.fit_transform(X, y)))
    return _MEMO[key]


def transform_shared(featurizer, X: pd.DataFrame):
    """``featurizer.transform(X)``, reused for a featurizer shared through the memo."""
    key = ("transform", id(featurizer), _content_key(X))
    if key not in _MEMO:
        _remember(key, (featurizer, featurizer.transform(X)))  # the featurizer held keeps its id unique
    return _MEMO[key][1]


def _remember(key: tuple, value: tuple) -> None:
    if len(_MEMO) >= _MEMO_SIZE:
        _MEMO.pop(next(iter(_MEMO)))
    _MEMO[key] = value
