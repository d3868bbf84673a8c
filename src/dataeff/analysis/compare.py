"""Learners against each other: labels to a score with its CI, crossovers (paired over seeds),
and what one learner is worth in another's labels at each of its sizes."""

from __future__ import annotations

import numpy as np

from dataeff.analysis.curves import Curve, gain, percentile_ci
from dataeff.analysis.efficiency import Needed, crossings, data_advantage, labels_to_target
from dataeff.analysis.fits import LearnerFit
from dataeff.analysis.forecast import CurveForecast
from dataeff.analysis.types import (Advantage, Crossover, LabelsNeeded, LabelsSaved, LabelsToMatch, SizeWorth, num,
                                    pair)

#: Resamples used where every one integrates a grid or solves per size (worth, advantage).
N_WORTH_RESAMPLES = 100


def labels_for(curve: Curve, lf: LearnerFit, goal: float, metric: str,
               resamples: np.ndarray) -> tuple[Needed, tuple[float, float]]:
    """Labels ``curve`` needs to reach ``goal`` (gain scale) and its CI over the seed resamples:
    the one definition (``labels_to_target``) every answer uses."""
    smooth = lf.faithful
    point = labels_to_target(curve.sizes, gain(curve.means, metric), goal, lf.fit, inside_from_fit=smooth)
    boot = []
    if lf.boot_fits:
        means = curve.resampled_means(resamples)
        for b in range(min(len(resamples), len(lf.boot_fits))):
            fit = lf.boot_fits[b]
            boot.append(labels_to_target(curve.sizes, gain(means[b], metric), goal, fit,
                                         inside_from_fit=smooth and fit is not None).value)
    return point, percentile_ci(np.array(boot), curve.values.shape[1])


def labels_needed(curve: Curve, lf: LearnerFit, value: float, metric: str, resamples: np.ndarray,
                  forecast: CurveForecast | None = None) -> LabelsNeeded:
    """Labels to the target ``value`` (the metric's own scale), typed for the answers: read off
    the measured curve where it gets there, else from its ``forecast`` (with its predictive
    interval) where there is one."""
    goal = float(gain(np.array([value]), metric)[0])
    point, ci = labels_for(curve, lf, goal, metric, resamples)
    if forecast is not None and point.how in ("extrapolated", "unreachable"):
        n, low, high, how = forecast.labels_to(goal)
        if how == "forecast":
            return LabelsNeeded(num(n), "extrapolated", "forecast", pair((low, high)), int(curve.sizes.max()))
        if how == "not_reached":
            return LabelsNeeded(None, "unreachable", "forecast", (None, None), int(curve.sizes.max()))
    return LabelsNeeded(None if point.how == "unreachable" else num(point.n), point.how,
                        "fit" if lf.faithful and point.how != "unreachable" else "interpolation", pair(ci),
                        int(curve.sizes.max()))


def _paired(a: Curve, b: Curve) -> tuple[np.ndarray, np.ndarray]:
    """Shared sizes and the per-seed differences A - B there (the paired comparison)."""
    shared = np.intersect1d(a.sizes, b.sizes)
    return shared, a.values[np.searchsorted(a.sizes, shared)] - b.values[np.searchsorted(b.sizes, shared)]


def crossovers(curves: dict[str, Curve], resamples: np.ndarray, signal: bool = True) -> list[Crossover]:
    """Every sign change of each pair's paired difference, with its CI and support; the last one
    of a pair is ``significant`` when the winner's lead at the largest shared size is above zero
    beyond noise and the data carry a signal at all (``signal``)."""
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
                lead_ci = pair(sorted([lead_low * crossing.direction, lead_high * crossing.direction]))
                final = k == len(found) - 1
                out.append(Crossover(
                    winner, loser, num(crossing.n), pair((low, high)), len(matches) / len(boot_diffs),
                    final=final,
                    # the paired difference winner - loser at the largest shared size, with CI
                    lead_at_largest=num(mean_diff[-1] * crossing.direction),
                    lead_ci=lead_ci,
                    largest_shared=int(sizes[-1]),
                    significant=bool(signal and final and lead_ci[0] is not None and lead_ci[0] > 0),
                ))
    return out


def reference(classic: dict[str, Curve]) -> str | None:
    """The best of the classic learners given: highest mean at its largest size."""
    if not classic:
        return None
    return max(classic, key=lambda n: classic[n].means[np.isfinite(classic[n].means)][-1]
               if np.isfinite(classic[n].means).any() else -np.inf)


def _match(need: Needed, ci: tuple[float, float]) -> LabelsToMatch:
    return LabelsToMatch(None if need.how == "unreachable" else num(need.n), need.how, pair(ci))


def worth(name: str, curve: Curve, reference_name: str, ref: Curve, metric: str, ref_fit: LearnerFit,
          resamples: np.ndarray, llm: bool) -> Advantage:
    """What ``curve`` is worth in ``ref``'s labels, at each of its sizes: with n labels it scores
    what the reference reaches with ``labels_for`` labels (the same definition as labels to a
    target); and the average horizontal gap between the curves over their shared score
    window (Le Scao & Rush 2021)."""
    mine = gain(curve.means, metric)
    per_size = []
    boot_mine = gain(curve.resampled_means(resamples), metric)
    # Both curves vary under a resample: the learner's score and the reference's curve.
    theirs = gain(ref.resampled_means(resamples), metric)
    n_seeds = curve.values.shape[1]
    for i, n in enumerate(curve.sizes):
        if not np.isfinite(mine[i]):
            continue
        point = labels_to_target(ref.sizes, gain(ref.means, metric), float(mine[i]), ref_fit.fit,
                                 inside_from_fit=ref_fit.faithful)
        boot = []
        for b in range(min(N_WORTH_RESAMPLES, len(resamples))):
            fit = ref_fit.boot_fits[b] if ref_fit.boot_fits else None
            if np.isfinite(boot_mine[b, i]):
                boot.append(labels_to_target(ref.sizes, theirs[b], float(boot_mine[b, i]), fit,
                                             inside_from_fit=ref_fit.faithful and fit is not None).value)
        per_size.append(SizeWorth(int(n), num(curve.means[i]), _match(point, percentile_ci(np.array(boot), n_seeds))))
    advantage = data_advantage(curve.sizes, mine, ref.sizes, gain(ref.means, metric))
    boot_adv = []
    if advantage is not None:
        for b in range(min(N_WORTH_RESAMPLES, len(resamples))):
            if np.isfinite(boot_mine[b]).any():
                adv = data_advantage(curve.sizes, boot_mine[b], ref.sizes, theirs[b])
                boot_adv.append(adv["labels"] if adv else np.nan)
    first = per_size[0] if per_size else SizeWorth(int(curve.sizes[0]), None, LabelsToMatch(None, "unreachable",
                                                                                            (None, None)))
    return Advantage(
        learner=name, reference=reference_name, llm=llm, first_size=first.n, labels_to_match=first.match,
        advantage=None if advantage is None else LabelsSaved(
            num(advantage["labels"]), pair(percentile_ci(np.array(boot_adv), n_seeds)),
            pair([float(gain(np.array(w), metric)) for w in advantage["window"]])),
        per_size=tuple(per_size),
    )
