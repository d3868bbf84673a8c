"""Learning-curve figures: headline metric vs labelled examples, log-x, mean and 95% band."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


# A ceiling band wider than this (few seeds) would cover the chart and say little; the answer
# sentences still give the interval. Shared by curves.png and the report's SVG chart.
CEILING_BAND_MAX_WIDTH = 0.2


def learner_order(order: list[str] | None, present) -> list[str]:
    """The study's learner order, then any other learner present, in the order met."""
    present = list(dict.fromkeys(present))
    return [n for n in (order or []) if n in present] + [n for n in present if n not in (order or [])]


def size_ticks(sizes: list) -> list:
    """x ticks: 0 and powers of two among the sizes, and the largest size (the whole pool)."""
    sizes = sorted(sizes)
    ticks = [s for s in sizes if s == 0 or np.log2(s) == int(np.log2(s))]
    if sizes and sizes[-1] not in ticks and (not ticks or sizes[-1] > ticks[-1] * 1.3):
        ticks.append(sizes[-1])
    return ticks or sizes


def shows_ceiling_band(ceiling: dict) -> bool:
    low, high = ceiling.get("ci") or (None, None)
    return low is not None and high is not None and high - low <= CEILING_BAND_MAX_WIDTH


def fitted_curve(entry: dict | None, metric: str):
    """n -> the metric on a learner's fitted curve (from its summary entry), or None without a fit."""
    if not entry or not entry.get("fit"):
        return None
    from dataeff.analysis.curves import Fit
    from dataeff.experiment.metrics import METRICS

    fit = Fit.from_dict(entry["fit"])
    sign = 1.0 if METRICS[metric] else -1.0  # fits live on the gain scale (log_loss negated)
    return lambda n: sign * fit.predict(n)


def plot_curves(curves: pd.DataFrame, metric: str, path: Path, title: str = "",
                order: list[str] | None = None, analysis: dict | None = None) -> Path:
    """One line per learner (in ``order``) with its 95% band and markers at measured sizes;
    the fitted curve dashed where it extrapolates, and the data's ceiling as a band."""
    import matplotlib

    matplotlib.use("Agg")  # no display here, and none needed for a file
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=120)
    has_zero = bool((curves["n_train"] == 0).any())
    for learner in learner_order(order, curves["learner"]):
        group = curves[curves["learner"] == learner].sort_values("n_train")
        x = group["n_train"].to_numpy(float)
        line, = ax.plot(x, group["mean"], marker="o", markersize=3.5, linewidth=1.8, label=learner)
        band = np.isfinite(group["ci_low"]) & np.isfinite(group["ci_high"])
        ax.fill_between(x[band], group["ci_low"][band], group["ci_high"][band], color=line.get_color(),
                        alpha=0.18, linewidth=0)
        _dashed_extrapolation(ax, (analysis or {}).get("learners", {}).get(learner), x.max(), metric,
                              line.get_color())
    ceil = (analysis or {}).get("ceiling") or {}
    if ceil.get("value") is not None:
        if shows_ceiling_band(ceil):
            ax.axhspan(*ceil["ci"], color="grey", alpha=0.12, linewidth=0)
        ax.axhline(ceil["value"], color="grey", linestyle=":", linewidth=1.2,
                   label=f"ceiling {ceil['value']:.3f}")
    if has_zero:
        # n = 0 (zero-shot) must stay on a log axis: linear up to 1, log beyond.
        ax.set_xscale("symlog", linthresh=1)
    else:
        ax.set_xscale("log")
    ticks = size_ticks(curves["n_train"].unique().tolist())
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.set_xlabel("labelled training examples (n_train)")
    ax.set_ylabel(metric)
    ax.grid(True, which="major", alpha=0.3)
    ax.set_title(title or f"Learning curves ({metric}, mean and 95% CI over seeds)")
    ax.legend(loc="best", frameon=False)
    ax.minorticks_off()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _dashed_extrapolation(ax, entry: dict | None, n_max: float, metric: str, color) -> None:
    """The fitted curve beyond the largest measured size, dashed, out to 2x (or to where the
    target is reached, if that is further and extrapolated)."""
    curve = fitted_curve(entry, metric)
    if curve is None:
        return
    end = 2 * n_max
    need = entry.get("labels_to_target") or {}
    if need.get("how") == "extrapolated" and need.get("n"):
        end = min(max(end, 1.2 * need["n"]), 20 * n_max)
    n = np.geomspace(n_max, end, 40)
    ax.plot(n, curve(n), linestyle="--", linewidth=1.4, color=color, alpha=0.9)
