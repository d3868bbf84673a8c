"""What LLM work sent off the machine costs: the tokens a study will be billed, estimated before
it runs and priced at the model's list price (``genai-prices``, or the user's own), the
``max_cost`` refusal, and the money the billed tokens came to after it.

The estimate counts what an endpoint bills, not what a local model evaluates (workload.py): each
request carries its whole prompt (a few-shot prompt its demonstrations, every time), and the
answer's tokens are billed as output: one for log-probability scoring, up to ``max_tokens`` per
written answer. Sampled answers are asked in one request of ``n`` choices, whose prompt is
billed once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from dataeff.data.dataset import Dataset
from dataeff.errors import ConfigError
from dataeff.experiment.plan import Plan
from dataeff.learners.llm.voting import ANSWER_FORMS
from dataeff.learners.llm.workload import approximate_tokens
from dataeff.learners.registry import REGISTRY, LearnerSpec
from dataeff.terms import setting_name


CONTENT_FREE = 3  # content-free prompts a calibrated cell asks (learners.py's "N/A", "", "[MASK]")


@dataclass(frozen=True)
class Price:
    """Dollars per million input and output tokens, and where they come from (``source``)."""

    input: float
    output: float
    source: str

    def cost(self, input_tokens: float, output_tokens: float) -> float:
        return (input_tokens * self.input + output_tokens * self.output) / 1e6


def list_price(model: str, provider: str | None = None) -> Price | None:
    """The model's list price from genai-prices' packaged table (no network), or None for a model
    it does not know (a model served on your own server has none)."""
    # Priced on a request of 1,000 tokens: a model with long-context tiers (Claude Sonnet's
    # above 200k input tokens) charges its base price for the prompts dataeff sends.
    try:
        from genai_prices import Usage, calc_price

        per_input = calc_price(Usage(input_tokens=1000, output_tokens=0), model, provider_id=provider)
        per_output = calc_price(Usage(input_tokens=0, output_tokens=1000), model, provider_id=provider)
    except Exception:  # noqa: BLE001 - genai-prices raises LookupError/ValueError for a model it does not know
        return None
    return Price(float(per_input.total_price) * 1000, float(per_output.total_price) * 1000,
                 f"{per_input.model.name}'s list price ({per_input.provider.name}, genai-prices)")


def price_of(spec: LearnerSpec, input_price: float | None, output_price: float | None) -> Price | None:
    """The price of a remote learner's tokens: the user's (both given), else the model's list price."""
    if input_price is not None and output_price is not None:
        return Price(input_price, output_price, f"your {setting_name('llm_input_price')} and "
                                                f"{setting_name('llm_output_price')}")
    from dataeff.learners.llm.backends import backend_class

    backend = backend_class(spec.params["backend"])
    model = spec.params.get("model")
    return list_price(getattr(model, "model", str(model)), getattr(backend, "provider", None))


@dataclass(frozen=True)
class Bill:
    """The tokens a remote learner is expected to be billed, and their price (None: unknown)."""

    learner: str
    model: str
    input_tokens: float
    output_tokens: float
    price: Price | None

    @property
    def dollars(self) -> float | None:
        return None if self.price is None else self.price.cost(self.input_tokens, self.output_tokens)


def estimate_bills(dataset: Dataset, plan: Plan, specs: list[LearnerSpec], input_price: float | None = None,
                   output_price: float | None = None) -> list[Bill]:
    """A Bill per learner whose LLM is remote, before the cache (a rerun on a warm cache pays
    less), counted on the plan's own rows: each seed's test rows, and for a few-shot size the
    mean prompt of the training rows its demonstrations are drawn from. Prompts per seed:
    the zero-shot prompts of the test rows once per model and task (llm-few's at n = 0 are
    llm-zero's, answered from the cache), each few-shot size's test rows after its
    demonstrations, llm-prior's largest training subset and test rows, llm-labels' pool rows
    through its labeller; with contextual calibration, three content-free prompts each."""
    from dataeff.learners.llm.backends import runs_locally

    bills = []
    asked: set[tuple] = set()  # zero-shot prompts already counted, by (backend, model, task)
    for spec in specs:
        asking = spec.params.get("labeller") if spec.kind == "llm-labels" else spec
        if asking is None or "task" not in asking.params or runs_locally(asking.params.get("backend") or "llamacpp"):
            continue
        workload = REGISTRY[asking.kind].workload if asking.kind in REGISTRY else None
        if workload not in ("zero", "few", "few_similar", "prior"):
            continue
        params = asking.params
        scoring = params.get("scoring", "logprobs")
        task = replace(params["task"], answer_form=ANSWER_FORMS.get(scoring, "word"))
        X = dataset.X.drop(columns=list(asking.dropped or spec.dropped))  # a learner without groups sends less
        tokens = _RowTokens(task, X)
        k_max = params.get("k_max", 0)
        sizes = [s for s in plan.sizes_up_to(spec.max_size) if s > 0]
        calibrated = scoring == "logprobs" and params.get("calibrate", workload != "prior")
        blank = approximate_tokens([task.query(pd.Series({c: "N/A" for c in X.columns}))])
        prompts: list[tuple[float, float]] = []  # (prompts, tokens each)
        prompts_key = (params.get("backend"), str(params.get("model")), repr(task), spec.dropped)
        first = prompts_key not in asked
        asked.add(prompts_key)
        for split in plan.splits.values():
            rows = (split.train_order[: spec.params["pool"]] if spec.kind == "llm-labels" else split.test_index)
            if workload == "prior":
                rows = np.concatenate([split.test_index, split.train_order[: max(sizes, default=0)]])
            query = tokens.mean(rows)
            if first or workload == "prior":
                prompts += [(len(rows), query)] + ([(CONTENT_FREE, blank)] if calibrated else [])
            if workload in ("few", "few_similar"):
                for size in sizes:
                    prefix = min(k_max, size) * (tokens.mean(split.train_order[:size]) + 3)
                    prompts += [(len(rows), prefix + query)] + ([(CONTENT_FREE, prefix + blank)] if calibrated else [])
        bills.append(Bill(spec.name, str(params.get("model")), _input(prompts, params, task),
                          sum(n for n, _ in prompts) * _output_per_prompt(scoring, params, task),
                          price_of(asking, input_price, output_price)))
    return bills


class _RowTokens:
    """Each row's prompt length in tokens (about four characters a token), computed once a row."""

    def __init__(self, task, X: pd.DataFrame):
        self.task, self.X, self.known = task, X, {}

    def mean(self, positions) -> float:
        positions = [int(p) for p in positions]
        if not positions:
            return 0.0
        todo = [p for p in positions if p not in self.known]
        for p in todo:
            self.known[p] = approximate_tokens([self.task.query(self.X.iloc[p])])
        return float(np.mean([self.known[p] for p in positions]))


def _input(prompts: list[tuple[float, float]], params: dict, task) -> float:
    """Input tokens billed: each prompt whole; echo scoring sends it once per answer word."""
    total = sum(n * length for n, length in prompts)
    options = params.get("backend_options") or {}
    echo = params.get("scoring", "logprobs") == "logprobs" and options.get("scoring") == "echo"
    return total * len(task.classes) if echo else total


def _output_per_prompt(scoring: str, params: dict, task) -> float:
    """Output tokens billed a prompt: one for log-probabilities; written answers up to their
    ``max_tokens`` (the longest answer word and what may follow it), ``samples`` of them."""
    from dataeff.learners.llm.voting import EXTRA_TOKENS

    words = max(-(-len(w) // 4) for w in task.continuations())  # an answer word's tokens, rounded up
    if scoring == "sample":
        return params.get("samples", 1) * (words + EXTRA_TOKENS["sample"])
    if scoring == "verbal":
        return words + EXTRA_TOKENS["verbal"]
    return 1


def spend_note(bills: list[Bill]) -> str | None:
    """The line printed before a run that sends rows off the machine, or None."""
    if not bills:
        return None
    inputs, outputs = sum(b.input_tokens for b in bills), sum(b.output_tokens for b in bills)
    priced = [b for b in bills if b.price is not None]
    text = f"LLM spend: about {inputs:,.0f} input tokens and {outputs:,.0f} output tokens to the endpoint"
    if len(priced) == len(bills):
        sources = " and ".join(dict.fromkeys(b.price.source for b in priced))
        return f"{text}, about ${sum(b.dollars for b in priced):,.2f} at {sources}."
    unknown = ", ".join(dict.fromkeys(b.model for b in bills if b.price is None))
    return (f"{text}; no list price is known for {unknown} (give {setting_name('llm_input_price')} and "
            f"{setting_name('llm_output_price')}, dollars per million tokens, to price it).")


def check_max_cost(bills: list[Bill], max_cost: float | None) -> None:
    """Refuse, before any request, a run whose estimated spend exceeds ``max_cost`` dollars, or
    whose spend cannot be priced while a limit is set."""
    if max_cost is None or not bills:
        return
    unknown = [b.model for b in bills if b.price is None]
    if unknown:
        raise ConfigError(f"{setting_name('max_cost', max_cost)} needs a price, and none is known for "
                          f"{', '.join(dict.fromkeys(unknown))}: give {setting_name('llm_input_price')} and "
                          f"{setting_name('llm_output_price')} (dollars per million tokens).")
    dollars = sum(b.dollars for b in bills)
    if dollars > max_cost:
        raise ConfigError(f"This run would cost about ${dollars:,.2f} at list prices, more than "
                          f"{setting_name('max_cost', max_cost)}; fewer {setting_name('test_rows')}, "
                          f"{setting_name('sizes')} or {setting_name('seeds')} cost less (nothing was sent).")


def spent(usage: dict, price: Price | None) -> float | None:
    """Dollars the billed tokens of ``usage`` (input_tokens, output_tokens) came to, or None."""
    if price is None:
        return None
    return price.cost(usage.get("input_tokens", 0), usage.get("output_tokens", 0))
