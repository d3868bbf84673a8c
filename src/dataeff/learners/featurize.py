"""Tabular featurization per learner kind, built from skrub's encoders.

Trees get ordinal codes and keep missing values (they split on them); linear models,
kNN and the MLP get one-hot codes, imputation with missing indicators and scaling.
High-cardinality strings (zip codes, free text) go through skrub's StringEncoder.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OrdinalEncoder


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
    the fitted rows; and the output keeps the input's column order, so the features are the
    same as the TableVectorizer's alone (tests/learners/test_featurize.py compares them).
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
        numbers = [c for c in X.columns if _plain_number(X[c])]
        block = _float32_block(X, numbers)
        missing = np.isnan(block)
        informative = ~missing.all(axis=0) & ~((np.nanmax(block, axis=0, initial=-np.inf) ==
                                                np.nanmin(block, axis=0, initial=np.inf)) & ~missing.any(axis=0))
        self.numbers_ = [c for c, keep in zip(numbers, informative) if keep]
        self.rest_ = [c for c in X.columns if c not in set(numbers)]
        self.vectorizer_ = self._vectorizer(X[self.rest_]) if self.rest_ else None
        encoded = self.vectorizer_.fit_transform(X[self.rest_], y) if self.rest_ else None
        # the output in the input's column order: each column's outputs where the column was
        at = {c: i for i, c in enumerate(self.numbers_)}
        names = list(encoded.columns) if encoded is not None else []
        at_encoded = {name: len(self.numbers_) + i for i, name in enumerate(names)}
        outputs = self.vectorizer_.input_to_outputs_ if encoded is not None else {}
        order = []
        for c in X.columns:
            if c in at:
                order.append(at[c])
            else:
                order.extend(at_encoded[o] for o in outputs.get(c, ()) if o in at_encoded)
        order += sorted(set(range(len(self.numbers_) + len(names))) - set(order))  # none expected
        self.order_ = None if order == sorted(order) else order
        return self._assemble(block[:, informative], encoded)

    def transform(self, X):
        X = _with_string_names(X)
        encoded = self.vectorizer_.transform(X[self.rest_]) if self.vectorizer_ is not None else None
        return self._assemble(_float32_block(X, self.numbers_), encoded)

    def _assemble(self, block: np.ndarray, encoded: pd.DataFrame | None) -> pd.DataFrame:
        numbers = pd.DataFrame(block, columns=self.numbers_)
        if encoded is None:
            return numbers
        joined = pd.concat([numbers, encoded.reset_index(drop=True)], axis=1) if self.numbers_ else \
            encoded.reset_index(drop=True)
        return joined if self.order_ is None else joined.iloc[:, self.order_]


def _with_string_names(X: pd.DataFrame) -> pd.DataFrame:
    """Column names as text, as skrub makes them."""
    if all(isinstance(c, str) for c in X.columns):
        return X
    return X.set_axis([str(c) for c in X.columns], axis=1)


def _plain_number(column: pd.Series) -> bool:
    """A numeric column (not a boolean one) that needs no encoding, only float32."""
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _float32_block(X: pd.DataFrame, columns: list[str]) -> np.ndarray:
    if not columns:
        return np.empty((len(X), 0), dtype=np.float32)
    return X[columns].to_numpy(dtype=np.float32, na_value=np.nan)


def _looks_like_text(column: pd.Series) -> bool:
    if not (pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column)):
        return False
    values = column.dropna()
    if len(values) < 2 or not all(isinstance(v, str) for v in values.head(50)):
        return False
    if pd.to_numeric(values, errors="coerce").notna().mean() > 0.9:
        return False  # numbers stored as text: skrub's cleaner makes them numeric
    return values.nunique() / len(values) > 0.5 and values.str.len().mean() >= 12


def tree_features(random_state: int = 0) -> Pipeline:
    return make_pipeline(TextAwareVectorizer("tree", random_state))


def dense_features(random_state: int = 0) -> Pipeline:
    import skrub

    from sklearn.preprocessing import FunctionTransformer

    return make_pipeline(
        TextAwareVectorizer("dense", random_state),
        # float32 from here on: a wide table's one-hot codes take half the memory (measured:
        # logreg on 100,000 × 200 mixed columns peaked 2.3 GiB above its input in float64).
        FunctionTransformer(_as_float32, feature_names_out="one-to-one"),
        # keep_empty_features: a column all-missing in a tiny subset keeps its slot.
        SimpleImputer(add_indicator=True, keep_empty_features=True, copy=False),
        InColumnChunks(skrub.SquashingScaler(max_absolute_value=5)),
    )


class InColumnChunks(TransformerMixin, BaseEstimator):
    """A per-column transformer fitted and applied on blocks of ``chunk`` columns.

    The same numbers as applying it to all columns at once (every column is scaled on its
    own), but its temporary copies are the size of one block: skrub's SquashingScaler holds
    about four copies of its input (measured: +2.3 GiB on 100,000 rows × 1,460 features).
    """

    def __init__(self, transformer, chunk: int = 128):
        self.transformer = transformer
        self.chunk = chunk

    def fit(self, X, y=None):
        from sklearn.base import clone

        X = np.asarray(X)
        self.parts_ = [clone(self.transformer).fit(X[:, start:start + self.chunk])
                       for start in range(0, X.shape[1], self.chunk)]
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        X = np.asarray(X)
        out = np.empty(X.shape, dtype=np.result_type(X.dtype, np.float32))
        for part, start in zip(self.parts_, range(0, X.shape[1], self.chunk)):
            out[:, start:start + self.chunk] = part.transform(X[:, start:start + self.chunk])
        return out

    def get_feature_names_out(self, input_features=None):
        return np.asarray(input_features if input_features is not None
                          else [f"x{i}" for i in range(self.n_features_in_)], dtype=object)


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
