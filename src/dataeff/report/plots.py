"""Learning-curve figures: headline metric vs labelled examples, log-x, mean and 95% band."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def plot_curves(curves: pd.DataFrame, metric: str, path: Path, title: str = "",
                order: list[str] | None = None) -> Path:
    """Draw one line per learner (in ``order``) with its CI band and markers at measured sizes."""
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
