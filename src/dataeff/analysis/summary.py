"""Assemble the answers for one run: the signal test first, then ceiling, labels to target,
crossovers, data advantage and cost."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dataeff.analysis.acquisition import acquisition_answers
from dataeff.analysis.labels import label_route_answers
from dataeff.analysis.ceiling import ceiling as data_ceiling
from dataeff.analysis.compare import crossovers, labels_needed, reference, worth
from dataeff.analysis.costs import cheapest, route_costs
from dataeff.analysis.curves import N_FIT_BOOTSTRAP, Curve, curves_from_results, gain, seed_resamples
from dataeff.analysis.efficiency import RULE_OF_THUMB, Prices
from dataeff.analysis.fits import fit_learners
from dataeff.analysis.forecast import forecast_curve, forecast_entries
from dataeff.analysis.signal import CHANCE, baseline_values, signal_test
from dataeff.analysis.sources import source_answers
from dataeff.analysis.types import Analysis, Ceiling, LearnerAnswer, Signal, Target, num, pair
from dataeff.config import DEFAULT_SCORE_TARGET, check_score_target, parse_target
from dataeff.experiment.metrics import METRICS


def summarize(results: pd.DataFrame, metric: str, score_target=DEFAULT_SCORE_TARGET, prices: Prices | None = None,
            n_boot: int = N_FIT_BOOTSTRAP, order: list[str] | None = None, families: dict[str, str] | None = None,
            kinds: dict[str, str] | None = None, twins: dict[str, tuple[str, str]] | None = None,
            routes: dict[str, tuple[str, str]] | None = None,
            sources: dict[str, tuple] | None = None) -> Analysis:
    """Every answer for the headline ``metric``, each with a 95% CI and a flag ('measured',
    'at_most', 'extrapolated', 'unreachable') saying where it comes from.

    First the signal test (``analysis.signal``): when no learner beats the baseline beyond
    noise at any size, there is no target, no labels to it, no significant crossover, no
    data advantage and no cost route: every one of them would be about noise.

    ``families`` (learner -> baseline, classic or llm; classic when not given) decides who is
    a baseline (no ceiling, crossovers or advantage of its own; the signal test's yardstick)
    and who may be the reference (the best classic learner); ``kinds`` (variant -> kind) which
    rule of thumb a learner meets; ``twins`` (acquiring learner -> its random twin and strategy)
    which curves say whether choosing the rows pays; ``routes`` (llm-labels learner -> its
    labeller and its student on human labels) what an LLM's labels are worth; ``sources``
    (learner without column groups -> its full twin, the groups, their pipelines' monthly cost
    or None) what each group is worth.
    """
    import warnings

    with warnings.catch_warnings():
        # A size where every seed of a learner failed is all NaN there: numpy's "Mean of empty
        # slice" and "Degrees of freedom <= 0" are expected, and the NaN they return is handled.
        warnings.simplefilter("ignore", RuntimeWarning)
        return _summarize(results, metric, score_target, prices, n_boot, order, families, kinds, twins or {},
                          routes or {}, sources or {})


def _summarize(results, metric, target, prices, n_boot, order, families, kinds, twins, routes,
               sources) -> Analysis:
    prices = prices or Prices()
    families, kinds = families or {}, kinds or {}
    curves, seeds = curves_from_results(results, metric)
    if order:
        curves = {k: curves[k] for k in order if k in curves} | {k: v for k, v in curves.items() if k not in order}
    higher = METRICS[metric]
    if not curves:
        return Analysis(metric, higher, len(seeds), prices, Target(str(target)))
    resamples = seed_resamples(len(seeds), n_boot)
    fits = fit_learners(curves, metric, resamples)
    family = {name: families.get(name, "classic") for name in curves}
    baselines = {name for name, f in family.items() if f == "baseline"}
    signal = signal_test(curves, baselines, metric, resamples)
    ceil = data_ceiling(fits, curves, metric, len(seeds), exclude=tuple(baselines))
    goal = _target(target, ceil, curves, baselines, metric, signal)
    value = goal.value

    forecasts = {name: forecast_curve(curve, metric) if fits[name].fit is not None and name not in baselines else None
                 for name, curve in curves.items()}
    needed = {name: labels_needed(curve, fits[name], value, metric, resamples, forecasts[name])
              if value is not None else None for name, curve in curves.items()}
    costs = route_costs(results, needed, prices, kinds) if value is not None else {}
    learners = {}
    for name, curve in curves.items():
        lf = fits[name]
        learners[name] = LearnerAnswer(
            sizes=tuple(int(n) for n in curve.sizes), fit=lf.fit, asymptote=num(lf.asymptote) if lf.fit else None,
            asymptote_ci=pair(lf.asymptote_ci),
            rule_of_thumb=RULE_OF_THUMB.get(kinds.get(name, name)), labels_to_target=needed[name],
            cost=costs.get(name), family=family[name], kind=kinds.get(name),
            identified=bool(lf.fit is not None and lf.identified), rising=bool(lf.fit is not None and lf.rising),
            forecast=forecast_entries(forecasts[name], metric))
    # A learner without a column group is read against its full twin (analysis/sources.py), not
    # raced against the others: its crossovers and routes would only restate what the group is worth.
    variants = set(sources)
    ref = reference({n: c for n, c in curves.items() if family[n] == "classic" and n not in variants})
    advantage = []
    if ref and not signal.absent:  # what a learner is worth is moot where nothing beats the baseline
        for name, curve in curves.items():
            if name == ref or name in baselines or name in variants:
                continue
            advantage.append(worth(name, curve, ref, curves[ref], metric, fits[ref], resamples,
                                   llm=family[name] == "llm"))
    crossed = crossovers({n: c for n, c in curves.items() if n not in baselines and n not in variants}, resamples,
                         signal=not signal.absent)
    chosen = acquisition_answers(curves, twins, metric, value, resamples, signal=not signal.absent)
    labelled = label_route_answers(curves, fits, results, routes, metric, resamples, signal=not signal.absent)
    valued = source_answers(curves, fits, sources, metric, resamples, prices.label_cost, signal=not signal.absent)
    return Analysis(metric, higher, len(seeds), prices, goal, learners, ceil, tuple(crossed),
                    tuple(advantage), ref, cheapest({k: v for k, v in costs.items() if k not in variants}), signal,
                    chosen, labelled, valued)


def baseline_score(curves: dict[str, Curve], baselines: set[str], metric: str) -> tuple[float | None, str | None]:
    """The score a relative target is measured from (gain scale) and what gave it: chance where
    the metric has one that holds for any classes (0.5 roc_auc), else the best baseline learner's
    mean (the majority's accuracy, its log loss, ...); None without either."""
    if metric in CHANCE:
        return float(gain(np.array([CHANCE[metric]]), metric)[0]), "chance"
    source, by_size = baseline_values(curves, baselines, metric)
    if not by_size:
        return None, None
    with np.errstate(all="ignore"):
        means = [float(np.nanmean(v)) for v in by_size.values() if np.isfinite(v).any()]
    return (max(means), source) if means else (None, None)


def _target(target, ceil: Ceiling | None, curves: dict[str, Curve], baselines: set[str], metric: str,
            signal: Signal) -> Target:
    """The target's value. A share ('95%') is of the way from the baseline's score to the
    ceiling: 95% of the ceiling itself would sit at or below chance on data with little signal
    (0.95 x 0.52 roc_auc is 0.494), a score any coin reaches. None when there is no signal."""
    check_score_target(target, metric)
    kind, amount = parse_target(target)
    higher = METRICS[metric]
    base, base_from = baseline_score(curves, baselines, metric)
    if kind != "relative":
        value = None if signal.absent else amount
        return Target(str(target), kind, num(value), None, num(_own_scale(base, higher)), base_from)
    if ceil is None or signal.absent:
        return Target(str(target), kind, None, "ceiling", num(_own_scale(base, higher)), base_from)
    top = ceil.value if ceil.value is not None else ceil.best_measured
    if top is None:
        return Target(str(target), kind, None, "ceiling", num(_own_scale(base, higher)), base_from)
    top_gain = top if higher else -top
    if base is None:  # nothing to measure from: a share of the ceiling itself
        value = top * amount if higher else top / amount
    else:
        value = _own_scale(base + amount * (top_gain - base), higher)
    return Target(str(target), kind, num(value), "ceiling", num(_own_scale(base, higher)), base_from)


def _own_scale(value: float | None, higher: bool) -> float | None:
    return None if value is None else (value if higher else -value)
