"""dataeff's runner against scikit-learn's `learning_curve` on the same grid of fits.

Grid (issue: fast on one machine): logreg, tree, xgboost × the LCDB anchor sizes 16 ... 4,000
(√2 apart) × 10 seeds on `churn`, the same number of test rows, 2 jobs. Both sides use the
same featurization pipelines (dataeff's skrub featurizers) and one thread per fit.

scikit-learn's `learning_curve` also scores every training subset (its train scores), work
dataeff does not do; so the baseline is timed both ways: `learning_curve` as users call it, and
the same fits and test scores without the training-set scoring (`cross_validate` over the
same (training prefix, test rows) splits, `return_train_score=False`, same jobs).

Targets: dataeff's wall time <= 0.8 × scikit-learn's without the training-set scoring (the fair
comparison; the ratio to `learning_curve` as called is printed too), and dataeff's overhead over
the sum of its cells' fit + predict seconds divided by jobs <= 10%.

    .venv/bin/python benchmarks/bench_runner.py [--seeds 10] [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

# Tiny subsets with one class make scikit-learn warn at length (its workers inherit this).
os.environ["PYTHONWARNINGS"] = "ignore"
warnings.simplefilter("ignore")


sys.path.insert(0, str(Path(__file__).parent))
from dataeff_timing import RunnerTimings, time_runner  # noqa: E402
from sklearn_timing import Timings, time_baselines  # noqa: E402

LEARNERS = ["logreg", "tree", "xgboost"]
# LCDB anchors 16, 23, 32, ... 2896, 4096 (√2 apart); churn's training pool holds 4,000 rows
# once its 1,000 test rows are set aside, so the last anchor is 4,000 on both sides.
SIZES = [min(int(16 * 2 ** (k / 2) + 0.5), 4000) for k in range(17)]


def time_dataeff(seeds: int, jobs: int) -> tuple[RunnerTimings, int, int]:
    """The runner's wall seconds (cells only) and its cells' fit + predict seconds, cold and
    warm; the cells, the test rows."""
    from dataeff.study import Study

    study = Study("churn", learners=LEARNERS, seeds=seeds, sizes=SIZES)
    dataset, plan, specs = study.prepare()
    cells = plan.cells([(s.name, s.needs_examples) for s in specs])
    return time_runner(dataset, plan, specs, jobs), len(cells), plan.n_test


def time_sklearn(seeds: int, jobs: int, n_test: int) -> Timings:
    """Wall seconds over the same grid of sklearn.model_selection.learning_curve, and of the
    same fits and test scores without its training-set scoring, on warm and on new workers."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import ShuffleSplit
    from sklearn.pipeline import make_pipeline
    from sklearn.tree import DecisionTreeClassifier
    from xgboost import XGBClassifier

    from dataeff.data.builtin import load_builtin
    from dataeff.learners.featurize import features_for

    dataset = load_builtin("churn")
    X, y = dataset.X, (dataset.y == dataset.classes[1]).astype(int).to_numpy()
    estimators = {
        "logreg": make_pipeline(features_for("dense"), LogisticRegression(max_iter=2000)),
        "tree": make_pipeline(features_for("tree"), DecisionTreeClassifier(random_state=0)),
        "xgboost": make_pipeline(features_for("tree"), XGBClassifier(n_estimators=200, learning_rate=0.1,
                                                                      tree_method="hist", n_jobs=1)),
    }
    cv = ShuffleSplit(n_splits=seeds, test_size=n_test, random_state=0)
    return time_baselines(estimators, X, y, cv, SIZES, jobs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    de, cells, n_test = time_dataeff(args.seeds, args.jobs)
    sk = time_sklearn(args.seeds, args.jobs, n_test)
    fair = de.warm / sk.fair
    overhead = de.warm / (de.busy_warm / args.jobs) - 1
    print(f"{cells} cells ({len(LEARNERS)} learners × {len(SIZES)} sizes × {args.seeds} seeds), {n_test} test rows, "
          f"{args.jobs} jobs. Warm: each side's workers (dataeff's fork server, joblib's workers) left running by the "
          "call before; cold: started inside the timed call.")
    print("| figure | target | measured |\n|---|---|---|")
    print(f"| dataeff wall / sklearn fits + test scores (no training-set scoring), warm | <= 0.80 | {fair:.2f} "
          f"({de.warm:.1f} s / {sk.fair:.1f} s) |")
    print(f"| the same, cold | - | {de.cold / sk.fair_cold:.2f} ({de.cold:.1f} s / {sk.fair_cold:.1f} s) |")
    print(f"| dataeff wall (warm) / sklearn learning_curve wall (it also scores the training sets) | - | "
          f"{de.warm / sk.as_called:.2f} ({de.warm:.1f} s / {sk.as_called:.1f} s) |")
    print(f"| dataeff overhead over Σ(fit+predict)/jobs, warm | <= 10% | {overhead:.1%} "
          f"({de.warm:.1f} s vs {de.busy_warm / args.jobs:.1f} s) |")
    print(f"| the same, cold | - | {de.cold / (de.busy_cold / args.jobs) - 1:.1%} "
          f"({de.cold:.1f} s vs {de.busy_cold / args.jobs:.1f} s) |")
    return 0 if fair <= 0.8 and overhead <= 0.10 else 1


if __name__ == "__main__":
    raise SystemExit(main())
