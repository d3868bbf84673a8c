"""One chart model: curves.png (matplotlib) and the report's SVG draw the same series, the same
forecasts (dashed, in their band) and the same y range."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from dataeff.analysis.curves import curve_table
from dataeff.analysis.summary import summarize
from dataeff.report.chart import Chart, extrapolation_end
from dataeff.report.plots import draw_chart, save_png
from dataeff.report.svg import chart_svg
from tests.analysis.test_curves import cells, pow3

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def chart():
    """Two rising curves and a slow one whose target lies past the largest size (extrapolated)."""
    rng = np.random.default_rng(11)
    sizes = np.array([8, 16, 32, 64, 128, 256, 512])
    results = cells({"fast": lambda n: pow3(n, a=0.92, c=0.7), "slow": lambda n: pow3(n, a=0.95, c=0.25),
                     "flat": lambda n: 0.6 + 0 * n}, rng, seeds=4, sigma=0.004, sizes=sizes)
    analysis = summarize(results, "roc_auc", score_target=0.85, n_boot=30)
    assert analysis.learners["slow"].labels_to_target.how == "extrapolated"
    return Chart.from_curves(curve_table(results, "roc_auc"), "roc_auc", ["fast", "slow", "flat"], analysis)


def _png_axes(chart):
    from matplotlib.figure import Figure

    return draw_chart(Figure().subplots(), chart)


def test_png_and_svg_draw_the_same_series_extrapolations_and_y_range(chart):
    ax = _png_axes(chart)
    root = ET.fromstring(chart_svg(chart))
    # series, in the same order and colours
    png_series = [line.get_label() for line in ax.get_lines() if (line.get_gid() or "").startswith("series:")]
    svg_series = [g.get("data-learner") for g in root.iter(f"{SVG}g") if g.get("class") == "series"]
    assert png_series == svg_series == ["fast", "slow", "flat"]
    # extrapolations: same learners, same start and end
    png_fits = {line.get_gid()[4:]: (line.get_xdata()[0], line.get_xdata()[-1]) for line in ax.get_lines()
                if (line.get_gid() or "").startswith("fit:")}
    svg_fits = {g.get("data-learner"): (float(p.get("data-x-start")), float(p.get("data-x-end")))
                for g in root.iter(f"{SVG}g") if g.get("class") == "series"
                for p in g.iter(f"{SVG}polyline") if p.get("class") == "fit"}
    assert set(png_fits) == set(svg_fits) and png_fits
    for name, (start, end) in png_fits.items():
        assert (start, end) == pytest.approx(svg_fits[name])
    # one rule for the end: the forecast's reach, 16x the largest size, its band drawn on both
    assert all(end == pytest.approx(16 * 512) for _, end in png_fits.values())
    png_fans = {c.get_gid()[4:] for c in ax.collections if (c.get_gid() or "").startswith("fan:")}
    svg_fans = {g.get("data-learner") for g in root.iter(f"{SVG}g") if g.get("class") == "series"
                for p in g.iter(f"{SVG}polygon") if p.get("class") == "fan"}
    assert png_fans == svg_fans == {"fast", "slow", "flat"}
    # same y range, and it holds every forecast value and band
    assert ax.get_ylim() == pytest.approx((float(root.get("data-y-min")), float(root.get("data-y-max"))))
    low, high = chart.y_range
    for series in chart.series:
        assert low < min(series.fit_y, default=high) and max(series.fit_y, default=low) < high
        assert low < min(series.fan_low) and max(series.fan_high) < high
    assert float(root.get("data-x-max")) == pytest.approx(max(end for _, end in png_fits.values()))
    assert root.get("data-x-scale") == "log" and ax.get_xscale() == "log"


def test_a_rising_fit_stays_inside_the_frame():
    """The extrapolation climbs above every measured band: the y range still holds it."""
    rng = np.random.default_rng(2)
    sizes = np.array([8, 16, 32, 64])
    results = cells({"x": lambda n: pow3(n, a=0.99, b=0.9, c=0.3)}, rng, seeds=3, sigma=0.002, sizes=sizes)
    analysis = summarize(results, "roc_auc", score_target=0.8, n_boot=20)
    chart = Chart.from_curves(curve_table(results, "roc_auc"), "roc_auc", None, analysis)
    (series,) = chart.series
    measured_top = max(np.nanmax(series.high), max(series.mean))
    assert max(series.fit_y) > measured_top  # the case the old SVG clipped
    assert chart.y_range[1] > max(series.fit_y)


def test_zero_shot_sizes_give_a_symlog_axis_on_both(chart):
    import dataclasses

    zero = dataclasses.replace(chart, x_scale="symlog", x_ticks=(0, *chart.x_ticks))
    assert _png_axes(zero).get_xscale() == "symlog"
    assert ET.fromstring(chart_svg(zero)).get("data-x-scale") == "symlog"


def test_extrapolation_end_rule():
    from dataeff.analysis.types import LabelsNeeded

    assert extrapolation_end(100, None) == 200
    assert extrapolation_end(100, LabelsNeeded(500.0, "extrapolated", "fit", (None, None), 100)) == 600
    assert extrapolation_end(100, LabelsNeeded(5000.0, "extrapolated", "fit", (None, None), 100)) == 2000
    assert extrapolation_end(100, LabelsNeeded(50.0, "measured", "fit", (None, None), 100)) == 200


def test_the_png_is_written_without_pyplot_or_a_backend_switch(chart, tmp_path):
    import sys

    import matplotlib

    backend = matplotlib.get_backend()
    had_pyplot = "matplotlib.pyplot" in sys.modules
    save_png(chart, tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert matplotlib.get_backend() == backend
    if not had_pyplot:
        assert "matplotlib.pyplot" not in sys.modules


def test_the_plotted_points_are_the_curve_means_of_the_cells(chart):
    """What both drawings show at each size is the mean over seeds of that learner's cells,
    recomputed here from the raw cells: the model's series, the PNG's lines and the SVG's
    points (their position on the y axis and their label)."""
    import re

    rng = np.random.default_rng(11)  # the fixture's cells, drawn again
    sizes = np.array([8, 16, 32, 64, 128, 256, 512])
    results = cells({"fast": lambda n: pow3(n, a=0.92, c=0.7), "slow": lambda n: pow3(n, a=0.95, c=0.25),
                     "flat": lambda n: 0.6 + 0 * n}, rng, seeds=4, sigma=0.004, sizes=sizes)
    by_hand = {learner: [float(np.mean([r["roc_auc"] for _, r in results.iterrows()
                                        if r["learner"] == learner and r["n_train"] == n])) for n in sizes]
               for learner in ("fast", "slow", "flat")}
    assert [s.learner for s in chart.series] == ["fast", "slow", "flat"]
    for series in chart.series:
        assert series.x == tuple(int(n) for n in sizes) and series.n_seeds == (4,) * len(sizes)
        assert series.mean == pytest.approx(by_hand[series.learner], abs=1e-12)
    lines = {line.get_gid()[7:]: line for line in _png_axes(chart).get_lines()
             if (line.get_gid() or "").startswith("series:")}
    for learner, means in by_hand.items():
        assert list(lines[learner].get_xdata()) == list(sizes)
        assert list(lines[learner].get_ydata()) == pytest.approx(means, abs=1e-12)
    root = ET.fromstring(chart_svg(chart))
    means, cys = [], []
    for group in root.iter(f"{SVG}g"):
        if group.get("class") != "series":
            continue
        learner = group.get("data-learner")
        points = [c for c in group.iter(f"{SVG}circle") if c.get("class") == "point"]
        assert len(points) == len(sizes)
        means += by_hand[learner]
        cys += [float(c.get("cy")) for c in points]
        shown = [float(re.search(r": roc_auc ([0-9.]+)", c.find(f"{SVG}title").text).group(1)) for c in points]
        assert shown == pytest.approx([round(m, 3) for m in by_hand[learner]], abs=1e-9)
    # one y scale for every point: cy is the same straight line of the mean (higher is up),
    # up to cy's rounding to 0.1 px
    slope, intercept = np.polyfit(means, cys, 1)
    assert slope < 0 and np.abs(slope * np.array(means) + intercept - np.array(cys)).max() <= 0.06


def test_bands_stay_within_the_metrics_range_with_two_seeds():
    """Two seeds' t interval (1 degree of freedom) spans far past [0, 1]; the chart does not."""
    rng = np.random.default_rng(5)
    results = cells({"x": lambda n: pow3(n, a=0.9, c=0.5)}, rng, seeds=2, sigma=0.15,
                    sizes=np.array([8, 16, 32, 64]))
    table = curve_table(results, "roc_auc")
    assert (table["ci_high"] > 1).any() or (table["ci_low"] < 0).any()  # the case: bands past the range
    chart = Chart.from_curves(table, "roc_auc", None, summarize(results, "roc_auc", score_target=0.8, n_boot=20))
    (series,) = chart.series
    assert 0 <= min(series.low) and max(series.high) <= 1
    assert chart.y_range[0] >= -0.1 and chart.y_range[1] <= 1.1
