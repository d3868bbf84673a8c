"""Does choosing rows pay? Margin sampling against random rows, paired over seeds.

Two modes:

    # 20 tables whose label is drawn apart from every column: choosing rows must never pay
    .venv/bin/python benchmarks/bench_acquisition.py --null 20
    # real data: each learner with margin sampling against itself on random rows
    .venv/bin/python benchmarks/bench_acquisition.py --data churn --learners logreg,xgboost --seeds 10
    # the cold start: the zero-shot LLM picks the first rows, then margin
    .venv/bin/python benchmarks/bench_acquisition.py --data fine-foods --learners logreg --strategy llm-zero

The null mode exits 1 when any table's verdict is significant (pays or hurts); the data mode
prints the README table's rows (labels saved at the target with their CI, the area between the
curves, the verdict) and the run's wall time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import dataeff
from dataeff.report.answers import interval, labels, score


def null_mode(tables: int, seeds: int) -> int:
    from null_data import null_table

    verdicts = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(tables):
            classes = 2 if k % 2 == 0 else 3
            result = dataeff.run(data=null_table(2000 + k, classes, rows=1500), label="label",
                                 learners=["majority", "logreg", "margin=logreg(acquire=margin)"], seeds=seeds,
                                 sizes=[16, 32, 64, 128, 256], test_rows=300, out=Path(tmp) / f"t{k}",
                                 progress=False)
            [answer] = result.analysis.acquisition
            verdicts.append(answer.verdict)
            print(f"table {k} ({classes} classes): {answer.verdict}; area {score(answer.area)} "
                  f"{interval(answer.area_ci, score)}; signal {result.analysis.signal.found}", flush=True)
    wrong = sum(v != "does not pay" for v in verdicts)
    print(f"{wrong} of {tables} null tables say choosing rows pays or hurts ({time.perf_counter() - started:.0f} s)")
    return 1 if wrong else 0


def data_mode(data: str, learners: list[str], seeds: int, sizes: list[int] | None, test_rows: int | None,
              target: str, strategy: str) -> int:
    variants = [item for name in learners for item in (name, f"{name}-{strategy}={name}(acquire={strategy})")]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        result = dataeff.run(data=data, learners=variants, seeds=seeds, sizes=sizes, test_rows=test_rows,
                             score_target=target, out=Path(tmp) / "run", progress=False)
    seconds = time.perf_counter() - started
    analysis = result.analysis
    print(f"{data}: {analysis.metric}, target {analysis.target.spec} = {score(analysis.target.value)}, "
          f"{seeds} seeds, sizes {result.facts.sizes}, {seconds:.0f} s")
    print(f"| data | learner | labels to target (random → {strategy}) | labels saved [95% CI] | area [95% CI] | verdict |")
    print("|---|---|---|---|---|---|")
    for a in analysis.acquisition:
        print(f"| {data} | {a.twin} | {labels(a.twin_labels)} → {labels(a.labels)} | "
              f"{labels(a.labels_saved) if a.labels_saved is not None else 'n/a'} "
              f"{interval(a.labels_saved_ci)} | {a.area:+.3f} {interval(a.area_ci, score)} | {a.verdict} |")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--null", type=int, default=0, help="null tables to run (0: the data mode)")
    parser.add_argument("--data", default="churn")
    parser.add_argument("--learners", default="logreg,xgboost")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--sizes", default=None, help="comma-separated (default: 8 to 512 by doubling)")
    parser.add_argument("--test-rows", type=int, default=None)
    parser.add_argument("--target", default="95%")
    parser.add_argument("--strategy", default="margin", help="margin, entropy or llm-zero (the cold start)")
    args = parser.parse_args()
    if args.null:
        return null_mode(args.null, args.seeds)
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else [8, 16, 32, 64, 128, 256, 512]
    return data_mode(args.data, args.learners.split(","), args.seeds, sizes, args.test_rows, args.target, args.strategy)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))  # null_data's tables
    sys.exit(main())
