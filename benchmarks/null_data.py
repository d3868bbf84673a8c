"""Error rates on data without signal: whole studies on generated tables whose label is drawn
apart from every column (binary with 30% 'yes', and three classes).

Reports the share of runs that find a signal, that mark a crossover significant, and that
give any labels-to-target or cost route. Targets (issue 16): significant crossovers <= 5% of
runs, labels-to-target and cost routes in none. Exits 1 when a target is missed.

    .venv/bin/python benchmarks/null_data.py            # 20 tables (10 binary, 10 three-class)
    .venv/bin/python benchmarks/null_data.py --tables 40
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import dataeff


def null_table(seed: int, classes: int, rows: int = 3000) -> pd.DataFrame:
    """Five columns (two numbers, a category, a count, an amount) and a label drawn apart from them."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x1": rng.normal(size=rows), "x2": rng.normal(size=rows),
                          "plan": rng.choice(["basic", "plus", "premium"], rows),
                          "visits": rng.integers(0, 30, rows), "spend": rng.gamma(2.0, 30.0, rows)})
    if classes == 2:
        frame["label"] = np.where(rng.random(rows) < 0.3, "yes", "no")
    else:
        frame["label"] = rng.choice([f"c{k}" for k in range(classes)], rows)
    return frame


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tables", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    rows = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.tables):
            classes = 2 if k % 2 == 0 else 3
            result = dataeff.run(data=null_table(1000 + k, classes), label="label",
                                 learners=["majority", "logreg", "xgboost"], seeds=args.seeds,
                                 sizes=[16, 64, 256, 1024], out=Path(tmp) / f"t{k}", progress=False)
            summary = json.loads((result.out / "summary.json").read_text())
            signal = summary["signal"]
            rows.append({
                "table": k, "classes": classes, "signal": bool(signal["found"]),
                "best_p_adjusted": signal["best"]["p_adjusted"], "best": signal["best"]["score"],
                "significant_crossover": any(c["significant"] for c in summary["crossovers"]),
                "labels_to_target": any((entry.get("labels_to_target") or {}).get("n") is not None
                                        for entry in summary["learners"].values()),
                "cost_route": "cheapest" in summary,
            })
            print(json.dumps(rows[-1]), flush=True)
    frame = pd.DataFrame(rows)
    shares = {name: float(frame[name].mean()) for name in
              ("signal", "significant_crossover", "labels_to_target", "cost_route")}
    print(f"\n{len(frame)} null tables ({(frame['classes'] == 2).sum()} binary, {(frame['classes'] == 3).sum()} "
          f"three-class), {args.seeds} seeds, majority/logreg/xgboost at 16, 64, 256, 1,024 labels; "
          f"{time.perf_counter() - started:.0f} s")
    print("| runs | signal found | significant crossover | labels to target | cost route |")
    print("|---:|---:|---:|---:|---:|")
    print(f"| {len(frame)} | {shares['signal']:.0%} | {shares['significant_crossover']:.0%} | "
          f"{shares['labels_to_target']:.0%} | {shares['cost_route']:.0%} |")
    print(f"smallest adjusted p of a run: median {frame['best_p_adjusted'].median():.2f}, "
          f"min {frame['best_p_adjusted'].min():.3f}")
    ok = shares["significant_crossover"] <= 0.05 and shares["labels_to_target"] == 0 and shares["cost_route"] == 0
    print("targets met" if ok else "target missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
