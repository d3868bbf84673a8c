"""What a data source is worth, against a known truth: synthetic customers whose label depends on
purchases, tickets and the customer's own columns, never on the irrelevant ones.

Each table is written by ``dataeff synth``'s generator (its own seed) and studied with
``worth_of = ["purchases", "tickets", "irrelevant"]``: logreg and xgboost, 5 seeds, 50 to 1,600
labels, 500 test rows. Then the same tables with the label shuffled across customers (a null:
no source carries it). Reported per group: how often each verdict came out, how often the labels
saved had a CI above zero, and how often the ceiling drop did.

Targets (issue 42): purchases and tickets each found worth labels (labels-saved CI above zero)
and their removal lowering the ceiling (drop CI above zero) on the generated tables; the
irrelevant group worth nothing measurable (verdict none) on every one; on the null tables no
source claimed worth anything. Exits 1 when a target is missed.

    .venv/bin/python benchmarks/bench_sources.py [--tables 20] [--rows 3000] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

GROUPS = ("purchases", "tickets", "irrelevant")
STUDY = ('\n[study]\nlearners = ["majority", "logreg", "xgboost"]\nseeds = 5\n'
         'sizes = [50, 100, 200, 400, 800, 1600]\ntest_rows = 500\nworth_of = ["purchases", "tickets", "irrelevant"]\n')


def table(folder: Path, seed: int, rows: int, null: bool) -> Path:
    """A synthetic customers folder with its study.toml; ``null`` shuffles the label."""
    from dataeff.data.synthetic import generate, write

    data = generate(rows=rows, irrelevant=6, seed=seed)
    write(data, folder)
    if null:  # the label drawn apart from every column: shuffled across customers
        customers = pd.read_parquet(folder / "customers.parquet")
        customers["churned"] = np.random.default_rng(seed).permutation(customers["churned"].to_numpy())
        customers.to_parquet(folder / "customers.parquet", index=False)
    with (folder / "study.toml").open("a") as toml:
        toml.write(STUDY)
    return folder / "study.toml"


def study(config: Path, out: Path, jobs: int) -> dict:
    done = subprocess.run([sys.executable, "-m", "dataeff", "run", "--config", str(config), "--out", str(out),
                           "--jobs", str(jobs), "--quiet"], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"the study on {config.parent.name} failed:\n{done.stderr[-2000:]}")
    return json.loads((out / "summary.json").read_text())


def tally(summaries: list[dict]) -> dict[str, dict]:
    """Per group: verdict counts, and how many (table, learner) pairs had each CI above zero."""
    out = {group: {"pairs": 0, "verdicts": Counter(), "labels_ci_above_0": 0, "drop_ci_above_0": 0}
           for group in GROUPS}
    for summary in summaries:
        for s in summary["sources"]:
            entry = out[s["group"]]
            entry["pairs"] += 1
            entry["verdicts"][s["verdict"]] += 1
            saved = s["labels_saved"] or {}
            entry["labels_ci_above_0"] += bool((saved.get("ci") or [None])[0] is not None and saved["ci"][0] > 0)
            entry["drop_ci_above_0"] += bool(s["ceiling_drop_ci"][0] is not None and s["ceiling_drop_ci"][0] > 0)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=20)
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    started = time.perf_counter()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for null in (False, True):
            summaries = []
            for k in range(args.tables):
                folder = Path(tmp) / f"{'null' if null else 'real'}{k}"
                summaries.append(study(table(folder, 100 + k, args.rows, null), folder / "run", args.jobs))
            results["null" if null else "generated"] = tally(summaries)
    print(f"{args.tables} generated and {args.tables} null tables, {args.rows:,} customers each, "
          f"{time.perf_counter() - started:.0f} s\n")
    print("| tables | group | (table, learner) pairs | raises-ceiling | saves-labels | none | labels CI > 0 | "
          "ceiling drop CI > 0 |\n|---|---|---|---|---|---|---|---|")
    for kind, groups in results.items():
        for group, e in groups.items():
            v = e["verdicts"]
            print(f"| {kind} | {group} | {e['pairs']} | {v['raises-ceiling']} | {v['saves-labels']} | {v['none']} | "
                  f"{e['labels_ci_above_0']} | {e['drop_ci_above_0']} |")
    real, null = results["generated"], results["null"]
    missed = []
    for group in ("purchases", "tickets"):
        if real[group]["labels_ci_above_0"] < real[group]["pairs"] or real[group]["drop_ci_above_0"] < real[group]["pairs"]:
            missed.append(f"{group} not found worth labels and the ceiling on every generated table")
    if real["irrelevant"]["verdicts"]["none"] < real["irrelevant"]["pairs"]:
        missed.append("the irrelevant group claimed worth something")
    if any(e["verdicts"]["none"] < e["pairs"] for e in null.values()):
        missed.append("a source claimed on a null table")
    for line in missed:
        print(f"missed: {line}")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
