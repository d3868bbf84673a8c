"""The forecast's constants (dataeff.analysis.forecast.CALIBRATION), measured on published
learning curves: LCDB 1.0's accuracy curves with even OpenML ids, each cut at 128 and at 256
labels and compared with what it measured at 2x, 4x, 8x and 16x that size.

At each multiple k it weighs the ensemble's fitted rise and the means' rise over the last
doubling measured by a least-absolute-deviations regression of the truth's rise past the
anchor, then takes the 2.5% and 97.5% quantiles of the errors left, in units of the curve's
spread (a split-conformal 95% band).

    .venv/bin/python benchmarks/forecast_calibration.py [--lcdb DIR] [--jobs 2]

Prints the Calibration to paste into src/dataeff/analysis/forecast.py. The odd ids are left
for benchmarks/forecast_harness.py to check it on.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from forecast_harness import lcdb_folder, load_curves  # noqa: E402

from dataeff.analysis.forecast import MULTIPLES, Calibration, forecast_curve  # noqa: E402

CUTS = (128, 256)


def _pieces(curve, cut: int) -> list[tuple]:
    """(k, anchor, fitted rise, recent rise, spread, truth) for each multiple the full curve measured."""
    observed = curve.sizes <= cut
    if observed.sum() < 3 or curve.sizes[observed].max() != cut:
        return []
    from dataeff.analysis.curves import Curve

    head = Curve(curve.learner, curve.sizes[observed], curve.values[observed])
    forecast = forecast_curve(head, "accuracy")
    if forecast is None or forecast.fall > 0:
        return []  # a peaking curve's forecast is the last mean and a band down its fall: no weights
    means = np.nanmean(curve.values, axis=1)
    out = []
    for k in MULTIPLES:
        at = np.flatnonzero(np.abs(curve.sizes - cut * k) <= 1)
        if len(at) and np.isfinite(means[at[0]]):
            out.append((k, forecast.anchor, float(forecast.rise([cut * k])[0]), forecast.recent, forecast.spread,
                        float(means[at[0]])))
    return out


def _least_absolute_deviations(X: np.ndarray, y: np.ndarray, rounds: int = 50) -> np.ndarray:
    """Weights minimizing the absolute errors (iteratively reweighted least squares): the
    median forecast, which a few wild curves do not pull."""
    weights = np.linalg.lstsq(X, y, rcond=None)[0]
    for _ in range(rounds):
        scale = np.sqrt(1.0 / np.maximum(np.abs(y - X @ weights), 1e-4))
        weights = np.linalg.lstsq(X * scale[:, None], y * scale, rcond=None)[0]
    return weights


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lcdb", default=None, help="folder with LCDB's database-accuracy.csv (else cached or fetched)")
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    from joblib import Parallel, delayed

    started = time.perf_counter()
    curves = [curve for _, curve in load_curves(lcdb_folder(args.lcdb), "even", max(CUTS))]  # anchors to 2,048
    rows = Parallel(n_jobs=args.jobs)(delayed(_pieces)(curve, cut) for curve in curves for cut in CUTS)
    rows = np.array([r for part in rows for r in part])
    fitted, recent, low, high = [], [], [], []
    for k in MULTIPLES:
        k_rows = rows[rows[:, 0] == k]
        _, anchor, rise, climb, spread, truth = k_rows.T
        weights = _least_absolute_deviations(np.c_[rise, climb], truth - anchor)
        residual = (truth - (anchor + np.c_[rise, climb] @ weights)) / spread
        q_low, q_high = np.quantile(residual, [0.025, 0.975])
        fitted.append(round(float(weights[0]), 3))
        recent.append(round(float(weights[1]), 3))
        low.append(round(float(q_low), 3))
        high.append(round(float(q_high), 3))
        error = np.median(np.abs(residual * spread))
        print(f"k = {k:>2}: {len(k_rows):,} cut curves, weights {weights.round(3)}, median |error| {error:.4f} "
              f"(last1 {np.median(np.abs(anchor - truth)):.4f}), band [{q_low:.3f}, {q_high:.3f}] spreads")
    calibration = Calibration(tuple(float(k) for k in MULTIPLES), tuple(fitted), tuple(recent), tuple(low), tuple(high),
                              source=f"LCDB 1.0 accuracy, even OpenML ids, {len(curves):,} curves cut at "
                                     f"{' and '.join(map(str, CUTS))} (benchmarks/forecast_calibration.py)")
    print(f"{time.perf_counter() - started:.0f} s\n{calibration!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
