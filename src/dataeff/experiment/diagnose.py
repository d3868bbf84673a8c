"""Whose problem a run's failures are: when every learner failed every cell with one error,
it is the data's, not the learners', and a rerun cannot mend it; the columns that fail the
same way alone are named, so the user knows what to clean."""

from __future__ import annotations

import time
import warnings

import pandas as pd

from dataeff.data.cleaning import quoted_names
from dataeff.errors import one_line

#: Looking for the columns to blame stops after this many seconds or columns (a wide table).
SEARCH_SECONDS = 30.0
SEARCH_COLUMNS = 400
SAMPLE_ROWS = 64


def data_problem(results: pd.DataFrame, X: pd.DataFrame, y: pd.Series, specs) -> str | None:
    """One line saying the data failed every cell of the study's learners (a baseline, which
    reads no feature, aside), naming the error and the columns that fail the same way alone;
    None when some cell finished, the errors differ, a worker died (a crash is not the data's:
    a rerun may pass), or no column alone shows the error."""
    learners = [s.name for s in specs if s.family != "baseline"]
    cells = results[results["learner"].isin(learners)]
    if cells.empty or (cells["status"] == "ok").any():
        return None
    errors = cells["error"].astype(str).map(_without_where).unique()
    if len(errors) != 1 or errors[0].startswith("worker died"):
        return None
    error = errors[0]
    fitting = [s for s in specs if s.family == "classic"]  # a cheap fit per column, not a model's answers
    if not fitting:
        return None  # an LLM's failures (an endpoint down) are not shown to be the data's
    columns = _failing_columns(error, X, y, fitting[0])
    if not columns:
        return None  # no evidence in the data: the usual line, which offers a rerun
    spread = f"every cell of {len(learners)} learner{'s' if len(learners) > 1 else ''} failed with the same error"
    blamed = quoted_names(columns)
    where = f"column{'s' if len(columns) > 1 else ''} {blamed} fail{'' if len(columns) > 1 else 's'} the same way alone"
    return (f"The data, not the learners: {spread} ({one_line(error, 200)}); {where}. A rerun will fail the same "
            "way: clean or drop those values, then run again.")


def _without_where(error: str) -> str:
    """An error without the cell it happened in (a worker's death names learner, size and seed)."""
    return error.split(" while running ")[0]


def _failing_columns(error: str, X: pd.DataFrame, y: pd.Series, spec) -> list:
    """The columns whose fit alone, by ``spec``'s learner, raises the same kind of error (the
    search is bounded in time and columns)."""
    kind = error.split(":", 1)[0]
    sample = _sample(y)
    started, blamed = time.perf_counter(), []
    for column in list(X.columns)[:SEARCH_COLUMNS]:
        if time.perf_counter() - started > SEARCH_SECONDS:
            break
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                spec.build(0).fit(X.loc[sample, [column]], y.loc[sample])
        except Exception as exc:  # noqa: BLE001 - the error it raises is what is compared
            if type(exc).__name__ == kind:
                blamed.append(column)
    return blamed


def _sample(y: pd.Series) -> pd.Index:
    """A few rows of every class (a fit needs two)."""
    return y.groupby(y, group_keys=False).apply(lambda g: g.head(SAMPLE_ROWS // 2)).index
