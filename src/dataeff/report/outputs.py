"""Write the run folder's result files, each atomically (temp file, then rename)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from dataeff.analysis.curves import curve_table, format_estimate
from dataeff.experiment.store import CELL_COLUMNS
from dataeff.report.plots import plot_curves


def write_outputs(out: Path, results: pd.DataFrame, facts: dict, metric: str) -> dict[str, Path]:
    """results.csv, summary.md, summary.json and curves.png from the store's cells."""
    curves = curve_table(results, metric)
    paths = {
        "results": _atomic(out / "results.csv", lambda p: results[CELL_COLUMNS].to_csv(p, index=False)),
        "summary_md": _atomic(out / "summary.md", lambda p: Path(p).write_text(summary_markdown(curves, results, facts, metric), encoding="utf-8")),
        "summary_json": _atomic(out / "summary.json", lambda p: Path(p).write_text(
            json.dumps(_finite(summary_dict(results, facts, metric)), indent=2, default=_json_default), encoding="utf-8")),
    }
    if len(curves):
        paths["curves"] = _atomic(out / "curves.png", lambda p: plot_curves(
            curves, metric, Path(p), title=f"{facts.get('dataset', '')}: {metric} vs labelled examples",
            order=facts.get("learners")), suffix=".png")
    return paths


def summary_dict(results: pd.DataFrame, facts: dict, metric: str) -> dict:
    """summary.json: run facts, and per learner the curve of every metric (mean, CI, seeds)."""
    from dataeff.experiment.metrics import METRICS

    learners: dict = {}
    for name in METRICS:
        for row in curve_table(results, name).itertuples():
            entry = learners.setdefault(row.learner, {"curve": {}})
            point = entry["curve"].setdefault(str(row.n_train), {"n_seeds": row.n_seeds})
            point[name] = {"mean": row.mean, "ci_low": row.ci_low, "ci_high": row.ci_high}
    failed = results[results["status"] != "ok"]
    return {
        "schema": 1,
        "facts": facts,
        "headline_metric": metric,
        "learners": learners,
        "cells": {"total": int(len(results)), "ok": int((results["status"] == "ok").sum()),
                  "failed": int(len(failed))},
    }


def summary_markdown(curves: pd.DataFrame, results: pd.DataFrame, facts: dict, metric: str) -> str:
    """summary.md: the headline metric per learner at each size, mean ± 95% CI half-width."""
    lines = [f"# dataeff: {facts.get('dataset', '')}", ""]
    lines.append(
        f"Target `{facts.get('target')}`, classes {', '.join(facts.get('classes', []))}; "
        f"{facts.get('n_test')} test rows per seed, {facts.get('n_seeds')} seeds, "
        f"training pool {facts.get('pool_size')} rows."
    )
    for note in facts.get("notes", []):
        lines.append(f"- note: {note}")
    lines += ["", f"## {metric} (mean ± 95% CI half-width over seeds)", ""]
    table = curve_pivot(curves, facts.get("learners"))
    if table.empty:
        lines.append("No cell finished.")
    else:
        header = ["n_train", *table.columns]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "|".join(["---:"] * len(header)) + "|")
        for n_train, row in table.iterrows():
            lines.append("| " + " | ".join([str(n_train), *row.tolist()]) + " |")
    failed = results[results["status"] != "ok"]
    if len(failed):
        lines += ["", f"## Failed cells ({len(failed)})", ""]
        for row in failed.head(20).itertuples():
            lines.append(f"- {row.learner} n={row.n_train} seed={row.seed}: {row.error}")
    return "\n".join(lines) + "\n"


def curve_pivot(curves: pd.DataFrame, order: list[str] | None = None) -> pd.DataFrame:
    """Sizes down, learners across (in the study's order), 'mean ± half-width' cells."""
    if curves.empty:
        return pd.DataFrame()
    text = curves.assign(cell=[format_estimate(m, lo, hi) for m, lo, hi in
                               zip(curves["mean"], curves["ci_low"], curves["ci_high"])])
    present = set(curves["learner"])
    order = [name for name in (order or []) if name in present] + sorted(present - set(order or []))
    return text.pivot(index="n_train", columns="learner", values="cell")[order].fillna("")


def _atomic(path: Path, write, suffix: str | None = None) -> Path:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix or path.suffix)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _finite(value):
    """NaN and infinity become null: summary.json stays valid JSON for every reader."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
