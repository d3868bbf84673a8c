"""Whole studies on generated tables (issue 16): labels drawn apart from every column end in
'no signal', a weak real signal is found, a continuous target is refused and runs binned,
macro roc_auc on random labels stays at chance. The 20-table error rates are a benchmark
(benchmarks/null_data.py); here a few tables keep the check in every test run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import dataeff
from dataeff.errors import DataError
from dataeff.experiment.metrics import score

STUDY = dict(learners=["majority", "logreg", "tree"], seeds=4, sizes=[32, 128, 512], test_rows=300, progress=False)


def table(seed: int, classes: int = 2, rows: int = 1200, signal: float = 0.0) -> pd.DataFrame:
    """Five columns (numbers, a category, an integer); the label depends on ``x1`` with weight
    ``signal`` (0: drawn apart from every column)."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=rows), rng.normal(size=rows)
    frame = pd.DataFrame({"x1": x1, "x2": x2, "plan": rng.choice(["basic", "plus", "premium"], rows),
                          "visits": rng.integers(0, 30, rows), "spend": rng.gamma(2.0, 30.0, rows)})
    if classes == 2:
        p = 1 / (1 + np.exp(-(signal * x1 - 0.85)))  # about 30% "yes" without signal
        frame["label"] = np.where(rng.random(rows) < p, "yes", "no")
    else:
        logits = np.stack([signal * x1 * k for k in range(classes)], axis=1) + rng.gumbel(size=(rows, classes))
        frame["label"] = [f"c{k}" for k in logits.argmax(axis=1)]
    return frame


@pytest.mark.parametrize("seed, classes", [(1, 2), (2, 2), (4, 3)])
def test_a_null_table_ends_in_no_signal_with_no_target_and_no_route(tmp_path, seed, classes):
    result = dataeff.run(data=table(seed, classes), label="label", out=tmp_path / "r", **STUDY)
    analysis = result.analysis
    assert analysis.signal.tested and analysis.signal.found is False
    assert analysis.cheapest is None and not any(c.settled for c in analysis.crossovers)
    assert all(a.labels_to_target is None and a.cost is None for a in analysis.learners.values())
    summary = json.loads((result.out / "summary.json").read_text())
    assert summary["signal"]["found"] is False and "cheapest" not in summary
    assert summary["signal"]["best"]["baseline_score"] is not None
    assert (result.out / "summary.md").read_text().splitlines()[4].startswith("- No signal:")
    assert 'id="signal"' in (result.out / "report.html").read_text()


def test_a_weak_real_signal_is_found(tmp_path):
    """x1 moves the odds of 'yes' by e^0.6 per SD: a Bayes roc_auc near 0.66, weak but real."""
    result = dataeff.run(data=table(4, signal=0.6, rows=2000), label="label", out=tmp_path / "r",
                         **{**STUDY, "seeds": 5, "sizes": [32, 128, 512, 1024]})
    signal = result.analysis.signal
    assert signal.found and signal.best.learner in ("logreg", "tree")
    assert result.analysis.target.value is not None


def test_a_continuous_target_is_refused_in_one_line_and_runs_binned(tmp_path):
    frame = table(5)
    frame["price"] = np.round(10 + 40 * frame["x1"] ** 2 + frame["spend"], 2)
    frame = frame.drop(columns=["label"])
    with pytest.raises(DataError) as refused:
        dataeff.run(data=frame, label="price", out=tmp_path / "no", **STUDY)
    message = str(refused.value)
    assert "\n" not in message and "distinct values" in message and "looks continuous" in message
    assert "bins=N" in message and not (tmp_path / "no").exists()
    result = dataeff.run(data=frame, label="price", bins=3, out=tmp_path / "r",
                         **{**STUDY, "learners": ["majority", "logreg"]})
    assert result.facts.classes == ["q1", "q2", "q3"]
    assert any("cut into 3 quantile classes" in note for note in result.facts.notes)
    assert result.analysis.signal.found  # price rises with x1^2 and spend


def test_bins_is_a_setting_with_its_constraint():
    from dataeff.config import ConfigError, Settings

    assert Settings().with_overrides(bins=4).data.bins == 4
    with pytest.raises(ConfigError, match="bins must be 2 or more. Got 1"):
        Settings().with_overrides(bins=1)


def test_macro_roc_auc_on_random_labels_stays_at_chance():
    """30 classes, 120 test rows (about 4 a class), scores drawn apart from the labels: one-vs-rest
    averaging over tiny classes is unbiased (each class's AUC is 0.5 in expectation, whatever
    its size), only noisier; 400 draws put the mean within its CI of 0.5."""
    rng = np.random.default_rng(6)
    classes = [f"c{k:02d}" for k in range(30)]
    values = []
    for _ in range(400):
        y = rng.choice(classes, 120)
        values.append(score(y, rng.dirichlet(np.ones(30), 120), classes)["roc_auc"])
    mean, se = float(np.mean(values)), float(np.std(values, ddof=1) / np.sqrt(len(values)))
    assert abs(mean - 0.5) < 2.6 * se


def test_few_test_rows_of_a_class_are_said_before_the_run_and_in_the_answers(tmp_path):
    frame = table(7, classes=2)
    frame.loc[:9, "label"] = "rare"  # 10 of 1,200 rows: about 2 of the 300 test rows
    notes = []
    settings = {**STUDY, "learners": ["majority", "logreg"]}
    settings.pop("progress")
    result = dataeff.Study(frame, label="label", **settings).run(tmp_path / "r", progress=False, log=notes.append)
    assert any("fewer than 5 rows of" in n for n in notes)
    from dataeff.report.answers import sentences

    assert any(s.startswith("Caveat: the test rows hold fewer than 5 rows") for s in sentences(result.analysis,
                                                                                               result.facts))
