"""`dataeff suite` end to end on synthetic tables: one ordinary run folder per dataset, the
aggregate equal to the numbers of each folder, a failing dataset reported while the others
finish (exit code 1), resume after SIGKILL, and bad input refused before anything is written."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time

import numpy as np
import pandas as pd
import pytest

from tests.suite.conftest import DATASETS, LEARNERS, SEEDS, SIZES, run_suite_cli, suite_command

KEY = ["learner", "n_train", "seed"]
METRICS = ["accuracy", "roc_auc", "log_loss"]


def _cells(store) -> int:
    """Finished cells in a store being written (0 while it has none, or no table yet)."""
    if not store.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM cells WHERE status = 'ok'").fetchone()[0]
    except sqlite3.Error:
        return 0


def _quantile(values, q):
    """numpy's linear quantile, None (null) where an infinite value takes part."""
    if not values:
        return None
    finite = [v for v in values if np.isfinite(v)]
    position = q * (len(values) - 1)
    if np.ceil(position) > len(finite) - 1:
        return None
    return float(np.quantile(finite, position / (len(finite) - 1))) if len(finite) > 1 else finite[0]


def _json(value):
    return None if not np.isfinite(value) else value


def _summary(folder):
    return json.loads((folder / "summary.json").read_text())


def test_every_dataset_is_an_ordinary_run_folder_and_the_broken_one_is_reported(small_suite):
    config, out, done = small_suite
    assert done.returncode == 1, done.stderr  # documented: 1 when a dataset failed, outputs written
    for name in ["suite.html", "suite.md", "suite.json", "suite.csv"]:
        assert (out / name).is_file()
    for name in DATASETS:
        folder = out / name
        for file in ["store.sqlite", "results.csv", "summary.json", "summary.md", "report.html", "curves.png"]:
            assert (folder / file).is_file(), (name, file)
        results = pd.read_csv(folder / "results.csv")
        assert len(results) == len(LEARNERS) * len(SIZES) * SEEDS and (results["status"] == "ok").all()
    lines = [line for line in done.stderr.splitlines() if line.startswith("[")]
    assert len(lines) == 4 and lines[3].startswith("[4/4] broken: failed") and "'label'" in lines[3]
    data = json.loads((out / "suite.json").read_text())
    broken = next(d for d in data["datasets"] if d["name"] == "broken")
    assert broken["status"] == "failed" and "Label column 'label'" in broken["error"]
    assert "broken (broken.csv): Label column 'label'" in (out / "suite.md").read_text()
    assert "broken" in done.stderr.splitlines()[-1] and "failed" in done.stderr.splitlines()[-1]


def test_the_aggregate_is_the_spread_of_each_folders_answers(small_suite):
    _, out, _ = small_suite
    data = json.loads((out / "suite.json").read_text())
    for target, key in (("95%", None), ("0.75", "0.75")):
        for learner in ["logreg", "tree"]:
            row = next(r for r in data["learners"] if r["learner"] == learner and r["target"] == target)
            needs = []
            for name in DATASETS:
                entry = next(d for d in data["datasets"] if d["name"] == name)
                need = entry["learners"][learner]["labels"][target]
                if key is None:  # the 95% answers are the run folder's own summary.json
                    assert need == _summary(out / name)["learners"][learner]["labels_to_target"]
                needs.append(need)
            numbers = [n["n"] for n in needs if n and n["n"] is not None]
            assert row["numbers"] == numbers and row["with_number"] == len(numbers)
            # never reached counts as more than any number (null in JSON where a quantile lands on it)
            values = sorted(numbers) + [np.inf] * sum(1 for n in needs if n and n["n"] is None)
            expected = [_quantile(values, q) for q in (0.5, 0.25, 0.75)]
            assert [row["median"], *row["iqr"]] == pytest.approx(expected)
            assert row["range"] == ([values[0], _json(values[-1])] if values else [None, None])
            assert row["within_sizes_measured"] == sum(n is not None and n["how"] in ("measured", "at_most")
                                                       for n in needs)
            assert row["extrapolated"] == sum(n is not None and n["how"] == "extrapolated" for n in needs)
    # the known curves: the clean linear signal is within reach of logistic regression, the
    # interaction is not (a linear model cannot express it) while a tree's curve climbs there
    by_name = {d["name"]: d for d in data["datasets"]}
    assert by_name["linear"]["learners"]["logreg"]["labels"]["0.75"]["how"] in ("measured", "at_most")
    assert by_name["interaction"]["ceiling"] > 0.7
    assert by_name["interaction"]["learners"]["logreg"]["labels"]["0.75"]["how"] in ("unreachable", "extrapolated")
    csv = pd.read_csv(out / "suite.csv")
    assert set(csv["dataset"]) == {*DATASETS, "broken"}
    assert len(csv[csv["dataset"] == "linear"]) == len(LEARNERS) * 2  # two targets


def test_a_killed_suite_resumes_to_the_uninterrupted_numbers(small_suite, tmp_path):
    config, reference, _ = small_suite
    out = tmp_path / "killed"
    log = tmp_path / "stderr.txt"
    with open(log, "w") as handle:
        process = subprocess.Popen(suite_command(config, out), stderr=handle, stdout=subprocess.DEVNULL)
    deadline = time.time() + 300
    # mid-way: the first dataset done, the second one's cells being written
    while time.time() < deadline and process.poll() is None:
        if "[1/4]" in log.read_text() and _cells(out / "interaction" / "store.sqlite") > 0:
            break
        time.sleep(0.1)
    assert process.poll() is None, "the suite ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (out / "suite.json").exists()
    assert _cells(out / "interaction" / "store.sqlite") > 0
    rerun = run_suite_cli(config, out)
    assert rerun.returncode == 1, rerun.stderr
    assert "[1/4] linear: done" in rerun.stderr
    for name in DATASETS:
        a = pd.read_csv(reference / name / "results.csv").sort_values(KEY)[KEY + METRICS].reset_index(drop=True)
        b = pd.read_csv(out / name / "results.csv").sort_values(KEY)[KEY + METRICS].reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b)
    first, second = (json.loads((folder / "suite.json").read_text()) for folder in (reference, out))
    assert first["learners"] == second["learners"] and first["crossovers"] == second["crossovers"]


@pytest.mark.parametrize("datasets, overrides, message", [
    ("[]", "", "The suite has no datasets"),
    ('["churn", "chrun-typo"]', "", "Unknown dataset 'chrun-typo'"),
    ('["churn", "missing/file.csv"]', "", "no such file"),
    ('["churn", { source = "churn", name = "churn" }]', "", "Two datasets of the suite are named 'churn'"),
    ('["churn"]', "[overrides.credit]\ntest_rows = 50\n", "[overrides.credit] names no dataset of the suite"),
    ('["churn"]', "[overrides.churn]\nseeds = 0\n", "[overrides.churn] seeds must be a positive integer. Got 0"),
    ('["churn"]', "[overrides.churn]\nsead = 2\n", "Unknown setting 'sead'"),
    ('["data.csv"]', "", "needs its label column"),
    ('["churn"]', "[study]\nlearners = [\"logreg\", \"xgbost\"]\n", "xgbost"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, datasets, overrides, message):
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    config = tmp_path / "suite.toml"
    config.write_text(f"[suite]\ndatasets = {datasets}\n{overrides}")
    out = tmp_path / "out"
    done = run_suite_cli(config, out, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ") and message in done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists()


def test_python_api_reads_related_table_study_tomls_and_overrides(tmp_path):
    from dataeff.suite import load_suite

    data = tmp_path / "data"
    data.mkdir()
    (data / "customers.csv").write_text("id,plan\n1,a\n2,b\n")
    (data / "orders.csv").write_text("id,amount,at\n1,3.0,2020-01-01\n")
    (data / "study.toml").write_text('[data]\nentity = "customers.csv"\nkey = "id"\nlabel = "plan"\n')
    config = tmp_path / "suite.toml"
    config.write_text('[suite]\ndatasets = ["churn", "data/study.toml", { source = "data/customers.csv", '
                      'label = "plan", name = "flat" }]\n[study]\nseeds = 2\n[overrides.churn]\ntest_rows = 100\n'
                      '[learners.shallow]\nkind = "tree"\nmax_depth = 2\n')
    suite = load_suite(config)
    assert [d.name for d in suite.datasets] == ["churn", "study", "flat"]
    churn, study, flat = suite.datasets
    assert churn.settings.study.test_rows == 100 and study.settings.study.test_rows is None
    assert study.settings.data.label == "plan" and study.settings.data.source.endswith("customers.csv")
    assert flat.settings.data.source == str(data / "customers.csv")
    assert all(d.settings.study.seeds == 2 for d in suite.datasets)
    assert [getattr(v, "name", v) for v in churn.settings.study.learners][-1] == "shallow"
