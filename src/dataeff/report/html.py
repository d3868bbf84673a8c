"""The self-contained HTML report: answers first, the chart as inline SVG, tables, run facts;
and the short form a notebook shows for a result (answers and the headline chart)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from dataeff.analysis.costs import measured_usage
from dataeff.analysis.types import Analysis
from dataeff.experiment.facts import RunFacts
from dataeff.experiment.metrics import METRICS
from dataeff.report import answers
from dataeff.report.chart import Chart
from dataeff.report.files import atomic_write
from dataeff.report.svg import chart_svg
from dataeff.report.tables import curve_pivot


def _template(name: str):
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("dataeff.report", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    return env.get_template(name)


def _svg_markup(chart: Chart, chart_id: str):
    from markupsafe import Markup

    # the SVG is built from escaped pieces in report.svg, so it is safe markup
    return Markup(chart_svg(chart, chart_id=chart_id))


def render_report(results: pd.DataFrame, tables: dict[str, pd.DataFrame], facts: RunFacts, metric: str,
                  analysis: Analysis | None) -> str:
    """The report as one HTML string (no network: styles inline, chart inline SVG); ``tables``
    holds the curve table of every metric (``analysis.curves.curve_tables``)."""
    order = facts.learners or list(dict.fromkeys(results["learner"]))
    metrics = []
    for name in [metric, *[m for m in METRICS if m != metric]]:
        curves = tables[name]
        if curves.empty:
            continue
        chart = Chart.from_curves(curves, name, order, analysis)
        metrics.append({"id": re.sub(r"[^a-z0-9_]", "_", name), "name": name,
                        "svg": _svg_markup(chart, f"chart-{name}")})
    pivot = curve_pivot(tables[metric], order)
    failed = results[results["status"] != "ok"][["learner", "n_train", "seed", "error"]]
    prices = analysis.prices if analysis is not None else None
    return _template("report.html.j2").render(
        facts=facts, metric=metric, metrics=metrics,
        signal=answers.signal_text(analysis, facts) if analysis is not None else None,
        no_signal=analysis is not None and analysis.signal is not None and analysis.signal.absent,
        sentences=answers.sentences(analysis, facts, with_signal=False),
        target_value=answers.score(analysis.target.value if analysis is not None else None),
        target_rows=answers.target_rows(analysis) if analysis else [],
        crossover_rows=answers.crossover_rows(analysis) if analysis else [],
        advantage_rows=answers.advantage_rows(analysis) if analysis else [],
        label_rows=answers.label_quality_rows(analysis) if analysis else [],
        source_rows=answers.source_rows(analysis) if analysis else [],
        cost_rows=_cost_rows(results, order, analysis),
        prices_note=(f"Prices: ${prices.label_cost} per label, {prices.predictions:,.0f} "
                     f"predictions a month, ${prices.token_price} per million tokens, "
                     f"${prices.compute_price} per CPU hour. Change them with dataeff analyze.")
        if prices else "",
        failed=failed.to_dict("records"),
        pivot_columns=list(pivot.columns), pivot_rows=[(f"{n:,}", list(r)) for n, r in pivot.iterrows()],
        fact_rows=_fact_rows(facts),
        columns=facts.feature_columns,
    )


def render_result(chart: Chart, analysis: Analysis | None, facts: RunFacts) -> str:
    """A result in a notebook (``RunResult._repr_html_``): the answers and the headline chart,
    its styles scoped to the result so the notebook's own SVGs are left alone."""
    from importlib.resources import files

    from markupsafe import Markup

    css = files("dataeff.report").joinpath("templates", "chart.css").read_text(encoding="utf-8")
    return _template("result.html.j2").render(
        facts=facts, sentences=answers.sentences(analysis, facts), svg=_svg_markup(chart, "dataeff-chart"),
        css=Markup(_scoped(css, ".dataeff-result")))


def _scoped(css: str, scope: str) -> str:
    """Prefix every selector of chart.css (one rule a line) with ``scope``."""
    rules = []
    for line in css.splitlines():
        selectors, _, body = line.partition("{")
        if body:
            rules.append(", ".join(f"{scope} {s.strip()}" for s in selectors.split(",")) + " {" + body)
    return "\n".join(rules)


def _cost_rows(results: pd.DataFrame, order: list[str], analysis: Analysis | None) -> list[list[str]]:
    """Per learner: what its cells cost at the largest size, then its route's costs (both computed
    in analysis.costs; here only formatted)."""
    rows = []
    kinds = {name: answer.kind for name, answer in analysis.learners.items()} if analysis is not None else {}
    for name, usage in measured_usage(results, order, kinds).items():
        answer = analysis.learners.get(name) if analysis is not None else None
        cost = answer.cost if answer is not None else None
        rows.append([
            name, f"{usage.fit_seconds:.3f}", f"{usage.predict_seconds_per_row * 1e6:.2f}",
            f"{usage.tokens_per_row:,.0f}",
            answers.labels(cost.n_labels) if cost else "not reached",
            answers.money(cost.labels) if cost else "—", answers.money(cost.training) if cost else "—",
            answers.money(cost.serving_per_month) if cost else "—",
            answers.money(cost.total_first_month) if cost else "—",
        ])
    return rows


def _shown(value) -> str:
    return "" if value is None else str(value)


def _fact_rows(facts: RunFacts) -> list[tuple[str, str]]:
    counts = facts.class_counts
    total = sum(counts.values()) or 1
    versions = ", ".join(f"{k} {v}" for k, v in facts.versions.items())
    return [
        ("dataset", facts.dataset),
        ("data fingerprint", facts.data_fingerprint),
        ("study fingerprint", facts.study_fingerprint),
        ("rows × feature columns", f"{_shown(facts.rows)} × {_shown(facts.columns)}"),
        ("label", facts.label),
        ("class balance", ", ".join(f"{c}: {n} ({n / total:.0%})" for c, n in counts.items())),
        ("test rows per seed", _shown(facts.n_test) + (" (the dataset's own split)" if facts.own_test_split else "")),
        ("training pool", _shown(facts.pool_size)),
        ("seeds", ", ".join(map(str, facts.seeds))),
        ("sizes", ", ".join(f"{s:,}" for s in facts.sizes)),
        ("learners", ", ".join(facts.learners)),
        *[(f"· {name}", info.settings) for name, info in facts.learner_info.items()],
        ("notes", "; ".join(facts.notes) or "none"),
        *([("LLM traffic", answers.llm_traffic(facts))] if facts.llm_usage else []),
        ("finished", facts.finished_at),
        ("run time", f"{_shown(facts.run_seconds)} s"),
        ("cells", ", ".join(f"{k} {v}" for k, v in facts.cells.items())),
        ("python", facts.python),
        ("versions", versions),
    ]


def write_report(path: Path, results: pd.DataFrame, tables: dict[str, pd.DataFrame], facts: RunFacts, metric: str,
                 analysis: Analysis | None) -> Path:
    html = render_report(results, tables, facts, metric, analysis)
    return atomic_write(path, lambda p: Path(p).write_text(html, encoding="utf-8"))
