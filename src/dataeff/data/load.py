"""One door for data: the [data] settings -> a Dataset from the Source they name (data/source.py:
built-in, file, database by URL, a table in memory) or related tables flattened, reading a long
Parquet file or database table only as far as the study can use it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dataeff.config import MAX_DEFAULT_TEST_ROWS, DataSettings, StudySettings
from dataeff.data.builtin import load_builtin
from dataeff.data.dataset import Dataset, prepare_dataset
from dataeff.data.source import BuiltinSource, source_for
from dataeff.errors import DataError
from dataeff.terms import setting_name


def load(data: DataSettings, study: StudySettings, rows: int | None = None) -> Dataset:
    """The study's Dataset, from whatever ``data.source`` names, with its column groups (declared,
    and one per relation of related tables) and the user's own unlabelled rows
    (``data.unlabelled``) read with its columns' types. ``rows``: the rows a long table is sampled
    to (default: what the study's sizes can use; a run's data read again passes its own)."""
    dataset = _labelled(data, study, rows)
    defaults = data.flattening.groups(list(dataset.X.columns)) if data.flattening is not None else None
    if data.groups or defaults:
        from dataeff.data.groups import column_groups

        dataset.groups = column_groups(list(dataset.X.columns), data.groups, defaults)
    if data.unlabelled:
        from dataeff.data.dataset import conform_columns
        from dataeff.data.sources import read_source

        rows = read_source(data.unlabelled)
        name = Path(data.unlabelled).name
        missing = [c for c in dataset.X.columns if c not in rows.columns]
        if missing:
            raise DataError(f"{setting_name('unlabelled')}: {name} lacks {len(missing)} of the study's feature columns "
                            f"({', '.join(map(repr, missing[:5]))}{', ...' if len(missing) > 5 else ''}); give rows "
                            "with the columns of the labelled data.")
        if rows.empty:
            raise DataError(f"{setting_name('unlabelled')}: {name} has no rows; give rows for the LLM to label.")
        dataset.unlabelled = conform_columns(rows[list(dataset.X.columns)].reset_index(drop=True), dataset.X, name)
    return dataset


def _labelled(data: DataSettings, study: StudySettings, rows: int | None) -> Dataset:
    if data.flattening is not None:
        from dataeff.data.relations import flatten

        decl = data.flattening
        return prepare_dataset(flatten(decl, password_env=data.password_env), data.label, decl.name, drop=(decl.key,),
                               bins=data.bins)
    if isinstance(data.source, Dataset):
        return data.source
    source = source_for(data.source, table=data.table, query=data.query, sheet=data.sheet,
                        password_env=data.password_env)
    if isinstance(source, BuiltinSource):
        if data.bins is not None:
            raise DataError(f"Built-in '{source.dataset}' has labels already; {setting_name('bins')} is for a numeric "
                            "label column of your own table: drop it.")
        dataset = load_builtin(source.dataset)
        if data.label and data.label != dataset.label:
            raise DataError(f"Built-in '{source.dataset}' has the label column '{dataset.label}'; drop "
                            f"{setting_name('label')} or give {setting_name('label', dataset.label)}.")
        return dataset
    needed = rows if rows is not None else rows_needed(study)
    # a numeric label cut into bins is sampled at random: stratified on, each raw value would keep a row
    sample = source.read_sample(data.label, needed, stratified=data.bins is None) if needed and data.label else None
    if sample is not None:
        # A long table: read only the rows a study this size can use.
        frame, note = sample
        dataset = prepare_dataset(frame, data.label, source.name, bins=data.bins)
        dataset.notes.insert(0, note)
        return dataset
    return prepare_dataset(source.read(), data.label, source.name, bins=data.bins)


def rows_needed(study: StudySettings) -> int | None:
    """Rows a study can touch at most, when its sizes are given: each seed's test rows plus
    the largest training subset (with room to spare for dropped rows); None otherwise."""
    if not study.sizes:
        return None
    return int(1.1 * (study.seeds * (study.test_rows or MAX_DEFAULT_TEST_ROWS) + max(study.sizes))) + 1000
