"""Choosing which rows to label: nested, seeded acquisition that reads only the chosen labels,
and an answer that says whether it paid, paired against the random twin."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import dataeff
from dataeff.cli import app
from dataeff.errors import LearnerError
from dataeff.experiment.acquire import Oracle, acquire, uncertainty, with_random_twins
from dataeff.learners.registry import resolve_learners as resolve
from dataeff.variants import parse_variant


def resolve_learners(texts: list[str]):
    return resolve([parse_variant(text) for text in texts])


def rare_class_table(rows: int = 3000, seed: int = 0) -> pd.DataFrame:
    """A rare class (about 10%) beyond a straight boundary: random rows seldom hold one, rows
    near the boundary all do, so margin sampling must beat random rows here."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(rows, 4))
    label = np.where(X[:, 0] + 0.3 * X[:, 1] > 1.05, "rare", "common")
    return pd.DataFrame(X, columns=["a", "b", "c", "d"]).assign(label=label)


def test_uncertainty_ranks_the_closest_calls_first():
    proba = np.array([[0.5, 0.5], [0.9, 0.1], [0.6, 0.4], [1.0, 0.0]])
    assert np.argsort(-uncertainty(proba, "margin"), kind="stable").tolist() == [0, 2, 1, 3]
    assert np.argsort(-uncertainty(proba, "entropy"), kind="stable").tolist() == [0, 2, 1, 3]
    assert uncertainty(np.ones((3, 1)), "margin").tolist() == [0.0, 0.0, 0.0]  # one class seen: no ranking


def test_acquired_rows_are_nested_seeded_and_only_their_labels_are_read():
    frame = rare_class_table(800)
    X, y = frame.drop(columns="label"), frame["label"]
    spec = resolve_learners(["m=logreg(acquire=margin)"])[0]
    sizes = [8, 16, 32, 64]
    at = {}
    for n in sizes:
        oracle = Oracle(y)
        at[n] = acquire(spec, 3, X, oracle, sizes, n)
        assert len(at[n].positions) == n == len(set(at[n].positions.tolist()))
        assert oracle.revealed == set(at[n].positions.tolist())  # no other label was read
    assert at[8].positions.tolist() == list(range(8))  # the first size: the random twin's rows
    for small, large in zip(sizes, sizes[1:]):
        assert at[large].positions[:small].tolist() == at[small].positions.tolist()  # nested
    again = acquire(spec, 3, X, Oracle(y), sizes, 64)
    assert again.positions.tolist() == at[64].positions.tolist()  # the seed alone decides
    assert (y.iloc[at[64].positions] == "rare").mean() > 2 * (y == "rare").mean()  # the boundary is sought


def test_margin_sampling_saves_labels_where_it_must(tmp_path):
    result = dataeff.run(data=rare_class_table(), label="label", learners=["margin=logreg(acquire=margin)"],
                         seeds=10, sizes=[8, 16, 32, 64, 128], test_rows=500, metric="balanced_accuracy",
                         score_target="0.85", out=tmp_path / "r", progress=False)
    assert result.facts.learners == ["margin", "logreg"]  # its random twin added, the same learner
    assert result.facts.learner_info["margin"].twin == "logreg"
    [answer] = result.analysis.acquisition
    assert answer.verdict == "pays" and answer.area_ci[0] > 0
    assert answer.labels is not None and (answer.twin_labels is None or answer.twin_labels > answer.labels)
    notes = result.results.loc[result.results["learner"] == "margin", "note"]
    assert notes.str.contains(r"margin acquisition: \d+ rounds").all()
    # the same cells again (three of the seeds), in a new process pool: the same rows, the same scores
    again = dataeff.run(data=rare_class_table(), label="label", learners=["margin=logreg(acquire=margin)"],
                        seeds=3, sizes=[8, 16, 32, 64, 128], test_rows=500, metric="balanced_accuracy",
                        out=tmp_path / "again", progress=False)
    key = ["learner", "n_train", "seed"]
    first, second = (r.results[r.results["seed"] < 3].sort_values(key).reset_index(drop=True)
                     for r in (result, again))
    assert first["note"].str.extract(r"rows (\w+)").equals(second["note"].str.extract(r"rows (\w+)"))
    assert np.allclose(first["balanced_accuracy"], second["balanced_accuracy"])
    said = " ".join(dataeff.report.answers.sentences(result.analysis, result.facts))
    assert "Choosing rows pays for margin (margin against logreg on random rows)" in said


def test_a_random_twin_is_kept_when_listed_and_few_seeds_are_noted(tmp_path):
    specs = with_random_twins(resolve_learners(["lr=logreg(C=0.5)", "m=logreg(C=0.5, acquire=entropy)"]))
    assert [s.name for s in specs] == ["lr", "m"]  # lr is m's twin already
    specs = with_random_twins(resolve_learners(["m=logreg(C=0.5, acquire=entropy)"]))
    assert [(s.name, s.acquire, s.settings) for s in specs][1] == ("m-random", None, {"C": 0.5})
    notes = []
    dataeff.Study(rare_class_table(400), label="label", learners=["m=logreg(acquire=margin)"], seeds=3,
                  sizes=[8, 16], test_rows=100).run(tmp_path / "r", progress=False, log=notes.append)
    assert any("with 3 seeds" in n and "use seeds=10 or more" in n for n in notes)


@pytest.mark.parametrize(("variant", "message"), [
    ("z=llm-zero(acquire=margin)", "llm-zero cannot choose which rows to label (z: acquire)"),
    ("b=majority(acquire=margin)", "majority cannot choose which rows to label"),
    ("lr=logreg(acquire=smart)", "The 'acquire' setting of lr must be random, margin, entropy or llm-zero"),
])
def test_an_acquisition_a_kind_cannot_do_is_one_line(variant, message):
    with pytest.raises(LearnerError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve_learners([variant])
    result = CliRunner().invoke(app, ["run", "--learners", variant])
    assert result.exit_code == 2 and result.output.startswith("error: ") and result.output.count("\n") == 1


def test_an_acquired_curve_is_drawn_beside_its_twin_in_its_colour(tmp_path):
    result = dataeff.run(data=rare_class_table(600), label="label", learners=["logreg", "m=logreg(acquire=margin)"],
                         seeds=2, sizes=[8, 16, 32], test_rows=200, out=tmp_path / "r", progress=False)
    series = {s.learner: s for s in result.chart().series}
    assert series["m"].twin == "logreg" and series["m"].color == series["logreg"].color
    assert series["logreg"].twin is None
    svg = dataeff.report.svg.chart_svg(result.chart())
    assert svg.count('class="line acquired"') == 1


@pytest.fixture(scope="module")
def labelled_run(tmp_path_factory):
    """A run on a CSV of labelled rows, and a CSV of 300 unlabelled ones (their labels hidden)."""
    tmp_path = tmp_path_factory.mktemp("next")
    table = rare_class_table(900)
    table.iloc[:600].to_csv(tmp_path / "labelled.csv", index=False)
    table.iloc[600:].drop(columns="label").to_csv(tmp_path / "unlabelled.csv", index=False)
    result = CliRunner().invoke(app, ["run", "--data", str(tmp_path / "labelled.csv"), "--label", "label",
                                      "--learners", "logreg,m=logreg(acquire=margin)", "--seeds", "2", "--sizes",
                                      "8,16,32", "--test-rows", "100", "--out", str(tmp_path / "run"), "--quiet"])
    assert result.exit_code == 0, result.output
    return tmp_path, table


def test_next_labels_ranks_a_users_unlabelled_rows_end_to_end(labelled_run):
    tmp_path, table = labelled_run
    result = CliRunner().invoke(app, ["next-labels", "--run", str(tmp_path / "run"), "--from",
                                      str(tmp_path / "unlabelled.csv"), "--k", "25", "--learner", "m"])
    assert result.exit_code == 0, result.output
    picked = pd.read_csv(tmp_path / "run" / "next-labels.csv")
    assert len(picked) == 25 and picked["dataeff_rank"].tolist() == list(range(1, 26))
    assert picked["dataeff_uncertainty"].is_monotonic_decreasing
    assert {"p_common", "p_rare", "a", "b", "c", "d"} <= set(picked.columns)
    # margin: the rows nearest the boundary, where the true classes mix (hidden labels of those rows)
    hidden = table.iloc[600:].merge(picked[["a", "b"]], on=["a", "b"])["label"]
    assert (hidden == "rare").mean() > 2 * (table["label"] == "rare").mean()
    # the Python API writes the same ranking
    again = dataeff.next_labels(tmp_path / "run", tmp_path / "unlabelled.csv", k=25, learner="m",
                                out=tmp_path / "again.csv")
    assert pd.read_csv(again).equals(picked)


@pytest.mark.parametrize(("args", "message"), [
    (["--k", "1000"], "k = 1000 is more than the 300 rows of unlabelled.csv"),
    (["--learner", "nope"], "has no learner 'nope'"),
    (["--strategy", "smart"], "The strategy must be margin or entropy"),
    (["--from", "{bad}"], "lacks 1 of the run's feature columns ('d')"),
    (["--from", "{text}"], "bad.csv: column 'a' holds numbers in the labelled data but 'twelve' in row 4"),
])
def test_next_labels_bad_input_is_one_line(labelled_run, args, message):
    tmp_path, _ = labelled_run
    (tmp_path / "run" / "next-labels.csv").unlink(missing_ok=True)
    rows = pd.read_csv(tmp_path / "unlabelled.csv")
    if "{text}" in args:  # a number column with a word in it
        rows["a"] = rows["a"].astype(object)
        rows.loc[3, "a"] = "twelve"
    else:
        rows = rows.drop(columns="d")
    rows.to_csv(tmp_path / "bad.csv", index=False)
    given = ["--from", str(tmp_path / "unlabelled.csv"),
             *[a.replace("{bad}", str(tmp_path / "bad.csv")).replace("{text}", str(tmp_path / "bad.csv")) for a in args]]
    result = CliRunner().invoke(app, ["next-labels", "--run", str(tmp_path / "run"), *given])
    assert result.exit_code == 2 and result.output.count("\n") == 1 and message in result.output, result.output
    assert not (tmp_path / "run" / "next-labels.csv").exists()


def test_an_llm_zero_cold_start_picks_the_first_rows_with_the_real_gemma(tmp_path):
    frame = dataeff.data.builtin.load_builtin("fine-foods")
    small = pd.concat([frame.X, frame.y.rename("label")], axis=1).sample(40, random_state=1).reset_index(drop=True)
    result = dataeff.run(data=small, label="label", learners=["cold=logreg(acquire=llm-zero)"], seeds=1,
                         sizes=[8, 12], test_rows=10, jobs=1, out=tmp_path / "r", progress=False)
    cold = result.results[result.results["learner"] == "cold"]
    assert (cold["status"] == "ok").all(), cold["error"].tolist()
    assert (cold["tokens"] > 0).all()  # the LLM's reading is this route's cost
    assert cold["note"].str.contains("llm-zero acquisition").all()
    twin = result.facts.learner_info["cold"].twin
    assert twin == "logreg" and result.analysis.acquisition[0].strategy == "llm-zero"
    with pytest.raises(dataeff.DataEffError, match="cannot choose which rows"):
        dataeff.Study(small, label="label", learners=["z=llm-few(acquire=llm-zero)"]).prepare()
