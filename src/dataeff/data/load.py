"""One door for data: the [data] settings -> a Dataset (built-in, file, database, DataFrame or
related tables flattened), reading a long Parquet file only as far as the study can use it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dataeff.config import MAX_DEFAULT_TEST_ROWS, DataSettings, StudySettings
from dataeff.data.builtin import is_builtin, load_builtin
from dataeff.data.dataset import Dataset, prepare_dataset
from dataeff.data.sources import looks_like_path, parquet_rows, read_parquet_sample, read_source
from dataeff.errors import DataError


def load(data: DataSettings, study: StudySettings) -> Dataset:
    """The study's Dataset, from whatever ``data.source`` names."""
    source = data.source
    if data.flattening is not None:
        from dataeff.data.relations import flatten

        decl = data.flattening
        return prepare_dataset(flatten(decl), data.target, Path(decl.entity).stem, drop=(decl.key,), bins=data.bins)
    if isinstance(source, Dataset):
        return source
    if isinstance(source, pd.DataFrame):
        return prepare_dataset(source, data.target, "dataframe", bins=data.bins)
    if isinstance(source, Path):
        source = str(source)
    if not isinstance(source, str) or not source:
        raise DataError(f"data must be a built-in name, a file path or a DataFrame; got {source!r}.")
    if is_builtin(source) and not Path(source).exists():
        if data.table or data.query:
            raise DataError("--table/--query apply to database files, not to built-in datasets; drop them.")
        if data.bins is not None:
            raise DataError(f"Built-in '{source}' has labels already; --bins is for a numeric target of "
                            "your own table: drop it.")
        dataset = load_builtin(source)
        if data.target and data.target != dataset.target:
            raise DataError(f"Built-in '{source}' has target '{dataset.target}'; drop --target or use it.")
        return dataset
    if not looks_like_path(source) and not Path(source).exists():
        return load_builtin(source)  # raises 'Unknown dataset' with a suggestion
    name = Path(source).name + (f":{data.table}" if data.table else "")
    needed = rows_needed(study)
    total = parquet_rows(source) if needed else None
    if total and data.target and total > 2 * needed:
        # A wide, long table: read only the rows a study this size can use.
        frame, note = read_parquet_sample(source, data.target, needed)
        dataset = prepare_dataset(frame, data.target, name, bins=data.bins)
        dataset.notes.insert(0, note)
        return dataset
    frame = read_source(source, table=data.table, query=data.query)
    return prepare_dataset(frame, data.target, name, bins=data.bins)


def rows_needed(study: StudySettings) -> int | None:
    """Rows a study can touch at most, when its sizes are given: each seed's test rows plus
    the largest training subset (with room to spare for dropped rows); None otherwise."""
    if not study.sizes:
        return None
    return int(1.1 * (study.seeds * (study.test_rows or MAX_DEFAULT_TEST_ROWS) + max(study.sizes))) + 1000
