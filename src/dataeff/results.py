"""The results API: a finished run as an object (RunResult), read back (load_run), analysed
(analyze) and redrawn (report) without refitting."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from dataeff.config import DEFAULT_SCORE_TARGET
from dataeff.errors import RunFolderError
from dataeff.experiment.facts import RunFacts
from dataeff.experiment.runner import results_frame
from dataeff.experiment.store import STORE_NAME, Store

if TYPE_CHECKING:
    from dataeff.analysis.types import Analysis
    from dataeff.report.chart import Chart
    from dataeff.report.plots import CurveDisplay


@dataclass
class RunResult:
    """What a finished (or resumed) run gives back.

    Attributes
    ----------
    results : DataFrame
        One row per cell (the columns of results.csv).
    out : Path
        The run folder.
    metric : str
        The headline metric.
    facts : dataeff.experiment.facts.RunFacts
        Dataset, plan and run facts (also in summary.json); a dict given here is read into one.
    analysis : dataeff.analysis.types.Analysis or None
        The answers (ceiling, labels to target, crossovers, data advantage, costs); None until
        analysed.

    Examples
    --------
    >>> result = dataeff.run(data=df, label="churned", out="runs/x")     # doctest: +SKIP
    >>> result.analysis.learners["logreg"].labels_to_target.n            # doctest: +SKIP
    >>> result.plot()                                                    # doctest: +SKIP
    """

    results: pd.DataFrame
    out: Path
    metric: str
    facts: RunFacts = field(default_factory=RunFacts)
    analysis: Analysis | None = None

    def __post_init__(self):
        self.facts = RunFacts.of(self.facts)

    def curves(self, metric: str | None = None) -> pd.DataFrame:
        """Mean and 95% CI per learner and size for ``metric`` (default: the headline)."""
        from dataeff.analysis.curves import curve_table

        return curve_table(self.results, metric or self.metric)

    def chart(self, metric: str | None = None) -> Chart:
        """The learning-curve chart of ``metric`` (default: the headline), with fits and the
        ceiling when that metric is the analysed one: what curves.png and report.html draw."""
        from dataeff.report.chart import Chart

        metric = metric or self.metric
        return Chart.from_curves(self.curves(metric), metric, self.facts.learners, self.analysis,
                                 title=f"{self.facts.dataset}: {metric} vs labelled examples")

    def plot(self, ax=None, metric: str | None = None) -> CurveDisplay:
        """Draw the learning curves on a matplotlib Axes (a new figure when ``ax`` is None).

        Returns a display with ``ax_``, ``figure_`` and the ``chart`` drawn. The matplotlib
        backend is left as it is.

        Examples
        --------
        >>> fig, ax = plt.subplots()           # doctest: +SKIP
        >>> result.plot(ax=ax, metric="accuracy")  # doctest: +SKIP
        """
        from dataeff.report.plots import CurveDisplay

        return CurveDisplay(self.chart(metric)).plot(ax=ax)

    def _repr_html_(self) -> str:
        """A notebook shows a result as its answers and the headline chart (inline SVG)."""
        from dataeff.report.html import render_result

        return render_result(self.chart(), self.analysis, self.facts)

    def __repr__(self) -> str:
        ok = int((self.results["status"] == "ok").sum())
        return f"RunResult(out='{self.out}', cells={len(self.results)}, ok={ok}, metric='{self.metric}')"


def load_run(out: str | Path) -> RunResult:
    """Read a run folder's store back into a RunResult (no refitting)."""
    from dataeff.analysis.types import Analysis

    out = Path(out)
    if not (out / STORE_NAME).is_file():
        raise RunFolderError(f"{out} is not a dataeff run folder (no {STORE_NAME}); check the path.")
    with Store(out / STORE_NAME) as store:
        facts = RunFacts.of(json.loads(store.get_meta("facts") or "{}"))
        metric = store.get_meta("metric") or "roc_auc"
        analysis = Analysis.from_stored(store.get_meta("analysis"))
        results = results_frame(store)
    return RunResult(results, out, metric, facts, analysis)


def analyze(run_or_dir: RunResult | str | Path, *, score_target=DEFAULT_SCORE_TARGET, prices=None,
            metric: str | None = None, learners: list[str] | None = None, write: bool = True,
            store: Store | None = None, target=None) -> RunResult:
    """Compute the answers for a run and (by default) rewrite its summary files.

    Parameters
    ----------
    run_or_dir : RunResult or path
        A finished run, or its folder (read from the store, no refitting).
    score_target : str or float
        A score (0.85) or a share of the data's ceiling ('95%'): the answers say how many labels
        each learner needs to reach it. (``target`` is its old name, still accepted.)
    prices : dataeff.analysis.efficiency.Prices, optional
        Label, token and compute prices, and predictions per month.
    metric : str, optional
        Analyse another metric than the run's headline.
    learners : list of str, optional
        Narrow the view to these learners (the store keeps every cell).
    store : Store, optional
        The run's store, already open (a run writes its analysis through the store it ran in).

    Examples
    --------
    >>> result = dataeff.analyze("runs/churn", score_target="90%")    # doctest: +SKIP
    >>> result.analysis.learners["xgboost"].labels_to_target         # doctest: +SKIP
    """
    from dataeff.analysis.summary import summarize
    from dataeff.config import renamed_note
    from dataeff.experiment.metrics import check_metric
    from dataeff.report.outputs import write_outputs

    if target is not None:  # the old keyword: 'target' named the label column elsewhere
        renamed_note("target=", "score_target=")
        score_target = target
    result = run_or_dir if isinstance(run_or_dir, RunResult) else load_run(run_or_dir)
    if learners:
        result = narrowed(result, learners)
    metric = check_metric(metric) if metric else result.metric
    result.metric = metric
    # Its numbers are JSON's already (NaN and infinity are None), so the report drawn now and the
    # one 'dataeff report' draws later from the stored copy are the same.
    result.analysis = summarize(result.results, metric, score_target=score_target, prices=prices,
                              order=result.facts.learners, families=learner_families(result.facts),
                              kinds=result.facts.kinds(),
                              twins={name: (info.twin, info.acquire) for name, info in result.facts.learner_info.items()
                                     if info.acquire and info.twin},
                              routes={name: (info.labeller, info.student)
                                      for name, info in result.facts.learner_info.items() if info.labeller},
                              sources={name: (info.full, tuple(info.without),
                                              _running_cost(info.without, result.facts.group_costs))
                                       for name, info in result.facts.learner_info.items() if info.full})
    if write:
        # Kept in the store so 'dataeff report' redraws the same answers without recomputing.
        values = {"analysis": json.dumps(result.analysis.to_json()), "metric": metric}
        if store is not None:
            store.set_meta(values)
        else:
            with Store(result.out / STORE_NAME) as opened:
                opened.set_meta(values)
        write_outputs(result.out, result.results, result.facts, metric, result.analysis)
    return result


def narrowed(result: RunResult, learners: list[str]) -> RunResult:
    """The same run seen through some of its learners (for a report or answers about them)."""
    from dataeff.errors import ConfigError, did_you_mean

    known = list(dict.fromkeys(result.results["learner"]))
    for name in learners:
        if name not in known:
            raise ConfigError(f"{result.out} has no learner '{name}'.{did_you_mean(name, known)} "
                              f"It has: {', '.join(known)}.")
    order = [n for n in (result.facts.learners or known) if n in learners]
    facts = result.facts.model_copy(update={"learners": order})
    return RunResult(result.results[result.results["learner"].isin(learners)].reset_index(drop=True), result.out,
                     result.metric, facts, None)


def learner_families(facts: RunFacts) -> dict[str, str]:
    """Each learner's family from the run facts; run folders written before kinds declared one
    named their learners by kind, so the kind's family stands for them."""
    from dataeff.learners.registry import REGISTRY

    known = facts.families()
    return {name: known.get(name) or (REGISTRY[name].family if name in REGISTRY else "classic")
            for name in facts.learners}


def report(out: str | Path, learners: list[str] | None = None) -> Path:
    """Rebuild report.html (and curves.png) of a run folder from its store: no refitting, and
    the answers as the last analysis left them (or, for some ``learners``, as they read for them)."""
    from dataeff.analysis.curves import curve_tables
    from dataeff.report.html import write_report
    from dataeff.report.outputs import write_png

    result = load_run(out)
    if learners:
        kept = result.analysis
        result = analyze(narrowed(result, learners), write=False,
                         score_target=kept.target.spec if kept else DEFAULT_SCORE_TARGET,
                         prices=kept.prices if kept else None)
    elif result.analysis is None:
        result = analyze(result)
    tables = curve_tables(result.results)
    write_png(result.out, tables[result.metric], result.facts, result.metric, result.analysis)
    return write_report(result.out / "report.html", result.results, tables, result.facts, result.metric,
                        result.analysis)


def _running_cost(groups: list[str], costs: dict[str, float]) -> float | None:
    """What the pipelines of ``groups`` cost a month, when each has a price (else None)."""
    return sum(costs[g] for g in groups) if groups and all(g in costs for g in groups) else None
