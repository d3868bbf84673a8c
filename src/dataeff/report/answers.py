"""The analysis in plain sentences and small tables (shared by summary.md and the HTML report).

Why this module is long: every answer is worded here and only here (the signal, the ceiling,
targets, forecasts, crossovers, worth, choosing rows, LLM labels, data sources, costs) with the number formats they
share, so the report, summary.md and the notebook view say the same thing the same way."""

from __future__ import annotations

import math

from dataeff.analysis.efficiency import EXTRAPOLATION_LIMIT
from dataeff.analysis.forecast import MULTIPLES
from dataeff.analysis.types import Analysis, LabelsNeeded, SourceAnswer
from dataeff.experiment.facts import RunFacts
from dataeff.experiment.plan import MIN_TEST_ROWS_PER_CLASS
from dataeff.terms import setting_name


#: How far past the largest size a forecast answers.
FORECAST_REACH = MULTIPLES[-1]


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
    if need is not None and need.method == "forecast":
        return _forecast_needed(need)
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


def _forecast_needed(need: LabelsNeeded) -> str:
    """Labels to the target beyond the sizes measured, from the forecast: 'about 1,100 [500,
    4,000] (forecast past the 256 measured)'; past its reach, what its band still allows."""
    reach = size(FORECAST_REACH * need.max_measured)
    if not need.reached:
        return f"not within {reach} by its forecast, even at the upper end of its band"
    low, high = need.ci
    upper = f"more than {reach}" if high is None else labels(high)
    band = f"[{labels(low)}, {upper}]" if low is not None else ""
    if need.n is None:
        return f"more than {reach} by its forecast (from {labels(low)} at the upper end of its band)"
    return f"about {labels(need.n)} {band} (forecast past the {size(need.max_measured)} measured)"


def forecast_sentences(analysis: Analysis) -> list[str]:
    """What more labels buy, in one sentence: each learner's forecast at 2x and 16x its largest
    size measured."""
    parts = []
    for name, answer in analysis.learners.items():
        entries = [e for e in answer.forecast if e.score is not None]
        if answer.family == "baseline" or len(entries) < 2:
            continue
        first, last = entries[0], entries[-1]
        parts.append(f"{name} {score(first.score)} {interval(first.ci, score)} at {size(first.n)}, "
                     f"{score(last.score)} {interval(last.ci, score)} at {size(last.n)}")
    if not parts:
        return []
    return ["What more labels would buy (forecast past the sizes measured, 95% predictive band): "
            + "; ".join(parts) + "."]


def _needed_cell(need: LabelsNeeded | None) -> str:
    """Labels to target in the table: '190 [107, 733]', '> 100× largest size', 'not reached'."""
    if need is not None and need.method == "forecast":
        if not need.reached:
            return f"not within {FORECAST_REACH:g}× largest size"
        if need.n is None:
            return f"> {FORECAST_REACH:g}× largest size (from {labels(need.ci[0])})"
        upper = f"> {size(FORECAST_REACH * need.max_measured)}" if need.ci[1] is None else labels(need.ci[1])
        return f"{labels(need.n)} [{labels(need.ci[0])}, {upper}]"
    if need is not None and need.n is not None:
        return f"{labels(need.n)} {interval(need.ci)}".strip()
    if need is not None and need.how == "extrapolated":
        return f"> {EXTRAPOLATION_LIMIT}× largest size"
    return "not reached"


def llm_traffic(facts: RunFacts) -> str | None:
    """Where row data went and what the LLM work cost in calls; None for a run without LLMs."""
    usage = facts.llm_usage
    if not usage:
        return None
    text = (f"LLM: {usage.get('model_calls', 0):,} model calls, {usage.get('cached_answers', 0):,} answers "
            f"from the cache.{_written(usage.get('written_answers', 0), usage.get('unparsed_answers', 0))}")
    endpoint = usage.get("endpoint")
    if endpoint:
        return (f"{text} Row data sent off this machine: {usage.get('endpoint_prompts', 0):,} prompts to "
                f"{endpoint}, in {usage.get('endpoint_requests', 0):,} HTTP requests "
                f"({usage.get('endpoint_retries', 0):,} retried, {usage.get('endpoint_failures', 0):,} failed "
                f"for good).{_unlisted(usage.get('endpoint_unlisted', 0))}{_billed(usage.get('spend', {}))}")
    return f"{text} No row data left this machine: the LLM ran locally."


def _billed(spend: dict) -> str:
    """The tokens the endpoint billed and what they cost, per learner (as its answers' usage said)."""
    if not spend:
        return ""
    inputs = sum(s["input_tokens"] for s in spend.values())
    outputs = sum(s["output_tokens"] for s in spend.values())
    text = f" Billed: {inputs:,} input and {outputs:,} output tokens"
    if any(s["dollars"] is None for s in spend.values()):
        return f"{text} (no price known for the model: {setting_name('llm_input_price')} and " \
               f"{setting_name('llm_output_price')} give one)."
    each = ", ".join(f"{name} ${s['dollars']:,.4f}" for name, s in spend.items())
    return f"{text}, ${sum(s['dollars'] for s in spend.values()):,.4f} at {next(iter(spend.values()))['price']} ({each})."


def _written(answers: int, unparsed: int) -> str:
    """Answers the model wrote (sample, verbal scoring), and those that named no label."""
    if not answers:
        return ""
    return (f" {answers:,} answers written (sample or verbal scoring); {unparsed:,} ({unparsed / answers:.1%}) named "
            "no label and counted for no class.")


def _unlisted(count: int) -> str:
    """Answer words an endpoint scored without their log-probability (outside its top 20)."""
    if not count:
        return ""
    return (f" {count:,} answer word{'s' if count != 1 else ''} fell outside the endpoint's top log-probabilities "
            f"and got an estimate (the smallest listed minus 1); {setting_name('llm_scoring', 'echo')} scores them "
            "exactly.")


def signal_text(analysis: Analysis, facts: RunFacts) -> str | None:
    """The signal test in one sentence: said first, plainly, when nothing beats the baseline."""
    signal = analysis.signal
    if signal is None:
        return None
    metric = analysis.metric
    if not signal.tested:
        return f"Signal not tested: {signal.reason}."
    best = signal.best
    label = facts.label or "the label"
    against = ("chance" if signal.baseline == "chance" else f"the baseline ({signal.baseline})")
    largest = size(signal.largest_size) if signal.largest_size is not None else "the largest size"
    if not signal.found:
        closest = ""
        if best is not None:
            closest = (f" The closest: {best.learner} at n = {size(best.n)}, {score(best.score)} "
                       f"{interval(best.ci, score)} against {score(best.baseline_score)} "
                       f"{interval(best.baseline_ci, score)}.")
        seeds = analysis.n_seeds
        few = (f" With only {seeds} seeds a signal must be strong to be told from noise: more seeds "
               f"({setting_name('seeds', 5)}) test it better." if seeds < 4 else "")
        return (f"No signal: no learner scores above {against} at any size up to {largest} labels "
                f"({metric}, paired over seeds, corrected for {signal.comparisons} comparisons): these columns "
                f"carry no information about {label} that these learners can find. So there is no ceiling "
                "above chance, no labels to a target, no winner between learners and no cheapest route; "
                f"check the target column and the features, or add rows.{closest}{few}")
    text = (f"Signal found: {best.learner} at n = {size(best.n)} scores {score(best.score)} "
            f"{interval(best.ci, score)} against {score(best.baseline_score)} for {against} "
            f"({metric}, paired over seeds, corrected for {signal.comparisons} comparisons)")
    if signal.only_at_largest:
        text += (f"; only at the largest sizes (from n = {size(signal.sizes_with_signal[0])}): below that, "
                 "no learner is distinguishable from the baseline, and the answers rest on the last points")
    elif signal.sizes_with_signal:
        text += f"; some learner beats it from n = {size(signal.sizes_with_signal[0])} on"
    return text + "."


def few_test_rows_caveat(facts: RunFacts, analysis: Analysis | None = None) -> str | None:
    """Classes with fewer than ``MIN_TEST_ROWS_PER_CLASS`` test rows (stratified share of
    ``n_test``, one at least): their per-class scores, and the macro averages, are noisy."""
    counts = facts.class_counts
    n_test, total = facts.n_test, sum(counts.values())
    if not counts or not n_test or not total:
        return None
    few = {c: max(1, int(n_test * k / total)) for c, k in counts.items()}
    short = {c: k for c, k in few.items() if k < MIN_TEST_ROWS_PER_CLASS}
    if not short:
        return None
    worst = min(short, key=short.get)
    return (f"Caveat: the test rows hold fewer than {MIN_TEST_ROWS_PER_CLASS} rows of {len(short)} of "
            f"{len(counts)} classes (about {short[worst]} of '{worst}'); scores averaged over classes are "
            "noisy there, and their intervals wide.")


def sentences(analysis: Analysis | None, facts: RunFacts | dict, with_signal: bool = True) -> list[str]:
    """The answers, most important first (none before an analysis): whether there is a signal
    at all (left out with ``with_signal=False``, for a page that shows it on its own), then,
    only when there is one, ceiling, target, crossovers, worth and cost. ``facts`` may be a
    dict (a hand-written one, in a notebook), read once into RunFacts here."""
    if analysis is None:
        return []
    facts = RunFacts.of(facts)
    out: list[str] = []
    said = signal_text(analysis, facts)
    if said and with_signal:
        out.append(said)
    caveat = few_test_rows_caveat(facts, analysis)
    if analysis.signal is not None and analysis.signal.absent:
        return out + ([caveat] if caveat else [])
    out += _ceiling_sentences(analysis, facts)
    if caveat:
        out.append(caveat)
    out += _target_sentences(analysis)
    out += forecast_sentences(analysis)
    out += _crossover_sentences(analysis)
    out += worth_sentences(analysis)
    out += acquisition_sentences(analysis)
    out += label_route_sentences(analysis)
    out += source_sentences(analysis)
    out += _cost_sentences(analysis)
    return out


def label_route_sentences(analysis: Analysis) -> list[str]:
    """Per llm-labels learner: what the pool's LLM labels are worth in its student's human
    labels, the student against its teacher, and how often the LLM's labels were right."""
    out = []
    for r in analysis.label_routes:
        pool = f"{r.pool_rows:,} rows" if r.pool_rows else "the pool's rows"
        student = analysis.learners.get(r.student) if r.student else None
        largest = max(student.sizes) if student is not None and student.sizes else None
        if r.exchange is not None:
            text = (f"LLM labels as training data: {pool} labelled by {r.labeller} train {r.learner} to "
                    f"{score(r.score_at_zero)} with no human label, {_match_text(r.exchange, r.student, largest)}")
        else:
            text = (f"LLM labels as training data: {pool} labelled by {r.labeller} train {r.learner} to "
                    f"{score(r.score_at_zero)} with no human label")
        if r.versus_teacher is not None:
            low, high = r.versus_teacher_ci
            verdict = ("beats its teacher" if low is not None and low > 0 else
                       "falls below its teacher" if high is not None and high < 0 else "matches its teacher within noise")
            text += (f"; the student {verdict}, {r.labeller} itself at {score(r.teacher_score)} "
                     f"({r.versus_teacher:+.3f} {interval(r.versus_teacher_ci, score)}, paired over seeds)")
        if r.agreement is not None:
            classes = ", ".join(f"{c} {v:.0%}" for c, v in r.agreement_per_class.items() if v is not None)
            text += (f". The LLM's labels agree with the pool's hidden labels on {r.agreement:.0%} of rows "
                     f"(per true class: {classes})")
        out.append(text + ".")
    return out


def label_quality_rows(analysis: Analysis) -> list[list[str]]:
    """Per llm-labels learner and true class: the rows the LLM gave each label (a confusion
    matrix, summed over seeds at n = 0) and the share it got right."""
    rows = []
    for r in analysis.label_routes:
        answered = sorted({a for counts in r.confusion.values() for a in counts})
        for k, (true, counts) in enumerate(sorted(r.confusion.items())):
            share = r.agreement_per_class.get(true)
            rows.append([r.learner if k == 0 else "", true,
                         ", ".join(f"{a}: {counts.get(a, 0):,}" for a in answered),
                         f"{share:.0%}" if share is not None else "—"])
    return rows


def acquisition_sentences(analysis: Analysis) -> list[str]:
    """Per acquiring learner: whether choosing its rows beat its random twin, in labels."""
    out = []
    for a in analysis.acquisition:
        area = (f"{a.area:+.3f} {analysis.metric} on average over the sizes {interval(a.area_ci, score)}"
                if a.area is not None else "no shared size")
        at = (f"{labels(a.labels_saved)} labels saved at the target {interval(a.labels_saved_ci)} ({labels(a.labels)} "
              f"against {labels(a.twin_labels)})" if a.labels_saved is not None
              else "no labels-saved figure (one of the two never reaches the target)")
        head = {"pays": "pays for", "hurts": "hurts"}.get(a.verdict, "does not pay here for")
        noise = "" if a.verdict != "does not pay" else ": the paired difference is within noise"
        out.append(f"Choosing rows {head} {a.learner} ({a.strategy} against {a.twin} on random rows){noise}: {at}; "
                   f"{area}, paired over {analysis.n_seeds} seeds.")
    return out


def _ceiling_sentences(analysis: Analysis, facts: RunFacts) -> list[str]:
    out = []
    metric = analysis.metric
    dataset = facts.dataset or "this data"
    ceil = analysis.ceiling
    if ceil is not None and ceil.value is not None and ceil.source == "measured":
        out.append(
            f"On {dataset}, the best measured {metric} is {score(ceil.value)} {interval(ceil.ci, score)} "
            f"({ceil.learner} at n = {size(ceil.best_measured_n)}, chosen on some seeds and scored on the "
            "others, so its luck is not counted); no fitted curve levels off above it, so take it as the "
            "data's ceiling so far (a lower bound)."
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
    known = facts.known_ceiling or {}
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
    unknown = [name for name, a in analysis.learners.items()
               if a.family != "baseline" and a.fit is not None and not a.identified]
    if unknown:
        out.append(f"Asymptote not identified (the data cannot pin down where the curve levels off): "
                   f"{', '.join(unknown)}.")
    return out


def asymptote_text(answer) -> str:
    """'0.912 [0.90, 0.93]', or 'not identified' where the data cannot pin the limit down."""
    if answer.fit is None:
        return "no fit"
    if not answer.identified:
        return "not identified"
    return f"{score(answer.asymptote)} {interval(answer.asymptote_ci, score)}".strip()


def _target_sentences(analysis: Analysis) -> list[str]:
    target, metric, learners = analysis.target, analysis.metric, analysis.learners
    if target.value is None:
        return []
    base = ""
    if target.baseline is not None:
        base = f"{'chance' if target.baseline_from == 'chance' else target.baseline_from} {score(target.baseline)}"
    if target.kind == "relative":
        which = f"{target.spec} of the way from {base or 'zero'} to the ceiling, "
    else:
        which = ""
    reach = [f"{name} needs {needed_text(answer.labels_to_target)}" for name, answer in learners.items()
             if answer.labels_to_target is not None and answer.labels_to_target.reached]
    miss = [f"{name} ({_missed_text(answer)})" for name, answer in learners.items()
            if answer.labels_to_target is not None and not answer.labels_to_target.reached
            and answer.family != "baseline"]
    text = f"To reach {metric} {score(target.value)} ({which}the target): "
    text += "; ".join(reach) if reach else "no learner gets there in the sizes measured"
    if miss:
        text += f". Not getting there: {', '.join(miss)}"
    out = [text + "."]
    if target.kind != "relative" and target.baseline is not None and base and (
            (target.value <= target.baseline) if analysis.higher_is_better else (target.value >= target.baseline)):
        out.append(f"That target is no better than {base}: a learner that ignores every column gets there.")
    return out


def _missed_text(answer) -> str:
    """Why a learner does not get to the target: its forecast's word, or where it levels off."""
    if answer.labels_to_target.method == "forecast":
        return needed_text(answer.labels_to_target)
    return score(answer.asymptote) if answer.identified else "asymptote not identified"


def _crossover_sentences(analysis: Analysis) -> list[str]:
    # Settled crossovers only (the last one of a pair, winner significantly ahead at the
    # largest size); those involving an LLM or the best classic learner first, at most four.
    learners = analysis.learners
    key_learners = {analysis.reference} | {n for n in learners if learners[n].family == "llm"}
    settled = sorted((c for c in analysis.crossovers if c.settled),
                     key=lambda c: (not ({c.winner, c.loser} & key_learners), c.n))
    return [f"{cross.winner} overtakes {cross.loser} at n ≈ {labels(cross.n)} {interval(cross.ci)} and stays "
            f"ahead (+{score(cross.lead_at_largest)} at n = {size(cross.largest_shared)})."
            for cross in settled[:4]]


def _match_text(match, reference: str, largest: int | None) -> str:
    if match.n is None:
        beyond = f" (up to n = {size(largest)})" if largest else ""
        return f"more than {reference} reaches in the sizes measured{beyond}"
    if match.n == 0:
        return f"what {reference} reaches with no labels"
    if match.how == "at_most":
        return f"what {reference} reaches with at most {labels(match.n)} labels (its smallest size)"
    return f"what {reference} reaches with about {labels(match.n)} labels {interval(match.ci)}".strip()


def _sizes_text(sizes: list[int]) -> str:
    """'8', '8 or 32', '0, 8, 32 or 128'."""
    shown = [size(n) for n in sizes]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]


def worth_sentences(analysis: Analysis) -> list[str]:
    """Per LLM learner and size: 'llm-few with 8 labels scores what logreg reaches with about N labels'."""
    out = []
    ref = analysis.learners.get(analysis.reference) if analysis.reference else None
    largest = max(ref.sizes) if ref is not None and ref.sizes else None
    for w in analysis.prompt_worth:
        # sizes that say the same (a learner that does not learn from labels) share one clause
        said: list[tuple[list[int], str]] = []
        for p in w.per_size:
            text = f"it scores {score(p.score)}, {_match_text(p.match, w.reference, largest)}"
            if said and said[-1][1] == text:
                said[-1][0].append(p.n)
            else:
                said.append(([p.n], text))
        parts = [f"with {_sizes_text(sizes)} labels {text}" for sizes, text in said]
        if parts:
            out.append(f"What {w.learner} is worth in labels of {w.reference}: " + "; ".join(parts) + ".")
    if not analysis.prompt_worth and analysis.reference and analysis.data_advantage:
        out.append("What a prompt is worth: no LLM learner in this run. Below, the same measure compares "
                   f"each learner with the best classic one, {analysis.reference}.")
    return out


def _cost_sentences(analysis: Analysis) -> list[str]:
    cheapest = analysis.cheapest
    if not cheapest:
        return []
    cost = analysis.learners[cheapest.learner].cost
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
    return [text + "."]


def target_rows(analysis: Analysis) -> list[list[str]]:
    """Rows: learner, asymptote [CI], labels to target [CI], how, rule of thumb."""
    rows = []
    for name, answer in analysis.learners.items():
        need, rule = answer.labels_to_target, answer.rule_of_thumb
        rows.append([
            name,
            asymptote_text(answer) + (f" ({answer.fit.family})" if answer.fit else "")
            + (", still rising" if answer.rising else ""),
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
    """Per learner and size: learner, its labels, its score, the reference's labels to match it
    [CI], and (on its first row) the labels saved over the shared score window."""
    rows = []
    for w in analysis.data_advantage:
        adv = w.advantage
        saved = f"{_signed_labels(adv.labels)} {interval(adv.ci, _signed_labels)}" if adv else "no shared window"
        for k, point in enumerate(w.per_size):
            match = point.match
            rows.append([
                w.learner if k == 0 else "", w.reference if k == 0 else "", size(point.n), score(point.score),
                (labels(match.n) + " " + interval(match.ci)).strip() if match.n is not None else "beyond measured",
                saved if k == 0 else "",
            ])
    return rows


def cost_rows(analysis: Analysis) -> list[list[str]]:
    """The routes to the target, cheapest first: learner, labels, labelling, compute, serving, total."""
    routes = [(name, answer.cost) for name, answer in analysis.learners.items() if answer.cost is not None]
    routes.sort(key=lambda route: math.inf if route[1].total_first_month is None else route[1].total_first_month)
    return [[name, labels(cost.n_labels), money(cost.labels), money(cost.training), money(cost.serving_per_month),
             money(cost.total_first_month)] for name, cost in routes]


# -- what a column group is worth (analysis/sources.py) --
VERDICT_WORDS = {"raises-ceiling": "raises the ceiling", "saves-labels": "saves labels only",
                 "none": "worth nothing measurable"}


def source_sentences(analysis: Analysis) -> list[str]:
    """One sentence per learner and group: the verdict first, then the labels and the ceiling
    behind it."""
    return [f"What the {s.group} columns are worth to {s.learner}: {VERDICT_WORDS[s.verdict]}. {_labels_text(s)}; "
            f"{_area_text(s)}{_ceiling_text(s)}{_level_text(s)}.{_running_text(s, analysis.prices.label_cost)}"
            for s in analysis.sources]


def _area_text(s: SourceAnswer) -> str:
    if s.area is None:
        return ""
    return f"over the sizes measured it scores {s.area:+.3f} {interval(s.area_ci, score)} with it, paired over seeds; "


def _level_text(s: SourceAnswer) -> str:
    """The intervals the verdict rests on, when corrected for several (learner, group) pairs."""
    if s.confidence is None or s.confidence <= 0.95 + 1e-9:  # one pair: the plain 95%
        return ""
    pairs = round(0.05 / (1 - s.confidence))
    return f" (these two intervals at {s.confidence:.1%}: {pairs} learner-and-group pairs tested)"


def _running_text(s: SourceAnswer, label_cost: float) -> str:
    """Whether the labels a group saves pay for its pipeline (with a running cost given)."""
    if s.running_cost is None:
        return ""
    cost = f" Its pipeline costs {money(s.running_cost)} a month"
    if s.verdict == "none":
        return cost + ", for nothing measurable here."
    if s.labels_value is None:
        if s.verdict == "raises-ceiling":
            return cost + ": no number of labels measured reaches the scores it gives, so it is worth that if they are."
        return cost + "; the labels it saves cannot be told here."
    text = f"{cost}; the labels it saves are worth {money(max(s.labels_value, 0.0))} at {money(label_cost)} a label: "
    text += ("they pay for its first month" if s.labels_value >= s.running_cost
             else "in labels alone it does not pay for itself")
    if s.verdict == "raises-ceiling":
        text += ", but no number of labels measured replaces it"
    return text + "."


def _labels_text(s: SourceAnswer) -> str:
    matched = [p for p in s.per_size if p.match.n is not None and p.n > 0]
    if matched:
        p = matched[-1]  # the largest size the curve without the group reaches: the most labels said
        beyond = " by its fitted curve, past the sizes measured" if p.match.how == "extrapolated" else ""
        text = (f"with {s.group}, {labels(p.n)} labels score {score(p.score)}, what {s.variant} reaches with about "
                f"{labels(p.match.n)} {interval(p.match.ci)}".rstrip() + beyond)
    else:
        largest = max((p.n for p in s.per_size), default=None)
        text = (f"with {s.group}, {s.learner} scores more than {s.variant} reaches at any size measured"
                + (f" (up to n = {size(largest)})" if largest else ""))
    if s.labels_saved is not None and s.labels_saved.labels is not None:
        saved = s.labels_saved.labels
        text += (f"; over the scores both reach, {s.group} {'saves' if saved >= 0 else 'costs'} about "
                 f"{labels(abs(saved))} labels on average {interval(s.labels_saved.ci, _signed_labels)}".rstrip())
    return text[0].upper() + text[1:]


def _ceiling_text(s: SourceAnswer) -> str:
    if s.ceiling_drop is None:
        return "the ceilings cannot be compared with fewer than 2 seeds"
    low, high = s.ceiling_drop_ci
    change = (f"without it the ceiling falls from {score(s.ceiling_with)} to {score(s.ceiling_without)} "
              f"({s.ceiling_drop:+.3f} {interval(s.ceiling_drop_ci, score)}, paired over seeds)")
    if low is not None and low > 0:
        return change + ": no number of labels measured here replaces it"
    if high is not None and high < 0:
        return (f"without it the ceiling rises from {score(s.ceiling_with)} to {score(s.ceiling_without)} "
                f"({s.ceiling_drop:+.3f} {interval(s.ceiling_drop_ci, score)}, paired over seeds): it hurts this learner")
    return (f"the ceiling is {score(s.ceiling_with)} with it and {score(s.ceiling_without)} without it, the same "
            f"within noise ({s.ceiling_drop:+.3f} {interval(s.ceiling_drop_ci, score)}, paired over seeds)")


def source_rows(analysis: Analysis) -> list[list[str]]:
    """A table row per learner and group: verdict, labels saved, ceilings and the drop."""
    rows = []
    for s in analysis.sources:
        saved = s.labels_saved
        rows.append([s.learner, s.group, VERDICT_WORDS[s.verdict],
                     f"{_signed_labels(saved.labels)} {interval(saved.ci, _signed_labels)}".strip()
                     if saved and saved.labels is not None
                     else "—",
                     score(s.ceiling_with), score(s.ceiling_without),
                     f"{s.ceiling_drop:+.3f} {interval(s.ceiling_drop_ci, score)}".strip()
                     if s.ceiling_drop is not None else "—"])
    return rows
