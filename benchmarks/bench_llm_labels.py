"""What an LLM's labels are worth to a cheap model: llm-labels routes (a labelling LLM, a
student) against the student on human labels and against prompting the LLM for every row.

    .venv/bin/python benchmarks/bench_llm_labels.py --data fine-foods --labellers llm-zero --students logreg,xgboost
    .venv/bin/python benchmarks/bench_llm_labels.py --data churn --labellers llm-zero --students logreg,xgboost

Prints the README table's rows (the pool's labels alone in the student's human labels, with
their CI; the student against its teacher; the labels' agreement with the hidden ones) and the
cost of each route to the target, cheapest first, with the run's wall time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import dataeff
from dataeff.report.answers import cost_rows, interval, labels, score


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="fine-foods")
    parser.add_argument("--labellers", default="llm-zero")
    parser.add_argument("--students", default="logreg,xgboost")
    parser.add_argument("--pool", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--sizes", default="8,16,32,64,128,256,512")
    parser.add_argument("--test-rows", type=int, default=300)
    parser.add_argument("--out", default=None, help="keep the run folder here (default: a temporary one)")
    args = parser.parse_args()
    labellers, students = args.labellers.split(","), args.students.split(",")
    routes = [f"{labeller}>{student}=llm-labels(labeller={labeller}, student={student}, pool={args.pool})"
              for labeller in labellers for student in students]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out) if args.out else Path(tmp) / "run"
        result = dataeff.run(data=args.data, learners=[*students, *labellers, *routes], seeds=args.seeds,
                             sizes=[int(s) for s in args.sizes.split(",")], test_rows=args.test_rows, out=out,
                             progress=False)
    seconds = time.perf_counter() - started
    analysis = result.analysis
    failed = int((result.results["status"] != "ok").sum())
    print(f"{args.data}: {analysis.metric}, pool {args.pool}, {args.seeds} seeds, sizes {result.facts.sizes}, "
          f"{args.test_rows} test rows, {seconds:.0f} s, {failed} failed cells")
    print("| data | labeller → student | LLM labels alone (n = 0) | worth in the student's human labels [95% CI] "
          "| the labeller itself | student − labeller [95% CI] | labels right |")
    print("|---|---|---|---|---|---|---|")
    for r in analysis.label_routes:
        worth = (f"{labels(r.exchange.n)} {interval(r.exchange.ci)}" if r.exchange and r.exchange.n is not None
                 else "beyond the sizes measured" if r.exchange else "n/a (no signal)")
        if r.exchange is not None and r.exchange.how == "at_most":
            worth = f"at most {labels(r.exchange.n)} (the smallest size)"
        agree = f"{r.agreement:.0%}" if r.agreement is not None else "n/a"
        versus = (f"{r.versus_teacher:+.3f} {interval(r.versus_teacher_ci, score)}" if r.versus_teacher is not None
                  else "n/a")
        print(f"| {args.data} | {r.labeller} → {r.student} | {score(r.score_at_zero)} | {worth} | "
              f"{score(r.teacher_score)} | {versus} | {agree} |")
    target = analysis.target
    print(f"\nCost to the target ({target.spec} = {score(target.value)}), cheapest first "
          "(learner, labels, labelling, compute, serving a month, first month):")
    for row in cost_rows(analysis):
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
