"""The validity harness (issue 15): on synthetic customers whose Bayes-optimal roc_auc is known,
does the ceiling dataeff reports say what it claims, and do its curve bands hold the curve?

What it runs. For each noise level (the label model's temperature, ``data/synthetic.py``),
``--datasets`` independent datasets (each from its own generator seed), and on each a full study
(``dataeff.Study(...).run``: logreg, xgboost and mlp, ``--seeds`` seeds, sizes up to the whole
training pool). The first ``--reference`` datasets of each level run ``--reference-seeds`` seeds
instead: cut into groups of ``--seeds`` seeds, each group is a study of its own (analysed by
``dataeff.analyze``, as a run folder would be), and the seeds outside a group are its many-seed
reference. Group 0 (seeds 0 .. seeds-1) is exactly the study a plain run with ``--seeds`` gives.

What it reports, per noise level:

- **The ceiling against the truth** (one study per dataset): the bias of the reported ceiling
  against truth.json's Bayes-optimal roc_auc (computed on all the dataset's rows), split into the
  test rows' luck (the Bayes-optimal score on the study's own test rows minus truth.json; zero on
  average, since every seed's test rows are a stratified sample of the same rows) and what the
  learners leave (the Bayes-optimal score on the same test rows minus the ceiling). Then how
  often the ceiling's lower end holds (ci_low <= truth: a measured ceiling is a lower bound, the
  best score the learners reach within the sizes measured), how often the two-sided 95% CI holds
  the truth, and how often the whole CI lies above it (an overclaim).
- **The ceiling against what it estimates** (reference datasets, every group): the best
  (learner, size)'s expected score, its mean over the reference seeds; the cross-fitted
  estimate's bias against it and how often its 95% CI holds it.
- **Curve means against the many-seed reference** (reference datasets, every group, every
  learner and size): the bias of a group's mean and how often its 95% band (the one summary.json
  and the report show) holds the reference mean. The reference is itself a mean of
  ``reference-seeds - seeds`` seeds, so even an exact 95% band holds it a little less often:
  ``ideal`` says how often (a normal approximation).
- **The same coverage on drawn groups** (``--draws`` random groups of ``--seeds`` seeds per
  reference dataset, each against the seeds outside it): the disjoint groups give coverage in
  coarse steps; the coverage targets read the drawn groups where there are some.

Targets: the issue's, at every noise level: ceiling bias within ±0.01 roc_auc and coverage of at
least 90% (for a lower bound, coverage means the bound holds); the same bounds for the
estimator against what it estimates and for the curve bands. Exits 1 when a target is missed.

    .venv/bin/python benchmarks/validity.py --jobs 2     # sized for 20-25 minutes on 2 quiet cores (unconfirmed)
    .venv/bin/python benchmarks/validity.py --jobs 2 --datasets 40 --reference 3 --reference-seeds 40
    .venv/bin/python benchmarks/validity.py --quick      # the test's small setup
    .venv/bin/python benchmarks/validity.py --records runs/validity.records.jsonl   # a run stopped early
    .venv/bin/python benchmarks/validity.py --reanalyse runs/validity.json   # same cells, today's analysis
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

METRIC = "roc_auc"
TARGET = "churned"
BIAS_BOUND = 0.01
COVERAGE_BOUND = 0.90
#: Random seed groups per reference dataset for the coverage checks (drawn_checks).
DRAWS = 400


@dataclass(frozen=True)
class Setup:
    """What the harness runs; the defaults are the README's measurement."""

    noises: tuple[float, ...] = (0.5, 1.0, 2.0)
    datasets: int = 20  # per noise level, independent
    rows: int = 3000
    test_rows: int = 800
    sizes: tuple[int, ...] = (64, 250, 1000, 2200)  # 2,200: the whole training pool
    seeds: int = 5
    learners: tuple[str, ...] = ("logreg", "xgboost", "mlp")
    reference: int = 1  # datasets per noise level that run reference_seeds seeds
    reference_seeds: int = 25
    base_seed: int = 15_000

    def data_seed(self, level: int, index: int) -> int:
        return self.base_seed + 1000 * level + index

    def tasks(self) -> list[tuple[int, float, int, int]]:
        """(level, noise, dataset index, seeds to run), the noise levels taking turns, so that a
        run stopped early (``--records``) has about as many datasets of each; the reference
        datasets (the longest) after the first half of the plain ones."""
        tasks = [(level, noise, i, self.reference_seeds if i < self.reference else self.seeds)
                 for level, noise in enumerate(self.noises) for i in range(self.datasets)]
        return sorted(tasks, key=lambda t: (t[2] if t[2] >= self.reference else self.datasets / 2, t[0]))

    def groups(self, n_seeds: int) -> list[list[int]]:
        return [list(range(g * self.seeds, (g + 1) * self.seeds)) for g in range(n_seeds // self.seeds)]


QUICK = Setup(noises=(0.5, 2.0), datasets=3, rows=1200, test_rows=300, sizes=(50, 200, 800), seeds=4,
              learners=("logreg", "xgboost"), reference=1, reference_seeds=12)


# ---------------------------------------------------------------------------------------------
# One dataset: generate, run the study, record scores, the ceiling and the bands of each group
# ---------------------------------------------------------------------------------------------
def bayes_probability(data) -> np.ndarray:
    """The label model's probability for every row (truth.json's ``label_model``)."""
    from dataeff.data.synthetic import _intercept, _logit

    logit = _logit(data.flat) / data.truth["noise"]
    return 1 / (1 + np.exp(-(logit + _intercept(logit, 0.25))))


def measure_dataset(setup: Setup, level: int, noise: float, index: int, n_seeds: int, workdir: str,
                    keep: bool = False) -> dict:
    """Generate one dataset, run its study (one process, ``jobs=1``) and record what the summary needs."""
    import dataeff
    from sklearn.metrics import roc_auc_score

    from dataeff.data.synthetic import generate

    started = time.perf_counter()
    seed = setup.data_seed(level, index)
    data = generate(rows=setup.rows, noise=noise, seed=seed)
    p = bayes_probability(data)
    y = (data.flat[TARGET] == "yes").to_numpy()
    truth = float(data.truth["bayes_roc_auc"])
    if abs(roc_auc_score(y, p) - truth) > 1e-9:  # the harness's Bayes scores must be truth.json's
        raise RuntimeError(f"dataset {seed}: the label model recomputed does not give truth.json's roc_auc")
    frame = data.flat.drop(columns=["customer_id"])
    study = dataeff.Study(frame, label=TARGET, learners=list(setup.learners), seeds=n_seeds,
                          sizes=list(setup.sizes), test_rows=setup.test_rows)
    _, plan, _ = study.prepare()
    out = Path(workdir) / f"noise{noise:g}-{index:03d}"
    result = study.run(out, jobs=1, progress=False, force=True)
    results = result.results
    if (results["status"] != "ok").any():
        failed = results[results["status"] != "ok"].iloc[0]
        raise RuntimeError(f"dataset {seed}: cell {failed['learner']} n={failed['n_train']} failed: {failed['error']}")
    bayes_test = [float(roc_auc_score(y[plan.splits[s].test_index], p[plan.splits[s].test_index]))
                  for s in plan.seeds]
    scores: dict[str, dict[int, list[float]]] = {}
    for (learner, n), group in results.groupby(["learner", "n_train"]):
        by_seed = dict(zip(group["seed"], group[METRIC]))
        scores.setdefault(learner, {})[int(n)] = [float(by_seed[s]) for s in plan.seeds]
    groups = []
    for seeds in setup.groups(n_seeds):
        subset = results[results["seed"].isin(seeds)].reset_index(drop=True)
        if len(seeds) == n_seeds:
            analysis = result.analysis  # the study's own answers
        else:  # a study of these seeds alone, analysed as a run folder would be
            analysis = dataeff.analyze(dataeff.RunResult(subset, out, METRIC, dict(result.facts)),
                                       write=False).analysis
        groups.append({"seeds": seeds, "bayes_test": float(np.mean([bayes_test[s] for s in seeds])),
                       "ceiling": ceiling_record(analysis, subset), "bands": band_record(subset)})
    if not keep:
        shutil.rmtree(out, ignore_errors=True)
    return {"noise": noise, "level": level, "index": index, "data_seed": seed, "truth": truth,
            "positive_rate": float(data.truth["positive_rate"]), "n_seeds": n_seeds, "n_test": plan.n_test,
            "pool": plan.pool_size, "sizes": [int(s) for s in plan.sizes], "bayes_test": bayes_test,
            "scores": {k: {str(n): v for n, v in d.items()} for k, d in scores.items()}, "groups": groups,
            "seconds": round(time.perf_counter() - started, 1)}


def ceiling_record(analysis, results) -> dict:
    """The reported ceiling, and the cross-fitted best measured point with its own CI (the
    reported CI is a fitted asymptote's when the ceiling came from a fit)."""
    from dataeff.analysis.ceiling import cross_fit_best
    from dataeff.analysis.curves import curves_from_results

    ceiling = analysis.ceiling
    curves, _ = curves_from_results(results, METRIC)
    estimate, (low, high), held = cross_fit_best(curves, METRIC)
    return {"value": ceiling.value, "ci": list(ceiling.ci), "source": ceiling.source, "learner": ceiling.learner,
            "best_measured": ceiling.best_measured, "best_measured_learner": ceiling.best_measured_learner,
            "best_measured_n": ceiling.best_measured_n, "largest_mean": ceiling.largest_mean,
            "cross_fit": estimate, "cross_fit_ci": [low, high], "held_out": [float(v) for v in held],
            "still_rising": list(ceiling.still_rising)}


def band_record(results) -> dict:
    """Each (learner, size)'s mean and 95% band as the run's curve table gives them."""
    from dataeff.analysis.curves import curve_table

    table = curve_table(results, METRIC)
    out: dict[str, dict[str, list[float]]] = {}
    for row in table.itertuples():
        out.setdefault(row.learner, {})[str(row.n_train)] = [row.mean, row.ci_low, row.ci_high]
    return out


# ---------------------------------------------------------------------------------------------
# The summary: per noise level, from the records alone (so a test can plant records)
# ---------------------------------------------------------------------------------------------
def _mean_se(values) -> tuple[float, float]:
    values = np.asarray([v for v in values if v is not None and np.isfinite(v)], float)
    if not len(values):
        return float("nan"), float("nan")
    se = float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else float("nan")
    return float(values.mean()), se


def _share(flags) -> float:
    flags = list(flags)
    return float(np.mean(flags)) if flags else float("nan")


def _finite(value) -> float:
    return float(value) if value is not None and np.isfinite(value) else float("nan")


def ideal_coverage(seeds: int, reference_seeds: int, confidence: float = 0.95) -> float:
    """How often an exact ``confidence`` interval from ``seeds`` seeds holds the mean of
    ``reference_seeds`` other seeds (the reference's own noise; normal approximation)."""
    from scipy.stats import norm

    if reference_seeds <= 0:
        return float("nan")
    z = norm.ppf(0.5 + confidence / 2) / math.sqrt(1 + seeds / reference_seeds)
    return float(2 * norm.cdf(z) - 1)


def ceiling_vs_truth(records: list[dict]) -> dict:
    """One study per dataset (group 0): the reported ceiling against truth.json's Bayes roc_auc."""
    rows = []
    for rec in records:
        group, truth = rec["groups"][0], rec["truth"]
        c = group["ceiling"]
        value, (low, high) = _finite(c["value"]), (_finite(c["ci"][0]), _finite(c["ci"][1]))
        rows.append({"truth": truth, "value": value, "low": low, "high": high, "source": c["source"],
                     "bias": value - truth, "luck": group["bayes_test"] - truth,
                     "left": group["bayes_test"] - value,
                     "measured_bias": _finite(c["cross_fit"]) - truth,
                     "largest_mean_bias": _finite(c["largest_mean"]) - truth})
    bias, bias_se = _mean_se(r["bias"] for r in rows)
    return {
        "datasets": len(rows),
        "truth": _mean_se(r["truth"] for r in rows)[0],
        "ceiling": _mean_se(r["value"] for r in rows)[0],
        "bias": bias, "bias_se": bias_se,
        "test_rows_luck": _mean_se(r["luck"] for r in rows)[0],
        "below_bayes_same_rows": _mean_se(r["left"] for r in rows)[0],
        "cross_fit_bias": _mean_se(r["measured_bias"] for r in rows)[0],
        "largest_mean_bias": _mean_se(r["largest_mean_bias"] for r in rows)[0],
        "lower_bound_holds": _share(r["low"] <= r["truth"] for r in rows),
        "ci_holds_truth": _share(r["low"] <= r["truth"] <= r["high"] for r in rows),
        "overclaims": _share(r["low"] > r["truth"] for r in rows),
        "from_fit": sum(r["source"] == "fit" for r in rows),
        "rows": rows,
    }


def reference_checks(records: list[dict]) -> dict:
    """Reference datasets, every group: the cross-fitted ceiling against the best point's
    reference mean, and every curve band against its point's reference mean."""
    ceiling_rows, band_rows = [], []
    for rec in records:
        n_seeds = rec["n_seeds"]
        for group in rec["groups"]:
            inside = set(group["seeds"])
            others = [s for s in range(n_seeds) if s not in inside]
            if not others:
                continue
            reference = {(learner, n): float(np.mean([values[s] for s in others]))
                         for learner, by_n in rec["scores"].items() for n, values in by_n.items()}
            best_point = max(reference, key=reference.get)
            best = reference[best_point]
            c = group["ceiling"]
            estimate, (low, high) = _finite(c["cross_fit"]), (_finite(c["cross_fit_ci"][0]),
                                                             _finite(c["cross_fit_ci"][1]))
            ceiling_rows.append({"estimand": best, "estimate": estimate, "bias": estimate - best,
                                 "holds": low <= best <= high, "truth_minus_best": rec["truth"] - best,
                                 "best_point": list(best_point), "reference_seeds": len(others)})
            for learner, by_n in group["bands"].items():
                for n, (mean, lo, hi) in by_n.items():
                    ref = reference[(learner, n)]
                    band_rows.append({"learner": learner, "n": int(n), "mean": mean, "ref": ref,
                                      "bias": mean - ref, "holds": bool(lo <= ref <= hi), "half_width": (hi - lo) / 2,
                                      "seeds": len(inside), "reference_seeds": len(others)})
    ideal = [ideal_coverage(r["seeds"], r["reference_seeds"]) for r in band_rows]
    by_point: dict[str, dict] = {}
    for r in band_rows:
        by_point.setdefault(f"{r['learner']}@{r['n']}", []).append(r)
    return {
        "groups": len(ceiling_rows),
        "ceiling_bias": _mean_se(r["bias"] for r in ceiling_rows)[0],
        "ceiling_bias_se": _mean_se(r["bias"] for r in ceiling_rows)[1],
        "ceiling_ci_holds": _share(r["holds"] for r in ceiling_rows),
        "learners_leave": _mean_se(r["truth_minus_best"] for r in ceiling_rows)[0],
        "bands": len(band_rows),
        "band_bias": _mean_se(r["bias"] for r in band_rows)[0],
        "band_abs_bias_max_point": max((abs(_mean_se(r["bias"] for r in rows)[0]) for rows in by_point.values()),
                                       default=float("nan")),
        "band_holds": _share(r["holds"] for r in band_rows),
        "band_ideal": float(np.mean(ideal)) if ideal else float("nan"),
        "band_half_width": _mean_se(r["half_width"] for r in band_rows)[0],
        "by_point": {k: {"trials": len(v), "holds": _share(r["holds"] for r in v),
                         "bias": _mean_se(r["bias"] for r in v)[0]} for k, v in by_point.items()},
        "ceiling_rows": ceiling_rows,
    }


def summarize(records: list[dict], draws: int = DRAWS) -> dict:
    """Per noise level: the ceiling against the truth, against what it estimates, and the bands
    (disjoint groups, and ``draws`` drawn groups per reference dataset); and the targets, each
    with whether it was met."""
    levels = {}
    for noise in sorted({r["noise"] for r in records}):
        mine = sorted((r for r in records if r["noise"] == noise), key=lambda r: r["index"])
        refs = [r for r in mine if r["n_seeds"] > len(r["groups"][0]["seeds"])]
        levels[f"{noise:g}"] = {"noise": noise, "truth": ceiling_vs_truth(mine),
                                "reference": reference_checks(refs) if refs else None,
                                "drawn": drawn_checks(refs, draws) if refs and draws else None}
    return {"levels": levels, "targets": targets(levels)}


def targets(levels: dict) -> list[dict]:
    """The issue's bounds at every noise level; a quantity that was not measured is not met."""
    out = []

    def check(name, level, value, ok):
        out.append({"target": name, "noise": level, "value": value, "met": bool(ok)})

    for key, level in levels.items():
        truth, ref = level["truth"], level["reference"]
        check("ceiling bias vs Bayes within ±0.01", key, truth["bias"], abs(truth["bias"]) <= BIAS_BOUND)
        check("ceiling lower bound holds >= 90%", key, truth["lower_bound_holds"],
              truth["lower_bound_holds"] >= COVERAGE_BOUND)
        if ref is None:  # no reference dataset at this level: nothing measured, nothing met
            ref = {"ceiling_bias": float("nan"), "ceiling_ci_holds": float("nan"), "band_bias": float("nan"),
                   "band_holds": float("nan")}
        check("ceiling bias vs the best point within ±0.01", key, ref["ceiling_bias"],
              abs(ref["ceiling_bias"]) <= BIAS_BOUND)
        # Coverage from the drawn groups where there are some: the same datasets, without the
        # 7%-steps of one partition into 5 groups each.
        cover = level.get("drawn") or ref
        check("ceiling CI holds the best point >= 90%", key, cover["ceiling_ci_holds"],
              cover["ceiling_ci_holds"] >= COVERAGE_BOUND)
        check("curve mean bias within ±0.01", key, ref["band_bias"], abs(ref["band_bias"]) <= BIAS_BOUND)
        check("curve bands hold the reference >= 90%", key, cover["band_holds"],
              cover["band_holds"] >= COVERAGE_BOUND)
    return out


# ---------------------------------------------------------------------------------------------
# Output: the tables (Markdown, as in the README) and the JSON
# ---------------------------------------------------------------------------------------------
def _f(value, digits=3, sign=False) -> str:
    if value is None or not np.isfinite(value):
        return "n/a"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def _pct(value) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{100 * value:.0f}%"


def tables(summary: dict) -> str:
    head = ("| noise | datasets | Bayes roc_auc (truth.json) | ceiling | bias vs Bayes ± SE | test rows' luck | "
            "below Bayes on the same rows | lower bound holds | 95% CI holds Bayes | CI above Bayes | from a fit |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for key, level in summary["levels"].items():
        t = level["truth"]
        lines.append(f"| {key} | {t['datasets']} | {_f(t['truth'])} | {_f(t['ceiling'])} | "
                     f"{_f(t['bias'], sign=True)} ± {_f(t['bias_se'])} | {_f(t['test_rows_luck'], sign=True)} | "
                     f"{_f(t['below_bayes_same_rows'], sign=True)} | {_pct(t['lower_bound_holds'])} | "
                     f"{_pct(t['ci_holds_truth'])} | {_pct(t['overclaims'])} | {t['from_fit']} |")
    ref_head = ("| noise | groups | best point's mean (reference) below Bayes | ceiling bias vs the best point ± SE | "
                "ceiling CI holds it | curve bands (points) | curve mean bias | bands hold the reference (ideal) | "
                "mean band half-width |\n|---|---|---|---|---|---|---|---|---|")
    ref_lines = [ref_head]
    for key, level in summary["levels"].items():
        r = level["reference"]
        if r is None:
            continue
        ref_lines.append(f"| {key} | {r['groups']} | {_f(r['learners_leave'], sign=True)} | "
                         f"{_f(r['ceiling_bias'], sign=True)} ± {_f(r['ceiling_bias_se'])} | "
                         f"{_pct(r['ceiling_ci_holds'])} | {r['bands']} | {_f(r['band_bias'], 4, sign=True)} | "
                         f"{_pct(r['band_holds'])} ({_pct(r['band_ideal'])}) | {_f(r['band_half_width'])} |")
    drawn_lines = ["| noise | drawn groups | ceiling bias vs the best point | ceiling CI holds it | "
                   "bands hold the reference (ideal) |\n|---|---|---|---|---|"]
    for key, level in summary["levels"].items():
        d = level.get("drawn")
        if d:
            drawn_lines.append(f"| {key} | {d['draws']} | {_f(d['ceiling_bias'], 4, sign=True)} | "
                               f"{_pct(d['ceiling_ci_holds'])} | {_pct(d['band_holds'])} ({_pct(d['band_ideal'])}) |")
    if len(drawn_lines) > 1:
        ref_lines += ["", *drawn_lines]
    missed = [t for t in summary["targets"] if not t["met"]]

    def shown(t):
        return _f(t["value"], sign=True) if "bias" in t["target"] else _pct(t["value"])

    verdict = ("every target met" if not missed
               else "missed: " + "; ".join(f"{t['target']} at noise {t['noise']} ({shown(t)})" for t in missed))
    return "\n".join(lines) + "\n\n" + "\n".join(ref_lines) + "\n\n" + verdict


def drawn_checks(records: list[dict], draws: int, seed: int = 0) -> dict:
    """Reference datasets: ``draws`` random groups of ``seeds`` seeds from each (not only the
    disjoint ones), each against the mean of the seeds outside it; the cross-fitted ceiling's CI
    (``cross_fit_best``) and every curve band (``mean_ci``), by the library's own code.

    Five disjoint groups a dataset give coverage in steps of 7% on 15 groups; drawn groups
    overlap, so they measure the same datasets' coverage without the luck of one partition,
    not more datasets."""
    from dataeff.analysis.ceiling import cross_fit_best
    from dataeff.analysis.curves import Curve, mean_ci

    rng = np.random.default_rng(seed)
    holds, biases, band_holds, ideal = [], [], [], []
    for rec in records:
        n_seeds, k = rec["n_seeds"], len(rec["groups"][0]["seeds"])
        scores = {learner: (np.array(sorted(int(n) for n in by_n)),
                            np.array([by_n[str(n)] for n in sorted(int(n) for n in by_n)], float))
                  for learner, by_n in rec["scores"].items()}
        for _ in range(draws):
            inside = np.sort(rng.choice(n_seeds, k, replace=False))
            others = np.setdiff1d(np.arange(n_seeds), inside)
            curves = {learner: Curve(learner, sizes, values[:, inside]) for learner, (sizes, values) in scores.items()}
            reference = np.concatenate([values[:, others].mean(axis=1) for _, values in scores.values()])
            best = float(reference.max())
            estimate, (low, high), _ = cross_fit_best(curves, METRIC)
            holds.append(low <= best <= high)
            biases.append(estimate - best)
            for (_, values), ref in zip(((c.sizes, c.values) for c in curves.values()),
                                        np.split(reference, np.cumsum([len(c.sizes) for c in curves.values()])[:-1])):
                for row, r in zip(values, ref):
                    lo, hi = mean_ci(row)
                    band_holds.append(lo <= r <= hi)
                    ideal.append(ideal_coverage(k, len(others)))
    return {"draws": len(holds), "ceiling_ci_holds": _share(holds), "ceiling_bias": _mean_se(biases)[0],
            "band_holds": _share(band_holds), "band_ideal": float(np.mean(ideal)) if ideal else float("nan")}


def results_from_scores(rec: dict, seeds: list[int]) -> pd.DataFrame:
    """A results frame of ``seeds`` rebuilt from a record's scores (roc_auc only)."""
    import pandas as pd

    rows = [{"learner": learner, "n_train": int(n), "seed": s, "n_test": rec["n_test"], "status": "ok",
             METRIC: values[s], "fit_seconds": 0.0, "predict_seconds": 0.0, "tokens": 0.0}
            for learner, by_n in rec["scores"].items() for n, values in by_n.items() for s in seeds]
    return pd.DataFrame(rows)


def reanalyse(rec: dict) -> dict:
    """A record's groups analysed again by the code as it is now, from the stored scores: a
    change to the ceiling is measured on the same cells without refitting a learner."""
    from dataeff.analysis.summary import summarize as summarize_cells

    groups = []
    for group in rec["groups"]:
        frame = results_from_scores(rec, group["seeds"])
        analysis = summarize_cells(frame, METRIC, order=list(rec["scores"]))
        groups.append({**group, "ceiling": ceiling_record(analysis, frame), "bands": band_record(frame)})
    return {**rec, "groups": groups}


def run_harness(setup: Setup, jobs: int = 1, workdir: str | None = None, keep: bool = False,
                log=lambda message: None, records_file: Path | None = None) -> list[dict]:
    """Every dataset's record; ``jobs`` studies at a time, each in one process. Each record is
    also appended to ``records_file`` (JSON lines) as it arrives."""
    def arrived(rec: dict) -> None:
        records.append(rec)
        if records_file is not None:
            with open(records_file, "a", encoding="utf-8") as f:
                f.write(json.dumps(_json_safe(rec)) + "\n")
        log(_progress(rec, len(records), len(tasks)))

    tasks = setup.tasks()
    temporary = None if workdir else tempfile.mkdtemp(prefix="dataeff-validity-")
    workdir = workdir or temporary
    records = []
    try:
        if jobs <= 1:
            for task in tasks:
                arrived(measure_dataset(setup, *task, workdir, keep))
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor, as_completed

            # one thread per study: the pool is the parallelism
            for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
                os.environ.setdefault(name, "1")
            with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
                futures = [pool.submit(measure_dataset, setup, *task, workdir, keep) for task in tasks]
                for future in as_completed(futures):
                    arrived(future.result())
    finally:
        if temporary:
            shutil.rmtree(temporary, ignore_errors=True)
    return sorted(records, key=lambda r: (r["level"], r["index"]))


def _progress(rec: dict, done: int, total: int) -> str:
    c = rec["groups"][0]["ceiling"]
    return (f"[{done}/{total}] noise {rec['noise']:g} dataset {rec['index']}: Bayes {rec['truth']:.3f}, "
            f"ceiling {_f(c['value'])} [{_f(c['ci'][0])}, {_f(c['ci'][1])}] ({c['source']}, "
            f"{c['best_measured_learner']}@{c['best_measured_n']}), {rec['n_seeds']} seeds, {rec['seconds']:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = Setup()
    parser.add_argument("--noise", type=float, nargs="+", default=list(default.noises))
    parser.add_argument("--datasets", type=int, default=default.datasets, help="per noise level")
    parser.add_argument("--rows", type=int, default=default.rows)
    parser.add_argument("--test-rows", type=int, default=default.test_rows)
    parser.add_argument("--sizes", type=lambda s: tuple(int(v) for v in s.split(",")), default=default.sizes)
    parser.add_argument("--seeds", type=int, default=default.seeds)
    parser.add_argument("--learners", type=lambda s: tuple(s.split(",")), default=default.learners)
    parser.add_argument("--reference", type=int, default=default.reference,
                        help="datasets per noise level with a many-seed reference")
    parser.add_argument("--reference-seeds", type=int, default=default.reference_seeds)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 noise levels, 3 small datasets each")
    parser.add_argument("--json", type=Path, default=Path("runs/validity.json"))
    parser.add_argument("--keep", type=Path, default=None, help="keep every run folder under this folder")
    parser.add_argument("--records", type=Path, default=None,
                        help="no studies: summarize the records (JSON lines) a run appended so far")
    parser.add_argument("--draws", type=int, default=DRAWS,
                        help="random seed groups drawn per reference dataset for the coverage checks (0: none)")
    parser.add_argument("--reanalyse", type=Path, default=None,
                        help="no studies: analyse the cells of an earlier run's JSON again with the code as it is now")
    args = parser.parse_args(argv)
    setup = QUICK if args.quick else Setup(tuple(args.noise), args.datasets, args.rows, args.test_rows, args.sizes,
                                           args.seeds, tuple(args.learners), args.reference, args.reference_seeds)
    if setup.reference_seeds < 2 * setup.seeds and setup.reference:
        parser.error("--reference-seeds must hold at least two groups of --seeds seeds")
    started = time.perf_counter()
    if args.records:
        records = [json.loads(line) for line in args.records.read_text(encoding="utf-8").splitlines() if line]
        records.sort(key=lambda r: (r["level"], r["index"]))
    elif args.reanalyse:
        earlier = json.loads(args.reanalyse.read_text(encoding="utf-8"))
        setup = Setup(**{k: tuple(v) if isinstance(v, list) else v for k, v in earlier["setup"].items()})
        records = [reanalyse(rec) for rec in earlier["records"]]
    else:
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        records_file = args.json.with_suffix(".records.jsonl")
        records_file.unlink(missing_ok=True)
        records = run_harness(setup, jobs=args.jobs, workdir=str(args.keep) if args.keep else None,
                              keep=bool(args.keep), log=lambda m: print(m, file=sys.stderr, flush=True),
                              records_file=records_file)
    seconds = time.perf_counter() - started
    summary = summarize(records, args.draws)
    print(tables(summary))
    if args.records or args.reanalyse:
        print(f"\n{len(records)} datasets summarized from {args.records or args.reanalyse} (no study run)")
    else:
        print(f"\n{len(records)} datasets in {seconds / 60:.1f} min on {args.jobs} jobs "
              f"({platform.node()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    payload = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "command": " ".join([Path(sys.executable).name, *sys.argv]), "jobs": args.jobs,
               "seconds": round(seconds, 1), "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                                        "load_average_end": os.getloadavg()},
               "setup": asdict(setup), "summary": summary, "records": records}
    args.json.write_text(json.dumps(_json_safe(payload), indent=1), encoding="utf-8")
    print(f"wrote {args.json}")
    return 0 if all(t["met"] for t in summary["targets"]) else 1


def _json_safe(value):
    """Plain JSON: numpy scalars as Python ones, NaN and infinity as null."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    return value


if __name__ == "__main__":
    sys.exit(main())
