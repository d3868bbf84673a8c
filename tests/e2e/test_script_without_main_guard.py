"""A script that calls dataeff.run() at its top level, as a newcomer writes one from the
README, with no `if __name__ == "__main__":`: the run's workers must not run the script again
(each would start the whole run anew and die), and a classifier class the script defines
still reaches them (tasks travel cloudpickled)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import numpy as np
    import dataeff
    from dataeff.learners.base import Learner

    print("script body ran", flush=True)


    class Prior(Learner):
        def __init__(self, random_state=0):
            self.random_state = random_state

        def _fit(self, X, y):
            self._p = np.full(len(self.classes_), 1 / len(self.classes_))

        def _predict_proba(self, X):
            return np.tile(self._p, (len(X), 1))


    result = dataeff.run(data="churn", learners=["logreg", Prior()], seeds=2, sizes=[16, 64], jobs=2,
                         out="run", progress=False)
    print("cells ok:", int((result.results["status"] == "ok").sum()), "of", len(result.results))
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="spawned workers (macOS, Windows) run the script")
def test_a_script_with_no_main_guard_runs_on_two_workers(tmp_path):
    (tmp_path / "study.py").write_text(SCRIPT)
    run = subprocess.run([sys.executable, "study.py"], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "DATAEFF_CACHE_DIR": str(tmp_path / "cache")})
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.count("script body ran") == 1, run.stdout  # the workers did not run it again
    ok, total = [int(w) for w in run.stdout.split("cells ok:")[1].split() if w.isdigit()]
    assert ok == total > 0, run.stdout
