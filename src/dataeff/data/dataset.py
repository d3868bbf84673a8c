"""The Dataset: features, readable string labels, and an optional fixed test split."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dataeff.data.cleaning import clean_features, clean_like
from dataeff.errors import DataError, did_you_mean, one_line
from dataeff.terms import Placeholder, setting_name


@dataclass
class Dataset:
    """A classification table ready for planning.

    Attributes
    ----------
    name : str
        Short name shown in outputs (built-in name or file name).
    X : DataFrame
        Feature columns, index 0..n-1.
    y : Series
        Labels as readable strings (they become LLM answer words later).
    label : str
        Name of the label column in the source.
    test_mask : ndarray of bool or None
        Rows of the dataset's own test split; None when the plan draws test rows.
    notes : list of str
        What was done to the data on the way in (dropped rows, ...), reported to the user.
    """

    name: str
    X: pd.DataFrame
    y: pd.Series
    label: str
    test_mask: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    description: str = ""
    truth: dict | None = None  # known Bayes-optimal scores (synthetic data only)
    unlabelled: pd.DataFrame | None = None  # the user's own unlabelled rows (llm-labels' pool), X's columns
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)  # column groups (data/groups.py)

    @property
    def classes(self) -> list[str]:
        return sorted(self.y.unique().tolist())

    @property
    def n_rows(self) -> int:
        return len(self.y)

    def fingerprint(self) -> str:
        """Content hash of features, labels and split: a run folder belongs to one dataset."""
        digest = hashlib.sha256()
        try:
            hashed = pd.util.hash_pandas_object(self.X, index=False).to_numpy()
            digest.update(hashed.tobytes())
        except TypeError:  # unhashable cells (lists from JSON): fall back to text
            digest.update(self.X.to_csv(index=False).encode())
        digest.update(repr(list(self.X.columns)).encode())
        digest.update("\x1f".join(self.y.tolist()).encode())
        if self.test_mask is not None:
            digest.update(np.asarray(self.test_mask, dtype=bool).tobytes())
        return digest.hexdigest()[:16]


def conform_columns(rows: pd.DataFrame, measured: pd.DataFrame, file_name: str) -> pd.DataFrame:
    """Unlabelled rows with the column types of the rows a model was measured on: a column of
    numbers (or dates) there read as numbers (dates) here, and a value that is neither one line
    naming it (a model would otherwise encode it silently as something else); their values
    cleaned as the table's were (``clean_like``)."""
    rows = rows.copy()
    for column in rows.columns:
        if column not in measured.columns:
            continue
        kind = ("numbers" if pd.api.types.is_numeric_dtype(measured[column]) and
                not pd.api.types.is_bool_dtype(measured[column]) else
                "dates" if pd.api.types.is_datetime64_any_dtype(measured[column]) else None)
        if kind is None or (kind == "numbers" and pd.api.types.is_numeric_dtype(rows[column])):
            continue
        given = rows[column]
        read = pd.to_numeric(given, errors="coerce") if kind == "numbers" else \
            pd.to_datetime(given, errors="coerce", format="mixed")
        bad = given.notna() & read.isna() & (given.astype(str).str.strip() != "")
        if bad.any():
            at = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"{file_name}: column {column!r} holds {kind} in the labelled data but {given.iloc[at]!r} "
                            f"in row {at + 1} ({int(bad.sum()):,} such value{'s' if bad.sum() > 1 else ''}); give {kind} there, or leave the "
                            "cell empty.")
        rows[column] = read.astype(measured[column].dtype) if kind == "dates" else read
    return clean_like(rows)


def _labels_as_strings(y: pd.Series) -> pd.Series:
    """Readable labels: 1.0 -> '1', True -> 'True', strings stripped of nothing."""
    if pd.api.types.is_bool_dtype(y):
        return y.map(str)
    if pd.api.types.is_float_dtype(y):
        values = y.to_numpy(dtype=float)
        if np.all(np.isfinite(values)) and np.all(values == np.round(values)):
            return pd.Series(values.astype(np.int64), index=y.index).map(str)
    return y.map(str)


def check_label_column(columns, label: str, name: str) -> None:
    """One line when ``label`` is not among ``columns`` (also asked before a database is sampled)."""
    if label not in columns:
        raise DataError(
            f"Label column '{label}' is not in {name}.{did_you_mean(label, map(str, columns))}"
            f" Columns: {_preview(columns)}."
        )


def prepare_dataset(
    frame: pd.DataFrame,
    label: str | None,
    name: str,
    *,
    test_mask: np.ndarray | None = None,
    drop: tuple[str, ...] = (),
    description: str = "",
    bins: int | None = None,
) -> Dataset:
    """Split a DataFrame into features and string labels, with the checks a user needs.

    Rows with a missing label are dropped and counted in ``notes``, and the features cleaned
    of what no encoder takes (``data/cleaning.py``: infinities, empty columns, nested values);
    a table with no feature column that varies is refused. A label with fewer
    than two classes is refused, and so is a numeric label that looks continuous (a price),
    unless ``bins`` cuts it into that many quantile classes (said in ``notes``).
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame, a file path or a built-in name; got {type(frame).__name__}.")
    if frame.shape[1] == 0 or len(frame) == 0:
        raise DataError(f"{name} has no rows or no columns; point {setting_name('source')} at a table with a header "
                        "and data rows.")
    if label is None:
        raise DataError(f"No label column given for {name}; pass {_label_column()} "
                        f"(columns: {_preview(frame.columns)}).")
    dupes = frame.columns[frame.columns.duplicated()].unique().tolist()
    if dupes:
        raise DataError(f"{name} has duplicate column names {dupes}; rename them so each column is unique.")
    check_label_column(frame.columns, label, name)
    notes: list[str] = []
    missing = frame[label].isna().to_numpy()
    if missing.all():
        raise DataError(f"Label column '{label}' in {name} has no values; name a labelled column: "
                        f"{_label_column()}.")
    if missing.any():
        notes.append(f"dropped {int(missing.sum())} rows with a missing '{label}'")
        frame = frame.loc[~missing]
        if test_mask is not None:
            test_mask = np.asarray(test_mask, dtype=bool)[~missing]
    frame = frame.reset_index(drop=True)
    if bins is not None:
        y = _quantile_classes(frame[label], bins, label, name, notes)
    else:
        _refuse_continuous(frame[label], label, name)
        y = _labels_as_strings(frame[label]).rename(label)
    _refuse_near_duplicate_labels(y, label, name)
    if y.nunique() < 2:
        raise DataError(
            f"Label column '{label}' in {name} has a single class ('{y.iloc[0]}'); "
            f"a classifier needs at least two classes: name another column, {_label_column()}."
        )
    X = frame.drop(columns=[label, *[c for c in drop if c in frame.columns]])
    if X.shape[1] == 0:
        raise DataError(f"{name} has no feature columns besides the label '{label}'; add feature columns.")
    X, cleaned = clean_features(X, name)
    notes.extend(cleaned)
    return Dataset(name=name, X=X, y=y, label=label, test_mask=test_mask, notes=notes, description=description)


def _label_column() -> str:
    """The label setting with a placeholder, as the caller writes it (--label COLUMN, label=COLUMN)."""
    return setting_name("label", Placeholder("COLUMN"))


#: A numeric label with more distinct values than this is a quantity, not a label: no test
#: split holds every class, and classifying it would answer a question nobody asked.
MAX_NUMERIC_CLASSES = 50


def _refuse_continuous(values: pd.Series, label: str, name: str) -> None:
    """A numeric label with many distinct values (or fractional ones beyond a handful) is
    refused before any work, naming what it saw and the way on."""
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return
    distinct = int(values.nunique())
    numbers = values.to_numpy(dtype=float)
    fractional = bool(np.any(np.isfinite(numbers) & (numbers != np.round(numbers))))
    if distinct > MAX_NUMERIC_CLASSES or (fractional and distinct > 10):
        raise DataError(
            f"Label '{label}' in {name} is numeric with {distinct:,} distinct values "
            f"(from {np.nanmin(numbers):g} to {np.nanmax(numbers):g}): it looks continuous, not a label. "
            f"Use {setting_name('bins', Placeholder('N'))} to cut it into N quantile classes (e.g. "
            f"{setting_name('bins', 3)}), or name a label column: {_label_column()}."
        )


def _quantile_classes(values: pd.Series, bins: int, label: str, name: str, notes: list[str]) -> pd.Series:
    """A numeric label cut into ``bins`` classes of about equal size, 'q1' (lowest) to 'qN'."""
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        raise DataError(f"{setting_name('bins')} cuts a numeric label into classes; '{label}' in {name} holds "
                        f"labels ({_preview(values.astype(str).unique())}): drop {setting_name('bins')}.")
    codes, edges = pd.qcut(values.astype(float), q=bins, labels=False, retbins=True, duplicates="drop")
    if len(edges) - 1 < 2:
        raise DataError(f"{setting_name('bins', bins)} leaves '{label}' in {name} a single class (its values are mostly "
                        f"{values.median():g}); name another column: {_label_column()}.")
    width = len(str(len(edges) - 1))
    y = pd.Series([f"q{int(c) + 1:0{width}d}" for c in codes], index=values.index, name=label)
    ranges = ", ".join(f"q{i + 1:0{width}d} {'[' if i == 0 else '('}{edges[i]:g}, {edges[i + 1]:g}]"
                       for i in range(len(edges) - 1))
    fewer = f" (asked {bins}: tied values merged some)" if len(edges) - 1 < bins else ""
    notes.append(f"label '{label}' cut into {len(edges) - 1} quantile classes{fewer}: {ranges}")
    return y


def _refuse_near_duplicate_labels(y: pd.Series, label: str, name: str) -> None:
    """'Yes', 'yes' and 'yes ' are one class to a person and three to a classifier; merging
    them silently could be wrong, so the user decides."""
    groups: dict[str, list[str]] = {}
    for label in y.unique():
        groups.setdefault(" ".join(str(label).split()).casefold(), []).append(str(label))
    clashes = [labels for labels in groups.values() if len(labels) > 1]
    if clashes:
        shown = ", ".join(repr(label) for label in sorted(clashes[0]))
        raise DataError(f"Labels {shown} in '{label}' of {name} differ only in case or spaces; "
                        "clean the column so each class is written one way.")


def _preview(columns, limit: int = 12) -> str:
    names = [one_line(c, 60) for c in columns]  # a name may hold newlines: the message stays one line
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")
