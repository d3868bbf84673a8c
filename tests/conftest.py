"""Shared fixtures: a messy business table, written to files of every supported kind."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def make_messy_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """A customer table with the dirt real tables have, and a label that depends on it.

    Missing values, numbers stored as text, dates as text, a high-cardinality zip code,
    a constant column, a free-text note, and a label 'churned'/'stayed'.
    """
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 72, n)
    spend = rng.gamma(2.0, 40.0, n)
    plan = rng.choice(["basic", "plus", "premium"], n, p=[0.5, 0.3, 0.2])
    logit = -0.04 * tenure + 0.01 * spend + np.where(plan == "basic", 0.8, -0.4) + rng.normal(0, 0.5, n)
    churned = np.where(logit > np.quantile(logit, 0.7), "churned", "stayed")
    spend_text = np.array([f"{v:.2f}" for v in spend], dtype=object)
    spend_text[rng.random(n) < 0.1] = None
    signup = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1500, n), unit="D")
    frame = pd.DataFrame({
        "customer_id": np.arange(n),
        "tenure_months": np.where(rng.random(n) < 0.05, np.nan, tenure),
        "monthly_spend": spend_text,  # numbers stored as text, some missing
        "plan": np.where(rng.random(n) < 0.05, None, plan),
        "signup_date": signup.strftime("%Y-%m-%d"),
        "zip": [f"{z:05d}" for z in rng.integers(1000, 99999, n)],
        "region": rng.choice([f"region-{i}" for i in range(60)], n),  # high cardinality strings
        "constant": "same",
        "note": rng.choice(["called support twice", "happy customer", "asked about prices", ""], n),
        "churned": churned,
    })
    return frame


@pytest.fixture(scope="session", autouse=True)
def private_llm_cache(tmp_path_factory):
    """Tests never read or write the user's ~/.cache/dataeff: one cache for the session (the
    default model is assembled into it once), inherited by the processes tests start."""
    import os

    os.environ.setdefault("DATAEFF_CACHE_DIR", str(tmp_path_factory.mktemp("dataeff-cache")))
    return os.environ["DATAEFF_CACHE_DIR"]


@pytest.fixture
def messy_frame() -> pd.DataFrame:
    return make_messy_frame()


@pytest.fixture
def messy_csv(tmp_path, messy_frame):
    path = tmp_path / "customers.csv"
    messy_frame.to_csv(path, index=False)
    return path
