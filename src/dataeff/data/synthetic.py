"""Synthetic customers with related tables, business-style dirt, and a known Bayes-optimal ceiling.

The label is drawn from a known probability over the *flattened* features (the same
point-in-time flattening a user's study declares), so the Bayes-optimal score on the
generated rows is exact: no learner can beat it except by luck of the test draw.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dataeff.data.dataset import Dataset, prepare_dataset
from dataeff.data.relations import Feature, Flattening, Relation, flatten

CATEGORIES = ["food", "electronics", "clothing", "home", "toys"]
REGIONS = {  # canonical region -> the spellings different source systems use
    "north": ["north", "North", "NORTH", "N."],
    "south": ["south", "South", "SOUTH", "S."],
    "east": ["east", "East", "EAST"],
    "west": ["west", "West", "WEST", "W."],
    "central": ["central", "Central", "CENTRAL", "Ctr."],
}
SPELLING_TO_REGION = {s: r for r, spellings in REGIONS.items() for s in spellings}
NOTES = ["app keeps crashing on login", "billing amount looks wrong", "asked how to cancel",
         "delivery arrived late", "wants a discount", "password reset did not work", "praised the support agent",
         "item arrived damaged", "question about the premium plan", ""]
TARGET = "churned"


def declaration(entity="customers", purchases="purchases", tickets="tickets", source: str | None = None) -> Flattening:
    """The flattening the label is defined on (and that ``dataeff synth`` writes to study.toml)."""
    return Flattening(entity, "customer_id", "snapshot_date", entity_table=entity if source else None, relations=[
        Relation(purchases, "customer_id", "purchased_at", source, [
            Feature("HasPurchasedFoodLast6Months", "exists", where="category = 'food'", window="180d"),
            Feature("Spend90d", "sum", column="amount", window="90d"),
            Feature("Purchases", "count"),
            Feature("LastPurchaseAmount", "last", column="amount"),
            Feature("DaysSinceLastPurchase", "days_since_last"),
            Feature("Categories1y", "n_distinct", column="category", window="1y"),
        ]),
        Relation(tickets, "customer_id", "opened_at", source, [
            Feature("Tickets90d", "count", window="90d"),
            Feature("HighSeverityTickets6m", "exists", where="severity = 'high'", window="180d"),
        ]),
    ])


@dataclass
class SyntheticCustomers:
    tables: dict[str, pd.DataFrame]  # customers, purchases, tickets (as written, dirt included)
    flat: pd.DataFrame  # customers + flattened features + label
    truth: dict  # Bayes-optimal scores on these rows, and the generating settings


def generate(rows: int = 10_000, noise: float = 1.0, irrelevant: int = 0, seed: int = 0,
             churn_rate: float = 0.25) -> SyntheticCustomers:
    """Generate customers, purchases and tickets; draw the label from the flattened features.

    Parameters
    ----------
    rows : number of customers.
    noise : temperature of the label model (logit / noise): higher noise, lower ceiling.
    irrelevant : extra columns unrelated to the label (numeric and categorical), to make the
        table as wide as a real customer record.
    seed : everything is reproducible from it.
    churn_rate : the share of positive labels the intercept is tuned to.
    """
    rng = np.random.default_rng(seed)
    ids = np.arange(1, rows + 1)
    snapshot = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, rows), unit="D")
    signup = snapshot - pd.to_timedelta(rng.integers(60, 2000, rows), unit="D")
    plan = rng.choice(["basic", "plus", "premium"], rows, p=[0.5, 0.3, 0.2])
    region = rng.choice(list(REGIONS), rows)
    spelled = np.array([rng.choice(REGIONS[r]) for r in region], dtype=object)
    age = np.clip(rng.normal(42, 12, rows).round(), 18, 90)
    age_observed = np.where(rng.random(rows) < 0.08, np.nan, age)
    fee = np.select([plan == "basic", plan == "plus"], [19.9, 39.9], 69.9) + rng.normal(0, 2, rows).round(1)
    fee_text = np.array([f"{v:.2f}" for v in fee], dtype=object)
    fee_text[rng.random(rows) < 0.03] = None
    customers = pd.DataFrame({
        "customer_id": ids, "snapshot_date": snapshot, "signup_date": signup.strftime("%Y-%m-%d"),
        "plan": plan, "region": spelled, "age": age_observed, "monthly_fee": fee_text,
    })
    # The irrelevant columns made apart and joined at once: inserted one by one, hundreds of
    # them left a fragmented frame, and pandas warned about it on the user's terminal.
    unrelated = {f"attr_{k:03d}": (rng.normal(size=rows).round(3) if k % 2 == 0 else rng.choice(list("ABCDE"), rows))
                 for k in range(irrelevant)}
    customers = pd.concat([customers, pd.DataFrame(unrelated, index=customers.index)], axis=1)

    # Engaged customers buy more, and prefer some categories; purchases run past the
    # snapshot (they must be ignored), so point-in-time correctness is exercised.
    engagement = rng.gamma(2.0, 1.0, rows)
    n_purchases = rng.poisson(2 + 4 * engagement)
    owner = np.repeat(np.arange(rows), n_purchases)
    span_days = ((snapshot - signup).days.to_numpy() + 120)[owner]
    purchased_at = signup.to_numpy()[owner] + pd.to_timedelta(rng.random(len(owner)) * span_days, unit="D").to_numpy()
    food_share = rng.beta(2, 3, rows)[owner]
    is_food = rng.random(len(owner)) < food_share
    other = rng.choice(CATEGORIES[1:], len(owner))
    purchases = pd.DataFrame({
        "customer_id": ids[owner],
        "purchased_at": pd.to_datetime(purchased_at).floor("min"),
        "category": np.where(is_food, "food", other),
        "amount": np.round(rng.lognormal(3.2, 0.7, len(owner)), 2),
    })
    n_tickets = rng.poisson(0.4 + 0.8 * rng.gamma(1.0, 1.0, rows))
    t_owner = np.repeat(np.arange(rows), n_tickets)
    t_span = ((snapshot - signup).days.to_numpy() + 120)[t_owner]
    tickets = pd.DataFrame({
        "customer_id": ids[t_owner],
        "opened_at": pd.to_datetime(signup.to_numpy()[t_owner]
                                    + pd.to_timedelta(rng.random(len(t_owner)) * t_span, unit="D").to_numpy()).floor("min"),
        "severity": rng.choice(["low", "medium", "high"], len(t_owner), p=[0.5, 0.35, 0.15]),
        "note": rng.choice(NOTES, len(t_owner)),
    })
    tables = {"customers": customers, "purchases": purchases, "tickets": tickets}
    flat = flatten(declaration(), tables)
    logit = _logit(flat) / noise
    intercept = _intercept(logit, churn_rate)
    p = 1 / (1 + np.exp(-(logit + intercept)))
    y = rng.random(rows) < p
    flat[TARGET] = np.where(y, "yes", "no")
    customers[TARGET] = flat[TARGET]
    from sklearn.metrics import roc_auc_score

    truth = {
        "bayes_roc_auc": float(roc_auc_score(y, p)),
        "bayes_accuracy": float(np.mean((p > 0.5) == y)),
        "expected_bayes_accuracy": float(np.mean(np.maximum(p, 1 - p))),
        "positive_rate": float(y.mean()),
        "rows": rows, "noise": noise, "irrelevant": irrelevant, "seed": seed,
        "label_model": "logit = intercept + (1.2*(1-HasPurchasedFoodLast6Months) + 0.55*Tickets90d "
                       "+ 0.9*HighSeverityTickets6m - 0.45*log1p(Spend90d) + 0.004*min(DaysSinceLastPurchase, 365) "
                       "+ 0.6*[plan=basic] - 0.5*[plan=premium] - 0.02*(age-42) + 0.35*[region=south]) / noise",
    }
    return SyntheticCustomers(tables, flat, truth)


def _logit(flat: pd.DataFrame) -> np.ndarray:
    """The label model over observed, flattened values (missing age contributes nothing)."""
    days = flat["DaysSinceLastPurchase"].fillna(365).clip(upper=365).to_numpy(float)
    age = flat["age"].to_numpy(float)
    region = flat["region"].map(SPELLING_TO_REGION).to_numpy()
    return (1.2 * (1 - flat["HasPurchasedFoodLast6Months"].to_numpy(float))
            + 0.55 * flat["Tickets90d"].to_numpy(float)
            + 0.9 * flat["HighSeverityTickets6m"].to_numpy(float)
            - 0.45 * np.log1p(flat["Spend90d"].to_numpy(float))
            + 0.004 * days
            + 0.6 * (flat["plan"].to_numpy() == "basic") - 0.5 * (flat["plan"].to_numpy() == "premium")
            - 0.02 * np.nan_to_num(age - 42)
            + 0.35 * (region == "south"))


def _intercept(logit: np.ndarray, rate: float) -> float:
    """The intercept that makes the mean probability ``rate`` (bisection)."""
    low, high = -30.0, 30.0
    for _ in range(100):
        mid = (low + high) / 2
        if np.mean(1 / (1 + np.exp(-(logit + mid)))) < rate:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def write(data: SyntheticCustomers, out: Path, fmt: str = "parquet") -> list[Path]:
    """customers/purchases/tickets as Parquet files (or one SQLite file), truth.json and a
    study.toml that declares the flattening, ready for ``dataeff run --config``."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if fmt == "sqlite":
        import sqlite3

        path = out / "crm.sqlite"
        if path.exists():
            path.unlink()
        with sqlite3.connect(path) as conn:
            for name, frame in data.tables.items():
                frame.to_sql(name, conn, index=False)
        written.append(path)
        entity, source = "crm.sqlite", "crm.sqlite"
        rel_lines = [f'table = "purchases"\nsource = "{source}"', f'table = "tickets"\nsource = "{source}"']
        entity_lines = f'entity = "{entity}"\nentity_table = "customers"'
    else:
        for name, frame in data.tables.items():
            path = out / f"{name}.parquet"
            frame.to_parquet(path, index=False)
            written.append(path)
        rel_lines = ['table = "purchases.parquet"', 'table = "tickets.parquet"']
        entity_lines = 'entity = "customers.parquet"'
    (out / "truth.json").write_text(json.dumps(data.truth, indent=2), encoding="utf-8")
    written.append(out / "truth.json")
    decl = declaration()
    blocks = []
    for rel, head in zip(decl.relations, rel_lines):
        features = ",\n".join("  {" + ", ".join(
            f'{k} = "{v}"' for k, v in (("name", f.name), ("agg", f.agg), ("column", f.column), ("where", f.where),
                                        ("window", f.window)) if v) + "}" for f in rel.features)
        blocks.append(f'[[data.relations]]\n{head}\nkey = "{rel.key}"\ntime = "{rel.time}"\nfeatures = [\n{features},\n]\n')
    # the columns unrelated to the label, a group of their own: what they are worth is known (nothing)
    groups = '\n[data.groups]\nirrelevant = ["attr_*"]\n' if data.truth.get("irrelevant") else ""
    toml = (f'# Written by dataeff synth: the flattening the label was drawn from.\n[data]\n{entity_lines}\n'
            f'key = "customer_id"\nlabel = "{TARGET}"\ncutoff = "snapshot_date"\n\n' + "\n".join(blocks) + groups)
    (out / "study.toml").write_text(toml, encoding="utf-8")
    written.append(out / "study.toml")
    return written


def builtin_dataset(spec) -> Dataset:
    """The built-in ``synthetic-customers`` (``spec``, its data/builtin.py entry): 10,000
    customers, seed 0, with the truth they were drawn from."""
    data = generate(rows=10_000, seed=0)
    dataset = prepare_dataset(data.flat, spec.label, spec.name, drop=spec.drop, description=spec.description)
    dataset.truth = data.truth
    return dataset
