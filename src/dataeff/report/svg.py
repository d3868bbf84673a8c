"""A Chart (``report.chart``) as inline SVG: log-x, bands, markers with tooltips, fits, ceiling.

Drawn by hand rather than with a JavaScript library so the report is one small offline file
that prints well; text and axes use ``currentColor`` so the chart follows light and dark
themes. The svg element carries its ranges as data attributes (``data-x-scale``,
``data-x-max``, ``data-y-min``, ``data-y-max``; each fit ``data-x-start``/``data-x-end``) so a
test can hold them against curves.png.
"""

from __future__ import annotations

import math
from html import escape

from dataeff.report.chart import Chart, Series

WIDTH, HEIGHT = 960, 500
LEFT, RIGHT, TOP, BOTTOM = 64, 170, 24, 56


class _Scale:
    """Log-x (n = 0, zero-shot, sits half a decade left of the smallest size) and linear y."""

    def __init__(self, chart: Chart):
        sizes = chart.sizes
        positive = [s for s in sizes if s > 0] or [1.0]
        self.has_zero = chart.x_scale == "symlog"
        self.lo = math.log10(min(positive)) - (0.5 if self.has_zero else 0.08)
        self.hi = math.log10(max(max(positive), chart.x_max)) + 0.05
        self.y_lo, self.y_hi = chart.y_range

    def x(self, n: float) -> float:
        v = self.lo + 0.04 if n <= 0 else math.log10(n)
        return LEFT + (v - self.lo) / (self.hi - self.lo) * (WIDTH - LEFT - RIGHT)

    def y(self, v: float) -> float:
        return TOP + (self.y_hi - v) / (self.y_hi - self.y_lo) * (HEIGHT - TOP - BOTTOM)


def _nice_ticks(low: float, high: float, count: int = 6) -> list[float]:
    span = high - low
    step = 10 ** math.floor(math.log10(span / count))
    for mult in (1, 2, 2.5, 5, 10):
        if span / (step * mult) <= count:
            step *= mult
            break
    start = math.ceil(low / step) * step
    return [round(start + i * step, 10) for i in range(int((high - start) / step) + 1)]


def _points(xs, ys) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys))


def chart_svg(chart: Chart, chart_id: str = "chart") -> str:
    """One SVG: a ``<g class="series" data-learner=...>`` per learner (band, line, fit, markers)."""
    scale = _Scale(chart)
    metric = chart.metric
    plot_w = WIDTH - LEFT - RIGHT
    parts = [f'<svg id="{escape(chart_id)}" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="{escape(metric)} against labelled training examples" '
             f'data-x-scale="{chart.x_scale}" data-x-max="{chart.x_max!r}" '
             f'data-y-min="{chart.y_range[0]!r}" data-y-max="{chart.y_range[1]!r}" '
             f'xmlns="http://www.w3.org/2000/svg">']
    # axes and grid
    for tick in _nice_ticks(scale.y_lo, scale.y_hi):
        y = scale.y(tick)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}"/>'
                     f'<text class="tick" x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{tick:g}</text>')
    for tick in chart.x_ticks:
        x = scale.x(tick)
        parts.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}"/>'
                     f'<text class="tick" x="{x:.1f}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle">'
                     f'{int(tick):,}</text>')
    parts.append(f'<rect class="frame" x="{LEFT}" y="{TOP}" width="{plot_w}" height="{HEIGHT - TOP - BOTTOM}"/>')
    parts.append(f'<text class="axis-label" x="{LEFT + plot_w / 2:.0f}" y="{HEIGHT - 14}" text-anchor="middle">'
                 f'{escape(chart.x_label)}</text>')
    parts.append(f'<text class="axis-label" transform="translate(16 {TOP + (HEIGHT - TOP - BOTTOM) / 2:.0f}) '
                 f'rotate(-90)" text-anchor="middle">{escape(chart.y_label)}</text>')
    ceil = chart.ceiling
    if ceil is not None:
        if ceil.band:
            parts.append(f'<rect class="ceiling-band" x="{LEFT}" width="{plot_w}" y="{scale.y(ceil.high):.1f}" '
                         f'height="{max(scale.y(ceil.low) - scale.y(ceil.high), 1):.1f}"><title>data ceiling 95% CI '
                         f'[{ceil.low:.3f}, {ceil.high:.3f}]</title></rect>')
        y = scale.y(ceil.value)
        parts.append(f'<line class="ceiling" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}"/>'
                     f'<text class="ceiling-label" x="{LEFT + plot_w - 6}" y="{y - 6:.1f}" text-anchor="end">'
                     f'{escape(ceil.label)}</text>')
    for index, series in enumerate(chart.series):
        parts += _series(series, index, scale, metric)
    parts.append("</svg>")
    return "".join(parts)


def _series(series: Series, index: int, scale: _Scale, metric: str) -> list[str]:
    name = series.learner
    xs = [scale.x(n) for n in series.x]
    parts = [f'<g class="series" data-learner="{escape(name)}" style="--c:{series.color}">']
    band = [(n, lo, hi) for n, lo, hi in zip(series.x, series.low, series.high)
            if math.isfinite(lo) and math.isfinite(hi)]
    if len(band) >= 2:
        upper = [(scale.x(n), scale.y(hi)) for n, _, hi in band]
        lower = [(scale.x(n), scale.y(lo)) for n, lo, _ in band][::-1]
        parts.append(f'<polygon class="band" points="{_points(*zip(*(upper + lower)))}"/>')
    line = "line acquired" if series.twin else "line"  # dash-dotted beside its random twin
    parts.append(f'<polyline class="{line}" points="{_points(xs, [scale.y(v) for v in series.mean])}"/>')
    if series.fan_low:
        fan_x = [scale.x(n) for n in series.fit_x]
        upper = list(zip(fan_x, [scale.y(v) for v in series.fan_high]))
        lower = list(zip(fan_x, [scale.y(v) for v in series.fan_low]))[::-1]
        parts.append(f'<polygon class="fan" points="{_points(*zip(*(upper + lower)))}"><title>{escape(name)}: '
                     'the forecast\'s 95% predictive band beyond the largest size</title></polygon>')
    if series.fit_x:
        what = "forecast" if series.fan_low else "fitted curve"
        parts.append(f'<polyline class="fit" data-x-start="{series.fit_x[0]!r}" data-x-end="{series.fit_x[-1]!r}" '
                     f'points="{_points([scale.x(n) for n in series.fit_x], [scale.y(v) for v in series.fit_y])}">'
                     f'<title>{escape(name)}: {what} beyond the largest size (extrapolated)</title></polyline>')
    for n, x, mean, lo, hi, seeds in zip(series.x, xs, series.mean, series.low, series.high, series.n_seeds):
        ci = f" [{lo:.3f}, {hi:.3f}]" if math.isfinite(lo) and math.isfinite(hi) else ""
        parts.append(f'<circle class="point" cx="{x:.1f}" cy="{scale.y(mean):.1f}" r="3.5">'
                     f'<title>{escape(name)} at n = {n:,}: {escape(metric)} {mean:.3f}{ci} '
                     f'({seeds} seeds)</title></circle>')
    legend_y = TOP + 14 + index * 22
    parts.append(f'<line class="legend-line" x1="{WIDTH - RIGHT + 16}" x2="{WIDTH - RIGHT + 40}" '
                 f'y1="{legend_y}" y2="{legend_y}"/><text class="legend" x="{WIDTH - RIGHT + 46}" '
                 f'y="{legend_y + 4}">{escape(name)}</text>')
    parts.append("</g>")
    return parts
