"""The analysis in plain sentences and small tables (shared by summary.md and the HTML report)."""

from __future__ import annotations

import math

from dataeff.analysis.efficiency import EXTRAPOLATION_LIMIT


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
    """'[380, 500]'; in summary.json an unbounded upper end (some resamples never reach the
    target) is null, shown as ∞."""
    low, high = (ci or [None, None])[:2]
    if low is None or (isinstance(low, float) and math.isnan(low)):
        return ""
    if high is None or (isinstance(high, float) and not math.isfinite(high)):
        return f"[{fmt(low)}, ∞]"
    return f"[{fmt(low)}, {fmt(high)}]"


def score(value, digits: int = 3) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def money(value) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"${value:,.0f}" if value >= 100 else f"${value:,.2f}"


def needed_text(entry: dict) -> str:
    """'about 450 [380, 500]' or 'at most 8' or 'about 6,200 (extrapolated)' or 'not reached'."""
    need = entry.get("labels_to_target") or {}
    how, n = need.get("how"), need.get("n")
    if how == "extrapolated" and (n is None or not math.isfinite(n)):  # inf (null in summary.json)
        return f"more than {EXTRAPOLATION_LIMIT}× the largest size measured (its fitted curve rises too slowly)"
    if how is None or how == "unreachable" or n is None:
        return "does not get there"
    ci = interval(need.get("ci"))
    if n == 0:
        return "no labels (it gets there with none)"
    if how == "at_most":
        return f"at most {labels(n)} (reached at the smallest size measured)"
    suffix = " (extrapolated from the fitted curve)" if how == "extrapolated" else ""
    return f"about {labels(n)} {ci}{suffix}".replace("  ", " ").strip()


def _needed_cell(need: dict) -> str:
    """Labels to target in the table: '190 [107, 733]', '> 100× largest size', 'not reached'."""
    n = need.get("n")
    if n is not None and math.isfinite(n):
        return f"{labels(n)} {interval(need.get('ci'))}".strip()
    if need.get("how") == "extrapolated":
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


def sentences(analysis: dict, facts: dict) -> list[str]:
    """The answers, most important first."""
    out: list[str] = []
    metric = analysis.get("metric", "score")
    dataset = facts.get("dataset", "this data")
    ceil = analysis.get("ceiling") or {}
    learners = analysis.get("learners", {})
    if ceil.get("value") is not None and ceil.get("from") == "measured":
        out.append(
            f"On {dataset}, the best measured {metric} is {score(ceil['value'])} {interval(ceil['ci'], score)} "
            f"({ceil['learner']} at n = {size(ceil['best_measured_n'])}); no fitted curve levels off above it, "
            "so take it as the data's ceiling so far (a lower bound)."
        )
    elif ceil.get("value") is not None:
        gap = ceil.get("gap") or 0.0
        half = ((ceil["ci"][1] or 0) - (ceil["ci"][0] or 0)) / 2 if None not in ceil.get("ci", [None]) else 0
        where = ("at the ceiling, within noise" if gap <= max(half, 0.005)
                 else f"{score(gap)} below it")
        out.append(
            f"On {dataset}, the data's ceiling for {metric} is about {score(ceil['value'])} "
            f"{interval(ceil['ci'], score)} (the fitted asymptote of {ceil['learner']}); the best measured "
            f"point, {ceil['best_measured_learner']} at n = {size(ceil['best_measured_n'])}, is {where}."
        )
    elif ceil:
        out.append(
            f"On {dataset}, no learner has levelled off by the largest size, so the ceiling for {metric} "
            f"is at least {score(ceil.get('best_measured'))} (best measured, {ceil.get('best_measured_learner')})."
        )
    known = facts.get("known_ceiling") or {}
    truth = known.get(f"bayes_{metric}")
    if truth is not None:
        estimate = ceil.get("value")
        versus = f"; the estimate is off by {score(abs(estimate - truth))}" if estimate is not None else ""
        out.append(f"This data is synthetic: its true (Bayes-optimal) {metric} is {score(truth)}{versus}. "
                   "No learner can beat it except by luck of the test rows.")
    rising = ceil.get("still_rising") or []
    if rising:
        out.append(f"Still rising at the largest size: {', '.join(rising)}; more labels may lift "
                   f"{'it' if len(rising) == 1 else 'them'} further.")
    target = analysis.get("target") or {}
    if target.get("value") is not None:
        spec = target.get("spec", "")
        which = f"{spec} of the ceiling, " if target.get("kind") == "relative" else ""
        reach = [f"{name} needs {needed_text(entry)}" for name, entry in learners.items()
                 if (entry.get("labels_to_target") or {}).get("how") not in (None, "unreachable")]
        miss = [f"{name} ({score(entry.get('asymptote'))})" for name, entry in learners.items()
                if (entry.get("labels_to_target") or {}).get("how") == "unreachable" and name != "majority"]
        text = f"To reach {metric} {score(target['value'])} ({which}the target): "
        text += "; ".join(reach) if reach else "no learner gets there in the sizes measured"
        if miss:
            text += f". Levelling off below it: {', '.join(miss)}"
        out.append(text + ".")
    # Settled crossovers only (the last one of a pair, winner significantly ahead at the
    # largest size); those involving an LLM or the best classic learner first, at most four.
    settled = [c for c in analysis.get("crossovers", [])
               if c.get("final") and (c.get("lead_ci") or [None])[0] is not None and c["lead_ci"][0] > 0]
    from dataeff.analysis.summary import is_llm

    key_learners = {analysis.get("reference")} | {n for n in learners if is_llm(n)}
    settled.sort(key=lambda c: (not ({c["winner"], c["loser"]} & key_learners), c["n"]))
    for cross in settled[:4]:
        out.append(f"{cross['winner']} overtakes {cross['loser']} at n ≈ {labels(cross['n'])} "
                   f"{interval(cross['ci'])} and stays ahead (+{score(cross['lead_at_largest'])} "
                   f"at n = {size(cross['largest_shared'])}).")
    worth = analysis.get("prompt_worth") or []
    for w in worth:
        match = w["labels_to_match"]
        if match.get("n") is not None:
            out.append(f"{w['learner']} is worth about {labels(match['n'])} labels {interval(match['ci'])} "
                       f"of {w['reference']}: that is what {w['reference']} needs to match its score at "
                       f"n = {w['first_size']}.")
        else:
            out.append(f"{w['learner']} at n = {w['first_size']} beats what {w['reference']} reaches "
                       "in the sizes measured.")
    if not worth and analysis.get("reference"):
        out.append("What a prompt is worth: no LLM learner in this run. Below, the same measure compares "
                   f"each learner with the best classic one, {analysis['reference']}.")
    cheapest = analysis.get("cheapest")
    if cheapest:
        cost = learners[cheapest["learner"]]["cost"]
        prices = analysis.get("prices", {})
        text = (f"Cheapest route to the target: {cheapest['learner']}, about {money(cheapest['total_first_month'])} "
                f"in the first month ({labels(cost['n_labels'])} labels at {money(prices.get('label_cost'))}, "
                f"compute {money(cost['training'])}, {prices.get('predictions', 0):,.0f} predictions "
                f"{money(cost['serving_per_month'])})")
        if cheapest.get("runner_up"):
            ratio = cheapest.get("ratio")
            if ratio and math.isfinite(ratio):
                # "1.0× cheaper" says nothing: within 5% the two routes cost the same.
                times = f"{ratio:.1f}× cheaper than" if ratio >= 1.05 else "about as cheap as"
            else:
                times = "cheaper than"
            text += (f", {times} {cheapest['runner_up']} "
                     f"({money(cheapest['total_first_month'] + cheapest['saving'])})")
        out.append(text + ".")
    return out


def target_rows(analysis: dict) -> list[list[str]]:
    """Rows: learner, asymptote [CI], labels to target [CI], how, rule of thumb."""
    rows = []
    for name, entry in analysis.get("learners", {}).items():
        need = entry.get("labels_to_target") or {}
        rule = entry.get("rule_of_thumb")
        fit = entry.get("fit") or {}
        asym = f"{score(entry.get('asymptote'))} {interval(entry.get('asymptote_ci'), score)}".strip()
        rows.append([
            name,
            asym + (f" ({fit['family']})" if fit else ""),
            _needed_cell(need),
            need.get("how", ""),
            f"{rule[0]:,}–{rule[1]:,}" if rule else "—",
        ])
    return rows


def crossover_rows(analysis: dict) -> list[list[str]]:
    """The last crossing of each pair (earlier ones counted): winner, loser, n [CI], earlier
    sign changes, share of resamples with it, lead at the largest size [CI], significant."""
    crossings = analysis.get("crossovers", [])
    rows = []
    for c in crossings:
        if not c["final"]:
            continue
        earlier = sum(1 for o in crossings if not o["final"] and {o["winner"], o["loser"]} == {c["winner"], c["loser"]})
        low = (c.get("lead_ci") or [None])[0]
        rows.append([c["winner"], c["loser"], f"{labels(c['n'])} {interval(c['ci'])}", str(earlier),
                     f"{c['support']:.0%}", f"{score(c['lead_at_largest'])} {interval(c['lead_ci'], score)}",
                     "yes" if low is not None and low > 0 else "no"])
    return rows


def advantage_rows(analysis: dict) -> list[list[str]]:
    rows = []
    for w in analysis.get("data_advantage", []):
        adv = w.get("advantage") or {}
        match = w["labels_to_match"]
        rows.append([
            w["learner"], w["reference"],
            (labels(match["n"]) + " " + interval(match["ci"])) if match.get("n") is not None else "beyond measured",
            f"{adv['labels']:+,.0f} {interval(adv['ci'], lambda v: f'{v:+,.0f}')}" if adv else "no shared window",
        ])
    return rows


def cost_rows(analysis: dict) -> list[list[str]]:
    rows = []
    for name, entry in analysis.get("learners", {}).items():
        cost = entry.get("cost")
        if not cost:
            continue
        rows.append([name, labels(cost["n_labels"]), money(cost["labels"]), money(cost["training"]),
                     money(cost["serving_per_month"]), money(cost["total_first_month"])])
    return sorted(rows, key=lambda r: float(r[-1].strip("$").replace(",", "")) if r[-1] != "n/a" else math.inf)
