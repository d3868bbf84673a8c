"""What a data source is worth (issue 42, first step): column groups declared in the study TOML
or made by related tables, learners without a group, and the answers on synthetic customers
whose label depends on purchases and tickets but not on the irrelevant columns."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from dataeff.cli import app
from dataeff.data.groups import column_groups
from dataeff.data.synthetic import generate, write
from dataeff.errors import ConfigError

COLUMNS = ["page_views", "page_time", "session_count", "age", "plan"]


def test_declared_groups_take_their_columns_out_of_the_default_ones():
    groups = column_groups(COLUMNS, {"clickstream": ["page_*", "session_*"]},
                           defaults={"customers": COLUMNS, "empty": ["page_views"]})
    assert groups == {"clickstream": ("page_views", "page_time", "session_count"), "customers": ("age", "plan")}


@pytest.mark.parametrize("declared, said", [
    ({"clicks": ["pgae_*"]}, "Group 'clicks': 'pgae_*' matches no feature column."),
    ({"a": ["page_*"], "b": ["page_views"]}, "Column 'page_views' is in two groups, 'a' and 'b'"),
    ({"clicks": []}, "must be a list of column names or patterns"),
    ({"my clicks": ["page_*"]}, "must be a plain word"),
], ids=["matches nothing", "two groups", "empty", "bad name"])
def test_a_bad_group_is_one_line(declared, said):
    with pytest.raises(ConfigError, match=said.replace("(", r"\(").replace("*", r"\*")):
        column_groups(COLUMNS, declared)


@pytest.fixture(scope="module")
def customers(tmp_path_factory):
    folder = tmp_path_factory.mktemp("synth")
    write(generate(rows=1500, irrelevant=4, seed=2), folder)
    with (folder / "study.toml").open("a") as toml:
        toml.write('\n[data.group_costs]\nirrelevant = 40.0\n'
                   '\n[study]\nlearners = ["majority", "logreg"]\nseeds = 3\nsizes = [50, 200, 800]\ntest_rows = 300\n'
                   'worth_of = ["purchases", "irrelevant"]\n')
    return folder


def test_a_source_that_carries_the_label_raises_the_ceiling_and_an_irrelevant_one_is_worth_nothing(customers,
                                                                                                    tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", "--config", str(customers / "study.toml"), "--out", str(out),
                                      "--jobs", "2"])
    assert result.exit_code == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    groups = summary["facts"]["groups"]
    assert set(groups) == {"customers", "purchases", "tickets", "irrelevant"}
    assert groups["irrelevant"] == ["attr_000", "attr_001", "attr_002", "attr_003"]
    assert "attr_000" not in groups["customers"] and "Spend90d" in groups["purchases"]
    info = summary["facts"]["learner_info"]
    assert info["logreg-without-purchases"]["full"] == "logreg"
    assert info["logreg-without-purchases"]["without"] == ["purchases"]
    worth = {s["group"]: s for s in summary["sources"]}
    assert set(worth) == {"purchases", "irrelevant"} and all(s["learner"] == "logreg" for s in worth.values())
    assert worth["purchases"]["verdict"] == "raises-ceiling" and worth["purchases"]["ceiling_drop_ci"][0] > 0
    low, high = worth["irrelevant"]["ceiling_drop_ci"]
    assert worth["irrelevant"]["verdict"] == "none" and low <= 0 <= high
    assert "What the purchases columns are worth to logreg: raises the ceiling." in result.stdout
    # a running cost given: whether the labels the group saves pay for its pipeline
    assert worth["irrelevant"]["running_cost"] == 40.0 and worth["purchases"]["running_cost"] is None
    if worth["irrelevant"]["labels_value"] is not None:
        assert worth["irrelevant"]["labels_value"] == pytest.approx(worth["irrelevant"]["labels_saved"]["labels"] * 0.5)
    assert "Its pipeline costs $40.00 a month" in result.stdout
    # the variants are read against their full twin, not raced against the other learners
    assert not any("without" in c["winner"] or "without" in c["loser"] for c in summary["crossovers"])
    # a second run resumes every cell: the variants are learners of the folder like any other
    again = CliRunner().invoke(app, ["run", "--config", str(customers / "study.toml"), "--out", str(out),
                                     "--jobs", "2"])
    assert again.exit_code == 0 and "0 to run" in again.stdout + again.stderr


@pytest.mark.parametrize("args, said", [
    (["--worth-of", "tickts"], "--worth-of: no column group 'tickts'. Did you mean 'tickets'?"),
    (["--learners", "majority,lr=logreg(without=purchace)"], "lr: no column group 'purchace'. Did you mean "
                                                             "'purchases'?"),
], ids=["worth_of", "without"])
def test_an_unknown_group_is_one_line_before_anything_runs(customers, tmp_path, args, said):
    result = CliRunner().invoke(app, ["run", "--config", str(customers / "study.toml"), "--out",
                                      str(tmp_path / "run"), *args])
    assert result.exit_code == 2 and said in result.stderr and "\n" not in result.stderr.strip(), result.stderr
    assert not (tmp_path / "run").exists()


def test_a_table_without_groups_says_how_to_declare_them(tmp_path):
    result = CliRunner().invoke(app, ["run", "--data", "churn", "--learners", "majority,logreg", "--worth-of",
                                      "usage", "--sizes", "16", "--seeds", "2", "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and "The data declares no groups: add [data.groups]" in result.stderr


def test_the_cost_of_an_unknown_group_is_one_line(customers, tmp_path):
    bad = customers / "study-bad-cost.toml"  # beside the tables its paths name
    bad.write_text((customers / "study.toml").read_text().replace("irrelevant = 40.0", "tickts = 40.0"))
    result = CliRunner().invoke(app, ["run", "--config", str(bad), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and "group_costs: no column group 'tickts'. Did you mean 'tickets'?" in result.stderr
