"""The dirt no encoder takes, cleaned once on the way in: infinities, empty columns, values
that are not scalars (lists, dicts, bytes) and columns of mixed kinds.

Each thing done is one note naming the columns, so the user sees what the learners saw.
What is done, and why it is defensible:

- an infinite number (``inf`` in a numeric column, a division by zero in an export) is read
  as a missing value: no encoder or learner takes it, and it carries no magnitude a model
  could use beyond "very large", which a tree would learn from the missing-value indicator
  as well; a finite number beyond ±1e30 (1e300, 3.4e38) is clipped to it, keeping its
  order among the others: every learner computes in float32, whose arithmetic on such numbers
  (the mean of two, a difference, a scaling) runs past its limit of 3.4e38 to an infinity;
- a column with no value at all is dropped: it can tell no row from another;
- a column holding lists, dicts, arrays, sets or bytes, or values of mixed kinds (numbers
  beside words), is read as text, one string per value (JSON for containers, UTF-8 for
  bytes), so the string encoders and an LLM's row text see what a person would see;
- a table with no feature column that varies is refused: nothing can be learned from it.

Clean tables pass through untouched (the same frame), so their runs keep their fingerprints.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Set

import numpy as np
import pandas as pd

from dataeff.errors import DataError, one_line

#: The largest magnitude a number keeps; 1e30 leaves float32's arithmetic room (see above).
LARGEST_NUMBER = 1e30

# pandas' infer_dtype kinds of an object column that an encoder takes as they are
_PLAIN_KINDS = {"string", "empty", "boolean", "datetime", "datetime64", "date", "integer", "floating",
                "mixed-integer-float", "decimal", "categorical", "timedelta", "timedelta64"}


def clean_features(X: pd.DataFrame, name: str) -> tuple[pd.DataFrame, list[str]]:
    """``X`` with the dirt above cleaned, and one note per kind of thing done.

    Raises a one-line ``DataError`` when no feature column is left that varies."""
    notes: list[str] = []
    X, infinite, as_text, huge = _values_cleaned(X)
    if infinite:
        notes.append("infinite values read as missing: " + _counted(infinite))
    if huge:
        notes.append(f"numbers beyond ±{LARGEST_NUMBER:.0e} clipped to it (the learners compute in float32, which "
                     "runs out of range near such numbers): " + _counted(huge))
    if as_text:
        notes.append("values that are not plain numbers or words read as their text (JSON for lists and dicts): "
                     + listed([f"'{one_line(c, 40)}' ({kind})" for c, kind in as_text.items()], " columns"))
    empty = [c for c in X.columns if X[c].isna().all()]
    if empty:
        notes.append(f"dropped {len(empty)} column{'s' if len(empty) > 1 else ''} with no value: {quoted_names(empty)}")
        X = X.drop(columns=empty)
    _refuse_nothing_to_learn(X, empty, name)
    return X, notes


def clean_like(rows: pd.DataFrame) -> pd.DataFrame:
    """New rows (the user's unlabelled ones) with their values cleaned as ``clean_features``
    cleans a table's: infinities missing, odd values their text; the columns are the caller's."""
    return _values_cleaned(rows)[0]


def _values_cleaned(X: pd.DataFrame) -> tuple[pd.DataFrame, dict, dict, dict]:
    """``X`` with infinities missing, numbers beyond ±1e30 clipped and odd values as text
    (the same frame when there are none); the infinities counted per column, each column read
    as text with its kind, and the clipped numbers counted per column."""
    changed: dict = {}
    infinite: dict = {}
    as_text: dict = {}
    huge: dict = {}
    for column in X.columns:
        values = X[column]
        if plain_number(values):
            if pd.api.types.is_integer_dtype(values):
                continue  # no integer is infinite or beyond 1e30
            numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
            infinite_rows, huge_rows = np.isinf(numbers), np.isfinite(numbers) & (np.abs(numbers) > LARGEST_NUMBER)
            if infinite_rows.any():
                infinite[column] = int(infinite_rows.sum())
            if huge_rows.any():
                huge[column] = int(huge_rows.sum())
            if infinite_rows.any() or huge_rows.any():
                changed[column] = values.mask(infinite_rows).clip(-LARGEST_NUMBER, LARGEST_NUMBER)
        elif pd.api.types.is_object_dtype(values):
            kind = _odd_kind(values)
            if kind:
                as_text[column] = kind
                changed[column] = values.map(value_as_text, na_action="ignore").astype(object)
    return (_replaced(X, changed) if changed else X), infinite, as_text, huge


def _replaced(X: pd.DataFrame, changed: dict) -> pd.DataFrame:
    X = X.copy()
    for column, values in changed.items():
        X[column] = values
    return X


def plain_number(values: pd.Series) -> bool:
    """A numeric column, not a boolean one: a number an encoder takes as it is."""
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _odd_kind(values: pd.Series) -> str | None:
    """What makes an object column's values unfit for an encoder ('lists', 'dicts', 'bytes',
    'mixed kinds'), or None when they are plain."""
    present = values.dropna()
    if present.empty:
        return None
    try:
        inferred = pd.api.types.infer_dtype(present, skipna=True)
    except (TypeError, ValueError):
        inferred = "mixed"
    if inferred in _PLAIN_KINDS:
        # infer_dtype calls a column of floats beside NaN-like objects plain, but a float
        # infinity hiding in an object column is not
        if inferred in ("floating", "mixed-integer-float", "decimal") and \
                any(isinstance(v, float) and np.isinf(v) for v in present):
            return "mixed kinds"
        return None
    containers = {_container_kind(v) for v in present}
    containers.discard(None)
    if containers:
        return "/".join(sorted(containers))
    if inferred == "bytes":
        return "bytes"
    return "mixed kinds"


def _container_kind(value) -> str | None:
    if isinstance(value, Mapping):
        return "dicts"
    if isinstance(value, (list, tuple, np.ndarray, Set)):
        return "lists"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "bytes"
    return None


def value_as_text(value) -> str:
    """One value as text: containers as JSON (keys sorted, so equal dicts read alike), bytes
    as UTF-8 (undecodable bytes replaced), an infinity as the word, anything else as ``str``."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, (Mapping, list, tuple, np.ndarray, Set)):
        return json.dumps(_jsonable(value), sort_keys=True, ensure_ascii=False, default=str)
    if isinstance(value, float) and np.isinf(value):
        return "infinity" if value > 0 else "-infinity"
    return str(value)


def _jsonable(value):
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, Set):
        return sorted((_jsonable(v) for v in value), key=str)
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)  # JSON has no NaN or infinity
    return value


def _refuse_nothing_to_learn(X: pd.DataFrame, empty: list, name: str) -> None:
    """One line before any work when no feature column can tell one row from another."""
    if X.shape[1] == 0:
        raise DataError(f"{name} has no feature column with a value ({quoted_names(empty)} "
                        f"{'are' if len(empty) > 1 else 'is'} empty); give columns that hold data.")
    if all(_single_value(X[c]) for c in X.columns):
        raise DataError(f"Every feature column of {name} holds one value ({quoted_names(list(X.columns))}): there is "
                        "nothing to learn from; give columns whose values differ between rows.")


def _single_value(values: pd.Series) -> bool:
    """One value and no gap (a gap beside one value still tells rows apart)."""
    if values.isna().any():
        return False
    try:
        return values.nunique(dropna=False) <= 1
    except TypeError:  # an unhashable value no kind above caught: the column is no single value
        return False


def _counted(counts: dict) -> str:
    return listed([f"'{one_line(c, 40)}' ({n:,})" for c, n in counts.items()], " columns")


def quoted_names(columns: list) -> str:
    """'a', 'b' and 3 more: column names as notes and errors show them."""
    return listed([f"'{one_line(c, 40)}'" for c in columns])


def listed(texts: list[str], what: str = "", limit: int = 8) -> str:
    """The first ``limit`` of ``texts``, and how many more ('and 3 more columns')."""
    shown = ", ".join(texts[:limit])
    return shown + (f" and {len(texts) - limit} more{what}" if len(texts) > limit else "")
