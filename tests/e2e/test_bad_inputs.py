"""A catalogue of bad inputs: each ends in one line naming the problem and the fix, exit code
2, and nothing written. Run in-process through the real CLI (Typer's runner) to keep 70 cases
fast; test_cli.py runs a sample of them as separate processes.

Each case builds its own input files in its own temporary folder, inside the test, so no case
sees another's leftovers; "nothing written" is checked on that whole folder, which holds the
case's default --out and any --out folder the case passes itself."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from dataeff.cli import app
from tests.conftest import make_messy_frame


def _write(path, text: str | bytes):
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def _cases(tmp):
    good = tmp / "good.csv"
    make_messy_frame(100).to_csv(good, index=False)
    db = tmp / "crm.sqlite"
    with sqlite3.connect(db) as conn:
        pd.DataFrame({"x": [1, 2, 3, 4], "y": ["a", "b", "a", "b"]}).to_sql("customers", conn, index=False)
    empty_db = tmp / "empty.sqlite"
    sqlite3.connect(empty_db).close()
    _write(empty_db, b"")
    taken = tmp / "taken"
    taken.mkdir()
    (taken / "thesis.docx").write_text("not mine")
    a_file = _write(tmp / "a-file", "x")
    big_labels = "\n".join(f"{i},{'Yes' if i % 2 else 'yes '}" for i in range(20))
    toml = lambda name, text: _write(tmp / name, text)  # noqa: E731
    return [
        # --- the data file itself
        ("missing file", ["--data", tmp / "nope.csv", "--label", "y"], "Data file not found"),
        ("a folder as data", ["--data", tmp, "--label", "y"], "is a folder"),
        ("empty file", ["--data", _write(tmp / "empty.csv", b""), "--label", "y"], "is empty"),
        ("header only", ["--data", _write(tmp / "header.csv", "x,y\n"), "--label", "y"], "no data rows"),
        ("non-UTF-8 bytes", ["--data", _write(tmp / "latin.csv", "x,y\ncaf\xe9,a\n".encode("latin-1")),
                             "--label", "y"], "is not UTF-8"),
        ("wrong delimiter", ["--data", _write(tmp / "semi.csv", "x;y\n1;a\n2;b\n"), "--label", "y"],
         "delimiter is not a comma"),
        ("ragged rows", ["--data", _write(tmp / "ragged.csv", "x,y\n1,a\n2,b,3,4\n"), "--label", "y"],
         "Expected 2 fields in line 3, saw 4"),
        ("duplicate column names", ["--data", _write(tmp / "dupes.csv", "x,y,x\n1,a,2\n2,b,3\n"), "--label", "y"],
         "repeats the column name 'x' (columns 1 and 3)"),
        ("corrupt parquet", ["--data", _write(tmp / "bad.parquet", b"PAR1garbage"), "--label", "y"],
         "Could not read"),
        ("not a parquet file", ["--data", _write(tmp / "fake.parquet", "x,y\n"), "--label", "y"],
         "is not a Parquet file"),
        ("not a SQLite file", ["--data", _write(tmp / "fake.sqlite", "hello"), "--label", "y"],
         "is not a SQLite database"),
        ("broken JSON lines", ["--data", _write(tmp / "bad.jsonl", '{"x": 1, "y": "a"}\n{"x": \n'), "--label", "y"],
         "Could not read"),
        # --- the target
        ("no label column", ["--data", good], "No label column given for good.csv; pass --label COLUMN"),
        ("target typo", ["--data", good, "--label", "churnd"], "Did you mean 'churned'"),
        ("target constant", ["--data", _write(tmp / "one.csv", "x,y\n1,a\n2,a\n3,a\n"), "--label", "y"],
         "single class"),
        ("target all missing", ["--data", _write(tmp / "nolabel.csv", "x,y\n1,\n2,\n"), "--label", "y"],
         "has no values"),
        ("labels differing by case or spaces", ["--data", _write(tmp / "case.csv", "x,y\n" + big_labels), "--label", "y"],
         "differ only in case or spaces"),
        ("no feature columns", ["--data", _write(tmp / "only.csv", "y\na\nb\n"), "--label", "y"], "no feature columns"),
        ("every feature column empty", ["--data", _write(tmp / "blank.csv", "x,z,y\n,,a\n,,b\n,,a\n"), "--label", "y"],
         "has no feature column with a value ('x', 'z' are empty); give columns that hold data"),
        ("every feature column one value", ["--data", _write(tmp / "same.csv", "x,z,y\n1,k,a\n1,k,b\n1,k,a\n"),
                                            "--label", "y"], "Every feature column of same.csv holds one value"),
        # --- databases
        ("table typo", ["--data", db, "--table", "customer", "--label", "y"], "Did you mean 'customers'"),
        ("missing table", ["--data", db, "--query", "SELECT * FROM nowhere", "--label", "y"], "The query failed"),
        ("SQL syntax error", ["--data", db, "--query", "SELEC x FRM customers", "--label", "y"], "The query failed"),
        ("table and query both", ["--data", db, "--table", "customers", "--query", "SELECT 1", "--label", "y"],
         "either --table or --query"),
        ("empty SQLite file", ["--data", empty_db, "--label", "y"], "holds no SQLite database"),
        ("--table on a CSV", ["--data", good, "--table", "t", "--label", "churned"], "only apply to SQLite"),
        ("--table on a built-in", ["--data", "churn", "--table", "t"], "apply to database files"),
        # --- the study
        ("unknown dataset", ["--data", "chrun"], "Did you mean 'churn'"),
        ("unknown learner", ["--learners", "logreg,xgbost"], "Did you mean 'xgboost'"),
        # --- learner variants
        ("unknown kind of a variant", ["--learners", "x=xgbost(max_depth=3)"], "Unknown learner kind 'xgbost'"),
        ("unknown setting for a kind", ["--learners", "xgboost(max_dept=3)"],
         "xgboost does not take 'max_dept'. Did you mean 'max_depth'?"),
        ("duplicate variant name", ["--learners", "a=logreg,a=xgboost(max_depth=3)"], "Learner 'a' is listed twice"),
        ("answer words missing a label", ["--data", good, "--label", "churned", "--learners", "llm-zero",
                                          "--llm-answers", "churned=Yes"], "lack the label(s) 'stayed'"),
        ("tune zero", ["--learners", "xgboost(tune=0)"], "must be a positive integer (settings to try)"),
        ("unreadable variant", ["--learners", "xgboost(max_depth=3"], "Unbalanced"),
        ("unknown metric", ["--metric", "auc"], "--metric must be accuracy, balanced_accuracy, roc_auc, log_loss or "
                                                "f1_macro. Got 'auc'. Did you mean 'roc_auc'?"),
        ("seeds zero", ["--seeds", "0"], "must be a positive integer"),
        ("seeds negative", ["--seeds", "-3"], "must be a positive integer"),
        ("size zero", ["--sizes", "8,0,16"], "--sizes must be comma-separated positive integers"),
        ("size not a number", ["--sizes", "8,x"], "--sizes must be comma-separated positive integers"),
        ("jobs zero", ["--jobs", "0"], "must be a positive integer"),
        ("test rows fewer than classes", ["--test-rows", "1"], "cannot hold all 2 classes"),
        ("score target nonsense", ["--score-target", "ninety"], "--score-target must be a score like 0.85"),
        ("score target past the metric's range", ["--score-target", "1.5"],
         "--score-target 1.5 is outside roc_auc's range [0, 1]"),
        ("negative price", ["--label-cost", "-1"], "--label-cost must be 0 or more"),
        ("unknown engine", ["--engine", "spark"], "--engine must be local or dask. Got 'spark'"),
        ("scheduler without the dask engine", ["--scheduler", "tcp://127.0.0.1:9"], "--scheduler needs --engine dask"),
        ("Dask scheduler unreachable", ["--engine", "dask", "--scheduler", "tcp://127.0.0.1:9"],
         "Cannot reach the Dask scheduler"),
        ("local LLM on a Dask cluster", ["--data", "fine-foods", "--learners", "llm-zero", "--engine", "dask"],
         "talk to an LLM endpoint"),
        # --- config files
        ("config missing", ["--config", tmp / "missing.toml"], "Config file not found"),
        ("invalid TOML", ["--config", toml("bad.toml", "[study\nseeds = 3\n")], "is not valid TOML"),
        ("unknown key", ["--config", toml("typo.toml", "[study]\nseed = 3\n")], "Did you mean 'seeds'"),
        ("unknown section", ["--config", toml("sec.toml", "[studdy]\nseeds = 3\n")], "Did you mean 'study'"),
        ("wrong value type", ["--config", toml("type.toml", '[study]\nseeds = "three"\n')],
         "[study] seeds must be a whole number. Got 'three'"),
        ("sizes not a list", ["--config", toml("sizes.toml", "[study]\nsizes = 8\n")], "[study] sizes must be a list. Got 8"),
        ("API key in the config", ["--config", toml("key.toml", '[llm]\napi_key_env = "sk-abc-123"\n')],
         "[llm] api_key_env is not valid: name an environment variable"),
        # --- the run folder
        ("out folder of something else", ["--out", taken], "not a dataeff run"),
        ("out folder under a file", ["--out", a_file / "run"], "choose a folder you can write to for --out"),
        # --- LLMs
        ("LLM model file missing", ["--data", "fine-foods", "--learners", "llm-zero", "--llm-model",
                                    tmp / "missing.gguf"], "LLM model file not found"),
        ("LLM model file corrupt", ["--data", "fine-foods", "--learners", "llm-zero", "--llm-model",
                                    _write(tmp / "bad.gguf", "not a model")], "is not a GGUF model file"),
        ("unknown LLM backend", ["--llm-backend", "ollama"], "--llm-backend must be llamacpp, transformers or openai. Got 'ollama'"),
        ("unknown LLM device", ["--llm-backend", "transformers", "--llm-device", "gpu"],
         "--llm-device must be auto, cpu or cuda. Got 'gpu'. Did you mean 'cpu'?"),
        ("transformers model missing", ["--data", "fine-foods", "--learners", "llm-zero", "--llm-backend",
                                        "transformers", "--llm-model", tmp / "no-model"], "LLM model not found"),
        ("transformers model folder without config", ["--data", "fine-foods", "--learners", "llm-zero",
                                                      "--llm-backend", "transformers", "--llm-model", taken],
         "is not a transformers model folder"),
        ("endpoint without URL", ["--llm-backend", "openai", "--llm-model", "x"], "needs --llm-url"),
        ("endpoint URL with a key in it", ["--llm-backend", "openai", "--llm-url", "http://me:sk-1@host/v1",
                                           "--llm-model", "x"], "must not carry credentials"),
        ("endpoint URL not http", ["--llm-backend", "openai", "--llm-url", "localhost:8000", "--llm-model", "x"],
         "must be an http(s) URL"),
        ("unknown LLM scoring", ["--llm-scoring", "logits"], "--llm-scoring must be next-token, echo, sample or verbal"),
        ("embedding endpoint without a model", ["--llm-embed-url", "http://127.0.0.1:9/v1"],
         "needs both --llm-embed-url and --llm-embed-model"),
        ("endpoint unreachable", ["--data", "fine-foods", "--learners", "llm-zero", "--llm-backend", "openai",
                                  "--llm-url", "http://127.0.0.1:9/v1", "--llm-model", "x"], "is unreachable"),
        ("context too small for k shots", ["--data", "fine-foods", "--learners", "llm-few", "--llm-shots", "1000"],
         "use --llm-shots"),
        ("row template with a syntax error", ["--data", "fine-foods", "--learners", "llm-zero", "--llm-template",
                                              _write(tmp / "bad.j2", "{{ row.review ")], "syntax error on line 1"),
        ("row template naming no column", ["--data", "fine-foods", "--learners", "llm-zero", "--llm-template",
                                           _write(tmp / "unknown.j2", "{{ row.reviw }}")], "fails on the first row"),
        ("row template file missing", ["--llm-template", tmp / "none.j2"], "--llm-template names no file"),
        ("data dictionary naming no column", ["--data", "fine-foods", "--learners", "llm-zero", "--llm-dictionary",
                                              _write(tmp / "dict.csv", "column,description\nreveiw,the text\n")],
         "Did you mean 'review'"),
        ("data dictionary without its header", ["--data", "fine-foods", "--learners", "llm-zero", "--llm-dictionary",
                                                _write(tmp / "dict2.csv", "a,b\nreview,the text\n")],
         "'column,description' header"),
        ("a row longer than the context", ["--data", _write(tmp / "long.csv", _long_rows()), "--label", "y",
                                           "--learners", "llm-zero"], "more than the model's context"),
    ]


def _long_rows() -> str:
    """One row whose 48 text fields (each at the serializer's 2,000-character cap, about 1,000
    tokens) overflow even Gemma's trained context of 32,768 tokens (the llamacpp backend sizes
    its context up to that); the other rows are short."""
    header = ",".join(f"t{j}" for j in range(48)) + ",y\n"
    long = ",".join(" ".join(f"w{k}" for k in range(600)) for _ in range(48))
    short = ",".join("fine" for _ in range(48))
    return header + "\n".join(f"{long if i == 0 else short},{'ab'[i % 2]}" for i in range(20)) + "\n"


def _names() -> list[str]:
    """The case names, for test ids (the files made for them are thrown away at once)."""
    with tempfile.TemporaryDirectory(prefix="dataeff-bad-names-") as folder:
        return [name for name, _, _ in _cases(Path(folder))]


NAMES = _names()


def _cases_for_ids():
    """Every case, built in a fresh temporary folder of its own (test_cli.py runs a sample)."""
    return _cases(Path(tempfile.mkdtemp(prefix="dataeff-bad-")))


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every file and folder under ``folder``: kind, size, modification time and content hash."""
    import hashlib

    state = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        state[str(path.relative_to(folder))] = (path.is_dir(), info.st_size, info.st_mtime_ns, digest)
    return state


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_gets_one_line_exit_2_and_nothing_written(name, tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    _, args, message = next(case for case in _cases(inputs) if case[0] == name)
    out = tmp_path / "never"
    full = ["run", *map(str, args)]
    if "--out" not in args:
        full += ["--out", str(out)]
    before = snapshot(tmp_path)
    result = CliRunner().invoke(app, full)
    check_refusal(result.exit_code, result.stdout, result.stderr, message, out, f"{name}: {args}",
                  folder=tmp_path, before=before)


def check_refusal(code: int, stdout: str, stderr: str, message: str, out, where: str,
                  folder: Path | None = None, before: dict | None = None) -> None:
    """Exit 2, one 'error:' line holding ``message``, no traceback, no run folder at ``out``,
    and, given the ``before`` snapshot of ``folder``, not a byte changed under it (a foreign
    --out folder stays as it was)."""
    where = f"{where} -> {stderr!r}"
    assert code == 2, where
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], where
    assert "Traceback" not in stderr + stdout, where
    assert not out.exists(), where
    if before is not None:
        after = snapshot(folder)
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        assert not changed, f"{where}: wrote or changed {changed}"


def test_the_docs_count_every_kind_in_the_catalogue():
    """The docs' 'Bad input' (docs/guide/running.md) says how many kinds the catalogue holds:
    each case above plus the locked database below. A case added or lost without the docs fails here."""
    import re

    page = (Path(__file__).parents[2] / "docs" / "guide" / "running.md").read_text(encoding="utf-8")
    section = page.split("## Bad input", 1)[1].split("\n## ", 1)[0]
    claimed = re.search(r"catalogue: (\d+) kinds", section)
    assert claimed, "the docs' 'Bad input' no longer says 'catalogue: N kinds'"
    assert len(set(NAMES)) == len(NAMES), "two cases share a name: the second is never run"
    assert int(claimed.group(1)) == len(NAMES) + 1  # + test_a_locked_database_is_one_clear_line
    assert len(NAMES) >= 70


def test_a_locked_database_is_one_clear_line(tmp_path):
    db = tmp_path / "locked.sqlite"
    with sqlite3.connect(db) as conn:
        pd.DataFrame({"x": range(10), "y": ["a", "b"] * 5}).to_sql("t", conn, index=False)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another program mid-transaction
    try:
        result = CliRunner().invoke(app, ["run", "--data", str(db), "--label", "y", "--out", str(tmp_path / "o")])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == 2 and "is locked by another program" in result.stderr, result.stderr
    assert not (tmp_path / "o").exists()


def test_inputs_that_look_odd_but_are_fine_are_accepted(tmp_path):
    """A byte-order mark, 3,000 columns and a 1 MB cell are not errors: the run goes through."""
    rng = np.random.default_rng(0)
    y = np.array(["a", "b"] * 30)
    bom = tmp_path / "bom.csv"
    pd.DataFrame({"x": rng.normal(size=60), "y": y}).to_csv(bom, index=False, encoding="utf-8-sig")
    wide = tmp_path / "wide.parquet"
    # skrub's TableVectorizer works column by column: about 4 ms a column for each fit and each
    # transform here, so 10,000 columns cost 90 s of the suite (measured) and tell nothing more.
    pd.DataFrame(rng.normal(size=(60, 3_000)), columns=[f"c{i}" for i in range(3_000)]).assign(y=y).to_parquet(wide)
    big = tmp_path / "big.csv"
    pd.DataFrame({"note": ["word " * 200_000] + ["short"] * 59, "x": rng.normal(size=60), "y": y}).to_csv(big, index=False)
    # One size: a second would test nothing new.
    for path in (bom, wide, big):
        out = tmp_path / f"run-{path.stem}"
        result = CliRunner().invoke(app, ["run", "--data", str(path), "--label", "y", "--learners", "majority,logreg",
                                          "--seeds", "1", "--sizes", "8", "--quiet", "--out", str(out)])
        assert result.exit_code == 0, (path.name, result.stderr)
        results = pd.read_csv(out / "results.csv")
        assert (results["status"] == "ok").all(), results["error"].tolist()
    import json

    assert json.loads((tmp_path / "run-bom" / "summary.json").read_text())["facts"]["feature_columns"] == ["x"]
