"""Learning-curve figures: headline metric vs labelled examples, log-x, mean and 95% band."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def plot_curves(curves: pd.DataFrame, metric: str, path: Path, title: str = "",
                order: list[str] | None = None, analysis: dict | None = None) -> Path:
    """One line per learner (in ``order``) with its 95% band and markers at measured sizes;
    the fitted curve dashed where it extrapolates, and the data's ceiling as a band."""
    import matplotlib

    matplotlib.use("Agg")  # no display here, and none needed for a file
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=120)
    has_zero = bool((curves["n_train"] == 0).any())
    present = list(dict.fromkeys(curves["learner"]))
    for learner in [n for n in (order or []) if n in present] + [n for n in present if n not in (order or [])]:
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
        low, high = ceil["ci"]
        if low is not None and high is not None and high - low <= 0.2:  # as in the report's chart
            ax.axhspan(low, high, color="grey", alpha=0.12, linewidth=0)
        ax.axhline(ceil["value"], color="grey", linestyle=":", linewidth=1.2,
                   label=f"ceiling {ceil['value']:.3f}")
    if has_zero:
        # n = 0 (zero-shot) must stay on a log axis: linear up to 1, log beyond.
        ax.set_xscale("symlog", linthresh=1)
    else:
        ax.set_xscale("log")
    sizes = sorted(curves["n_train"].unique())
    ticks = [s for s in sizes if s == 0 or np.log2(s) == int(np.log2(s))]
    if sizes[-1] not in ticks and (not ticks or sizes[-1] > ticks[-1] * 1.3):
        ticks.append(sizes[-1])  # label the largest size: the whole pool
    ticks = ticks or sizes
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
    if not entry or not entry.get("fit"):
        return
    from dataeff.analysis.curves import Fit
    from dataeff.experiment.metrics import METRICS

    fit = Fit.from_dict(entry["fit"])
    end = 2 * n_max
    need = entry.get("labels_to_target") or {}
    if need.get("how") == "extrapolated" and need.get("n"):
        end = min(max(end, 1.2 * need["n"]), 20 * n_max)
    n = np.geomspace(n_max, end, 40)
    y = fit.predict(n) * (1 if METRICS[metric] else -1)
    ax.plot(n, y, linestyle="--", linewidth=1.4, color=color, alpha=0.9)
