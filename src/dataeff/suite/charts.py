"""One small learning-curve chart per finished dataset of a suite: the report's chart model
(``report.chart``) read back from each run folder, drawn as inline SVG (``report.svg``), with one
colour per learner across the whole suite and the same axes on every chart of a metric."""

from __future__ import annotations

import dataclasses

from dataeff.report.chart import PALETTE, Chart, size_ticks
from dataeff.report.svg import chart_svg
from dataeff.results import load_run
from dataeff.suite.aggregate import DatasetAnswers


def suite_colours(datasets: list[DatasetAnswers]) -> dict[str, str]:
    """Each learner's colour, in the order the suite first meets it (baselines included)."""
    learners = dict.fromkeys(name for d in datasets for name in d.families)
    return {name: PALETTE[index % len(PALETTE)] for index, name in enumerate(learners)}


def small_charts(datasets: list[DatasetAnswers]) -> list[tuple[DatasetAnswers, str]]:
    """(dataset, SVG markup) for every finished dataset whose run folder has curves."""
    colours = suite_colours(datasets)
    charts = []
    for answers in datasets:
        if answers.status != "ok":
            continue
        chart = load_run(answers.folder).chart()
        if chart.series:
            charts.append((answers, chart))
    by_metric: dict[str, list[Chart]] = {}
    for _, chart in charts:
        by_metric.setdefault(chart.metric, []).append(chart)
    axes = {metric: _shared_axes(group) for metric, group in by_metric.items()}
    drawn = []
    for answers, chart in charts:
        x_max, y_range, sizes = axes[chart.metric]
        smallest = min((n for n in chart.sizes if n > 0), default=1)
        chart = dataclasses.replace(
            chart, x_max=x_max, y_range=y_range,
            x_ticks=tuple(t for t in size_ticks(sizes) if t == 0 or t >= smallest),
            series=tuple(dataclasses.replace(s, color=colours.get(s.learner, s.color)) for s in chart.series))
        drawn.append((answers, chart_svg(chart, chart_id=f"chart-{answers.name}")))
    return drawn


def _shared_axes(charts: list[Chart]) -> tuple[float, tuple[float, float], list[int]]:
    """The widest x reach, the y range holding every chart's drawing, and every size measured."""
    return (max(c.x_max for c in charts), (min(c.y_range[0] for c in charts), max(c.y_range[1] for c in charts)),
            sorted({n for c in charts for n in c.sizes}))
