"""How long `dataeff report` and `dataeff analyze` take on a finished 5-learner x 15-size x 5-seed run.

Target (issue: the HTML report): `dataeff report RUN_DIR` under 5 s, no refitting.
The run folder is made once from synthetic cells (no models are fitted), then each command
is timed end to end as a user runs it (a fresh process, imports included).

    .venv/bin/python benchmarks/bench_report.py            # prints a table, exits 1 if over target
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

LEARNERS = ["majority", "logreg", "tree", "xgboost", "mlp"]
SIZES = [int(8 * 2 ** (k / 2) + 0.5) for k in range(15)]  # 8 ... 1024
SEEDS = 5
TARGET_SECONDS = 5.0


def make_run(out: Path) -> None:
    """A run folder with realistic cells, written through the real store and outputs."""
    from dataeff.experiment.store import STORE_NAME, Store
    from dataeff.results import analyze, load_run

    rng = np.random.default_rng(0)
    out.mkdir(parents=True)
    facts = {"dataset": "bench", "target": "y", "classes": ["no", "yes"], "class_counts": {"no": 800, "yes": 200},
             "rows": 5000, "columns": 20, "n_test": 1000, "pool_size": 4000, "sizes": SIZES,
             "seeds": list(range(SEEDS)), "n_seeds": SEEDS, "learners": LEARNERS, "feature_columns": ["x"]}
    with Store(out / STORE_NAME) as store:
        store.set_meta({"fingerprint": "bench", "facts": facts, "metric": "roc_auc"})
        for i, learner in enumerate(LEARNERS):
            a = 0.5 if learner == "majority" else 0.8 + 0.03 * i
            for seed in range(SEEDS):
                for n in SIZES:
                    auc = a - (a - 0.5) * 0.9 * n ** -0.4 * (learner != "majority") + rng.normal(0, 0.01)
                    store.write_cell({"learner": learner, "n_train": n, "seed": seed, "n_test": 1000,
                                      "status": "ok", "error": None, "fit_seconds": 1e-3 * n,
                                      "predict_seconds": 0.01, "tokens": 0.0, "accuracy": 0.8,
                                      "balanced_accuracy": 0.7, "roc_auc": auc, "log_loss": 0.4, "f1_macro": 0.7})
    analyze(load_run(out))


def timed(args: list[str], repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "dataeff", *args], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        make_run(out)
        report = timed(["report", str(out)])
        analyze = timed(["analyze", str(out)])
    rows = {"dataeff report (s)": report, "dataeff analyze (s)": analyze}
    print(json.dumps({"cells": len(LEARNERS) * len(SIZES) * SEEDS, **{k: round(v, 2) for k, v in rows.items()},
                      "target_report_s": TARGET_SECONDS}, indent=2))
    return 0 if report < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
