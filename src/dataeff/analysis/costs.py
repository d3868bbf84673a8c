"""What each route to the target costs, which is cheapest, and the run's measured compute per learner.

Every cost number is computed here, once; the report only formats them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dataeff.analysis.efficiency import Prices, interpolate_log, route_cost
from dataeff.analysis.types import Cheapest, Cost, LabelsNeeded, num


@dataclass(frozen=True)
class Usage:
    """What one learner's cells cost at the largest size measured (means over seeds)."""

    fit_seconds: float
    predict_seconds_per_row: float
    tokens_per_row: float  # served: predict tokens per test row


def _ok_cells(results: pd.DataFrame, learner: str) -> pd.DataFrame:
    ok = results[results["status"] == "ok"]
    return ok[ok["learner"] == learner]


def split_tokens(cells: pd.DataFrame, kind: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Per cell: (fit tokens, predict tokens). A ``predict_tokens`` column is taken as measured;
    otherwise a kind whose fit sends its training rows to the LLM shares the cell's tokens
    between training and test rows by their counts, and any other kind spends them all
    predicting (few-shot demonstrations are part of every served prompt)."""
    total = np.nan_to_num(cells["tokens"].to_numpy(float))
    if "predict_tokens" in cells and cells["predict_tokens"].notna().all():
        predict = cells["predict_tokens"].to_numpy(float)
        return total - predict, predict
    if _reads_training_rows(kind):  # run folders from before cells recorded their predict tokens
        n_train, n_test = cells["n_train"].to_numpy(float), cells["n_test"].to_numpy(float)
        predict = total * n_test / (n_train + n_test)
        return total - predict, predict
    return np.zeros_like(total), total


def route_costs(results: pd.DataFrame, needed: dict[str, LabelsNeeded | None], prices: Prices,
                kinds: dict[str, str] | None = None) -> dict[str, Cost | None]:
    """Per learner, the first-month cost of labelling what it needs, training on it and serving a
    month of predictions; None when it never gets there, or only past what a fit can tell."""
    kinds = kinds or {}
    out: dict[str, Cost | None] = {}
    for name, need in needed.items():
        if need is None or need.n is None:
            out[name] = None
            continue
        n = need.n
        cells = _ok_cells(results, name)
        fit_tokens, predict_tokens = split_tokens(cells, kinds.get(name, name))
        per_size = cells.assign(fit_tokens=fit_tokens, predict_tokens=predict_tokens).groupby("n_train").agg(
            fit=("fit_seconds", "mean"), predict=("predict_seconds", "mean"), tokens=("predict_tokens", "mean"),
            fit_tokens=("fit_tokens", "mean"), n_test=("n_test", "mean"))
        sizes = per_size.index.to_numpy(float)
        # Serving is measured per row: the size nearest the route's, as the model served would be.
        nearest = per_size.iloc[int(np.argmin(np.abs(sizes - n)))]
        cost = route_cost(
            n_labels=n,
            fit_seconds=interpolate_log(sizes, per_size["fit"].to_numpy(float), n) if n > 0 else 0.0,
            predict_seconds_per_row=float(nearest["predict"] / nearest["n_test"]),
            tokens_per_row=float(nearest["tokens"] / nearest["n_test"]),
            train_tokens=interpolate_log(sizes, per_size["fit_tokens"].to_numpy(float), n) if n > 0 else 0.0,
            prices=prices,
        )
        out[name] = Cost(num(cost["labels"]), num(cost["training"]), num(cost["serving_per_month"]),
                         num(cost["total_first_month"]), n, need.how)
    return out


def cheapest(costs: dict[str, Cost | None]) -> Cheapest | None:
    """The cheapest route, with the runner-up and by how much (None without any route)."""
    routes = {name: cost.total_first_month for name, cost in costs.items() if cost is not None}
    if not routes:
        return None
    ranked = sorted(routes, key=routes.get)
    best = routes[ranked[0]]
    if len(ranked) == 1:
        return Cheapest(ranked[0], best)
    second = routes[ranked[1]]
    return Cheapest(ranked[0], best, ranked[1], num(second - best), num(second / best) if best > 0 else None)


def measured_usage(results: pd.DataFrame, learners: list[str],
                   kinds: dict[str, str] | None = None) -> dict[str, Usage]:
    """Per learner with a finished cell: fit seconds, predict seconds and served tokens per test
    row at its largest size (the report's cost table shows them next to the routes' costs)."""
    kinds = kinds or {}
    out = {}
    for name in learners:
        cells = _ok_cells(results, name)
        if cells.empty:
            continue
        largest = cells[cells["n_train"] == cells["n_train"].max()]
        _, predict_tokens = split_tokens(largest, kinds.get(name, name))
        out[name] = Usage(
            fit_seconds=float(largest["fit_seconds"].mean()),
            predict_seconds_per_row=float((largest["predict_seconds"] / largest["n_test"]).mean()),
            tokens_per_row=float((predict_tokens / largest["n_test"].to_numpy(float)).mean()),
        )
    return out


def _reads_training_rows(kind: str | None) -> bool:
    """Whether the kind's fit spends as many tokens per training row as per test row."""
    from dataeff.learners.registry import REGISTRY

    return kind in REGISTRY and REGISTRY[kind].reads_training_rows
