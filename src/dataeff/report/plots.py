"""The learning-curve chart drawn with matplotlib: on a caller's Axes, or into curves.png.

No backend is chosen and no pyplot state is touched when writing the file (a ``Figure`` saves
itself), so a notebook's backend and open figures are left as they were.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dataeff.report.chart import Chart

FIGSIZE, DPI = (9, 5.5), 120


def draw_chart(ax, chart: Chart):
    """Draw ``chart`` on a matplotlib Axes: per learner a line with markers, its 95% band and
    its forecast dashed beyond the largest size in a faint fan (its predictive band; a fitted
    curve where there is no forecast); the ceiling as a dotted line and band.
    Lines carry a gid ('series:<learner>', 'fit:<learner>', 'ceiling') for whoever inspects them."""
    for series in chart.series:
        x = np.asarray(series.x, float)
        ax.plot(x, series.mean, marker="o", markersize=3.5, linewidth=1.8, label=series.learner,
                color=series.color, linestyle="-." if series.twin else "-", gid=f"series:{series.learner}")
        low, high = np.asarray(series.low), np.asarray(series.high)
        band = np.isfinite(low) & np.isfinite(high)
        ax.fill_between(x[band], low[band], high[band], color=series.color, alpha=0.18, linewidth=0)
        if series.fan_low:
            ax.fill_between(series.fit_x, series.fan_low, series.fan_high, color=series.color, alpha=0.07, linewidth=0,
                            gid=f"fan:{series.learner}")
        if series.fit_x:
            ax.plot(series.fit_x, series.fit_y, linestyle="--", linewidth=1.4, color=series.color, alpha=0.9,
                    gid=f"fit:{series.learner}")
    if chart.ceiling is not None:
        if chart.ceiling.band:
            ax.axhspan(chart.ceiling.low, chart.ceiling.high, color="grey", alpha=0.12, linewidth=0)
        ax.axhline(chart.ceiling.value, color="grey", linestyle=":", linewidth=1.2, label=chart.ceiling.label,
                   gid="ceiling")
    if chart.x_scale == "symlog":
        # n = 0 (zero-shot) must stay on a log axis: linear up to 1, log beyond.
        ax.set_xscale("symlog", linthresh=1)
    else:
        ax.set_xscale("log")
    ax.set_xticks(list(chart.x_ticks), [str(t) for t in chart.x_ticks])
    ax.set_ylim(*chart.y_range)
    ax.set_xlabel(chart.x_label)
    ax.set_ylabel(chart.y_label)
    ax.grid(True, which="major", alpha=0.3)
    ax.set_title(chart.title)
    if chart.series or chart.ceiling is not None:  # an empty legend is a warning, not a legend
        ax.legend(loc="best", frameon=False)
    ax.minorticks_off()
    return ax


def save_png(chart: Chart, path: Path) -> Path:
    """``chart`` as a PNG file (the run folder's curves.png)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=FIGSIZE, dpi=DPI)
    draw_chart(fig.subplots(), chart)
    fig.tight_layout()
    fig.savefig(path)
    return path


@dataclass
class CurveDisplay:
    """A learning-curve chart to draw on matplotlib Axes, scikit-learn Display style: the chart is
    computed first, ``plot(ax=None)`` draws it and returns the display, with ``ax_`` and ``figure_``.

    Examples
    --------
    >>> fig, ax = plt.subplots()                      # doctest: +SKIP
    >>> display = result.plot(ax=ax)                  # doctest: +SKIP
    >>> display.chart.y_range, display.ax_ is ax      # doctest: +SKIP
    """

    chart: Chart
    ax_: object = None
    figure_: object = None

    def plot(self, ax=None) -> CurveDisplay:
        if ax is None:  # only now does pyplot come in: the caller asked for a new figure
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=FIGSIZE)
        self.ax_ = draw_chart(ax, self.chart)
        self.figure_ = ax.figure
        return self
