"""The LLM work of a study sized before it starts (tokens the model evaluates, core-minutes), so a
user can shrink --test-rows first."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dataeff.config import FINETUNE_BATCH, FINETUNE_STEPS
from dataeff.data.dataset import Dataset
from dataeff.experiment.plan import Plan
from dataeff.learners.registry import REGISTRY, LearnerSpec
from dataeff.terms import setting_name

# Gemma 3 270M through llama.cpp on one thread: prompt tokens per CPU second at the start of a
# context. Fitted on benchmarks/bench_workload.py's two studies (fine-foods reviews; attrition
# rows with a data dictionary), whose CPU time it predicts within 30%; bench_llm.py measures
# 335-361 tokens/s for the bare model on short prompts.
LOCAL_TOKENS_PER_SECOND = 300
# A token costs more the later it sits in its context (attention over every token before it):
# 1 + position / ATTENTION_TOKENS times the first token's cost (raw llama.cpp evaluates review
# rows 1.48x slower after a 1,333-token few-shot prefix; benchmarks/README.md), where a
# sliding-window layer looks back at most WINDOW tokens: Gemma 3's layers but every sixth
# (GLOBAL_SHARE of them attend to the whole context), as the llamacpp backend's windowed KV
# cache computes them.
ATTENTION_TOKENS = 2800
WINDOW, GLOBAL_SHARE = 512, 3 / 18
# The llamacpp backend keeps a shared prefix's KV cache only up to a 64-token block boundary
# (learners/llm/backends/llamacpp.py): each row after a few-shot prefix re-reads half a block.
REREAD_TOKENS = 32
CALIBRATION_PROMPTS = 3  # content-free rows asked once per cell (contextual calibration)
# llm-finetune's training (learners/llm/finetune.py) on one thread, Gemma 3 270M in float32:
# tokens a training step reads per second, forward and backward (benchmarks/bench_finetune.py).
TRAIN_TOKENS_PER_SECOND = 90


@dataclass(frozen=True)
class Workload:
    """Prompt tokens before the cache, for local models and endpoints, and the local core seconds."""

    local_tokens: float
    endpoint_tokens: float
    local_seconds: float
    train_tokens: float = 0.0  # llm-finetune's training steps (local, in local_seconds too)


def llm_workload(dataset: Dataset, plan: Plan, specs: list[LearnerSpec]) -> str | None:
    """The note printed before a run, or None without LLM learners."""
    work = estimate(dataset, plan, specs)
    parts = []
    if work.local_tokens:
        parts.append(f"about {work.local_tokens:,.0f} prompt tokens for local models before the cache, roughly "
                     f"{work.local_seconds / 60:,.0f} minutes of one core")
    # An endpoint's share is said by the spend line (spend.py), in the tokens it bills: each
    # request's whole prompt, not the tokens a local model evaluates once and reuses.
    if work.train_tokens:
        parts.append(f"about {work.train_tokens:,.0f} training tokens (llm-finetune), included in the minutes")
    if not parts:
        return None
    return f"LLM work: {'; '.join(parts)} (fewer {setting_name('test_rows')} or {setting_name('sizes')} shrink it)."


def estimate(dataset: Dataset, plan: Plan, specs: list[LearnerSpec]) -> Workload:
    """A size of the LLM work before it starts, so a user can shrink --test-rows first.

    Counts the tokens the model must evaluate at least once, a row's prompt as long as that
    learner's own (its question, template and data dictionary; counted with a local model's
    own tokenizer): zero-shot prompts once per seed (they repeat across sizes, and a few-shot
    learner's prompts at n = 0 are the zero-shot ones), few-shot demonstrations once per cell
    and each test row after them, for llm-prior the zero-shot prompts of the largest
    training subset and the test rows, for llm-probe each distinct row once (every seed's test
    rows and training rows up to the largest size), and for llm-finetune its training steps (steps x rows per
    step x a row's prompt and answer, at the measured training speed) and the test rows once per
    trained cell (a new model each). A learner that chooses its rows (``acquire``) also reads the
    pool rows it scores: an LLM learner's candidates (the first MAX_CANDIDATES of each seed's
    order beyond its largest size), an llm-zero cold start's LLM_CANDIDATES zero-shot prompts
    per seed; an llm-labels learner its labeller's prompts of the pool rows. A local token is weighed by its position (attention); variants on local models and
    on endpoints are summed apart.
    """
    from dataeff.experiment.acquire import LLM_CANDIDATES, MAX_CANDIDATES

    sample = dataset.X.head(30)
    seeds, n_test = len(plan.seeds), plan.n_test + CALIBRATION_PROMPTS
    tokens = {"local": 0.0, "endpoint": 0.0}
    weighted = 0.0
    trained = 0.0
    zero_shot_asked: set[tuple] = set()
    counters: dict[tuple, object] = {}
    lengths: dict[tuple, float] = {}
    pool = len(next(iter(plan.splits.values())).train_order) if plan.splits else 0
    learners = {id(s) for s in specs}
    cold_starts = {id(s.acquirer): s.acquirer for s in specs if s.acquirer is not None and id(s.acquirer) not in learners}
    cold_started: set[tuple] = set()
    for spec in [*specs, *cold_starts.values()]:
        workload = REGISTRY[spec.kind].workload if spec.kind in REGISTRY else None
        if workload == "labels":  # the labeller's prompts of the pool rows, in the labeller's terms
            tokens_, seconds_ = _pool_labelling(spec, plan, sample, lengths, counters)
            tokens["local" if _local(spec.params["labeller"]) else "endpoint"] += tokens_
            weighted += seconds_
            continue
        if workload is None or "task" not in spec.params:
            continue
        sizes = [s for s in plan.sizes_up_to(spec.max_size) if s > 0]  # its own sizes
        # the pool rows an acquiring learner reads: its training rows and the candidates it scores
        read = min(pool, max(sizes, default=0) + (MAX_CANDIDATES if spec.acquire in ("margin", "entropy", "llm-zero")
                                                     else 0))
        task, local = spec.params["task"], _local(spec)
        # The zero-shot prompts of a seed: asked once per model and task, whoever asks first.
        same_prompts = (spec.params.get("backend"), spec.params.get("model"), repr(task), spec.dropped)
        if same_prompts not in lengths:  # a learner without column groups: its rows lack them
            rows = sample.drop(columns=list(spec.dropped))
            lengths[same_prompts] = _mean_tokens(spec, [task.query(row) for _, row in rows.iterrows()], counters)
        query = lengths[same_prompts]
        shot = query + 3  # a demonstration: the row's prompt, its answer word and a blank line
        k_max = spec.params.get("k_max", 0)
        parts: list[tuple[float, float]] = []  # (tokens, mean position)
        if id(spec) in cold_starts:  # a cold start: zero-shot prompts of pool rows only
            if same_prompts not in cold_started:
                cold_started.add(same_prompts)
                parts.append((min(pool, LLM_CANDIDATES) * query * seeds, query / 2))
        elif workload in ("zero", "few", "few_similar", "finetune") and same_prompts not in zero_shot_asked:
            zero_shot_asked.add(same_prompts)
            parts.append((n_test * query * seeds, query / 2))
        if workload == "few":
            for size in sizes:
                prefix = min(k_max, size) * shot
                parts.append((prefix * seeds, prefix / 2))
                per_row = query + (REREAD_TOKENS if prefix >= 64 else prefix)
                parts.append((n_test * per_row * seeds, prefix + query / 2))
        elif workload == "few_similar":  # a prompt of its own per test row once the rows outnumber the shots
            from dataeff.learners.llm.learners import FewShot

            for size in sizes:
                prefix = min(k_max, size) * shot
                # retrieved: each row's prompt and a content-free one after the same demonstrations
                per_row = 2 * (prefix + query) if size > k_max else query + min(prefix, REREAD_TOKENS)
                parts.append((n_test * per_row * seeds, (prefix + query) / 2))
                held = FewShot.held_out_rows(size, min(k_max, size))
                if size > k_max and held:  # the labels decide: both ways on the held-out rows
                    parts.append(((held * 2 * (prefix + query) + prefix + held * query) * seeds, (prefix + query) / 2))
        elif workload == "probe":  # a state per distinct row, cached across sizes and seeds
            local = _local(spec)  # else an endpoint's /embeddings
            rows: set[int] = set()
            for split in plan.splits.values():
                rows.update(split.test_index.tolist(), split.train_order[:read].tolist())
            row = _mean_tokens(spec, [task.row_text(r) for _, r in sample.iterrows()], counters)
            parts.append((len(rows) * row, row / 2))
        elif workload == "prior":  # the zero-shot prompts of the training rows and the test rows
            parts.append(((n_test + read) * query * seeds, query / 2))
        elif workload == "finetune":
            parts.append((n_test * query * seeds * len(sizes), query / 2))
            steps, batch = spec.params.get("steps", FINETUNE_STEPS), spec.params.get("batch_size", FINETUNE_BATCH)
            train = sum(steps * min(batch, size) for size in sizes) * (query + 1) * seeds  # + the answer word
            trained += train
            weighted += train * LOCAL_TOKENS_PER_SECOND / TRAIN_TOKENS_PER_SECOND
        count = sum(t for t, _ in parts)
        tokens["local" if local else "endpoint"] += count
        if local:
            weighted += sum(t * attention_weight(position) for t, position in parts)
    return Workload(tokens["local"], tokens["endpoint"], weighted / LOCAL_TOKENS_PER_SECOND, trained)


def _pool_labelling(spec: LearnerSpec, plan: Plan, sample, lengths: dict, counters: dict
                    ) -> tuple[float, float]:
    """An llm-labels learner's labelling: its labeller's prompt of each pool row, once per seed
    for a zero-shot labeller (cached across sizes), once per cell after the cell's demonstrations
    for a few-shot one. Returns (tokens, attention-weighted tokens; 0 for an endpoint)."""
    labeller = spec.params.get("labeller")
    if labeller is None or "task" not in labeller.params:
        return 0.0, 0.0
    rows = spec.params["pool"]
    task = labeller.params["task"]
    key = (labeller.params.get("backend"), labeller.params.get("model"), repr(task))
    if key not in lengths:
        lengths[key] = _mean_tokens(labeller, [task.query(row) for _, row in sample.iterrows()], counters)
    query, seeds = lengths[key], len(plan.seeds)
    parts = [(rows * query * seeds, query / 2)]  # n = 0, and every size of a zero-shot labeller
    if REGISTRY.get(labeller.kind) is not None and REGISTRY[labeller.kind].workload in ("few", "few_similar"):
        k_max = labeller.params.get("k_max", 0)
        for size in [s for s in plan.sizes_up_to(spec.max_size) if s > 0]:
            prefix = min(k_max, size) * (query + 3)
            parts.append(((prefix + rows * (query + (REREAD_TOKENS if prefix >= 64 else prefix))) * seeds,
                          prefix + query / 2))
    count = sum(t for t, _ in parts)
    local = _local(labeller)
    return count, (sum(t * attention_weight(p) for t, p in parts) if local else 0.0)


def _local(spec: LearnerSpec) -> bool:
    """Whether the learner's LLM runs on this machine (its backend's own fact; the default llamacpp)."""
    from dataeff.learners.llm.backends import runs_locally

    return runs_locally(spec.params.get("backend") or "llamacpp")


def _mean_tokens(spec: LearnerSpec, texts: list[str], counters: dict) -> float:
    """Mean tokens of ``texts``: a local model's own tokenizer (its vocabulary only, no
    weights; loaded once per model into ``counters``), else about four characters a token."""
    if not texts:
        return 0.0
    from dataeff.learners.llm.backends import local_token_counter, runs_locally

    params = spec.params
    model = (params.get("backend"), params.get("model"), params.get("cache"))
    if model[0] and runs_locally(model[0]) and model not in counters:
        try:
            counters[model] = local_token_counter(*model)[0]
        except Exception:  # noqa: BLE001 - an estimate: a model not in place yet falls back to characters
            counters[model] = None
    if counters.get(model) is not None:
        return float(np.mean(counters[model](texts)))
    return approximate_tokens(texts)


def approximate_tokens(texts: list[str]) -> float:
    """Mean tokens of ``texts`` where no tokenizer is at hand (an endpoint's): about four
    characters a token, and the few tokens that frame a prompt."""
    return float(np.mean([len(t) for t in texts])) / 4 + 4 if texts else 0.0


def attention_weight(position: float) -> float:
    """A local token's cost at ``position`` in its context, in units of the first token's:
    the global layers attend to every token before it, the sliding-window ones to WINDOW."""
    looked_at = GLOBAL_SHARE * position + (1 - GLOBAL_SHARE) * min(position, WINDOW)
    return 1 + looked_at / ATTENTION_TOKENS
