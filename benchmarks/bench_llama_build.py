"""Prompt tokens/s of the project's llama.cpp build (GGML_NATIVE=OFF: AVX2, no AMX; the Makefile's
LLAMA_CMAKE_ARGS) against llama-cpp-python's default build (-march=native), each with llama.cpp's
extra weight buffers (the CPU repack) and without them (how `load_llama` loads a model on a
build that has AMX kernels).

Each prompt (a fine-food review in llm-zero's prompt) is evaluated from an empty KV cache in one
batch, one thread, as a cell does. The modes run interleaved, `--repeats` rounds, median kept.

    .venv/bin/python benchmarks/bench_llama_build.py [--rows 40] [--against PYTHON]

`--against` names another interpreter whose llama_cpp is the default build, e.g. a venv made with
    python3 -m venv /tmp/native && /tmp/native/bin/pip install numpy typing-extensions diskcache jinja2
    CMAKE_ARGS="" pip wheel --no-deps --no-cache-dir llama-cpp-python==0.3.36 -w /tmp/wheel
    /tmp/native/bin/pip install --no-deps /tmp/wheel/llama_cpp_python-*.whl
It needs only llama_cpp there: prompts and model path reach it in a JSON file.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def measure(spec_file: str) -> None:
    """In whichever interpreter runs it: tokens/s of each prompt list, printed as JSON."""
    from contextlib import nullcontext

    import llama_cpp
    import llama_cpp.llama_cpp as native
    from llama_cpp import Llama

    spec = json.loads(Path(spec_file).read_text())
    default = native.llama_model_default_params

    def plain():
        params = default()
        params.use_extra_bufts = False
        return params

    class Plain:
        def __enter__(self):
            native.llama_model_default_params = plain

        def __exit__(self, *exc):
            native.llama_model_default_params = default

    out = {"system_info": llama_cpp.llama_print_system_info().decode()}
    for extra in (True, False):
        with nullcontext() if extra else Plain():
            llm = Llama(model_path=spec["model"], n_ctx=4096, n_threads=1, n_threads_batch=1, n_batch=512,
                        verbose=False)
        tokens = [llm.tokenize(p.encode(), add_bos=True, special=False) for p in spec["prompts"]]
        llm.reset()
        llm.eval(tokens[0])  # warm-up: pages in the weights
        start = time.process_time()
        for row in tokens:
            llm.reset()
            llm.eval(row)
        seconds = time.process_time() - start
        out["extra_buffers" if extra else "plain_buffers"] = sum(map(len, tokens)) / seconds
        llm.close()
    print(json.dumps(out))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--against", help="an interpreter whose llama_cpp is the default (-march=native) build")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure)
        return 0

    from dataeff.data.builtin import load_builtin
    from dataeff.learners.llm.backends import default_gguf
    from dataeff.learners.llm.prompting import Task

    cache_folder = Path(tempfile.mkdtemp(prefix="dataeff-bench-cache-"))
    dataset = load_builtin("fine-foods")
    test = dataset.X[dataset.test_mask].head(args.rows)
    task = Task.for_dataset("fine-foods", dataset.label, dataset.classes)
    spec = {"model": str(default_gguf(cache_folder)), "prompts": [task.query(row) for _, row in test.iterrows()]}
    spec_file = cache_folder / "spec.json"
    spec_file.write_text(json.dumps(spec))
    builds = {"project build": sys.executable} | ({"default build": args.against} if args.against else {})
    runs: dict[str, list[dict]] = {name: [] for name in builds}
    for _ in range(args.repeats):
        for name, python in builds.items():
            done = subprocess.run([python, __file__, "--measure", str(spec_file)], capture_output=True, text=True,
                                  check=True)
            runs[name].append(json.loads(done.stdout))
            print(f"{name}: {runs[name][-1]['extra_buffers']:.0f} / {runs[name][-1]['plain_buffers']:.0f} tokens/s "
                  "(extra / plain buffers)", flush=True)
    tokens = sum(len(p) for p in spec["prompts"])
    print(f"{args.rows} fine-food prompts ({tokens:,} characters), 1 thread, median of {args.repeats} (prompt tokens per CPU second)")
    for name, measured in runs.items():
        print(f"{name}: {measured[0]['system_info'].strip()}")
        for mode in ("extra_buffers", "plain_buffers"):
            print(f"  {mode}: {statistics.median(m[mode] for m in measured):.0f} tokens/s "
                  f"({', '.join(f'{m[mode]:.0f}' for m in measured)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
