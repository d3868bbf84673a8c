"""The curve table for people: sizes down, learners across in the study's order."""

from __future__ import annotations

import pandas as pd

from dataeff.analysis.curves import format_estimate


def learner_order(order: list[str] | None, present) -> list[str]:
    """The study's learner order, then any other learner present, in the order met."""
    present = list(dict.fromkeys(present))
    return [n for n in (order or []) if n in present] + [n for n in present if n not in (order or [])]


def curve_pivot(curves: pd.DataFrame, order: list[str] | None = None) -> pd.DataFrame:
    """Sizes down, learners across (in the study's order), 'mean ± half-width' cells."""
    if curves.empty:
        return pd.DataFrame()
    text = curves.assign(cell=[format_estimate(m, lo, hi) for m, lo, hi in
                               zip(curves["mean"], curves["ci_low"], curves["ci_high"])])
    order = learner_order(order, curves["learner"])
    return text.pivot(index="n_train", columns="learner", values="cell")[order].fillna("")


def markdown_table(pivot: pd.DataFrame) -> list[str]:
    """A curve pivot as Markdown lines, one per size: what summary.md holds, and what the
    command line prints where its output is not a terminal (a log, a pipe)."""
    header = ["n_train", *pivot.columns]
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "|".join(["---:"] * len(header)) + "|"]
    return lines + ["| " + " | ".join([str(n_train), *row.tolist()]) + " |" for n_train, row in pivot.iterrows()]
