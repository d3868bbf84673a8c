"""A small suite built from synthetic tables with known curves: a clean linear signal (logistic
regression reaches its ceiling early), a signal in an interaction (only trees get there), weak
noise-heavy data; and a broken file (its target missing) that fails while the others finish."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

LEARNERS = ["majority", "logreg", "tree"]
SIZES = [16, 64, 256]
SEEDS = 2
DATASETS = ["linear", "interaction", "weak"]


def synthetic_table(kind: str, n: int = 700, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    if kind == "linear":
        logit = 3.0 * x[:, 0] - 2.0 * x[:, 1]
    elif kind == "interaction":
        logit = 4.0 * np.sign(x[:, 0] * x[:, 1])
    else:
        logit = 0.6 * x[:, 0]
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d"])
    frame["label"] = np.where(y, "yes", "no")
    return frame


def write_suite(folder: Path, datasets=DATASETS, broken: bool = True, extra: str = "") -> Path:
    """The suite TOML and its CSVs in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for name in datasets:
        synthetic_table(name).to_csv(folder / f"{name}.csv", index=False)
        entries.append(f'{{ source = "{name}.csv", label = "label" }}')
    if broken:
        (folder / "broken.csv").write_text("a,b\n1,2\n3,4\n")
        entries.append('{ source = "broken.csv", label = "label" }')
    toml = folder / "suite.toml"
    toml.write_text(f"""[suite]
datasets = [{", ".join(entries)}]
score = 0.75

[study]
learners = {LEARNERS!r}
seeds = {SEEDS}
sizes = {SIZES!r}
test_rows = 200
{extra}""".replace("'", '"'))
    return toml


def suite_command(config: Path, out: Path, *extra) -> list[str]:
    return [sys.executable, "-m", "dataeff", "suite", "--config", str(config), "--out", str(out), "--jobs", "2",
            *map(str, extra)]


def run_suite_cli(config: Path, out: Path, *extra, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run(suite_command(config, out, *extra), capture_output=True, text=True, timeout=timeout,
                          env={**os.environ})


@pytest.fixture(scope="session")
def small_suite(tmp_path_factory):
    """The suite run once, uninterrupted: (its TOML, its folder, the finished process)."""
    root = tmp_path_factory.mktemp("suite")
    config = write_suite(root / "data")
    out = root / "out"
    done = run_suite_cli(config, out)
    return config, out, done
