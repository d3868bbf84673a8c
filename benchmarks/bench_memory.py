"""Peak memory of a run on a wide table: 1,000,000 rows × 200 mixed columns, from Parquet and
from PostgreSQL.

The study: a curve up to n = 100,000 (logreg, 1 seed, 1,000 test rows, 2 jobs). Peak RSS is
summed over the run's whole process tree (the main process and its workers), sampled every 0.1 s.

    .venv/bin/python benchmarks/bench_memory.py [--source parquet|postgres|both] [--rows 1000000] [--keep FILE]

Targets:
- Parquet (issue: fast on one machine): peak RSS under 3 GiB (what the README claims).
- PostgreSQL (issue: a 1,000,000-row table sampled server-side within the memory the Parquet
  path uses): the same table loaded into a real server (tests/postgres_server.py) as `wide`, run
  with `--data URL --table wide`; peak RSS at most the Parquet path's peak in the same
  invocation + 5% (measured only with --source both), and summary.json's notes must say the
  sample was drawn in the database. The server's own peak (the RSS of its processes, summed) is
  reported apart: it is not the client's memory.

The table is written once (in row groups, so writing it stays small) and reused with --keep.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LIMIT_GIB = 3.0  # the README: 'in under 3 GiB'
SLACK = 1.05  # the PostgreSQL run may use 5% more than the Parquet run
ROOT = Path(__file__).resolve().parent.parent


def write_table(path: Path, rows: int, chunk: int = 100_000) -> None:
    """100 float, 50 integer, 40 categorical string and 10 boolean columns, and a label that
    depends on a few of them."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    categories = np.array([f"cat-{i}" for i in range(30)])
    writer = None
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        columns = {}
        floats = rng.normal(size=(n, 100))
        for j in range(100):
            values = floats[:, j].copy()
            values[rng.random(n) < 0.02] = np.nan
            columns[f"f{j}"] = values
        for j in range(50):
            columns[f"i{j}"] = rng.integers(0, 1000, n)
        for j in range(40):
            columns[f"s{j}"] = categories[rng.integers(0, 30, n)]
        for j in range(10):
            columns[f"b{j}"] = rng.random(n) < 0.5
        logit = floats[:, 0] + 0.5 * floats[:, 1] - 0.3 * (columns["s0"] == "cat-1") + rng.normal(0, 1, n)
        columns["y"] = np.where(logit > 0.8, "yes", "no")
        table = pa.table(columns)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    writer.close()


def load_postgres(url: str, path: Path) -> None:
    """Copy the Parquet table into `wide`, one row group at a time as CSV, then VACUUM ANALYZE."""
    import psycopg
    import pyarrow as pa
    import pyarrow.csv as csv
    import pyarrow.parquet as pq

    def sql_type(kind: pa.DataType) -> str:
        for test, name in ((pa.types.is_floating, "double precision"), (pa.types.is_integer, "bigint"),
                           (pa.types.is_boolean, "boolean"), (pa.types.is_string, "text"),
                           (pa.types.is_large_string, "text")):
            if test(kind):
                return name
        raise ValueError(f"no PostgreSQL type for {kind}")

    parquet = pq.ParquetFile(path)
    columns = ", ".join(f'"{field.name}" {sql_type(field.type)}' for field in parquet.schema_arrow)
    with psycopg.connect(url) as connection:
        connection.execute(f"CREATE TABLE wide ({columns})")
        with connection.cursor() as cursor, cursor.copy("COPY wide FROM STDIN (FORMAT csv)") as copy:
            for group in range(parquet.num_row_groups):
                buffer = io.BytesIO()  # NaN is written as 'nan', which PostgreSQL reads as NaN
                csv.write_csv(parquet.read_row_group(group), buffer, csv.WriteOptions(include_header=False))
                copy.write(buffer.getbuffer())
    with psycopg.connect(url, autocommit=True) as connection:  # VACUUM refuses to run in a transaction
        connection.execute("VACUUM ANALYZE wide")


def rss(processes: list) -> int:
    """Summed RSS in bytes of the processes still alive."""
    import psutil

    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            pass
    return total


def tree(root) -> list:
    """``root`` and its descendants now (workers and server backends come and go)."""
    import psutil

    try:
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def peak_rss_of(command: list[str], server=None) -> tuple[int, float, float, float]:
    """(exit code, peak RSS in GiB over the process tree, seconds, peak RSS in GiB of ``server``'s
    process tree, sampled alongside)."""
    import psutil

    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    root = psutil.Process(process.pid)
    peak = server_peak = main_peak = 0
    while process.poll() is None:
        peak = max(peak, rss(tree(root)))
        main_peak = max(main_peak, rss([root]))  # where the gap between two sources is: main or workers
        if server is not None:
            server_peak = max(server_peak, rss(tree(server)))
        time.sleep(0.1)
    print(f"  main process alone: peak {main_peak / 2**30:.2f} GiB")
    if process.returncode:
        print(process.stderr.read()[-2000:], file=sys.stderr)
    return process.returncode, peak / 2**30, time.perf_counter() - start, server_peak / 2**30


def drawn_in_database(out: Path) -> bool:
    """Whether the run's summary says its sample was drawn by the server."""
    try:
        notes = json.loads((out / "summary.json").read_text())["facts"]["notes"]
    except (OSError, KeyError, ValueError):
        return False
    return any("drawn in the database" in note for note in notes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", choices=("parquet", "postgres", "both"), default="both")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="Parquet file to reuse (written there if missing)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="dataeff-memory-"))
    table = args.keep or folder / "wide.parquet"
    if not table.exists():
        started = time.perf_counter()
        write_table(table, args.rows)
        print(f"wrote {table} ({table.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - started:.0f} s")

    def command(data: list[str], out: Path) -> list[str]:
        return [sys.executable, "-m", "dataeff", "run", *data, "--label", "y", "--learners", "logreg",
                "--sizes", "1000,10000,100000", "--seeds", "1", "--test-rows", "1000", "--jobs", "2", "--quiet",
                "--out", str(out)]

    ok, rows = True, []
    parquet_peak = None
    if args.source in ("parquet", "both"):
        code, peak, seconds, _ = peak_rss_of(command(["--data", str(table)], folder / "parquet"))
        parquet_peak = peak
        ok &= code == 0 and peak < LIMIT_GIB
        rows.append(f"| Parquet | < {LIMIT_GIB:g} GiB | {peak:.2f} GiB ({seconds:.0f} s, exit {code}) |")
    if args.source in ("postgres", "both"):
        import psutil

        sys.path.insert(0, str(ROOT))
        from tests.postgres_server import postgres_server

        with postgres_server() as server:
            started = time.perf_counter()
            load_postgres(server.url(), table)
            print(f"loaded {args.rows:,} rows into PostgreSQL in {time.perf_counter() - started:.0f} s")
            postmaster = psutil.Process(int((server.folder / "data" / "postmaster.pid").read_text().split()[0]))
            out = folder / "postgres"
            code, peak, seconds, server_peak = peak_rss_of(
                command(["--data", server.url(), "--table", "wide"], out), server=postmaster)
        sampled = drawn_in_database(out)
        target = "—" if parquet_peak is None else f"≤ {parquet_peak * SLACK:.2f} GiB (Parquet + 5%)"
        ok &= code == 0 and sampled and (parquet_peak is None or peak <= parquet_peak * SLACK)
        rows.append(f"| PostgreSQL | {target} | {peak:.2f} GiB ({seconds:.0f} s, exit {code}"
                    f"{'' if sampled else ', sample NOT drawn in the database'}) |")
        print(f"PostgreSQL server's peak RSS (its processes summed, shared buffers counted in each): "
              f"{server_peak:.2f} GiB")
    print(f"| peak RSS, {args.rows:,} × 200, curve to n = 100,000 | target | measured |\n|---|---|---|")
    print("\n".join(rows))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
