"""The analysis in plain sentences and small tables (shared by summary.md and the HTML report)."""

from __future__ import annotations

import math

from dataeff.analysis.efficiency import EXTRAPOLATION_LIMIT
from dataeff.analysis.types import Analysis, LabelsNeeded


def labels(n) -> str:
    """A label count for people: 87, 450, 3,200, 12,000 (two or three significant digits)."""
    if n is None or not math.isfinite(n):
        return "∞"
    if n < 100:
        return f"{n:.0f}"
    digits = 3 if n < 10_000 else 2
    rounded = round(n, -int(math.floor(math.log10(n))) + digits - 1)
    return f"{rounded:,.0f}"


def size(n) -> str:
    """A measured training size, exactly: 2,896."""
    return f"{int(n):,}"


def interval(ci, fmt=labels) -> str:
    """'[380, 500]'; an unbounded upper end (some resamples never reach the target) is None,
    shown as ∞; no interval (None at the low end) is ''."""
    low, high = ci
    if low is None:
        return ""
    if high is None:
        return f"[{fmt(low)}, ∞]"
    return f"[{fmt(low)}, {fmt(high)}]"


def score(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def money(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"${value:,.0f}" if value >= 100 else f"${value:,.2f}"


def needed_text(need: LabelsNeeded | None) -> str:
    """'about 450 [380, 500]' or 'at most 8' or 'about 6,200 (extrapolated)' or 'not reached'."""
    if need is not None and need.how == "extrapolated" and need.n is None:  # past the extrapolation limit
        return f"more than {EXTRAPOLATION_LIMIT}× the largest size measured (its fitted curve rises too slowly)"
    if need is None or not need.reached or need.n is None:
        return "does not get there"
    if need.n == 0:
        return "no labels (it gets there with none)"
    if need.how == "at_most":
        return f"at most {labels(need.n)} (reached at the smallest size measured)"
    suffix = " (extrapolated from the fitted curve)" if need.how == "extrapolated" else ""
    return f"about {labels(need.n)} {interval(need.ci)}{suffix}".replace("  ", " ").strip()


def _needed_cell(need: LabelsNeeded | None) -> str:
    """Labels to target in the table: '190 [107, 733]', '> 100× largest size', 'not reached'."""
    if need is not None and need.n is not None:
        return f"{labels(need.n)} {interval(need.ci)}".strip()
    if need is not None and need.how == "extrapolated":
        return f"> {EXTRAPOLATION_LIMIT}× largest size"
    return "not reached"


def llm_traffic(facts: dict) -> str | None:
    """Where row data went and what the LLM work cost in calls; None for a run without LLMs."""
    usage = facts.get("llm_usage")
    if not usage:
        return None
    text = (f"LLM: {usage.get('model_calls', 0):,} model calls, {usage.get('cached_answers', 0):,} answers "
            "from the cache.")
    endpoint = usage.get("endpoint")
    if endpoint:
        return (f"{text} Row data sent off this machine: {usage.get('endpoint_prompts', 0):,} prompts to "
                f"{endpoint}, in {usage.get('endpoint_requests', 0):,} HTTP requests "
                f"({usage.get('endpoint_retries', 0):,} retried, {usage.get('endpoint_failures', 0):,} failed "
                "for good).")
    return f"{text} No row data left this machine: the LLM ran locally."


def sentences(analysis: Analysis | None, facts: dict) -> list[str]:
    """The answers, most important first (none before an analysis)."""
    if analysis is None:
        return []
    out: list[str] = []
    metric = analysis.metric
    dataset = facts.get("dataset", "this data")
    ceil = analysis.ceiling
    learners = analysis.learners
    if ceil is not None and ceil.value is not None and ceil.source == "measured":
        out.append(
            f"On {dataset}, the best measured {metric} is {score(ceil.value)} {interval(ceil.ci, score)} "
            f"({ceil.learner} at n = {size(ceil.best_measured_n)}); no fitted curve levels off above it, "
            "so take it as the data's ceiling so far (a lower bound)."
        )
    elif ceil is not None and ceil.value is not None:
        gap = ceil.gap or 0.0
        half = ((ceil.ci[1] or 0) - (ceil.ci[0] or 0)) / 2 if None not in ceil.ci else 0
        where = ("at the ceiling, within noise" if gap <= max(half, 0.005)
                 else f"{score(gap)} below it")
        out.append(
            f"On {dataset}, the data's ceiling for {metric} is about {score(ceil.value)} "
            f"{interval(ceil.ci, score)} (the fitted asymptote of {ceil.learner}); the best measured "
            f"point, {ceil.best_measured_learner} at n = {size(ceil.best_measured_n)}, is {where}."
        )
    elif ceil is not None:
        out.append(
            f"On {dataset}, no learner has levelled off by the largest size, so the ceiling for {metric} "
            f"is at least {score(ceil.best_measured)} (best measured, {ceil.best_measured_learner})."
        )
    known = facts.get("known_ceiling") or {}
    truth = known.get(f"bayes_{metric}")
    if truth is not None:
        estimate = ceil.value if ceil is not None else None
        versus = f"; the estimate is off by {score(abs(estimate - truth))}" if estimate is not None else ""
        out.append(f"This data is synthetic: its true (Bayes-optimal) {metric} is {score(truth)}{versus}. "
                   "No learner can beat it except by luck of the test rows.")
    rising = ceil.still_rising if ceil is not None else ()
    if rising:
        out.append(f"Still rising at the largest size: {', '.join(rising)}; more labels may lift "
                   f"{'it' if len(rising) == 1 else 'them'} further.")
    target = analysis.target
    if target.value is not None:
        which = f"{target.spec} of the ceiling, " if target.kind == "relative" else ""
        reach = [f"{name} needs {needed_text(answer.labels_to_target)}" for name, answer in learners.items()
                 if answer.labels_to_target is not None and answer.labels_to_target.reached]
        miss = [f"{name} ({score(answer.asymptote)})" for name, answer in learners.items()
                if answer.labels_to_target is not None and not answer.labels_to_target.reached
                and answer.family != "baseline"]
        text = f"To reach {metric} {score(target.value)} ({which}the target): "
        text += "; ".join(reach) if reach else "no learner gets there in the sizes measured"
        if miss:
            text += f". Levelling off below it: {', '.join(miss)}"
        out.append(text + ".")
    # Settled crossovers only (the last one of a pair, winner significantly ahead at the
    # largest size); those involving an LLM or the best classic learner first, at most four.
    key_learners = {analysis.reference} | {n for n in learners if analysis.learners[n].family == "llm"}
    settled = sorted((c for c in analysis.crossovers if c.settled),
                     key=lambda c: (not ({c.winner, c.loser} & key_learners), c.n))
    for cross in settled[:4]:
        out.append(f"{cross.winner} overtakes {cross.loser} at n ≈ {labels(cross.n)} "
                   f"{interval(cross.ci)} and stays ahead (+{score(cross.lead_at_largest)} "
                   f"at n = {size(cross.largest_shared)}).")
    worth = analysis.prompt_worth
    for w in worth:
        match = w.labels_to_match
        if match.n is not None:
            out.append(f"{w.learner} is worth about {labels(match.n)} labels {interval(match.ci)} "
                       f"of {w.reference}: that is what {w.reference} needs to match its score at "
                       f"n = {w.first_size}.")
        else:
            out.append(f"{w.learner} at n = {w.first_size} beats what {w.reference} reaches "
                       "in the sizes measured.")
    if not worth and analysis.reference:
        out.append("What a prompt is worth: no LLM learner in this run. Below, the same measure compares "
                   f"each learner with the best classic one, {analysis.reference}.")
    cheapest = analysis.cheapest
    if cheapest:
        cost = learners[cheapest.learner].cost
        prices = analysis.prices
        text = (f"Cheapest route to the target: {cheapest.learner}, about {money(cheapest.total_first_month)} "
                f"in the first month ({labels(cost.n_labels)} labels at {money(prices.label_cost)}, "
                f"compute {money(cost.training)}, {prices.predictions:,.0f} predictions "
                f"{money(cost.serving_per_month)})")
        if cheapest.runner_up:
            ratio = cheapest.ratio
            if ratio and math.isfinite(ratio):
                # "1.0× cheaper" says nothing: within 5% the two routes cost the same.
                times = f"{ratio:.1f}× cheaper than" if ratio >= 1.05 else "about as cheap as"
            else:
                times = "cheaper than"
            text += f", {times} {cheapest.runner_up} ({money(cheapest.runner_up_total)})"
        out.append(text + ".")
    return out


def target_rows(analysis: Analysis) -> list[list[str]]:
    """Rows: learner, asymptote [CI], labels to target [CI], how, rule of thumb."""
    rows = []
    for name, answer in analysis.learners.items():
        need, rule = answer.labels_to_target, answer.rule_of_thumb
        asym = f"{score(answer.asymptote)} {interval(answer.asymptote_ci, score)}".strip()
        rows.append([
            name,
            asym + (f" ({answer.fit.family})" if answer.fit else ""),
            _needed_cell(need),
            need.how if need else "",
            f"{rule[0]:,}–{rule[1]:,}" if rule else "—",
        ])
    return rows


def crossover_rows(analysis: Analysis) -> list[list[str]]:
    """The last crossing of each pair (earlier ones counted): winner, loser, n [CI], earlier
    sign changes, share of resamples with it, lead at the largest size [CI], significant."""
    rows = []
    for c in analysis.crossovers:
        if not c.final:
            continue
        earlier = sum(1 for o in analysis.crossovers if not o.final and {o.winner, o.loser} == {c.winner, c.loser})
        low = c.lead_ci[0]
        rows.append([c.winner, c.loser, f"{labels(c.n)} {interval(c.ci)}", str(earlier),
                     f"{c.support:.0%}", f"{score(c.lead_at_largest)} {interval(c.lead_ci, score)}",
                     "yes" if low is not None and low > 0 else "no"])
    return rows


def _signed_labels(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+,.0f}"


def advantage_rows(analysis: Analysis) -> list[list[str]]:
    rows = []
    for w in analysis.data_advantage:
        adv, match = w.advantage, w.labels_to_match
        rows.append([
            w.learner, w.reference,
            (labels(match.n) + " " + interval(match.ci)) if match.n is not None else "beyond measured",
            f"{_signed_labels(adv.labels)} {interval(adv.ci, _signed_labels)}" if adv else "no shared window",
        ])
    return rows


def cost_rows(analysis: Analysis) -> list[list[str]]:
    """The routes to the target, cheapest first: learner, labels, labelling, compute, serving, total."""
    routes = [(name, answer.cost) for name, answer in analysis.learners.items() if answer.cost is not None]
    routes.sort(key=lambda route: math.inf if route[1].total_first_month is None else route[1].total_first_month)
    return [[name, labels(cost.n_labels), money(cost.labels), money(cost.training), money(cost.serving_per_month),
             money(cost.total_first_month)] for name, cost in routes]
