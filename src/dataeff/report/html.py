"""The self-contained HTML report: answers first, the chart as inline SVG, tables, run facts."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from dataeff.experiment.metrics import METRICS
from dataeff.report import answers
from dataeff.report.svg import curve_svg


def render_report(results: pd.DataFrame, tables: dict[str, pd.DataFrame], facts: dict, metric: str,
                  analysis: dict) -> str:
    """The report as one HTML string (no network: styles inline, chart inline SVG); ``tables``
    holds the curve table of every metric (``analysis.curves.curve_tables``)."""
    from jinja2 import Environment, PackageLoader, select_autoescape
    from markupsafe import Markup

    env = Environment(loader=PackageLoader("dataeff.report", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    order = facts.get("learners") or list(dict.fromkeys(results["learner"]))
    metrics = []
    for name in [metric, *[m for m in METRICS if m != metric]]:
        curves = tables[name]
        if curves.empty:
            continue
        svg = curve_svg(curves, name, order, analysis if name == metric else None, chart_id=f"chart-{name}")
        # the SVG is built from escaped pieces in report.svg, so it is safe markup
        metrics.append({"id": re.sub(r"[^a-z0-9_]", "_", name), "name": name, "svg": Markup(svg)})
    from dataeff.report.outputs import curve_pivot

    pivot = curve_pivot(tables[metric], order)
    failed = results[results["status"] != "ok"][["learner", "n_train", "seed", "error"]]
    target = (analysis or {}).get("target") or {}
    prices = (analysis or {}).get("prices") or {}
    template = env.get_template("report.html.j2")
    return template.render(
        facts=facts, metric=metric, metrics=metrics,
        sentences=answers.sentences(analysis, facts) if analysis else [],
        target_value=answers.score(target.get("value")),
        target_rows=answers.target_rows(analysis) if analysis else [],
        crossover_rows=answers.crossover_rows(analysis) if analysis else [],
        advantage_rows=answers.advantage_rows(analysis) if analysis else [],
        cost_rows=_cost_rows(results, order, analysis),
        prices_note=(f"Prices: ${prices.get('label_cost')} per label, {prices.get('predictions', 0):,.0f} "
                     f"predictions a month, ${prices.get('token_price')} per million tokens, "
                     f"${prices.get('compute_price')} per CPU hour. Change them with dataeff analyze.")
        if prices else "",
        failed=failed.to_dict("records"),
        pivot_columns=list(pivot.columns), pivot_rows=[(f"{n:,}", list(r)) for n, r in pivot.iterrows()],
        fact_rows=_fact_rows(facts),
        columns=facts.get("feature_columns", []),
    )


def _cost_rows(results: pd.DataFrame, order: list[str], analysis: dict) -> list[list[str]]:
    ok = results[results["status"] == "ok"]
    rows = []
    for name in order:
        cells = ok[ok["learner"] == name]
        if cells.empty:
            continue
        largest = cells[cells["n_train"] == cells["n_train"].max()]
        per_row = (largest["predict_seconds"] / largest["n_test"]).mean()
        tokens = (np.nan_to_num(largest["tokens"].to_numpy(float)) / largest["n_test"].to_numpy(float)).mean()
        cost = ((analysis or {}).get("learners", {}).get(name) or {}).get("cost")
        rows.append([
            name, f"{largest['fit_seconds'].mean():.3f}", f"{per_row * 1e6:.2f}", f"{tokens:,.0f}",
            answers.labels(cost["n_labels"]) if cost else "not reached",
            answers.money(cost["labels"]) if cost else "—", answers.money(cost["training"]) if cost else "—",
            answers.money(cost["serving_per_month"]) if cost else "—",
            answers.money(cost["total_first_month"]) if cost else "—",
        ])
    return rows


def _fact_rows(facts: dict) -> list[tuple[str, str]]:
    counts = facts.get("class_counts", {})
    total = sum(counts.values()) or 1
    versions = ", ".join(f"{k} {v}" for k, v in (facts.get("versions") or {}).items())
    return [
        ("dataset", str(facts.get("dataset", ""))),
        ("data fingerprint", str(facts.get("data_fingerprint", ""))),
        ("study fingerprint", str(facts.get("study_fingerprint", ""))),
        ("rows × feature columns", f"{facts.get('rows', '')} × {facts.get('columns', '')}"),
        ("target", str(facts.get("target", ""))),
        ("class balance", ", ".join(f"{c}: {n} ({n / total:.0%})" for c, n in counts.items())),
        ("test rows per seed", f"{facts.get('n_test', '')}" + (" (the dataset's own split)"
                                                               if facts.get("own_test_split") else "")),
        ("training pool", str(facts.get("pool_size", ""))),
        ("seeds", ", ".join(map(str, facts.get("seeds", [])))),
        ("sizes", ", ".join(f"{s:,}" for s in facts.get("sizes", []))),
        ("learners", ", ".join(facts.get("learners", []))),
        *[(f"· {name}", text) for name, text in (facts.get("learner_settings") or {}).items()],
        ("notes", "; ".join(facts.get("notes", [])) or "none"),
        *([("LLM traffic", answers.llm_traffic(facts))] if facts.get("llm_usage") else []),
        ("finished", str(facts.get("finished_at", ""))),
        ("run time", f"{facts.get('run_seconds', '')} s"),
        ("cells", ", ".join(f"{k} {v}" for k, v in (facts.get("cells") or {}).items())),
        ("python", str(facts.get("python", ""))),
        ("versions", versions),
    ]


def write_report(path: Path, results: pd.DataFrame, tables: dict[str, pd.DataFrame], facts: dict, metric: str,
                 analysis: dict) -> Path:
    from dataeff.report.outputs import _atomic

    html = render_report(results, tables, facts, metric, analysis)
    return _atomic(path, lambda p: Path(p).write_text(html, encoding="utf-8"))
