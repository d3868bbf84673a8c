"""The LLM work of a study sized before it starts (prompt tokens, core-minutes), so a user can
shrink --test-rows first."""

from __future__ import annotations

from dataeff.data.dataset import Dataset
from dataeff.experiment.plan import Plan
from dataeff.learners.registry import REGISTRY, LearnerSpec


# Gemma 3 270M through llama.cpp, one thread per job, prompt tokens per second of this estimate:
# measured here 314 on the fine-foods study with 1,000 test rows (2,172,334 estimated tokens in
# 3,461 s on 2 jobs) and about 100 on the short make-demo study (model loads and embeddings
# weigh more there); between the two, so a long run is not overestimated threefold.
LOCAL_TOKENS_PER_SECOND = 250


def llm_workload(dataset: Dataset, plan: Plan, specs: list[LearnerSpec]) -> str | None:
    """A rough size of the LLM work before it starts, so a user can shrink --test-rows first.

    Counts prompts the model must read at least once, each as long as that learner's own
    prompt of a row (its question, template and data dictionary): zero-shot prompts once per
    seed (they repeat across sizes), few-shot prompts once per cell plus its demonstrations,
    and for llm-prior the zero-shot prompts of the largest training subset and the test rows.
    Variants on local models and on endpoints are summed apart.
    """
    sample = dataset.X.head(50)
    seeds, n_test, sizes = len(plan.seeds), plan.n_test, plan.sizes
    tokens = {"local": 0.0, "endpoint": 0.0}
    for spec in specs:
        workload = REGISTRY[spec.kind].workload if spec.kind in REGISTRY else None
        if workload is None or "task" not in spec.params:
            continue
        task = spec.params["task"]
        per_row = sum(len(task.query(row)) for _, row in sample.iterrows()) / max(len(sample), 1) / 4 + 4
        shots = spec.params.get("k_max", 0)
        if workload == "zero":
            rows = n_test * seeds
        elif workload == "few":
            rows = n_test * seeds * (len(sizes) + 1) + shots * len(sizes) * seeds
        elif workload == "few_similar":  # a prompt of its own per test row beyond the shots
            beyond = sum(1 for size in sizes if size > shots)
            rows = n_test * seeds * (len(sizes) + 1 + beyond * shots)
        else:  # prior: the zero-shot prompts of the training rows and the test rows
            rows = (n_test + max(sizes)) * seeds
        tokens["endpoint" if spec.params.get("backend") == "openai" else "local"] += rows * per_row
    parts = []
    if tokens["local"]:
        minutes = tokens["local"] / LOCAL_TOKENS_PER_SECOND / 60
        parts.append(f"about {tokens['local']:,.0f} prompt tokens for local models before the cache, roughly "
                     f"{minutes:,.0f} minutes of one core at ~{LOCAL_TOKENS_PER_SECOND} tokens/s")
    if tokens["endpoint"]:
        parts.append(f"about {tokens['endpoint']:,.0f} prompt tokens (before the cache) go to the endpoint")
    if not parts:
        return None
    return f"LLM work: {'; '.join(parts)} (fewer --test-rows or --sizes shrink it)."
