"""Tuned (tune=30) against default logreg and XGBoost on `churn`: what the search buys per label
budget, and what it costs in fit time.

Grid: logreg, xgboost × {default, tuned} × n = 64, 256, 1024 × 5 seeds, through the public
API (``dataeff.run``), scored by roc_auc on the study's test rows. The variants are built as
LearnerSpecs because the API cannot yet name two variants of one kind.

Default and tuned variants run as two studies on the same seeds (the same rows), each on fresh
workers: in one study the variant listed second would reuse the first one's features from the
featurization memo and look cheaper than it is.

    .venv/bin/python benchmarks/bench_tuning.py [--seeds 5] [--trials 30] [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import warnings

# Tiny subsets make scikit-learn warn at length (its workers inherit this).
os.environ["PYTHONWARNINGS"] = "ignore"
warnings.simplefilter("ignore")

import numpy as np
import pandas as pd
from scipy import stats

import dataeff
from dataeff.learners.registry import LearnerSpec

SIZES = [64, 256, 1024]
KINDS = {"logreg": "dataeff.learners.classic:logreg", "xgboost": "dataeff.learners.classic:xgboost"}


def variants(trials: int) -> list[list[LearnerSpec]]:
    """[the defaults], [the tuned ones]."""
    return [[LearnerSpec(kind, target) for kind, target in KINDS.items()],
            [LearnerSpec(f"{kind}-tuned", target, params={"tune": trials, "metric": "roc_auc"})
             for kind, target in KINDS.items()]]


def run_fresh(specs: list[LearnerSpec], folder: str, **settings):
    """One study's cells, on workers started for it (no features left in their memo)."""
    from joblib.externals.loky import get_reusable_executor

    from dataeff.learners import featurize

    get_reusable_executor().shutdown(wait=True)
    featurize._MEMO.clear()  # jobs=1 runs cells in this process
    return dataeff.run(data="churn", learners=specs, out=folder, progress=False, **settings).results


def table(results) -> str:
    """learner, n, roc_auc mean ± 95% CI half-width over seeds, fit seconds per cell."""
    lines = [f"{'learner':<16}{'n':>6}  {'roc_auc':>15}  {'fit s/cell':>10}"]
    ok = results[results["status"] == "ok"]
    for (learner, n), group in ok.groupby(["learner", "n_train"], sort=True):
        auc = group["roc_auc"].to_numpy()
        half = stats.t.ppf(0.975, len(auc) - 1) * auc.std(ddof=1) / np.sqrt(len(auc)) if len(auc) > 1 else np.nan
        lines.append(f"{learner:<16}{n:>6}  {auc.mean():>7.3f} ± {half:.3f}  {group['fit_seconds'].mean():>10.2f}")
    failed = results[results["status"] != "ok"]
    if len(failed):
        lines.append(f"{len(failed)} failed cells: {failed['error'].head(3).tolist()}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--sizes", type=int, nargs="+", default=SIZES)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        results = pd.concat([run_fresh(specs, f"{folder}/run{i}", sizes=args.sizes, seeds=args.seeds, jobs=args.jobs)
                             for i, specs in enumerate(variants(args.trials))])
    print(f"churn, {args.seeds} seeds, tune={args.trials}, roc_auc on the study's test rows, {args.jobs} jobs")
    print(table(results))


if __name__ == "__main__":
    main()
