"""Write the run folder's result files, each atomically (temp file, then rename)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from dataeff.analysis.curves import curve_tables
from dataeff.analysis.types import Analysis
from dataeff.experiment.facts import RunFacts
from dataeff.experiment.store import CELL_COLUMNS
from dataeff.report import answers
from dataeff.report.chart import Chart
from dataeff.report.files import atomic_write, finite, json_default
from dataeff.report.html import write_report
from dataeff.report.plots import save_png
from dataeff.report.tables import curve_pivot, markdown_table


def write_outputs(out: Path, results: pd.DataFrame, facts: RunFacts | dict, metric: str,
                  analysis: Analysis | None = None) -> dict[str, Path]:
    """results.csv, summary.md, summary.json, curves.png and report.html from the store's cells
    and the analysis."""
    tables = curve_tables(results)
    facts = RunFacts.of(facts)
    summary = finite(summary_dict(results, facts, metric, tables, analysis))
    markdown = summary_markdown(tables[metric], results, facts, metric, analysis)
    paths = {
        "results": atomic_write(out / "results.csv", lambda p: results[CELL_COLUMNS].to_csv(p, index=False)),
        "summary_md": atomic_write(out / "summary.md", lambda p: Path(p).write_text(markdown, encoding="utf-8")),
        "summary_json": atomic_write(out / "summary.json", lambda p: Path(p).write_text(
            json.dumps(summary, indent=2, default=json_default), encoding="utf-8")),
    }
    png = write_png(out, tables[metric], facts, metric, analysis)
    if png:
        paths["curves"] = png
    paths["report"] = write_report(out / "report.html", results, tables, facts, metric, analysis)
    return paths


def write_png(out: Path, curves: pd.DataFrame, facts: RunFacts, metric: str, analysis: Analysis | None) -> Path | None:
    """curves.png (from the headline metric's curve table): the same chart as the report's, for slides."""
    if curves.empty:
        return None
    chart = Chart.from_curves(curves, metric, facts.learners, analysis,
                              title=f"{facts.dataset}: {metric} vs labelled examples")
    return atomic_write(out / "curves.png", lambda p: save_png(chart, Path(p)), suffix=".png")


ANALYSIS_KEYS = ("signal", "target", "ceiling", "crossovers", "prompt_worth", "data_advantage", "reference", "cheapest",
                 "prices", "acquisition", "label_routes", "sources")
LEARNER_KEYS = ("fit", "asymptote", "asymptote_ci", "identified", "rising", "labels_to_target", "rule_of_thumb",
                "cost")


def summary_dict(results: pd.DataFrame, facts: RunFacts, metric: str, tables: dict[str, pd.DataFrame],
                 analysis: Analysis | None = None) -> dict:
    """summary.json: run facts, per learner the curve of every metric (mean, CI, seeds) and the
    headline metric's fit, asymptote, labels to target and cost; then ceiling, crossovers,
    prompt worth, data advantage and the cheapest route (keys documented in the README)."""
    learners: dict = {}
    for name, table in tables.items():
        for row in table.itertuples():
            entry = learners.setdefault(row.learner, {"curve": {}})
            point = entry["curve"].setdefault(str(row.n_train), {"n_seeds": row.n_seeds})
            point[name] = {"mean": row.mean, "ci_low": row.ci_low, "ci_high": row.ci_high}
    for name, answer in (analysis.learners if analysis is not None else {}).items():
        entry = answer.to_json()
        learners.setdefault(name, {"curve": {}}).update({k: entry[k] for k in LEARNER_KEYS})
    failed = results[results["status"] != "ok"]
    summary = {
        "schema": 2,
        "facts": facts.to_json(),
        "headline_metric": metric,
        "learners": learners,
        "cells": {"total": int(len(results)), "ok": int((results["status"] == "ok").sum()),
                  "failed": int(len(failed))},
    }
    if analysis is not None:
        data = analysis.to_json()
        summary.update({k: data[k] for k in ANALYSIS_KEYS if k in data}, analysis_schema=data["schema_version"])
    return summary


def summary_markdown(curves: pd.DataFrame, results: pd.DataFrame, facts: RunFacts, metric: str,
                     analysis: Analysis | None = None) -> str:
    """summary.md: the answers in sentences, then the tables, then the curves."""
    lines = [f"# dataeff: {facts.dataset}", ""]
    said = answers.sentences(analysis, facts)
    if said:
        lines += ["## Answers", ""] + [f"- {s}" for s in said] + [""]
        title = (f"Labels to reach {metric} {answers.score(analysis.target.value)} vs the rule of thumb"
                 if analysis.target.value is not None else "Fitted curves vs the rule of thumb (no target)")
        lines += _md_table(title,
                           ["learner", "asymptote [95% CI] (fit)", "labels to target [95% CI]", "from",
                            "rule of thumb"],
                           answers.target_rows(analysis))
        lines += _md_table("Crossovers (paired over seeds)",
                           ["winner", "overtakes", "last at n [95% CI]", "earlier sign changes",
                            "resamples with it", "lead at largest n [95% CI]", "significant"],
                           answers.crossover_rows(analysis))
        lines += _md_table(f"What each learner is worth in labels of {analysis.reference} (Le Scao & Rush 2021)",
                           ["learner", "reference", "with n labels", "it scores",
                            "the reference matches it with [95% CI]", "labels saved over the shared score window"],
                           answers.advantage_rows(analysis))
        lines += _md_table("What each data source is worth (each learner against itself without the group)",
                           ["learner", "without", "verdict", "labels it saves on average [95% CI]", "ceiling with it",
                            "without it", "drop [CI corrected for the pairs tested]"],
                           answers.source_rows(analysis))
        prices = analysis.prices
        lines += _md_table(
            f"Cost to reach the target (label ${prices.label_cost}, {prices.predictions:,.0f} "
            f"predictions a month, ${prices.token_price} per million tokens, "
            f"${prices.compute_price} per CPU hour)",
            ["learner", "labels", "labelling", "training compute", "serving a month", "first month"],
            answers.cost_rows(analysis))
    lines.append(
        f"Label `{facts.label}`, classes {', '.join(facts.classes)}; "
        f"{facts.n_test} test rows per seed, {facts.n_seeds} seeds, "
        f"training pool {facts.pool_size} rows."
    )
    for note in facts.notes:
        lines.append(f"- note: {note}")
    traffic = answers.llm_traffic(facts)
    if traffic:
        lines.append(f"- {traffic}")
    lines += ["", f"## {metric} (mean ± 95% CI half-width over seeds)", ""]
    table = curve_pivot(curves, facts.learners)
    if table.empty:
        lines.append("No cell finished.")
    else:
        lines += markdown_table(table)
    failed = results[results["status"] != "ok"]
    if len(failed):
        lines += ["", f"## Failed cells ({len(failed)})", ""]
        for row in failed.head(20).itertuples():
            lines.append(f"- {row.learner} n={row.n_train} seed={row.seed}: {row.error}")
    return "\n".join(lines) + "\n"


def _md_table(title: str, header: list[str], rows: list[list[str]]) -> list[str]:
    if not rows:
        return []
    out = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out + [""]
