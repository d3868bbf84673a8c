"""A wide business table: dataeff's runner against a plain scikit-learn pipeline, and how each
grows with the columns.

The table: `dataeff synth customers --rows 20000 --irrelevant K`, flattened (its related
tables joined point in time into one row per customer, as `dataeff features` writes it).
Grid: logreg and xgboost × 128, 512, 2,048 labels × 3 seeds, 1,000 test rows, 2 jobs.

The baseline is what a scikit-learn user would write: a ColumnTransformer (numbers imputed with
missing indicators and scaled, strings one-hot encoded, for logreg; numbers as they are and
strings as ordinal codes, for xgboost) in front of the same estimators, over the same splits,
timed as bench_runner.py does: `learning_curve` as called (it also scores each training
subset), and the same fits and test scores alone (`cross_validate`), on the workers the call
before left running (warm) and on new ones (cold). dataeff's runner is timed the same two ways
(dataeff_timing.py): its workers forked from a new fork server, and from the one the call
before left running.

Targets (issue: wide tables at scikit-learn's speed): dataeff's wall time <= 1.0x the fair
baseline at 500 extra columns, and its time grows no faster than the baseline's from 50 to
2,000 columns.

    .venv/bin/python benchmarks/bench_wide.py [--columns 50,500,2000] [--rows 20000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

os.environ["PYTHONWARNINGS"] = "ignore"
warnings.simplefilter("ignore")

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from dataeff_timing import RunnerTimings, time_runner  # noqa: E402
from sklearn_timing import Timings, time_baselines  # noqa: E402

LEARNERS = ["logreg", "xgboost"]
SIZES = [128, 512, 2048]
SEEDS, TEST_ROWS, JOBS = 3, 1000, 2


def flat_table(rows: int, extra: int, folder: Path) -> Path:
    """The synthetic customers with ``extra`` unrelated columns, flattened into one Parquet file."""
    subprocess.run([sys.executable, "-m", "dataeff", "synth", "customers", "--rows", str(rows), "--irrelevant",
                    str(extra), "--out", str(folder)], check=True, capture_output=True)
    out = folder / "flat.parquet"
    subprocess.run([sys.executable, "-m", "dataeff", "features", "--config", str(folder / "study.toml"), "--out",
                    str(out)], check=True, capture_output=True)
    return out


def time_dataeff(path: Path, label: str) -> tuple[RunnerTimings, int]:
    from dataeff.study import Study

    study = Study(str(path), label=label, learners=LEARNERS, seeds=SEEDS, sizes=SIZES, test_rows=TEST_ROWS)
    dataset, plan, specs = study.prepare()
    return time_runner(dataset, plan, specs, JOBS), dataset.X.shape[1]


def baseline(X: pd.DataFrame) -> dict:
    """The pipelines a scikit-learn user writes for this table."""
    from sklearn.compose import ColumnTransformer, make_column_selector
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
    from xgboost import XGBClassifier

    numbers = make_column_selector(dtype_include="number")
    strings = make_column_selector(dtype_exclude="number")
    dense = ColumnTransformer([
        ("numbers", make_pipeline(SimpleImputer(add_indicator=True, keep_empty_features=True), StandardScaler()),
         numbers),
        ("strings", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                                  OneHotEncoder(handle_unknown="ignore")), strings)])
    codes = ColumnTransformer([
        ("numbers", "passthrough", numbers),
        ("strings", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                                  OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)), strings)])
    return {"logreg": make_pipeline(dense, LogisticRegression(max_iter=2000)),
            "xgboost": make_pipeline(codes, XGBClassifier(n_estimators=200, learning_rate=0.1, tree_method="hist",
                                                          n_jobs=1))}


def time_sklearn(path: Path, label: str) -> Timings:
    from sklearn.model_selection import ShuffleSplit

    frame = pd.read_parquet(path)
    X = frame.drop(columns=[label])
    X = X.astype({c: str for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])})  # dates, text: strings
    y = (frame[label].astype(str) == sorted(frame[label].astype(str).unique())[1]).astype(int).to_numpy()
    cv = ShuffleSplit(n_splits=SEEDS, test_size=TEST_ROWS, random_state=0)
    return time_baselines(baseline(X), X, y, cv, SIZES, JOBS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--columns", default="50,500,2000", help="extra (unrelated) columns, comma-separated")
    parser.add_argument("--rows", type=int, default=20000)
    args = parser.parse_args()
    rows = []
    for extra in [int(c) for c in args.columns.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            path = flat_table(args.rows, extra, Path(tmp))
            label = "churned"
            de, width = time_dataeff(path, label)
            sk = time_sklearn(path, label)
        rows.append((extra, width, de, sk))
        print(f"{extra} extra columns ({width} features in): dataeff {de.warm:.1f} s warm, {de.cold:.1f} s cold; "
              f"scikit-learn fits + test scores {sk.fair:.1f} s warm, {sk.fair_cold:.1f} s cold, learning_curve as "
              f"called {sk.as_called:.1f} s", flush=True)
    print("Warm: each side's workers (dataeff's fork server, joblib's workers) left running by the call before; "
          "cold: started inside the timed call.")
    print("| extra columns | columns in | dataeff warm | sklearn fits + test scores, warm | ratio (target <= 1.0 at "
          "500) | dataeff cold | sklearn cold | ratio | sklearn learning_curve | dataeff warm / it |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for extra, width, de, sk in rows:
        print(f"| {extra:,} | {width:,} | {de.warm:.1f} s | {sk.fair:.1f} s | {de.warm / sk.fair:.2f} "
              f"| {de.cold:.1f} s | {sk.fair_cold:.1f} s | {de.cold / sk.fair_cold:.2f} | {sk.as_called:.1f} s "
              f"| {de.warm / sk.as_called:.2f} |")
    if len(rows) >= 2:
        (first, _, d0, sk0), (last, _, d1, sk1) = rows[0], rows[-1]
        print(f"growth from {first} to {last} extra columns, warm: dataeff {d1.warm / d0.warm:.2f}x, "
              f"scikit-learn {sk1.fair / sk0.fair:.2f}x; cold: dataeff {d1.cold / d0.cold:.2f}x, "
              f"scikit-learn {sk1.fair_cold / sk0.fair_cold:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
