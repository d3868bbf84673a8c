"""The rows to label next: a run's learner, fitted on every labelled row of the run's data,
ranks a table of unlabelled rows by how unsure it is of each (its own acquisition strategy, or
margin), and the top ``k`` are written with their scores: ``dataeff next-labels``.

The learner is the one the run names (``learner``), or else its acquiring learner whose
choosing paid most, or else its best-scoring learner at its largest size. The data are read
again the way the run read them (run facts' ``data_source``) and must be the same rows (their
fingerprint), so the model that ranks is the model the run measured.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dataeff.errors import ConfigError, DataError, RunFolderError, did_you_mean
from dataeff.experiment.acquire import uncertainty
from dataeff.results import RunResult, load_run

STRATEGIES = ("margin", "entropy")
RANK, UNCERTAINTY = "dataeff_rank", "dataeff_uncertainty"


def next_labels(run: str | Path, unlabelled: Any, k: int, learner: str | None = None,
                strategy: str | None = None, out: str | Path | None = None, *, table: str | None = None,
                query: str | None = None, password_env: str | None = None, data: Any = None) -> Path:
    """Write the ``k`` rows of ``unlabelled`` to label next (most uncertain first) and return the
    file: the rows as given, their rank, their uncertainty and the learner's class probabilities.

    ``unlabelled`` is anything a study reads (a file, a database URL with ``table`` or ``query``,
    a table in memory); ``password_env`` names the variable holding a database URL's password.
    ``data`` hands the run's own rows again where the run read them from memory (a pandas,
    Polars or Arrow table); they must be the rows it measured.

    Examples
    --------
    >>> dataeff.next_labels("runs/churn", "new-customers.csv", k=100)       # doctest: +SKIP
    """
    from dataeff.config import DataSettings, StudySettings
    from dataeff.data.dataset import conform_columns
    from dataeff.data.load import load
    from dataeff.data.source import source_for
    from dataeff.experiment.sources import with_dropped_columns
    from dataeff.learners.registry import resolve_learners
    from dataeff.report.files import atomic_write
    from dataeff.variants import Variant

    result = load_run(run)
    name = learner or chosen_learner(result)
    info = _learner_info(result, name)
    # an llm-zero learner's own rounds after its cold start are margin's
    strategy = strategy or (info.acquire if info.acquire in STRATEGIES else "margin")
    if strategy not in STRATEGIES:
        raise ConfigError(f"The strategy must be margin or entropy.{did_you_mean(strategy, STRATEGIES)} "
                          f"Got {strategy!r}.")
    if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
        raise ConfigError(f"k must be a positive number of rows to label; got {k!r}.")
    given = source_for(unlabelled, table=table, query=query, password_env=password_env)
    rows, given_name = given.read(), given.name
    missing = [c for c in result.facts.feature_columns if c not in rows.columns]
    if missing:
        raise DataError(f"{given_name} lacks {len(missing)} of the run's feature columns "
                        f"({', '.join(map(repr, missing[:5]))}{', ...' if len(missing) > 5 else ''}); give rows with "
                        "the columns the run was measured on.")
    if k > len(rows):
        raise ConfigError(f"k = {k} is more than the {len(rows):,} rows of {given_name}; ask for at most "
                          f"{len(rows):,}.")
    source = result.facts.data_source or {}
    if data is not None:  # the run's rows, handed again (a table in memory has no path to store)
        source = {"label": result.facts.label, "bins": source.get("bins"), "source": data}
    elif source.get("source") is None:
        raise RunFolderError(f"{result.out} does not say how to read its data again (a table from Python, or related "
                             "tables): pass the run's rows again, dataeff.next_labels(..., data=TABLE), or run the "
                             "study from a file.")
    source = dict(source)
    rows_read = source.pop("rows_read", None)  # a long table's sample: the same rows as the run's
    dataset = load(DataSettings(**source), StudySettings(), rows=rows_read)
    if dataset.fingerprint() != result.facts.data_fingerprint:
        what = "The data given" if data is not None else source["source"]
        raise DataError(f"{what} has changed since {result.out} was run (another fingerprint); rank with "
                        "the data the run measured, or run the study again.")
    spec = resolve_learners([Variant(name, info.kind, dict(info.given))])[0]
    groups = {name: tuple(columns) for name, columns in result.facts.groups.items()}  # as the run had them
    spec = with_dropped_columns([_wired(spec, dataset)], groups)[0]
    model = spec.build(random_state=0)
    model.fit(dataset.X.drop(columns=list(spec.dropped)), dataset.y)
    features = conform_columns(rows[list(result.facts.feature_columns)], dataset.X, given_name)
    features = features.drop(columns=list(spec.dropped))  # a learner without column groups never sees them
    proba = np.asarray(model.predict_proba(features), float)
    scores = uncertainty(proba, strategy)
    order = np.argsort(-scores, kind="stable")[:k]
    picked = rows.iloc[order].copy()
    picked.insert(0, RANK, np.arange(1, len(order) + 1))
    picked.insert(1, UNCERTAINTY, scores[order])
    for j, label in enumerate(model.classes_):
        picked[f"p_{label}"] = proba[order, j]
    path = Path(out) if out else Path(result.out) / "next-labels.csv"
    atomic_write(path, lambda p: picked.to_csv(p, index=False))
    return path


def chosen_learner(result: RunResult) -> str:
    """The acquiring learner whose choosing paid most, else the best mean at the largest size."""
    analysis = result.analysis
    paid = [a for a in (analysis.acquisition if analysis else ()) if a.verdict == "pays"]
    if paid:
        return max(paid, key=lambda a: a.area or 0.0).learner
    ok = result.results[(result.results["status"] == "ok") & (result.results["learner"].isin(
        [n for n, i in result.facts.learner_info.items() if i.family != "baseline"]))]
    if ok.empty:
        raise RunFolderError(f"{result.out} has no finished cell of a learner that ranks rows; name the learner to rank with.")
    largest = ok.groupby("learner")["n_train"].transform("max")
    at_largest = ok[ok["n_train"] == largest].groupby("learner")[result.metric].mean()
    from dataeff.experiment.metrics import METRICS

    return str(at_largest.idxmax() if METRICS[result.metric] else at_largest.idxmin())


def _learner_info(result: RunResult, name: str):
    from dataeff.learners.registry import CAN_ACQUIRE

    infos = result.facts.learner_info
    if name not in infos:
        raise ConfigError(f"{result.out} has no learner '{name}'.{did_you_mean(name, infos)} It has: "
                          f"{', '.join(infos)}.")
    if infos[name].kind not in CAN_ACQUIRE:
        raise ConfigError(f"{name} ({infos[name].kind}) cannot rank rows by its uncertainty; choose one of "
                          f"{', '.join(n for n, i in infos.items() if i.kind in CAN_ACQUIRE) or 'none in this run'}.")
    return infos[name]


def _wired(spec, dataset):
    """The learner with what a study tells it (an LLM kind: its task, backend and cache)."""
    from dataeff.config import Settings
    from dataeff.learners.wiring import wire_learners

    settings = Settings()
    return wire_learners([spec], dataset, dataset.classes, settings.llm, settings.run, settings.study.metric)[0]
