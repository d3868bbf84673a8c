"""Flattening speed: 1,000,000 purchases for 50,000 customers, point in time, in DuckDB.

Target (issue: related tables): < 10 s on a 2-core machine. Timed twice: from DataFrames in
memory, and end to end from Parquet files (reading included).

    .venv/bin/python benchmarks/bench_flatten.py     # prints JSON, exits 1 if over target
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from dataeff.data.relations import flatten
from dataeff.data.synthetic import declaration

CUSTOMERS, PURCHASES, TICKETS = 50_000, 1_000_000, 100_000
TARGET_SECONDS = 10.0


def tables(seed: int = 0) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2022-01-01")
    customers = pd.DataFrame({"customer_id": np.arange(CUSTOMERS),
                              "snapshot_date": start + pd.to_timedelta(rng.integers(400, 1000, CUSTOMERS), "D")})
    purchases = pd.DataFrame({
        "customer_id": rng.integers(0, CUSTOMERS, PURCHASES),
        "purchased_at": start + pd.to_timedelta(rng.integers(0, 1100 * 24 * 60, PURCHASES), "min"),
        "category": rng.choice(["food", "electronics", "clothing", "home", "toys"], PURCHASES),
        "amount": rng.lognormal(3, 0.7, PURCHASES).round(2),
    })
    tickets = pd.DataFrame({
        "customer_id": rng.integers(0, CUSTOMERS, TICKETS),
        "opened_at": start + pd.to_timedelta(rng.integers(0, 1100 * 24 * 60, TICKETS), "min"),
        "severity": rng.choice(["low", "medium", "high"], TICKETS),
    })
    return {"customers": customers, "purchases": purchases, "tickets": tickets}


def main() -> int:
    data = tables()
    decl = declaration()
    start = time.perf_counter()
    wide = flatten(decl, data)
    in_memory = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        for name, frame in data.items():
            frame.to_parquet(Path(tmp) / f"{name}.parquet", index=False)
        files = declaration(*(str(Path(tmp) / f"{n}.parquet") for n in ("customers", "purchases", "tickets")))
        start = time.perf_counter()
        flatten(files)
        from_files = time.perf_counter() - start
    print(json.dumps({"customers": CUSTOMERS, "purchases": PURCHASES, "tickets": TICKETS,
                      "features": wide.shape[1] - 2, "in_memory_s": round(in_memory, 2),
                      "from_parquet_s": round(from_files, 2), "target_s": TARGET_SECONDS}, indent=2))
    return 0 if max(in_memory, from_files) < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
