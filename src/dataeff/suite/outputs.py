"""The suite folder's files from the aggregate: suite.json (every number), suite.csv (one row
per dataset, learner and target), suite.md and suite.html (the table first, then crossovers,
each dataset's labels, one small chart per dataset linking to its report). Each is written
atomically; numbers are formatted here, once."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from dataeff.report.files import atomic_write, finite, json_default
from dataeff.suite.aggregate import LearnerSpread, SuiteAggregate, labels_text

FILES = ("suite.json", "suite.csv", "suite.md", "suite.html")
CSV_COLUMNS = ["dataset", "status", "error", "metric", "ceiling", "learner", "family", "kind", "target",
               "labels", "how", "method", "max_measured", "folder"]
HOW_TO_READ = ("Labels each learner needs to reach the target on each dataset (the first crossing of its "
               "running best mean; past the largest size measured, its fitted curve). Median, interquartile "
               "range and range are over the datasets with an answer, a target never reached (no fit reaches "
               "it, or only past 100x the largest size) counting as more labels than any number: 'not reached' "
               "there (null in suite.json). 'Not reached' counts the datasets where the target was not reached "
               "within the sizes measured, 'extrapolated' those of them where a fit was used. 'No target' "
               "datasets carry no signal above the baseline or no ceiling to take a share of. Rule of thumb: "
               "dataeff.analysis.efficiency.RULE_OF_THUMB, by each learner's kind; 'measured vs rule' compares "
               "the median with it. 'Largest size measured': the most labels a learner was given on any dataset; a "
               "learner run only up to a max_size stops there, and its 'not reached' means within those sizes.")


def write_suite_outputs(out: Path, result: SuiteAggregate, seconds: float) -> list[Path]:
    """Write suite.json, suite.csv, suite.md and suite.html into the suite folder ``out``."""
    out = Path(out)
    payload = finite({**result.to_json(), "seconds": seconds, "how_to_read": HOW_TO_READ})
    text = json.dumps(payload, indent=2, default=json_default)
    written = [atomic_write(out / "suite.json", lambda p: Path(p).write_text(text, encoding="utf-8"))]
    written.append(atomic_write(out / "suite.csv", lambda p: _write_csv(Path(p), result)))
    markdown = render_markdown(result, seconds)
    written.append(atomic_write(out / "suite.md", lambda p: Path(p).write_text(markdown, encoding="utf-8")))
    html = render_html(out, result, seconds)
    written.append(atomic_write(out / "suite.html", lambda p: Path(p).write_text(html, encoding="utf-8")))
    return written


def _write_csv(path: Path, result: SuiteAggregate) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, CSV_COLUMNS)
        writer.writeheader()
        for d in result.datasets:
            base = {"dataset": d.name, "status": d.status, "error": d.error or "", "metric": d.metric or "",
                    "ceiling": "" if d.ceiling is None else d.ceiling, "folder": d.folder}
            if d.status != "ok":
                writer.writerow(base)
                continue
            for target, needs in d.labels.items():
                for learner, need in needs.items():
                    writer.writerow({**base, "learner": learner, "family": d.families.get(learner, ""),
                                     "kind": d.kinds.get(learner, ""), "target": target,
                                     "labels": "" if need is None or need.n is None else need.n,
                                     "how": need.how if need else "no target", "method": need.method if need else "",
                                     "max_measured": need.max_measured if need else ""})


# -- the rows people read -----------------------------------------------------------------------
def _n(value: float | None) -> str:
    if value is None:
        return "-"
    return "not reached" if math.isinf(value) else f"{value:,.0f}"


def _pair(values: tuple[float | None, float | None]) -> str:
    low, high = values
    return "-" if low is None else f"{_n(low)}–{_n(high)}"


def spread_row(s: LearnerSpread) -> dict[str, str]:
    """One learner's row of the table: labels to the target across datasets, then the rule."""
    return {"learner": s.learner, "family": s.family, "rule": s.rule_text, "median": _n(s.median),
            "iqr": _pair(s.iqr), "range": _pair(s.range), "within": f"{s.within} of {s.datasets}",
            "not_reached": str(s.not_reached), "extrapolated": str(s.extrapolated),
            "no_target": str(s.no_answer), "largest": _n(s.largest_size),
            "short_not_reached": f"{s.not_reached} ({s.extrapolated} extrap.)",
            "short_verdict": s.verdict or "-", "verdict": {"fewer": "fewer than the rule", "within": "within the rule",
                                                      "more": "more than the rule"}.get(s.verdict or "", "-")}


TABLE_HEADERS = {"learner": "learner", "family": "family", "rule": "rule of thumb", "median": "median labels",
                 "iqr": "IQR", "range": "range", "within": "reached within sizes measured",
                 "not_reached": "not reached", "extrapolated": "of which extrapolated", "no_target": "no target",
                 "largest": "largest size measured", "verdict": "measured vs rule"}


#: the terminal's narrower table
SHORT_HEADERS = {"learner": "learner", "rule": "rule of thumb", "median": "median", "iqr": "IQR", "range": "range",
                 "within": "reached", "short_not_reached": "not reached", "largest": "largest n",
                 "short_verdict": "vs rule"}


def target_title(target: str) -> str:
    return f"{target} of each dataset's ceiling" if target.endswith("%") else f"a score of {target}"


def dataset_rows(result: SuiteAggregate) -> tuple[list[str], list[dict]]:
    """Datasets down, learners across (labels to the first target), with ceiling and status.
    Baselines (majority) are the floor the target is measured from: no column of their own."""
    learners = list(dict.fromkeys(name for d in result.datasets for name, family in d.families.items()
                                  if family != "baseline"))
    rows = []
    for d in result.datasets:
        needs = d.labels.get(d.target, {})
        rows.append({"name": d.name, "status": d.status, "error": d.error, "rows": _n(d.rows),
                     "classes": len(d.classes), "metric": d.metric or "",
                     "ceiling": "-" if d.ceiling is None else f"{d.ceiling:.3f}",
                     "labels": [labels_text(needs[name]) if name in needs else "" for name in learners],
                     "report": f"{d.name}/report.html", "seconds": f"{d.seconds:,.0f}"})
    return learners, rows


def _md_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    def cell(text: str) -> str:
        return str(text).replace("|", "\\|")

    return ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers),
            *["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]]


def render_markdown(result: SuiteAggregate, seconds: float) -> str:
    done = [d for d in result.datasets if d.status == "ok"]
    lines = ["# The rule of thumb, measured", "",
             f"{len(done)} of {len(result.datasets)} datasets finished in {seconds:,.0f} s.", ""]
    for target in result.targets:
        lines += [f"## Labels to reach {target_title(target)}", ""]
        rows = [spread_row(s) for s in result.spreads(target)]
        lines += _md_table(list(TABLE_HEADERS.values()), [[r[k] for k in TABLE_HEADERS] for r in rows]) + [""]
    if result.crossovers:
        lines += ["## Crossovers across datasets", ""] + [f"- {c.sentence()}" for c in result.crossovers] + [""]
    learners, rows = dataset_rows(result)
    lines += ["## Each dataset", ""]
    lines += _md_table(["dataset", "rows", "ceiling", *learners, "seconds"],
                       [[r["name"], r["rows"], r["ceiling"], *r["labels"], r["seconds"]] for r in rows if
                        r["status"] == "ok"]) + [""]
    failed = [d for d in result.datasets if d.status != "ok"]
    if failed:
        lines += ["## Failed datasets", ""] + [f"- {d.name} ({d.listed}): {d.error}" for d in failed] + [""]
    lines += ["## How to read this", "", HOW_TO_READ, ""]
    return "\n".join(lines)


def render_html(out: Path, result: SuiteAggregate, seconds: float) -> str:
    """suite.html: self-contained (inline styles and SVG, no script, no network)."""
    from importlib.resources import files

    from jinja2 import Environment, PackageLoader, select_autoescape
    from markupsafe import Markup

    from dataeff.suite.charts import small_charts, suite_colours

    env = Environment(loader=PackageLoader("dataeff.suite", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    css = files("dataeff.report").joinpath("templates", "chart.css").read_text(encoding="utf-8")
    learners, rows = dataset_rows(result)
    charts = [{"name": d.name, "href": f"{d.name}/report.html", "has_report": (out / d.name / "report.html").is_file(),
               "ceiling": "-" if d.ceiling is None else f"{d.ceiling:.3f}", "metric": d.metric,
               "svg": Markup(svg)}  # built from escaped pieces in report.svg
              for d, svg in small_charts(list(result.datasets))]
    return env.get_template("suite.html.j2").render(
        css=Markup(css), seconds=f"{seconds:,.0f}", finished=sum(d.status == "ok" for d in result.datasets),
        total=len(result.datasets), headers=TABLE_HEADERS,
        targets=[{"title": target_title(t), "id": f"table-{i}", "rows": [spread_row(s) for s in result.spreads(t)]}
                 for i, t in enumerate(result.targets)],
        crossovers=[c.sentence() for c in result.crossovers], learners=learners, rows=rows,
        colours=suite_colours(list(result.datasets)), charts=charts,
        failed=[d for d in result.datasets if d.status != "ok"], how_to_read=HOW_TO_READ)
