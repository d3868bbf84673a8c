"""Prompt tokens/s of the project's llama.cpp build (GGML_NATIVE=OFF: this CPU's sets, no AMX;
the Makefile's LLAMA_CMAKE_ARGS) against llama-cpp-python's default build (-march=native), each
with llama.cpp's extra weight buffers (the CPU repack) and without them (how `load_llama` loads
a model on a build that has AMX kernels).

Each prompt (a fine-food review in llm-zero's prompt) is evaluated from an empty KV cache in one
batch, one thread, as a cell does. The modes run interleaved, each in a fresh process (a build
with AMX kernels dies of SIGSEGV with the extra buffers; that is recorded), `--repeats` rounds,
median kept.

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
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def measure(spec_file: str, mode: str) -> None:
    """In whichever interpreter runs it: tokens/s of the prompts with the extra weight buffers
    (``mode`` "extra_buffers") or without them ("plain_buffers"), printed as JSON. One mode a
    process: a build with AMX kernels dies of SIGSEGV with the extra buffers (issue 20824), and
    that death is the measurement's answer for that mode, not the end of the benchmark."""
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

    extra = mode == "extra_buffers"
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
    llm.close()
    print(json.dumps({"system_info": llama_cpp.llama_print_system_info().decode(),
                      "tokens_per_s": sum(map(len, tokens)) / seconds}))


MODES = ("extra_buffers", "plain_buffers")


def measured(python: str, spec_file: Path, mode: str) -> dict:
    """One mode's measurement in a fresh process of ``python``; a process that dies is recorded
    with the signal that killed it."""
    done = subprocess.run([python, __file__, "--measure", str(spec_file), "--mode", mode], capture_output=True,
                          text=True)
    if done.returncode == 0:
        return json.loads(done.stdout)
    if done.returncode < 0:
        return {"died": signal.Signals(-done.returncode).name}
    raise RuntimeError(f"{python} failed measuring {mode}:\n{done.stderr[-2000:]}")


def shown(m: dict) -> str:
    return f"died ({m['died']})" if "died" in m else f"{m['tokens_per_s']:.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--against", help="an interpreter whose llama_cpp is the default (-march=native) build")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure, args.mode)
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
    runs: dict[str, dict[str, list[dict]]] = {name: {mode: [] for mode in MODES} for name in builds}
    for _ in range(args.repeats):
        for name, python in builds.items():
            for mode in MODES:
                runs[name][mode].append(measured(python, spec_file, mode))
            print(f"{name}: {shown(runs[name]['extra_buffers'][-1])} / {shown(runs[name]['plain_buffers'][-1])} "
                  "tokens/s (extra / plain buffers)", flush=True)
    tokens = sum(len(p) for p in spec["prompts"])
    print(f"{args.rows} fine-food prompts ({tokens:,} characters), 1 thread, median of {args.repeats} "
          "(prompt tokens per CPU second)")
    for name, by_mode in runs.items():
        info = next((m["system_info"] for ms in by_mode.values() for m in ms if "system_info" in m), "?")
        print(f"{name}: {info.strip()}")
        for mode, ms in by_mode.items():
            rates = [m["tokens_per_s"] for m in ms if "tokens_per_s" in m]
            median = f"{statistics.median(rates):.0f} tokens/s " if len(rates) == len(ms) else ""
            print(f"  {mode}: {median}({', '.join(shown(m) for m in ms)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
