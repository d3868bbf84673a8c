"""A result in a notebook: plot() draws on the caller's Axes without touching the backend, and
_repr_html_ shows the answers and the chart."""

from __future__ import annotations

import json

import pytest

import dataeff
from dataeff.analysis.types import Analysis
from tests.conftest import make_messy_frame


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("nb") / "r"
    return dataeff.run(data=make_messy_frame(200), label="churned", learners=["majority", "logreg"], seeds=2,
                       sizes=[8, 16, 32], out=out, progress=False)


def test_plot_draws_on_the_given_axes_and_leaves_the_backend_alone(result):
    import matplotlib
    import matplotlib.pyplot as plt

    backend = matplotlib.get_backend()
    fig, ax = plt.subplots()
    try:
        display = result.plot(ax=ax)
        assert display.ax_ is ax and display.figure_ is fig
        drawn = [line.get_gid() for line in ax.get_lines()]
        assert {"series:majority", "series:logreg"} <= set(drawn)
        assert ax.get_ylim() == pytest.approx(display.chart.y_range)
        assert matplotlib.get_backend() == backend
        other = result.plot(ax=fig.add_subplot(2, 1, 2), metric="accuracy")
        assert other.chart.metric == "accuracy" and not any(s.fit_x for s in other.chart.series)
    finally:
        plt.close(fig)


def test_repr_html_has_the_answers_and_an_svg(result):
    from dataeff.report.answers import sentences

    html = result._repr_html_()
    said = sentences(result.analysis, result.facts)
    assert said and "<svg" in html
    for sentence in said:
        assert sentence.replace("'", "&#39;") in html
    assert "dataeff-result" in html and "<script" not in html.lower()


def test_the_analysis_is_typed_and_reads_back_from_the_store_as_it_was(result):
    assert isinstance(result.analysis, Analysis)
    loaded = dataeff.load_run(result.out)
    assert loaded.analysis.to_json() == result.analysis.to_json()
    assert json.loads(json.dumps(result.analysis.to_json())) == result.analysis.to_json()
    summary = json.loads((result.out / "summary.json").read_text())
    assert summary["target"] == result.analysis.target.to_json()
    need = result.analysis.learners["logreg"].labels_to_target
    assert summary["learners"]["logreg"]["labels_to_target"] == (need.to_json() if need else None)
    assert summary["signal"] == result.analysis.signal.to_json()
    assert loaded._repr_html_() == result._repr_html_()
