"""Assemble the answers for one run: ceiling, labels to target, crossovers, data advantage, cost."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dataeff.analysis.curves import (N_FIT_BOOTSTRAP, Curve, curves_from_results, fit_learners, gain,
                                     percentile_ci, seed_resamples)
from dataeff.analysis.curves import ceiling as data_ceiling
from dataeff.analysis.efficiency import (RULE_OF_THUMB, Prices, crossings, data_advantage, interpolate_log,
                                         labels_to_target, route_cost)
from dataeff.config import parse_target
from dataeff.experiment.metrics import METRICS

DEFAULT_TARGET = "95%"
BASELINES = ("majority",)


def is_llm(name: str) -> bool:
    return name.startswith("llm")


def analyze(results: pd.DataFrame, metric: str, target=DEFAULT_TARGET, prices: Prices | None = None,
            n_boot: int = N_FIT_BOOTSTRAP, order: list[str] | None = None) -> dict:
    """Every answer for the headline ``metric``, JSON-ready, each with a 95% CI and a flag
    ('measured', 'at_most', 'extrapolated', 'unreachable') saying where it comes from."""
    prices = prices or Prices()
    kind, amount = parse_target(target)
    curves, seeds = curves_from_results(results, metric)
    if order:
        curves = {k: curves[k] for k in order if k in curves} | {k: v for k, v in curves.items() if k not in order}
    higher = METRICS[metric]
    out: dict = {"metric": metric, "higher_is_better": higher, "n_seeds": len(seeds),
                 "prices": prices.__dict__.copy(), "learners": {}, "crossovers": [], "data_advantage": [],
                 "prompt_worth": []}
    if not curves:
        out["target"] = {"spec": str(target), "value": None}
        return out
    resamples = seed_resamples(len(seeds), n_boot)
    fits = fit_learners(curves, metric, resamples)
    ceil = data_ceiling(fits, curves, metric, len(seeds), resamples, exclude=BASELINES)
    out["ceiling"] = ceil
    if kind == "relative":
        base = ceil.get("value")
        if base is None:
            base = ceil.get("best_measured")
        value = None if base is None else (base * amount if higher else base / amount)
    else:
        value = amount
    out["target"] = {"spec": str(target), "kind": kind, "value": value,
                     "relative_to": "ceiling" if kind == "relative" else None}

    for name, curve in curves.items():
        lf = fits[name]
        entry = {
            "sizes": [int(n) for n in curve.sizes],
            "fit": lf.fit.to_dict() if lf.fit else None,
            "asymptote": lf.asymptote if lf.fit else None,
            "asymptote_ci": list(lf.asymptote_ci),
            "rule_of_thumb": list(RULE_OF_THUMB[name]) if name in RULE_OF_THUMB else None,
        }
        if value is not None:
            entry["labels_to_target"] = _labels_with_ci(curve, lf, value, metric, resamples)
        out["learners"][name] = entry

    out["crossovers"] = _crossovers(curves, resamples)
    reference = _reference(curves, fits)
    out["reference"] = reference
    if reference:
        for name, curve in curves.items():
            if name == reference or name in BASELINES:
                continue
            worth = _worth(curve, curves[reference], metric, fits[reference], resamples)
            worth.update(learner=name, reference=reference, llm=is_llm(name))
            out["data_advantage"].append(worth)
        out["prompt_worth"] = [w for w in out["data_advantage"] if w["llm"]]
    if value is not None:
        _costs(out, results, curves, prices)
    return out


def _labels_with_ci(curve: Curve, lf, value: float, metric: str, resamples: np.ndarray) -> dict:
    goal = gain(np.array([value]), metric)[0]
    smooth = lf.faithful
    point = labels_to_target(curve.sizes, gain(curve.means, metric), goal, lf.fit, inside_from_fit=smooth)
    boot = []
    if lf.boot_fits:
        for means, fit in zip(curve.resampled_means(resamples), lf.boot_fits):
            boot.append(labels_to_target(curve.sizes, gain(means, metric), goal, fit,
                                         inside_from_fit=smooth and fit is not None).value)
    low, high = percentile_ci(np.array(boot), curve.values.shape[1])
    return {"n": None if point.how == "unreachable" else point.n, "how": point.how,
            "method": "fit" if smooth and point.how != "unreachable" else "interpolation",
            "ci": [low, high], "max_measured": int(curve.sizes.max())}


def _paired(a: Curve, b: Curve) -> tuple[np.ndarray, np.ndarray]:
    """Shared sizes and the per-seed differences A - B there (the paired comparison)."""
    shared = np.intersect1d(a.sizes, b.sizes)
    return shared, a.values[np.searchsorted(a.sizes, shared)] - b.values[np.searchsorted(b.sizes, shared)]


def _crossovers(curves: dict[str, Curve], resamples: np.ndarray) -> list[dict]:
    names = [n for n in curves if n not in BASELINES]
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
                out.append({
                    "winner": winner, "loser": loser, "n": crossing.n, "ci": [low, high],
                    "support": len(matches) / len(boot_diffs),
                    "final": k == len(found) - 1,
                    # the paired difference winner - loser at the largest shared size, with CI
                    "lead_at_largest": float(mean_diff[-1] * crossing.direction),
                    "lead_ci": sorted([lead_low * crossing.direction, lead_high * crossing.direction]),
                    "largest_shared": int(sizes[-1]),
                })
    return out


def _reference(curves: dict[str, Curve], fits) -> str | None:
    """The best classic learner: highest mean at its largest size (LLMs and baselines excluded)."""
    classic = {n: c for n, c in curves.items() if not is_llm(n) and n not in BASELINES}
    if not classic:
        return None
    return max(classic, key=lambda n: classic[n].means[np.isfinite(classic[n].means)][-1]
               if np.isfinite(classic[n].means).any() else -np.inf)


def _worth(curve: Curve, ref: Curve, metric: str, ref_fit, resamples: np.ndarray) -> dict:
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
    return {
        "first_size": int(curve.sizes[0]),
        "labels_to_match": {"n": None if point.how == "unreachable" else point.n, "how": point.how,
                            "ci": list(percentile_ci(np.array(boot_match), n_seeds))},
        "advantage": None if advantage is None else {
            "labels": advantage["labels"], "ci": list(percentile_ci(np.array(boot_adv), n_seeds)),
            "window": [float(gain(np.array(w), metric)) for w in advantage["window"]],
        },
    }


def _costs(out: dict, results: pd.DataFrame, curves: dict[str, Curve], prices: Prices) -> None:
    ok = results[results["status"] == "ok"]
    routes = {}
    for name in curves:
        needed = out["learners"][name].get("labels_to_target", {})
        if needed.get("n") is None or not np.isfinite(needed["n"]):  # never, or past what a fit can tell
            out["learners"][name]["cost"] = None
            continue
        n = float(needed["n"])
        rows = ok[ok["learner"] == name]
        per_size = rows.groupby("n_train").agg(fit=("fit_seconds", "mean"), predict=("predict_seconds", "mean"),
                                               tokens=("tokens", "mean"), n_test=("n_test", "mean"))
        sizes = per_size.index.to_numpy(float)
        nearest = per_size.iloc[int(np.argmin(np.abs(sizes - n)))]
        cost = route_cost(
            n_labels=n,
            fit_seconds=interpolate_log(sizes, per_size["fit"].to_numpy(float), n) if n > 0 else 0.0,
            predict_seconds_per_row=float(nearest["predict"] / nearest["n_test"]),
            tokens_per_row=float(np.nan_to_num(nearest["tokens"]) / nearest["n_test"]),
            train_tokens=0.0, prices=prices,
        )
        cost["n_labels"] = n
        cost["how"] = needed["how"]
        out["learners"][name]["cost"] = cost
        routes[name] = cost["total_first_month"]
    if routes:
        ranked = sorted(routes, key=routes.get)
        cheapest = {"learner": ranked[0], "total_first_month": routes[ranked[0]]}
        if len(ranked) > 1:
            cheapest.update(runner_up=ranked[1], saving=routes[ranked[1]] - routes[ranked[0]],
                            ratio=routes[ranked[1]] / routes[ranked[0]] if routes[ranked[0]] > 0 else None)
        out["cheapest"] = cheapest
