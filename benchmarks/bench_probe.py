"""A whole llm-probe curve against llm-zero's model time on the same test rows (issue 18).

Target (issue 28): the llm-probe curve over every size and seed costs at most 2.2x the model
time of llm-zero on the same test rows. A row's hidden state is computed once and reused across
sizes and seeds, but the probe must read every training row once, which llm-zero never reads:
at these settings that is 2.08x llm-zero's tokens, so issue 18's 1.3x cannot hold. Both learners run cell by cell as a study runs them (the real plan: the same
test rows, nested training subsets, a cache shared by all cells), in this process on one
thread; model time is this process's CPU time (the machine may be shared), the cache cold at
the start of each learner. Also checked: the probe asked the model once per distinct row text.

    .venv/bin/python benchmarks/bench_probe.py [--sizes 8,...,512] [--seeds 3] [--test-rows 1000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

TARGET = 2.2


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="fine-foods")
    parser.add_argument("--sizes", default="8,16,32,64,128,256,512")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--test-rows", type=int, default=1000)
    parser.add_argument("--pooling", default="mean")
    parser.add_argument("--compare-c", action="store_true", help="also score other L2 strengths and inner CV")
    args = parser.parse_args()
    import numpy as np

    from dataeff.data.builtin import load_builtin
    from dataeff.experiment.metrics import score
    from dataeff.experiment.plan import make_plan
    from dataeff.learners.llm.backends import get_backend
    from dataeff.learners.llm.cache import CacheSettings
    from dataeff.learners.llm.learners import ZeroShot
    from dataeff.learners.llm.probe import Probe
    from dataeff.learners.llm.prompting import Task

    dataset = load_builtin(args.data)
    sizes = [int(s) for s in args.sizes.split(",")]
    plan = make_plan(dataset, seeds=args.seeds, sizes=sizes, test_rows=args.test_rows)
    task = Task.for_dataset(dataset.name, dataset.label, dataset.classes)
    folder = Path(tempfile.mkdtemp(prefix="dataeff-bench-probe-"))

    def curve(make, cache_name: str, sized: bool):
        """CPU seconds, model calls and the mean roc_auc per size of one learner's whole curve."""
        cache = CacheSettings(folder / cache_name)
        lm = get_backend("llamacpp", cache=cache)  # loaded before the clock starts
        lm.count_tokens(["warm"])
        calls = lm.cache.misses
        start = time.process_time()
        scores: dict[int, list[float]] = {}
        for seed, split in plan.splits.items():
            test_X, test_y = dataset.X.iloc[split.test_index], dataset.y.iloc[split.test_index]
            for size in (sizes if sized else [0]):
                rows = split.train_index(size)
                learner = make(seed).fit(dataset.X.iloc[rows], dataset.y.iloc[rows])
                proba = learner.predict_proba(test_X)
                scores.setdefault(size, []).append(score(test_y, proba, list(learner.classes_))["roc_auc"])
        return time.process_time() - start, lm.cache.misses - calls, {k: float(np.mean(v)) for k, v in scores.items()}

    def probe(seed):
        return Probe(task, pooling=args.pooling, random_state=seed, cache=CacheSettings(folder / "probe"))

    def zero(seed):
        return ZeroShot(task, random_state=seed, cache=CacheSettings(folder / "zero"))

    zero_seconds, zero_calls, zero_scores = curve(zero, "zero", sized=False)
    probe_seconds, probe_calls, probe_scores = curve(probe, "probe", sized=True)
    texts = {task.row_text(dataset.X.iloc[i]) for split in plan.splits.values()
             for i in [*split.test_index, *split.train_index(max(sizes))]}
    ratio = probe_seconds / zero_seconds
    print(f"{args.data}: {plan.n_test} test rows, sizes {sizes}, {args.seeds} seeds, pooling {args.pooling}")
    print(f"llm-zero:  {zero_seconds:7.1f} CPU s, {zero_calls} model calls, roc_auc {zero_scores[0]:.3f}")
    print(f"llm-probe: {probe_seconds:7.1f} CPU s, {probe_calls} model calls for {len(texts)} distinct rows, "
          f"roc_auc " + ", ".join(f"{k}: {v:.3f}" for k, v in probe_scores.items()))
    print(f"whole probe curve / llm-zero: {ratio:.2f}x (target <= {TARGET}x)")
    ok = ratio <= TARGET and probe_calls == len(texts)
    if args.compare_c:  # the regularisation choice, from the states now cached (no model call)
        from sklearn.linear_model import LogisticRegressionCV
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        def cv(seed):
            class CV(Probe):  # inner 5-fold CV over 10 strengths where each class has 5 rows
                def _fit(self, X, y):
                    super()._fit(X, y)
                    if self._model is not None and y.value_counts().min() >= 5:
                        self._model = make_pipeline(StandardScaler(), LogisticRegressionCV(
                            Cs=np.logspace(-4, 2, 10), cv=5, scoring="roc_auc", max_iter=5000))
                        self._model.fit(self._features(X), y)
            return CV(task, pooling=args.pooling, random_state=seed, cache=CacheSettings(folder / "probe"))

        for name, make in [*((f"C={c:g}", lambda seed, c=c: Probe(task, pooling=args.pooling, C=c, random_state=seed,
                                                                    cache=CacheSettings(folder / "probe")))
                             for c in (0.001, 0.01, 0.1, 1.0)), ("inner CV", cv)]:
            seconds, calls, scores = curve(make, "probe", sized=True)
            print(f"{name:>9}: roc_auc " + ", ".join(f"{k}: {v:.3f}" for k, v in scores.items())
                  + f" ({seconds:.1f} CPU s, {calls} model calls)")
    print("ok" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
