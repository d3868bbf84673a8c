"""Settings declared once: every setting of config.Settings is a TOML key of its table, a keyword
of dataeff.run(), a flag of `dataeff run` (unless the declaration keeps it to the TOML, saying
why) and a line of the docs; and each default of the answers is defined in one place."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from dataeff.cli import app
from dataeff.config import FLAT_NAMES, SECTIONS, Settings
from dataeff.flags import flag_name, on_the_command_line

SRC = Path(__file__).resolve().parents[1] / "src" / "dataeff"


def _field(flat):
    section, key = FLAT_NAMES[flat]
    return Settings.model_fields[section].annotation.model_fields[key]


def test_every_setting_has_a_toml_key_a_flag_and_a_doc_line():
    options = {opt for p in typer.main.get_command(app).commands["run"].params for opt in getattr(p, "opts", [])}
    for flat, (section, key) in FLAT_NAMES.items():
        if key not in SECTIONS[section]:
            continue  # built by load_config, not a setting of its own (the parsed flattening)
        info = _field(flat)
        assert info.description, f"{flat} has no description: the flag's help and the docs' line"
        if on_the_command_line(flat):
            assert flag_name(flat) in options, f"{flat} has no flag {flag_name(flat)}"
        else:  # kept to the TOML: the description says so
            assert "study TOML only" in info.description, flat


def test_a_flag_reaches_the_setting_it_names(tmp_path):
    """Flags that had none before (llm-probe, llm-finetune, the endpoint) now set their key."""
    from typer.testing import CliRunner

    seen = {}
    import dataeff.study as study

    class Stop(Exception):
        pass

    def capture(self, *args, **kwargs):
        seen["settings"] = self.settings
        raise Stop

    original = study.Study.run
    study.Study.run = capture
    try:
        CliRunner().invoke(app, ["run", "--llm-layer", "3", "--llm-pooling", "mean", "--llm-steps", "4",
                                 "--llm-timeout", "5", "--no-llm-calibrate", "--label-cost", "2",
                                 "--out", str(tmp_path / "x")])
    finally:
        study.Study.run = original
    llm = seen["settings"].llm
    assert (llm.layer, llm.pooling, llm.steps, llm.timeout, llm.calibrate) == (3, "mean", 4, 5.0, False)
    assert seen["settings"].analysis.label_cost == 2.0


def test_the_answers_defaults_are_defined_once():
    sources = {p: p.read_text() for p in SRC.rglob("*.py")}
    # a default written as a value (a string, or after '=' or ':'), not a figure in a comment
    for pattern in (r'"95%"', r"[=:]\s*0\.50\b", r"[=:]\s*0\.10\b", r"[=:]\s*1e6\b"):
        found = [p.relative_to(SRC).as_posix() for p, text in sources.items() if re.search(pattern, text)]
        assert found == ["config.py"], (pattern, found)


def test_help_shows_brackets_in_descriptions_and_option_help():
    """Rich reads "[column]" as markup and drops it: every bracket of a description, and of the
    commands' own option help, reaches --help."""
    from typer.testing import CliRunner

    wide = {"COLUMNS": "250"}
    run_help = CliRunner().invoke(app, ["run", "--help"], env=wide).output
    assert "row[column]" in run_help
    assert "[data] table declares" in CliRunner().invoke(app, ["features", "--help"], env=wide).output
    assert "[suite] datasets = [...]" in CliRunner().invoke(app, ["suite", "--help"], env=wide).output
