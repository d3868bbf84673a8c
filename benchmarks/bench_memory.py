"""Peak memory of a run on a wide table: 1,000,000 rows × 200 mixed columns from Parquet.

Target (issue: fast on one machine): a curve up to n = 100,000 (logreg, 1 seed, 1,000 test
rows, 2 jobs) with a peak RSS under 3 GiB (what the README claims), summed over the run's
whole process tree (the main process and its workers), sampled every 0.1 s.

    .venv/bin/python benchmarks/bench_memory.py [--rows 1000000] [--keep FILE]

The table is written once (in row groups, so writing it stays small) and reused with --keep.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LIMIT_GIB = 3.0  # the README: 'in under 3 GiB'


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


def peak_rss_of(command: list[str]) -> tuple[int, float, float]:
    """(exit code, peak RSS in GiB over the process tree, seconds)."""
    import psutil

    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    root = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        total = 0
        try:
            for member in [root, *root.children(recursive=True)]:
                try:
                    total += member.memory_info().rss
                except psutil.Error:
                    pass
        except psutil.Error:
            pass
        peak = max(peak, total)
        time.sleep(0.1)
    if process.returncode:
        print(process.stderr.read()[-2000:], file=sys.stderr)
    return process.returncode, peak / 2**30, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="Parquet file to reuse (written there if missing)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="dataeff-memory-"))
    table = args.keep or folder / "wide.parquet"
    if not table.exists():
        started = time.perf_counter()
        write_table(table, args.rows)
        print(f"wrote {table} ({table.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - started:.0f} s")
    command = [sys.executable, "-m", "dataeff", "run", "--data", str(table), "--label", "y", "--learners", "logreg",
               "--sizes", "1000,10000,100000", "--seeds", "1", "--test-rows", "1000", "--jobs", "2", "--quiet",
               "--out", str(folder / "run")]
    code, peak, seconds = peak_rss_of(command)
    print("| figure | target | measured |\n|---|---|---|")
    print(f"| peak RSS, {args.rows:,} × 200 Parquet, curve to n = 100,000 | < {LIMIT_GIB:g} GiB | "
          f"{peak:.2f} GiB ({seconds:.0f} s, exit {code}) |")
    return 0 if code == 0 and peak < LIMIT_GIB else 1


if __name__ == "__main__":
    raise SystemExit(main())
