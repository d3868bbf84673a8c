"""The LLM work of a study sized before it starts (prompt tokens, core-minutes), so a user can
shrink --test-rows first."""

from __future__ import annotations

from dataeff.data.dataset import Dataset
from dataeff.experiment.plan import Plan
from dataeff.learners.registry import LearnerSpec, is_llm_spec


# Gemma 3 270M through llama.cpp, one thread per job, prompt tokens per second of this estimate:
# measured here 314 on the fine-foods study with 1,000 test rows (2,172,334 estimated tokens in
# 3,461 s on 2 jobs) and about 100 on the short make-demo study (model loads and embeddings
# weigh more there); between the two, so a long run is not overestimated threefold.
LOCAL_TOKENS_PER_SECOND = 250


def llm_workload(dataset: Dataset, plan: Plan, specs: list[LearnerSpec]) -> str | None:
    """A rough size of the LLM work before it starts, so a user can shrink --test-rows first.

    Counts prompts the model must read at least once: zero-shot prompts once per seed (they
    repeat across sizes), few-shot prompts once per cell plus its demonstrations, and for
    llm-prior the zero-shot prompts of the largest training subset and the test rows.
    """
    from dataeff.data.serialize import serialize_row
    kinds = {s.name: s.target.rsplit(":", 1)[-1] for s in specs if is_llm_spec(s)}
    kinds = {name: kind for name, kind in kinds.items() if kind != "llm_embed"}
    if not kinds:
        return None
    sample = dataset.X.head(50)
    per_row = sum(len(serialize_row(r)) for _, r in sample.iterrows()) / max(len(sample), 1) / 4 + 15
    seeds, n_test = len(plan.seeds), plan.n_test
    rows = 0.0
    for name, kind in kinds.items():
        if kind == "llm_zero":
            rows += n_test * seeds
        elif kind == "llm_few":
            shots = next(s.params.get("k_max", 8) for s in specs if s.name == name)
            rows += n_test * seeds * (len(plan.sizes) + 1) + shots * len(plan.sizes) * seeds
        elif kind == "llm_few_similar":  # a prompt of its own per test row beyond the shots
            shots = next(s.params.get("k_max", 8) for s in specs if s.name == name)
            beyond = sum(1 for size in plan.sizes if size > shots)
            rows += n_test * seeds * (len(plan.sizes) + 1 + beyond * shots)
        else:  # llm_prior, llm_prior_xgb
            rows += (n_test + max(plan.sizes)) * seeds
    tokens = rows * per_row
    if any(s.params.get("backend") == "openai" for s in specs if s.name in kinds):
        return f"LLM work: about {tokens:,.0f} prompt tokens (before the cache) go to the endpoint."
    minutes = tokens / LOCAL_TOKENS_PER_SECOND / 60
    return (f"LLM work: about {tokens:,.0f} prompt tokens before the cache, roughly {minutes:,.0f} minutes of one "
            f"core at ~{LOCAL_TOKENS_PER_SECOND} tokens/s (fewer --test-rows or --sizes shrink it).")
