"""llm-finetune's cost on this machine: training tokens per second and seconds per step of the
recipe (LoRA through peft on Gemma 3 270M, float32 on the CPU), scoring with the adapters, and
the memory the adapters and the optimizer add to the loaded model; then that the base model is
as it was (no LoRA module left, same weights, same scores).

    .venv/bin/python benchmarks/bench_finetune.py [--threads 1] [--steps 4] [--rows 64] [--test-rows 40]

No target: the numbers size the recipe's default steps (a cell at n = 512 must be feasible on a
CPU) and ``TRAIN_TOKENS_PER_SECOND`` in learners/llm/workload.py.
"""

from __future__ import annotations

import argparse
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--rows", type=int, default=64, help="training rows")
    parser.add_argument("--test-rows", type=int, default=40)
    args = parser.parse_args()
    import psutil
    import torch

    from dataeff.config import FINETUNE_LR, LORA_RANK
    from dataeff.data.builtin import load_builtin
    from dataeff.learners.llm.backends import Transformers
    from dataeff.learners.llm.finetune import _adapted, train
    from dataeff.learners.llm.prompting import Task

    torch.set_num_threads(args.threads)
    dataset = load_builtin("fine-foods")
    task = Task.for_dataset("fine-foods", dataset.label, dataset.classes)
    train_X, train_y = dataset.X[~dataset.test_mask].head(args.rows), dataset.y[~dataset.test_mask].head(args.rows)
    examples = [(task.query(row), f" {task.verbalizers[label]}")
                for (_, row), label in zip(train_X.iterrows(), train_y)]
    tests = [(task.query(row), answer) for _, row in dataset.X[dataset.test_mask].head(args.test_rows).iterrows()
             for answer in task.continuations()]
    lm = Transformers(device="cpu")  # converts the GGUF once into the cache (not timed)
    process = psutil.Process()
    before_weights = {k: v.clone() for k, v in list(lm.model.state_dict().items())[:8]}
    base_scores = lm.loglikelihood(tests)
    rss_loaded = process.memory_info().rss

    # One warm-up step (allocations, kernels), then the timed steps.
    with _adapted(lm.model, LORA_RANK, 0) as model:
        train(model, lm, examples, 1, args.batch_size, FINETUNE_LR, 0)
    # CPU seconds as well as wall: on a machine shared with other jobs the wall clock measures
    # the neighbours; with one thread, CPU time is the work's own.
    start, cpu = time.perf_counter(), time.process_time()
    with _adapted(lm.model, LORA_RANK, 0) as model:
        tokens = train(model, lm, examples, args.steps, args.batch_size, FINETUNE_LR, 0)
        train_seconds, train_cpu = time.perf_counter() - start, time.process_time() - cpu
        rss_trained = process.memory_info().rss
        scorer = lm.scoring_with(model, "bench")
        start, cpu = time.perf_counter(), time.process_time()
        tuned_scores = scorer.loglikelihood(tests)
        score_seconds, score_cpu = time.perf_counter() - start, time.process_time() - cpu
    prompt_tokens = sum(lm.count_tokens([p for p, _ in tests[::len(task.continuations())]]))

    left = [name for name, _ in lm.model.named_modules() if "lora" in name]
    same_weights = all(torch.equal(v, lm.model.state_dict()[k]) for k, v in before_weights.items())
    same_scores = lm.loglikelihood(tests) == base_scores
    print(f"threads {args.threads}, rows of ~{tokens / args.steps / args.batch_size:.0f} tokens, "
          f"batch {args.batch_size}, rank {LORA_RANK}")
    print(f"training: {tokens / train_cpu:.0f} tokens per CPU s, {train_cpu / args.steps:.1f} CPU s/step "
          f"(wall: {tokens / train_seconds:.0f} tokens/s, {train_seconds / args.steps:.1f} s/step; "
          f"{args.steps} steps, {tokens} tokens)")
    print(f"scoring with adapters: {prompt_tokens / score_cpu:.0f} prompt tokens per CPU s "
          f"(wall {prompt_tokens / score_seconds:.0f}; {args.test_rows} rows, {prompt_tokens} tokens)")
    print(f"memory: model loaded {rss_loaded / 2**30:.2f} GiB RSS, +{(rss_trained - rss_loaded) / 2**20:.0f} MiB "
          f"while training (adapters, optimizer, activations)")
    moved = sum(abs(a - b) for a, b in zip(tuned_scores, base_scores)) / len(tests)
    print(f"scores moved by training: mean |delta| {moved:.3f} nats")
    print(f"base model after: LoRA modules left {len(left)}, weights equal {same_weights}, scores equal {same_scores}")
    return 0 if not left and same_weights and same_scores else 1


if __name__ == "__main__":
    raise SystemExit(main())
