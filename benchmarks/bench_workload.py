"""The LLM work estimate printed before a run ("LLM work: ... minutes of one core") against the
core time the run then measured: the sum of the LLM cells' fit_seconds + predict_seconds.

Two studies, each on a fresh answer cache (nothing served from an earlier run):
1. the fine-foods demo study: llm-zero, llm-few, 2 seeds, sizes 8 and 32, 60 test rows;
2. a tabular study with a data dictionary: built-in attrition (30 columns, each described),
   llm-zero, llm-few (4 shots: 8 rows of ~460 tokens would not fit the context), 2 seeds,
   sizes 8 and 32, 60 test rows.
Target: each estimate within 30% of the measured core time. Exits 1 when one misses it.

    .venv/bin/python benchmarks/bench_workload.py [--keep DIR]

Measured core time: the CPU seconds of the LLM cells (one job, so the cells run in this process
and each is timed with time.process_time), next to the store's fit + predict seconds (wall
clock: the same on an idle machine, more when other work shares the cores).
``--keep DIR`` keeps the run folders, caches and measurements there; a second call on the same
DIR reuses the measurements and only recomputes the estimate.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

TARGET = 0.30

# What each attrition column means, as a user would write it in a data dictionary.
ATTRITION_DICTIONARY = {
    "Age": "age of the employee in years",
    "BusinessTravel": "how often the employee travels for work",
    "DailyRate": "daily pay rate in dollars",
    "Department": "department the employee works in",
    "DistanceFromHome": "distance from home to work in miles",
    "Education": "highest level of education",
    "EducationField": "field of the highest education",
    "EnvironmentSatisfaction": "satisfaction with the work environment",
    "Gender": "gender of the employee",
    "HourlyRate": "hourly pay rate in dollars",
    "JobInvolvement": "how involved the employee is in the job",
    "JobLevel": "seniority level of the job, 1 (entry) to 5 (executive)",
    "JobRole": "the employee's job title",
    "JobSatisfaction": "satisfaction with the job",
    "MaritalStatus": "marital status",
    "MonthlyIncome": "monthly income in dollars",
    "MonthlyRate": "monthly pay rate in dollars",
    "NumCompaniesWorked": "number of companies worked at before this one",
    "OverTime": "whether the employee works overtime",
    "PercentSalaryHike": "last salary increase in percent",
    "PerformanceRating": "last performance rating",
    "RelationshipSatisfaction": "satisfaction with relationships at work",
    "StockOptionLevel": "stock option level, 0 (none) to 3",
    "TotalWorkingYears": "total years of work experience",
    "TrainingTimesLastYear": "training sessions attended last year",
    "WorkLifeBalance": "the employee's own rating of work-life balance",
    "YearsAtCompany": "years at this company",
    "YearsInCurrentRole": "years in the current role",
    "YearsSinceLastPromotion": "years since the last promotion",
    "YearsWithCurrManager": "years with the current manager",
}

COMMON = dict(learners="llm-zero,llm-few", seeds=2, sizes=[8, 32], test_rows=60)


def studies(folder: Path) -> dict[str, dict]:
    dictionary = folder / "attrition-dictionary.csv"
    with dictionary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["column", "description"])
        writer.writerows(ATTRITION_DICTIONARY.items())
    return {"fine-foods": dict(source="fine-foods", **COMMON),
            # 4 demonstrations: 8 of its ~460-token rows would not fit the model's 4,096 tokens
            "attrition + dictionary": dict(source="attrition", llm_dictionary=str(dictionary), llm_shots=4,
                                           **COMMON)}


def measure(settings: dict, out: Path) -> dict:
    """One study run in ``out`` on one job (its cells in this process), with its own answer
    cache next to it (created fresh with the run folder): the estimate, and the LLM cells'
    seconds as the store has them (fit + predict, wall clock) and as CPU time of this process
    (the core time actually used, whatever else the machine runs). Saved as ``out.json`` and
    reused by the next call."""
    import json

    from dataeff.experiment import runner
    from dataeff.experiment.store import STORE_NAME, Store
    from dataeff.learners.llm.workload import estimate
    from dataeff.study import Study

    study = Study(cache_dir=str(out.parent / f"{out.name}-cache"), jobs=1, **settings)
    dataset, plan, specs = study.prepare()
    guess = estimate(dataset, plan, specs)
    saved = out.parent / f"{out.name}.json"
    if not saved.exists():
        cpu: dict[str, float] = {}
        plain = runner.run_cell

        def timed(spec, cell, *args):
            start = time.process_time()
            row = plain(spec, cell, *args)
            cpu[f"{cell.learner} {cell.n_train} {cell.seed}"] = time.process_time() - start
            return row

        runner.run_cell = timed
        started = time.perf_counter()
        try:
            study.run(out, progress=False)
        except Exception as exc:  # noqa: BLE001 - the cells are in the store; the analysis is not measured
            print(f"  (the run's analysis failed: {exc!r}; its cells are stored)")
        finally:
            runner.run_cell = plain
        with Store(out / STORE_NAME) as store:
            cells = store.cells()
        llm = cells[cells["learner"].isin(["llm-zero", "llm-few"])]
        saved.write_text(json.dumps({
            "wall": float((llm["fit_seconds"] + llm["predict_seconds"]).sum()),
            "cpu": sum(v for k, v in cpu.items() if k.split()[0] in ("llm-zero", "llm-few")),
            "cells": len(llm), "run_seconds": time.perf_counter() - started, "cell_cpu": cpu,
        }, indent=1))
    return {"estimate": guess.local_seconds, **json.loads(saved.read_text())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the run folders here")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="dataeff-bench-workload-"))
    folder.mkdir(parents=True, exist_ok=True)
    missed = 0
    print(f"{'study':<24} {'estimate':>9} {'CPU':>9} {'ratio':>6} {'Σ fit+predict':>14}  cells")
    for name, settings in studies(folder).items():
        got = measure(settings, folder / name.split()[0])
        ratio = got["estimate"] / got["cpu"]
        missed += abs(ratio - 1) > TARGET
        print(f"{name:<24} {got['estimate']:>7.0f} s {got['cpu']:>7.0f} s {ratio:>6.2f} {got['wall']:>12.0f} s  "
              f"{got['cells']}")
    print(f"target: estimate within {TARGET:.0%} of the measured core (CPU) time; run folders in {folder}")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
