"""Scoring throughput of the transformers backend (Gemma 3 270M GGUF dequantized to float32,
PyTorch on the CPU) against the llamacpp backend on the same prompts; the backends are called
directly, so the answer cache is bypassed (the converted model is kept in the usual cache).

Targets (issue: the transformers backend is "the same throughput class" as llama.cpp on a CPU):
1. Zero-shot on N fine-food reviews, one thread each: transformers reads >= 80% of the llamacpp
   backend's prompt tokens per second.
2. Few-shot with a shared prefix of k = 16 demonstrations: the cost per test row is within 2x
   of the cost at k = 0 (the prefix's KV cache is computed once per batch, not per row).

    .venv/bin/python benchmarks/bench_transformers.py [--rows 200] [--few-rows 64]
"""

from __future__ import annotations

import argparse
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--few-rows", type=int, default=64)
    args = parser.parse_args()
    import numpy as np
    import torch

    from dataeff.data.builtin import load_builtin
    from dataeff.learners.llm.backends import LlamaCpp, Transformers
    from dataeff.learners.llm.prompting import Task, balanced_demonstrations

    dataset = load_builtin("fine-foods")
    test = dataset.X[dataset.test_mask]
    task = Task.for_dataset("fine-foods", dataset.label, dataset.classes)
    answers = task.continuations()
    prompts = [task.query(row) for _, row in test.head(args.rows).iterrows()]
    zero = [(p, a) for p in prompts for a in answers]

    start = time.perf_counter()
    hf = Transformers(device="cpu")  # converts the GGUF once into the cache (not timed below)
    print(f"transformers: loaded (converted if needed) in {time.perf_counter() - start:.1f} s")
    llama = LlamaCpp(n_threads=1)
    n_tokens = sum(hf.count_tokens(prompts))

    def tokens_per_second(backend, requests, tokens) -> float:
        began = time.perf_counter()
        backend.loglikelihood(requests)
        return tokens / (time.perf_counter() - began)

    torch.set_num_threads(1)
    rate_llama = tokens_per_second(llama, zero, n_tokens)
    rate_hf = tokens_per_second(hf, zero, n_tokens)
    torch.set_num_threads(2)
    rate_hf_2 = tokens_per_second(hf, zero, n_tokens)
    torch.set_num_threads(1)
    print(f"zero-shot, {args.rows} reviews, {n_tokens:,} prompt tokens: llamacpp {rate_llama:.0f} tokens/s, "
          f"transformers {rate_hf:.0f} tokens/s on 1 thread ({rate_hf / rate_llama:.2f}x), {rate_hf_2:.0f} on 2")

    train = dataset.X[~dataset.test_mask]
    labels = dataset.y[~dataset.test_mask].astype(str)
    rows = test.head(args.few_rows)
    per_row = {}
    for k in (0, 16):
        chosen = balanced_demonstrations(labels.reset_index(drop=True), k, np.random.default_rng(0)) if k else []
        prefix = "".join(task.demonstration(train.iloc[i], labels.iloc[i]) for i in chosen)
        requests = [(prefix + task.query(row), a) for _, row in rows.iterrows() for a in answers]
        began = time.perf_counter()
        hf.loglikelihood(requests)
        per_row[k] = (time.perf_counter() - began) / len(rows)
        print(f"few-shot k={k}: {per_row[k] * 1000:.0f} ms per row "
              f"(prefix {hf.count_tokens([prefix])[0] if prefix else 0} tokens)")
    ratio = per_row[16] / per_row[0]
    print(f"k=16 costs {ratio:.2f}x k=0 per row")

    missed = []
    if rate_hf < 0.8 * rate_llama:
        missed.append(f"transformers at {rate_hf / rate_llama:.0%} of llamacpp's tokens/s (target >= 80%)")
    if ratio > 2.0:
        missed.append(f"k=16 per-row cost {ratio:.2f}x k=0 (target <= 2x)")
    for line in missed:
        print("MISSED:", line)
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
