"""Errors name a setting in the caller's terms: a flag on the command line, a key in a study
TOML, a keyword in Python; and no module but the command line's own spells a setting's flag."""

from __future__ import annotations

import ast
import re
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

import dataeff
from dataeff.cli import app
from dataeff.config import FLAT_NAMES, RENAMED
from dataeff.errors import ConfigError, RenamedSetting
from dataeff.flags import flag_name

SRC = Path(dataeff.__file__).parent
FLAGS = sorted({flag_name(flat) for flat in [*FLAT_NAMES, *RENAMED]}, key=len, reverse=True)
FLAG = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, FLAGS)) + r")(?![\w-])")


def _cli_error(*args: str) -> str:
    result = CliRunner().invoke(app, ["run", *args])
    assert result.exit_code == 2, result.output
    return result.output.strip().splitlines()[-1]


def _python_error(**settings) -> str:
    with pytest.raises(ConfigError) as caught:
        dataeff.Study("churn", **{"learners": ["logreg"], "sizes": [8], **settings}).prepare()
    return str(caught.value)


def _toml_error(tmp_path: Path, text: str, **settings) -> str:
    (tmp_path / "study.toml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        study = dataeff.Study(settings=dataeff.config.load_config(tmp_path / "study.toml"), **settings)
        study.prepare()
    return str(caught.value)


def test_advice_from_the_plan_names_the_setting_as_the_caller_gave_it(tmp_path):
    # churn has 5,000 rows and 2 classes: 4,999 test rows leave one to train on
    cli = _cli_error("--test-rows", "4999", "--learners", "logreg", "--sizes", "8", "--out", str(tmp_path / "c"))
    assert cli == ("error: --test-rows 4999 leaves too few of the 5000 rows to train on (every class needs one); "
                   "use --test-rows 4998 or fewer.")
    python = _python_error(test_rows=4999)
    assert python.startswith("test_rows=4999 leaves too few") and python.endswith("use test_rows=4998 or fewer.")
    toml = _toml_error(tmp_path, '[study]\ntest_rows = 4999\nlearners = ["logreg"]\nsizes = [8]\n')
    assert toml.startswith("[study] test_rows = 4999 leaves") and toml.endswith("use [study] test_rows = 4998 or fewer.")
    # a flag over the TOML is named as the flag it is
    (tmp_path / "other.toml").write_text('[study]\ntest_rows = 10\n')
    over = _cli_error("--config", str(tmp_path / "other.toml"), "--test-rows", "4999", "--learners", "logreg",
                      "--sizes", "8", "--out", str(tmp_path / "o"))
    assert "use --test-rows 4998 or fewer" in over


def test_a_broken_constraint_is_named_three_ways(tmp_path):
    assert _cli_error("--seeds", "0") == "error: --seeds must be a positive integer. Got 0."
    assert _python_error(seeds=0) == "seeds must be a positive integer. Got 0."
    assert _toml_error(tmp_path, "[study]\nseeds = 0\n") == "[study] seeds must be a positive integer. Got 0."
    assert _toml_error(tmp_path, "[llm]\nshots = -1\n") == "[llm] shots must be a positive integer. Got -1."
    # inside a learner variant, the variant's own key
    assert _python_error(learners=["p=llm-probe(layer=-1)"]) == "Learner 'p': layer must be 0 or more. Got -1."


def test_advice_from_the_data_names_the_label_setting_three_ways(tmp_path):
    frame = dataeff.data.builtin.load_builtin("churn").X.assign(y=1)  # a label with one class
    frame.to_csv(tmp_path / "one.csv", index=False)
    cli = _cli_error("--data", str(tmp_path / "one.csv"), "--label", "y")
    assert cli.endswith("name another column, --label COLUMN.")
    with pytest.raises(dataeff.DataEffError, match=r"name another column, label=COLUMN\.$"):
        dataeff.Study(frame, label="y").prepare()
    (tmp_path / "s.toml").write_text('[data]\nsource = "one.csv"\nlabel = "y"\n')
    with pytest.raises(dataeff.DataEffError, match=r"name another column, \[data\] label = COLUMN\.$"):
        dataeff.Study(settings=dataeff.config.load_config(tmp_path / "s.toml")).prepare()


def test_old_names_still_work_and_say_the_new_one(tmp_path):
    with pytest.warns(RenamedSetting, match="^target is now label; the old name still works.$"):
        study = dataeff.Study(dataeff.data.builtin.load_builtin("churn").X.assign(y=[0, 1] * 2500), target="y")
    assert study.settings.data.label == "y"
    (tmp_path / "s.toml").write_text('[data]\nsource = "churn"\ntarget = "churn"\n[analysis]\ntarget = "0.8"\n')
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        settings = dataeff.config.load_config(tmp_path / "s.toml")
    assert settings.data.label == "churn" and settings.analysis.score_target == "0.8"
    assert [str(w.message) for w in said] == ["'target' in [data] of s.toml is now 'label'; the old name still works.",
                                              "'target' in [analysis] of s.toml is now 'score_target'; the old name "
                                              "still works."]
    (tmp_path / "both.toml").write_text('[data]\ntarget = "a"\nlabel = "b"\n')
    with pytest.raises(ConfigError, match="has both 'target' and 'label'"):
        dataeff.config.load_config(tmp_path / "both.toml")
    result = CliRunner().invoke(app, ["run", "--target", "nope"])
    assert result.exit_code == 2
    assert "note: --target is now --label; the old name still works." in result.output
    assert "error: Built-in 'churn' has the label column 'churn'; drop --label or give --label churn." in result.output


def _message_literals(tree: ast.AST):
    """Every string literal of a module but its docstrings (text in f-strings included)."""
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, node.value


def test_no_module_but_the_command_lines_spells_a_settings_flag():
    """A message that names ``--test-rows`` tells a Python or TOML user to use a flag they never
    passed: outside cli.py and flags.py, settings are named through terms.setting_name."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if path.name in ("cli.py", "flags.py"):
            continue
        for line, text in _message_literals(ast.parse(path.read_text(encoding="utf-8"))):
            hit = FLAG.search(text)
            if hit:
                found.append(f"{path.relative_to(SRC)}:{line}: {hit.group(1)}")
    assert found == []
