"""How well do learning-curve forecasts extrapolate? Measured on the published LCDB 1.0 curves.

Each LCDB accuracy curve (one OpenML dataset × one scikit-learn learner) is cut at ``--cut``
labels (256): a method sees only the anchors up to the cut and answers two questions, which the
full curve then grades:

1. **Labels to a target**: the target is the full mean curve's score at 4× the cut (1,024); the
   truth is where the full curve's running maximum first reaches it, interpolated on log n
   (``dataeff.analysis.efficiency.labels_to_target`` on the full means). Only curves whose truth
   lies in (cut, 8× cut] count: below the cut there is nothing to forecast. By construction the
   running maximum reaches the 4× score by 4×, so every counted truth lies in (cut, 4× cut].
2. **The score at 8× the cut** (2,048): the truth is the full mean there; every usable curve counts.

Methods: ``last1`` (the score stays at the observed mean at the cut; its 8× interval is the
Student-t interval of that mean, and it has no labels interval), ``dataeff`` (the single fit
dataeff answered with before its forecast: fits.fit_learners with the seed bootstrap,
compare.labels_needed given no forecast) and ``forecast`` (analysis.forecast.forecast_curve,
what dataeff answers with now).

The data. A curve is a sizes × seeds matrix of test accuracy: the seeds are LCDB's 5 outer seeds
(each a train/test split); where LCDB ran several inner seeds (train/validation splits) under one
outer seed, their test scores are averaged, so a seed column is one split's expected score. Only
anchors on the grid round(16 · 2^(k/2)) are kept (±1 label; the dataset's full size at the end of
each curve is dropped unless it is on the grid). A curve is usable when every grid anchor from
16 to 8× the cut has at least 4 seeds. Truths are 5-seed means, so they carry noise of their own.

The data are LCDB 1.0's sdist (``database-accuracy.csv``). ``--lcdb DIR`` names the folder that
holds it; without it the script looks in ~/.cache/dataeff-bench/lcdb/ and otherwise downloads
the sdist from PyPI (``pip download lcdb==0.1.0``: needs PyPI reachable, as at install time)
and unpacks its lcdb/ folder there.

    .venv/bin/python benchmarks/forecast_harness.py --ids odd                # report (tune on --ids even)
    .venv/bin/python benchmarks/forecast_harness.py --methods last1,dataeff --ids even --limit 60
    .venv/bin/python benchmarks/forecast_harness.py --ids odd --jobs 2 --json runs/forecast.json
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from dataeff.analysis.compare import labels_needed
from dataeff.analysis.curves import N_FIT_BOOTSTRAP, Curve, mean_ci, seed_resamples
from dataeff.analysis.efficiency import labels_to_target
from dataeff.analysis.fits import fit_learners
from dataeff.analysis.forecast import forecast_curve

METRIC = "accuracy"  # gain scale = the accuracy itself, so targets and fits share one scale
GRID = np.round(16 * 2 ** (np.arange(40) / 2)).astype(int)  # LCDB's anchors, 16 · √2^k
MIN_SEEDS = 4
CACHE = Path.home() / ".cache" / "dataeff-bench" / "lcdb"
METHODS = ("last1", "dataeff", "forecast")
INF, NAN = float("inf"), float("nan")


# ---------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------
def lcdb_folder(given: str | None) -> Path:
    """The folder holding database-accuracy.csv: given, cached, or downloaded into the cache."""
    if given:
        return Path(given)
    if (CACHE / "database-accuracy.csv").exists():
        return CACHE
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                        "lcdb==0.1.0", "-d", tmp], check=True)
        with tarfile.open(next(Path(tmp).glob("lcdb-*.tar.gz"))) as tar:
            for member in tar.getmembers():  # lcdb-0.1.0/lcdb/<file> -> CACHE/<file>
                parts = Path(member.name).parts
                if member.isfile() and len(parts) == 3 and parts[1] == "lcdb":
                    member.name = parts[2]
                    tar.extract(member, CACHE, filter="data")
    return CACHE


def load_curves(folder: Path, ids: str, cut: int) -> list[tuple[int, Curve]]:
    """Usable (openmlid, curve) pairs, anchors up to 8× the cut, sorted by id and learner."""
    data = pd.read_csv(folder / "database-accuracy.csv",
                       usecols=["openmlid", "learner", "size_train", "outer_seed", "score_test"])
    if ids != "all":
        data = data[data["openmlid"] % 2 == (0 if ids == "even" else 1)]
    # Snap sizes to the grid (±1 for rounding); when a curve has two sizes near one anchor (its
    # full size next to a grid one), the closer wins.
    size = data["size_train"].to_numpy()
    nearest = GRID[np.clip(np.round(2 * np.log2(size / 16)), 0, len(GRID) - 1).astype(int)]
    data = data.assign(anchor=nearest, off=np.abs(size - nearest))
    data = data[(data["off"] <= 1) & (data["anchor"] <= 8 * cut)]
    keys = ["openmlid", "learner", "anchor"]
    data = data[data["off"] == data.groupby(keys)["off"].transform("min")]
    # One value per (size, outer seed): the mean test score over the inner seeds.
    table = data.groupby(keys + ["outer_seed"])["score_test"].mean().unstack("outer_seed")
    needed = GRID[GRID <= 8 * cut]
    out = []
    for (openmlid, learner), block in table.groupby(level=["openmlid", "learner"], sort=True):
        block = block.droplevel(["openmlid", "learner"]).reindex(needed)
        values = block.to_numpy(float)
        if (np.isfinite(values).sum(axis=1) >= MIN_SEEDS).all():
            # float sizes, as curves_from_results builds them
            out.append((int(openmlid), Curve(str(learner), needed.astype(float), values)))
    return out


# ---------------------------------------------------------------------------------------
# Methods: each answers labels -> (point, low, high, how) and score -> (point, low, high)
# ---------------------------------------------------------------------------------------
def ask_last1(curve: Curve, target: float, at: int) -> dict:
    """The curve stops rising at the cut."""
    mean = float(curve.means[-1])
    if target <= mean:  # never for a counted curve: its target lies above the observed maximum
        labels = (labels_to_target(curve.sizes, curve.means, target).n, NAN, NAN, "measured")
    else:
        labels = (INF, NAN, NAN, "not_reached")
    return {"labels": labels, "score": (mean, *mean_ci(curve.values[-1]))}


def ask_dataeff(curve: Curve, target: float, at: int) -> dict | None:
    """Today's analysis: the selected parametric fit, its bootstrap refits for the intervals."""
    resamples = seed_resamples(curve.values.shape[1], N_FIT_BOOTSTRAP)
    lf = fit_learners({curve.learner: curve}, METRIC, resamples)[curve.learner]
    if lf.fit is None:
        return None
    need = labels_needed(curve, lf, target, METRIC, resamples)
    # LabelsNeeded turns inf into None: n is None when unreachable or past the extrapolation
    # limit (both "not reached"); a CI (low, None) never closes above (inf), (None, None) is none.
    low, high = need.ci
    ci = (NAN, NAN) if low is None else (low, INF if high is None else high)
    boot = [f.predict(at) for f in lf.boot_fits if f is not None]
    band = tuple(np.percentile(boot, [2.5, 97.5])) if boot else (NAN, NAN)
    return {"labels": (INF if need.n is None else need.n, *ci, need.how),
            "score": (float(lf.fit.predict(at)), *band)}


def ask_forecast(curve: Curve, target: float, at: int) -> dict | None:
    """dataeff's forecast (analysis/forecast.py)."""
    fc = forecast_curve(curve, METRIC)
    if fc is None:
        return None
    return {"labels": fc.labels_to(target), "score": fc.score(at)}


ASK = {"last1": ask_last1, "dataeff": ask_dataeff, "forecast": ask_forecast}


# ---------------------------------------------------------------------------------------
# One curve, every method
# ---------------------------------------------------------------------------------------
def run_curve(openmlid: int, full: Curve, methods: list[str], cut: int) -> list[dict]:
    """Per-method records for one curve: the truths, the answers, the observed noise at the cut."""
    means = full.means
    target = float(means[full.sizes == 4 * cut][0])
    truth = labels_to_target(full.sizes, means, target)
    seen = full.sizes <= cut
    observed = Curve(full.learner, full.sizes[seen], full.values[seen])
    last = observed.values[-1][np.isfinite(observed.values[-1])]
    base = {"openmlid": openmlid, "learner": full.learner, "target": target,
            "truth_labels": truth.value, "truth_score": float(means[full.sizes == 8 * cut][0]),
            "mean_at_cut": float(last.mean()), "sd_at_cut": float(last.std(ddof=1)),
            "se_at_cut": float(last.std(ddof=1) / np.sqrt(len(last)))}
    records = []
    for method in methods:
        answer = ASK[method](observed, target, 8 * cut) or {"labels": (NAN, NAN, NAN, None),
                                                            "score": (NAN, NAN, NAN)}
        point, low, high, how = answer["labels"]
        score, score_low, score_high = answer["score"]
        records.append({**base, "method": method, "labels": float(point), "labels_low": float(low),
                        "labels_high": float(high), "how": how, "score": float(score),
                        "score_low": float(score_low), "score_high": float(score_high)})
    return records


# ---------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------
def covers(low: pd.Series, high: pd.Series, truth: pd.Series) -> pd.Series:
    """low <= truth <= high; a missing (NaN) end never covers, an infinite upper end may."""
    return (low <= truth) & (truth <= high)


def summarize(records: pd.DataFrame, cut: int) -> tuple[pd.DataFrame, int, int]:
    """One row per method; also the curve counts (usable, counted for the labels question)."""
    counted = (records["truth_labels"] > cut) & (records["truth_labels"] <= 8 * cut)
    base = records[records["method"] == "last1"].set_index(["openmlid", "learner"])
    rows = []
    for method, r in records.groupby("method", sort=False):
        lab = r[counted[r.index]]
        said_not = lab["how"].isin(["not_reached", "unreachable"]) | np.isinf(lab["labels"])
        ratio = lab["labels"] / lab["truth_labels"]
        error = (r["score"] - r["truth_score"]).abs()
        paired = r.set_index(["openmlid", "learner"])
        base_error = (base["score"] - base["truth_score"]).abs().reindex(paired.index)
        both = error.notna().to_numpy() & base_error.notna().to_numpy()
        interval = "t interval of the mean at the cut" if method == "last1" else ""
        rows.append({
            "method": method,
            "not reached / no answer": (said_not | ~np.isfinite(lab["labels"])).mean(),
            "within 2×": ((ratio >= 0.5) & (ratio <= 2)).mean(),
            "labels interval covers": covers(lab["labels_low"], lab["labels_high"], lab["truth_labels"]).mean(),
            "'not reached' though reached by 8×": (said_not & (lab["truth_labels"] <= 8 * cut)).mean(),
            "8× median |error|": error.median(),
            "÷ last1's": error[both].median() / base_error[both].median() if both.any() else NAN,
            "8× interval covers": covers(r["score_low"], r["score_high"], r["truth_score"]).mean(),
            "8× answered": int(error.notna().sum()), "note": interval,
        })
    n_usable = records[["openmlid", "learner"]].drop_duplicates().shape[0]
    n_counted = int(counted[records["method"] == records["method"].iloc[0]].sum())
    return pd.DataFrame(rows), n_usable, n_counted


def markdown(table: pd.DataFrame) -> str:
    """A markdown table; shares as percentages, errors to 4 decimals."""
    def cell(column, value):
        if isinstance(value, str):
            return value
        if isinstance(value, (int, np.integer)):
            return str(value)
        if not math.isfinite(value):
            return "n/a"
        return f"{value:.4f}" if "error" in column else f"{value:.2f}" if "÷" in column else f"{100 * value:.1f}%"
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(c, v) for c, v in row.items()) + " |" for _, row in table.iterrows()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lcdb", help="folder holding LCDB's database-accuracy.csv")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--ids", choices=["even", "odd", "all"], default="all", help="openmlid parity")
    parser.add_argument("--cut", type=int, default=256, help="labels observed (a grid anchor)")
    parser.add_argument("--limit", type=int, help="only the first N usable curves")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--json", help="write the per-curve records here (NaN as null, infinity as \"inf\")")
    args = parser.parse_args(argv)
    if args.cut not in GRID:
        parser.error(f"--cut must be a grid anchor: {', '.join(map(str, GRID[:16]))}, ...")
    methods = [m for m in args.methods.split(",") if m]
    unknown = set(methods) - set(ASK)
    if unknown or "last1" not in methods:  # last1 is every other method's yardstick
        parser.error(f"--methods: choose from {', '.join(METHODS)}, last1 included")

    start = time.perf_counter()
    curves = load_curves(lcdb_folder(args.lcdb), args.ids, args.cut)
    n_ids = len({i for i, _ in curves})
    curves = curves[:args.limit] if args.limit else curves
    loaded = time.perf_counter()
    from joblib import Parallel, delayed

    done = Parallel(n_jobs=args.jobs)(delayed(run_curve)(i, c, methods, args.cut) for i, c in curves)
    records = pd.DataFrame([r for rs in done for r in rs])
    elapsed = time.perf_counter() - loaded

    table, n_usable, n_counted = summarize(records, args.cut)
    print(f"\nLCDB 1.0 accuracy, ids {args.ids}, cut at {args.cut}: {n_usable} usable curves "
          f"({len({i for i, _ in curves})} datasets; {n_ids} datasets before --limit); labels question: "
          f"{n_counted} curves with truth in ({args.cut}, {8 * args.cut}], target = full mean at {4 * args.cut}; "
          f"score question at {8 * args.cut}: all {n_usable}.\n")
    print(markdown(table))
    counted = records[(records["truth_labels"] > args.cut) & (records["truth_labels"] <= 8 * args.cut)]
    for method, r in counted.groupby("method", sort=False):
        print(f"\n{method} 'how' on the labels question: {dict(Counter(r['how'].fillna('no answer')))}")
    print(f"\nload {loaded - start:.1f} s, methods {elapsed:.1f} s ({elapsed / max(len(curves), 1):.2f} s a curve, "
          f"{args.jobs} job(s))")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        # strict JSON: NaN (no answer) as null, an infinite answer or bound as "inf"
        def clean(v):
            return v if not isinstance(v, float) or math.isfinite(v) else None if math.isnan(v) else str(v)
        rows = [{k: clean(v) for k, v in row.items()} for row in records.to_dict(orient="records")]
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
