"""The dirty-table properties (tests/learners/dirty_tables.py) on many more tables than CI's
bounded run: every generated table featurized into numbers every learner takes or refused in
one line, and the fast path equal to skrub's TableVectorizer wherever skrub alone encodes.

    .venv/bin/python benchmarks/bench_dirty_tables.py --examples 2000

Prints how many tables were tried, studied, refused, and compared with skrub per learner
kind; exits 1 on the first table that breaks a property (hypothesis prints it, shrunk).
A random search (not derandomized): each run tries new tables.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' table strategies

from hypothesis import HealthCheck, given, settings  # noqa: E402

from tests.learners.dirty_tables import KINDS, dirty_tables, featurized_or_refused, the_fast_path_gives_skrubs_matrix  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=2000, help="tables per property")
    parser.add_argument("--max-rows", type=int, default=3000, help="largest table to fit on")
    args = parser.parse_args()
    counts: Counter = Counter()
    profile = settings(max_examples=args.examples, deadline=None, database=None,
                       suppress_health_check=list(HealthCheck))

    @profile
    @given(table=dirty_tables(max_rows=args.max_rows))
    def studied_or_refused(table):
        counts["tables"] += 1
        counts["studied" if featurized_or_refused(*table) else "refused"] += 1

    started = time.perf_counter()
    failed = False
    try:
        studied_or_refused()
        for kind in KINDS:
            _same_as_skrub(kind, profile, args.max_rows, counts)()
    except Exception:  # noqa: BLE001 - hypothesis has printed the shrunk table
        failed = True
        import traceback

        traceback.print_exc()
    print(f"{time.perf_counter() - started:.0f} s; " + "; ".join(f"{k} {v:,}" for k, v in sorted(counts.items())))
    print("FAILED: a table broke a property (above)" if failed else "every table kept both properties")
    return 1 if failed else 0


def _same_as_skrub(kind: str, profile, max_rows: int, counts: Counter):
    """Property 1 for one learner kind, as a hypothesis test to call."""
    @profile
    @given(table=dirty_tables(max_rows=max_rows))
    def same_as_skrub(table):
        counts[f"{kind}: tables"] += 1
        compared = the_fast_path_gives_skrubs_matrix(table[0], table[1], kind)
        counts[f"{kind}: compared {compared}" if compared else f"{kind}: skrub alone refused"] += 1

    return same_as_skrub


if __name__ == "__main__":
    sys.exit(main())
