"""Assemble the answers for one run: ceiling, labels to target, crossovers, data advantage, cost."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dataeff.analysis.ceiling import ceiling as data_ceiling
from dataeff.analysis.costs import cheapest, route_costs
from dataeff.analysis.curves import N_FIT_BOOTSTRAP, Curve, curves_from_results, gain, percentile_ci, seed_resamples
from dataeff.analysis.efficiency import RULE_OF_THUMB, Prices, crossings, data_advantage, labels_to_target
from dataeff.analysis.fits import LearnerFit, fit_learners
from dataeff.analysis.types import (Advantage, Analysis, Crossover, LabelsNeeded, LabelsSaved, LabelsToMatch,
                                    LearnerAnswer, Target, num, pair)
from dataeff.config import parse_target
from dataeff.experiment.metrics import METRICS

DEFAULT_TARGET = "95%"


def analyze(results: pd.DataFrame, metric: str, target=DEFAULT_TARGET, prices: Prices | None = None,
            n_boot: int = N_FIT_BOOTSTRAP, order: list[str] | None = None, families: dict[str, str] | None = None,
            kinds: dict[str, str] | None = None) -> Analysis:
    """Every answer for the headline ``metric``, each with a 95% CI and a flag ('measured',
    'at_most', 'extrapolated', 'unreachable') saying where it comes from.

    ``families`` (learner -> baseline, classic or llm; classic when not given) decides who is
    a baseline (no ceiling, crossovers or advantage of its own) and who may be the reference
    (the best classic learner); ``kinds`` (variant -> kind) which rule of thumb a learner meets.
    """
    prices = prices or Prices()
    families, kinds = families or {}, kinds or {}
    kind, amount = parse_target(target)
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
    ceil = data_ceiling(fits, curves, metric, len(seeds), resamples, exclude=tuple(baselines))
    if kind == "relative":
        base = None if ceil is None else (ceil.value if ceil.value is not None else ceil.best_measured)
        value = None if base is None else (base * amount if higher else base / amount)
    else:
        value = amount
    goal = Target(str(target), kind, num(value), "ceiling" if kind == "relative" else None)

    needed = {name: _labels_with_ci(curve, fits[name], value, metric, resamples) if value is not None else None
              for name, curve in curves.items()}
    costs = route_costs(results, needed, prices) if value is not None else {}
    learners = {}
    for name, curve in curves.items():
        lf = fits[name]
        learners[name] = LearnerAnswer(
            sizes=tuple(int(n) for n in curve.sizes), fit=lf.fit, asymptote=num(lf.asymptote) if lf.fit else None,
            asymptote_ci=pair(lf.asymptote_ci),
            rule_of_thumb=RULE_OF_THUMB.get(kinds.get(name, name)), labels_to_target=needed[name],
            cost=costs.get(name), family=family[name], kind=kinds.get(name))
    reference = _reference({n: c for n, c in curves.items() if family[n] == "classic"})
    advantage = []
    if reference:
        for name, curve in curves.items():
            if name == reference or name in baselines:
                continue
            advantage.append(_worth(name, curve, reference, curves[reference], metric, fits[reference], resamples,
                                    llm=family[name] == "llm"))
    crossovers = _crossovers({n: c for n, c in curves.items() if n not in baselines}, resamples)
    return Analysis(metric, higher, len(seeds), prices, goal, learners, ceil, tuple(crossovers),
                    tuple(advantage), reference, cheapest(costs))


def _labels_with_ci(curve: Curve, lf: LearnerFit, value: float, metric: str, resamples: np.ndarray) -> LabelsNeeded:
    goal = gain(np.array([value]), metric)[0]
    smooth = lf.faithful
    point = labels_to_target(curve.sizes, gain(curve.means, metric), goal, lf.fit, inside_from_fit=smooth)
    boot = []
    if lf.boot_fits:
        for means, fit in zip(curve.resampled_means(resamples), lf.boot_fits):
            boot.append(labels_to_target(curve.sizes, gain(means, metric), goal, fit,
                                         inside_from_fit=smooth and fit is not None).value)
    low, high = percentile_ci(np.array(boot), curve.values.shape[1])
    return LabelsNeeded(None if point.how == "unreachable" else num(point.n), point.how,
                        "fit" if smooth and point.how != "unreachable" else "interpolation", pair((low, high)),
                        int(curve.sizes.max()))


def _paired(a: Curve, b: Curve) -> tuple[np.ndarray, np.ndarray]:
    """Shared sizes and the per-seed differences A - B there (the paired comparison)."""
    shared = np.intersect1d(a.sizes, b.sizes)
    return shared, a.values[np.searchsorted(a.sizes, shared)] - b.values[np.searchsorted(b.sizes, shared)]


def _crossovers(curves: dict[str, Curve], resamples: np.ndarray) -> list[Crossover]:
    names = list(curves)
    out = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            sizes, diffs = _paired(curves[a], curves[b])
            if len(sizes) < 2:
                continue
            with np.errstate(all="ignore"):
                mean_diff = np.nanmean(diffs, axis=1)
                boot_diffs = np.nanmean(diffs[:, resamples], axis=2).T  # boot x sizes
            found = crossings(sizes, mean_diff)
            n_seeds = diffs.shape[1]
            last = boot_diffs[:, -1]
            lead_low, lead_high = percentile_ci(last, n_seeds)
            for k, crossing in enumerate(found):
                matches = []
                for row in boot_diffs:
                    same = [c.n for c in crossings(sizes, row) if c.direction == crossing.direction]
                    if same:
                        matches.append(min(same, key=lambda n: abs(np.log(max(n, 1)) - np.log(max(crossing.n, 1)))))
                low, high = percentile_ci(np.array(matches), n_seeds)
                winner, loser = (a, b) if crossing.direction > 0 else (b, a)
                out.append(Crossover(
                    winner, loser, num(crossing.n), pair((low, high)), len(matches) / len(boot_diffs),
                    final=k == len(found) - 1,
                    # the paired difference winner - loser at the largest shared size, with CI
                    lead_at_largest=num(mean_diff[-1] * crossing.direction),
                    lead_ci=pair(sorted([lead_low * crossing.direction, lead_high * crossing.direction])),
                    largest_shared=int(sizes[-1]),
                ))
    return out


def _reference(classic: dict[str, Curve]) -> str | None:
    """The best of the classic learners given: highest mean at its largest size."""
    if not classic:
        return None
    return max(classic, key=lambda n: classic[n].means[np.isfinite(classic[n].means)][-1]
               if np.isfinite(classic[n].means).any() else -np.inf)


def _worth(name: str, curve: Curve, reference: str, ref: Curve, metric: str, ref_fit: LearnerFit,
           resamples: np.ndarray, llm: bool) -> Advantage:
    """What ``curve`` is worth in ``ref``'s labels: labels ``ref`` needs to match its first
    point (for a zero-shot LLM, its n = 0 score), and the average horizontal gap between
    the curves over their shared score window (Le Scao & Rush 2021)."""
    first = gain(curve.means, metric)
    first_score = float(first[np.isfinite(first)][0]) if np.isfinite(first).any() else np.nan
    point = labels_to_target(ref.sizes, gain(ref.means, metric), first_score, ref_fit.fit)
    advantage = data_advantage(curve.sizes, first, ref.sizes, gain(ref.means, metric))
    n_seeds = curve.values.shape[1]
    boot_match, boot_adv = [], []
    own = curve.resampled_means(resamples)
    theirs = ref.resampled_means(resamples)
    for b in range(min(100, len(resamples))):  # the advantage integrates a grid: fewer resamples
        mine, other = gain(own[b], metric), gain(theirs[b], metric)
        if not np.isfinite(mine).any():
            continue
        fit = ref_fit.boot_fits[b] if ref_fit.boot_fits else None
        boot_match.append(labels_to_target(ref.sizes, other, float(mine[np.isfinite(mine)][0]), fit).value)
        adv = data_advantage(curve.sizes, mine, ref.sizes, other)
        boot_adv.append(adv["labels"] if adv else np.nan)
    return Advantage(
        learner=name, reference=reference, llm=llm, first_size=int(curve.sizes[0]),
        labels_to_match=LabelsToMatch(None if point.how == "unreachable" else num(point.n), point.how,
                                      pair(percentile_ci(np.array(boot_match), n_seeds))),
        advantage=None if advantage is None else LabelsSaved(
            num(advantage["labels"]), pair(percentile_ci(np.array(boot_adv), n_seeds)),
            pair([float(gain(np.array(w), metric)) for w in advantage["window"]])),
    )
