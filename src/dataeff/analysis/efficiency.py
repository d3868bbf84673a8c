"""The answers from curves: labels to a target, crossovers, data advantage, cost of each route."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dataeff.config import DEFAULT_PRICES

#: The rule of thumb dataeff measures against: labelled examples each kind usually needs.
RULE_OF_THUMB = {
    "logreg": (100, 1_000),
    "tree": (1_000, 10_000),
    "xgboost": (100, 10_000),
    "mlp": (10_000, 500_000),
}


# ---------------------------------------------------------------------------------------
# Labels to reach a target
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Needed:
    """Labels needed to reach a target score.

    ``how`` is 'measured' (interpolated between measured sizes), 'at_most' (already reached
    at the smallest measured size, so n is an upper bound), 'extrapolated' (beyond the
    largest size, from the fitted curve) or 'unreachable' (the fit's asymptote is below
    the target, or there is no fit).
    """

    n: float
    how: str

    @property
    def value(self) -> float:
        return self.n if self.how != "unreachable" else float("inf")


def labels_to_target(sizes: np.ndarray, means: np.ndarray, target: float, fit=None,
                     higher_is_better: bool = True, inside_from_fit: bool = False) -> Needed:
    """Labels at which the curve first reaches ``target``.

    Within the measured sizes the answer is interpolated on log n along the running maximum
    of the mean scores (see below), or, with ``inside_from_fit``, read off the fitted curve (when the fit follows the means
    within their noise, it pools every size and is far less noisy: on a pow3 curve with
    5 seeds and per-seed noise 0.006, 90% of interpolated answers were within 18% of the
    truth against 10% from the fit). Beyond the largest size only the fit answers, and the
    answer is flagged 'extrapolated'. ``fit`` works on the same (gain) scale as ``means``.
    """
    sign = 1.0 if higher_is_better else -1.0
    ok = np.isfinite(means)
    n, y, goal = np.asarray(sizes, float)[ok], sign * np.asarray(means, float)[ok], sign * target
    if len(n) == 0:
        return Needed(float("nan"), "unreachable")
    if n[0] == 0 and y[0] >= goal:
        return Needed(0.0, "measured")  # a zero-shot learner already there
    positive = n > 0
    if inside_from_fit and fit is not None and positive.any():
        first, last = n[positive][0], n[-1]
        if fit.predict(first) >= goal:
            return Needed(float(first), "at_most")
        if fit.predict(last) >= goal:
            return Needed(_solve_fit(fit, goal, float(first), float(last)), "measured")
    else:
        # One definition of "labels to reach a score", used for every answer (labels to target,
        # what a learner is worth, the data advantage): the first size where the curve's running
        # maximum reaches it, interpolated on log n along that maximum. A score once reached
        # stays reachable (keep the model trained on fewer labels), so the answer must not
        # depend on a noisy dip after it; and along the running maximum the answer rises
        # steadily with the score, where the raw means' first crossing jumps across a dip.
        y = np.maximum.accumulate(y)
        reached = np.flatnonzero(y >= goal)
        if len(reached):
            i = int(reached[0])
            if i == 0:
                return Needed(float(n[0]), "at_most")
            n0, n1, y0, y1 = n[i - 1], n[i], y[i - 1], y[i]
            if n0 <= 0:  # between a zero-shot point and the first size: no log scale below 1
                return Needed(float(n1), "at_most")
            t = (goal - y0) / (y1 - y0)
            return Needed(float(np.exp(np.log(n0) + t * (np.log(n1) - np.log(n0)))), "measured")
    if fit is None or fit.asymptote <= goal:
        return Needed(float("nan"), "unreachable")
    return Needed(_solve_fit(fit, goal, float(n[-1])), "extrapolated")


# A fitted curve is trusted this far past the largest measured size at most; an answer
# further out (or a bootstrap bound) is "more than that": infinite, shown as ∞.
EXTRAPOLATION_LIMIT = 100


def _solve_fit(fit, goal: float, start: float, stop: float | None = None) -> float:
    """Smallest n > start where the (rising) fitted curve reaches ``goal``: bisection on log n;
    inf when it needs more than EXTRAPOLATION_LIMIT × ``start``."""
    low = np.log(start)
    if stop is not None:
        high = np.log(stop)
    else:
        high = low + np.log(EXTRAPOLATION_LIMIT)
        if fit.predict(np.exp(high)) < goal:
            return float("inf")
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if fit.predict(np.exp(mid)) < goal else (low, mid)
    return float(np.exp(high))


# ---------------------------------------------------------------------------------------
# Crossovers between two learners
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Crossing:
    """Where learner A's curve crosses B's: ``direction`` +1 when A overtakes B, -1 when B overtakes A."""

    n: float
    direction: int


def crossings(sizes: np.ndarray, difference: np.ndarray) -> list[Crossing]:
    """Sign changes of the paired difference A - B along n, interpolated on log n.

    Exact ties are skipped (a tie is not a crossing); a crossing between n = 0 and the
    first positive size is placed at that size.
    """
    ok = np.isfinite(difference)
    n, d = np.asarray(sizes, float)[ok], np.asarray(difference, float)[ok]
    nonzero = d != 0
    n, d = n[nonzero], d[nonzero]
    out = []
    for i in range(1, len(d)):
        if np.sign(d[i]) == np.sign(d[i - 1]):
            continue
        if n[i - 1] <= 0:
            at = float(n[i])
        else:
            t = d[i - 1] / (d[i - 1] - d[i])
            at = float(np.exp(np.log(n[i - 1]) + t * (np.log(n[i]) - np.log(n[i - 1]))))
        out.append(Crossing(at, int(np.sign(d[i]))))
    return out


# ---------------------------------------------------------------------------------------
# Data advantage (Le Scao & Rush 2021): how many labels one curve saves over another
# ---------------------------------------------------------------------------------------
def labels_at_score(sizes: np.ndarray, means: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Inverse of the curve: ``labels_to_target`` for each score (NaN above the curve's best)."""
    best = np.nanmax(means)
    return np.array([labels_to_target(sizes, means, s).n if s <= best else np.nan for s in scores])


def data_advantage(sizes_a, means_a, sizes_b, means_b, grid: int = 200) -> dict | None:
    """Average horizontal gap (in labels) between B's and A's curves over their shared score window.

    Positive: A reaches the same scores with that many fewer labels than B. None when the
    curves share no score window (one is below the other everywhere).
    """
    a_env, b_env = np.maximum.accumulate(means_a), np.maximum.accumulate(means_b)
    low = max(float(np.nanmin(a_env)), float(np.nanmin(b_env)))
    high = min(float(np.nanmax(a_env)), float(np.nanmax(b_env)))
    if not np.isfinite(low) or not np.isfinite(high) or high <= low:
        return None
    scores = np.linspace(low, high, grid)
    gap = labels_at_score(sizes_b, means_b, scores) - labels_at_score(sizes_a, means_a, scores)
    return {"labels": float(np.nanmean(gap)), "window": [low, high]}


# ---------------------------------------------------------------------------------------
# Cost of each route to the target
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Prices:
    """What labels, tokens and compute cost; defaults are stated in every summary."""

    label_cost: float = DEFAULT_PRICES["label_cost"]  # per labelled example
    predictions: float = DEFAULT_PRICES["predictions"]  # predictions served per month
    token_price: float = DEFAULT_PRICES["token_price"]  # per million LLM tokens (0: a local model)
    compute_price: float = DEFAULT_PRICES["compute_price"]  # per CPU hour


def interpolate_log(sizes: np.ndarray, values: np.ndarray, n: float) -> float:
    """Value at n, linear in log n between measured sizes, proportional to n beyond the last."""
    ok = np.isfinite(values) & (sizes > 0)
    s, v = sizes[ok], values[ok]
    if len(s) == 0 or not np.isfinite(n):
        return float("nan")
    if n >= s[-1]:
        return float(v[-1] * n / s[-1])
    return float(np.interp(np.log(max(n, s[0])), np.log(s), v))


def route_cost(n_labels: float, fit_seconds: float, predict_seconds_per_row: float, tokens_per_row: float,
               train_tokens: float, prices: Prices) -> dict:
    """First-month cost of one route: labels + training compute + a month of predictions."""
    labels = n_labels * prices.label_cost
    train = fit_seconds / 3600 * prices.compute_price + train_tokens / 1e6 * prices.token_price
    serve = prices.predictions * (predict_seconds_per_row / 3600 * prices.compute_price
                                  + tokens_per_row / 1e6 * prices.token_price)
    return {"labels": labels, "training": train, "serving_per_month": serve, "total_first_month": labels + train + serve}
