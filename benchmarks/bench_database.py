"""Reading a PostgreSQL table into pandas: SQLAlchemy + psycopg 3, ADBC, and dataeff's read.

A measurement that chose dataeff's driver layer (data/database.py), and a check of it. On a
real PostgreSQL 15 (tests/postgres_server.py), a table of 1,000,000 rows × 20 columns (8 double
precision, 6 integer and bigint, 4 text categories, 1 boolean, 1 timestamptz; 1% of the floats
NULL) is read whole, 3 times per layer interleaved, each read in a fresh process: its wall
seconds (connect and read) and its peak RSS (ru_maxrss, whole and above the process's size
after its imports), medians. The layers: SQLAlchemy + psycopg through ``pd.read_sql_query``
(dataeff's read before), ADBC's Arrow table through ``to_pandas``, and dataeff's
``read_database`` (ADBC, then ``as_psycopg_reads``). Exits 1 when a frame differs in a value
from psycopg's, or dataeff's differs in a dtype (dataeff promises psycopg's frame).

    .venv/bin/python benchmarks/bench_database.py [--rows 1000000] [--columns-scale 1]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' PostgreSQL server

LAYERS = ("sqlalchemy+psycopg", "adbc", "dataeff")
QUERY = "SELECT * FROM t"


def columns(scale: int) -> dict[str, str]:
    """Column name -> PostgreSQL type; integer and bigint alternate (their dtypes may differ)."""
    kinds = [("f", 8, "double precision"), ("i", 6, None), ("s", 4, "text"), ("b", 1, "boolean"),
             ("ts", 1, "timestamptz")]
    return {f"{prefix}{j}": kind or ("integer" if j % 2 == 0 else "bigint")
            for prefix, count, kind in kinds for j in range(count * scale)}


def load(url: str, rows: int, scale: int, chunk: int = 100_000) -> None:
    """Create ``t`` and fill it with seeded rows through COPY as CSV (to_sql is far too slow)."""
    import psycopg

    schema = columns(scale)
    rng = np.random.default_rng(0)
    categories = np.array([f"cat-{i}" for i in range(30)])
    start = pd.Timestamp("2022-01-01", tz="UTC")
    with psycopg.connect(url, autocommit=True) as connection:  # VACUUM runs outside a transaction
        connection.execute("CREATE TABLE t (" + ", ".join(f"{n} {k}" for n, k in schema.items()) + ")")
        with connection.cursor() as cursor, cursor.copy("COPY t FROM STDIN (FORMAT csv)") as copy:
            for first in range(0, rows, chunk):
                n = min(chunk, rows - first)
                frame = {}
                for name, kind in schema.items():
                    if kind == "double precision":
                        values = rng.normal(size=n)
                        values[rng.random(n) < 0.01] = np.nan  # an empty CSV field: NULL
                        frame[name] = values
                    elif kind in ("integer", "bigint"):
                        frame[name] = rng.integers(-10**6, 10**6, n) * (1 if kind == "integer" else 10**6)
                    elif kind == "text":
                        frame[name] = categories[rng.integers(0, 30, n)]
                    elif kind == "boolean":
                        frame[name] = rng.random(n) < 0.5
                    else:  # microseconds: PostgreSQL's precision, so nothing is rounded away
                        frame[name] = start + pd.to_timedelta(rng.integers(0, 3 * 365 * 86_400 * 10**6, n), "us")
                copy.write(pd.DataFrame(frame).to_csv(header=False, index=False))
        # hint bits set and pages in the OS cache now, so the first timed read pays for neither
        connection.execute("VACUUM (ANALYZE) t")


def child(layer: str, url: str, save: str | None) -> None:
    """One read in this fresh process; prints its seconds and peak RSS (MiB) as JSON."""
    if layer == "adbc":
        import adbc_driver_postgresql.dbapi as adbc
        import pyarrow  # noqa: F401 - counted in the baseline, as pandas is
    elif layer == "dataeff":
        import adbc_driver_postgresql.dbapi  # noqa: F401 - imported on the way in, counted in the baseline
        import pyarrow  # noqa: F401
        import sqlalchemy  # noqa: F401

        from dataeff.data.database import read_database
    else:
        from sqlalchemy import create_engine, text
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    started = time.perf_counter()
    if layer == "adbc":
        with adbc.connect(url) as connection, connection.cursor() as cursor:
            cursor.execute(QUERY)
            frame = cursor.fetch_arrow_table().to_pandas()
    elif layer == "dataeff":
        frame = read_database(url, table="t", query=None, name="t")
    else:  # as dataeff's database.py read before ADBC
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect() as connection:
            frame = pd.read_sql_query(text(QUERY), connection)
        engine.dispose()
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if save:  # after the measurement, so the pickle costs nothing counted
        frame.to_pickle(save)
    print(json.dumps({"seconds": seconds, "peak_mib": peak, "read_mib": peak - baseline, "shape": frame.shape}))


def read(layer: str, url: str, save: Path | None = None) -> dict:
    command = [sys.executable, __file__, "--child", layer, "--url", url] + (["--save", str(save)] if save else [])
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"the {layer} read failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def differences(a: pd.DataFrame, b: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(values that differ, dtypes that differ), column by column."""
    if a.shape != b.shape or list(a.columns) != list(b.columns):
        return [f"shape {a.shape} against {b.shape}, or the columns' names or order"], []
    values, dtypes = [], []
    for name in a.columns:
        if a[name].dtype != b[name].dtype:
            dtypes.append(f"{name}: {a[name].dtype} / {b[name].dtype}")
        try:
            pd.testing.assert_series_equal(a[name], b[name], check_dtype=False, check_exact=True)
        except AssertionError as error:
            values.append(f"{name}: {' '.join(str(error).split())[:200]}")
    return values, dtypes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--columns-scale", type=int, default=1, help="multiplies each kind's count of columns")
    parser.add_argument("--child", choices=LAYERS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--save", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.url, args.save)
        return 0
    if importlib.util.find_spec("adbc_driver_postgresql") is None:
        print("adbc_driver_postgresql is missing: .venv/bin/pip install adbc-driver-postgresql", file=sys.stderr)
        return 2
    from tests.postgres_server import postgres_server

    with postgres_server() as server, tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        load(server.url(), args.rows, args.columns_scale)
        print(f"loaded {args.rows:,} rows × {len(columns(args.columns_scale))} columns "
              f"in {time.perf_counter() - started:.0f} s")
        runs = {layer: [] for layer in LAYERS}
        for repeat in range(3):  # interleaved, so a drift in the machine's load hits both alike
            for layer in LAYERS:
                save = Path(folder) / f"{layer}.pkl" if repeat == 0 else None
                runs[layer].append(read(layer, server.url(), save))
        frames = [pd.read_pickle(Path(folder) / f"{layer}.pkl") for layer in LAYERS]
    values, dtypes = differences(frames[0], frames[1])
    ours, our_dtypes = differences(frames[0], frames[2])
    print("\n| layer | seconds (median of 3) | runs | peak MiB | above imports MiB |\n|---|---|---|---|---|")
    for layer, results in runs.items():
        runs_text = ", ".join(f"{r['seconds']:.2f}" for r in results)
        median = {key: statistics.median(r[key] for r in results) for key in ("seconds", "peak_mib", "read_mib")}
        print(f"| {layer} | {median['seconds']:.2f} | {runs_text} | "
              f"{median['peak_mib']:.0f} | {median['read_mib']:.0f} |")
    for other, (diff, kinds) in ((LAYERS[1], (values, dtypes)), (LAYERS[2], (ours, our_dtypes))):
        print(f"\n{other} against {LAYERS[0]}: values {'equal' if not diff else 'DIFFER'}; dtypes that differ:"
              + ("" if kinds else " none"))
        for line in diff + kinds:
            print(f"  {line}")
    return 1 if values or ours or our_dtypes else 0


if __name__ == "__main__":
    raise SystemExit(main())
