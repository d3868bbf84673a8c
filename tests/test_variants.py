"""Learner variants: the 'name=kind(setting=value)' syntax, [learners.NAME] tables, and the
registry's checks of kinds and settings."""

from __future__ import annotations

import pytest

from dataeff.config import Settings, load_config
from dataeff.errors import ConfigError, LearnerError
from dataeff.learners.registry import REGISTRY, resolve_learners
from dataeff.variants import Variant, parse_learner_list


def test_the_command_line_syntax_reads_kinds_names_and_settings():
    parsed = parse_learner_list('xgboost, xgb3=xgboost(max_depth=3, learning_rate=0.05), llm-few(shots=32), '
                                'z=llm-zero(answers={"0" = "No", "1" = "Yes"}, backend=openai, calibrate=false)')
    assert parsed == [
        Variant("xgboost", "xgboost", {}),
        Variant("xgb3", "xgboost", {"max_depth": 3, "learning_rate": 0.05}),
        Variant("llm-few(shots=32)", "llm-few", {"shots": 32}),
        Variant("z", "llm-zero", {"answers": {"0": "No", "1": "Yes"}, "backend": "openai", "calibrate": False}),
    ]
    assert [v.settings for v in parsed][1]["max_depth"] == 3 and isinstance(parsed[1].settings["max_depth"], int)


@pytest.mark.parametrize(("text", "message"), [
    ("xgboost(max_depth=3", "does not close|Unbalanced"),
    ("=xgboost", "Cannot read the learner"),
    ("xgboost(3)", "write setting=value"),
    ("xgboost(max_depth=3, max_depth=4)", "sets 'max_depth' twice"),
    ('llm-zero(question="open)', "Unbalanced"),
])
def test_unreadable_variants_are_one_clear_error(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_learner_list(text)


def test_variants_resolve_to_specs_that_say_what_they_are():
    specs = {s.name: s for s in resolve_learners(parse_learner_list(
        "majority, logreg, x3=xgboost(max_depth=3), few16=llm-few(shots=16), llm-embed"))}
    assert {n: s.family for n, s in specs.items()} == {
        "majority": "baseline", "logreg": "classic", "x3": "classic", "few16": "llm", "llm-embed": "llm"}
    assert specs["x3"].params == {"max_depth": 3} and specs["x3"].kind == "xgboost"
    assert specs["few16"].params == {} and specs["few16"].settings == {"shots": 16}  # [llm] settings: wired later
    assert specs["few16"].needs_task and not specs["few16"].needs_examples
    assert specs["x3"].build(0).estimator.get_params()["max_depth"] == 3
    assert specs["x3"].identity() != resolve_learners(["xgboost"])[0].identity()


@pytest.mark.parametrize(("learners", "message"), [
    ("xgbost", "Unknown learner kind 'xgbost'. Did you mean 'xgboost'"),
    ("xgboost(max_dept=3)", "xgboost does not take 'max_dept'. Did you mean 'max_depth'.*It takes: n_estimators"),
    ("llm-zero(shots=4)", "llm-zero does not take 'shots'"),
    ("a=logreg, a=xgboost", "Learner 'a' is listed twice"),
    ("xgboost(tune=0)", "'tune' setting of xgboost\\(tune=0\\) must be a positive integer"),
    ("t=tree(tune=-2)", "'tune' setting of t must be a positive integer"),
    ("t=tree(tune=2.5)", "must be a positive integer"),
    ("few=llm-few(max_size=-1)", "'max_size' setting of few must be a whole number"),
    ("logreg(max_size=8.5)", "'max_size' setting of logreg\\(max_size=8.5\\) must be a whole number"),
    ("logreg(max_sise=8)", "Did you mean 'max_size'"),
])
def test_bad_variants_name_the_fix(learners, message):
    with pytest.raises(LearnerError, match=message):
        resolve_learners(Settings().with_overrides(learners=learners).study.learners)


def test_every_kind_declares_what_it_is():
    for name, kind in REGISTRY.items():
        assert kind.family in ("baseline", "classic", "llm"), name
        # An LLM kind reads the task itself, except one that reaches its LLM through another
        # learner of the study (llm-labels: its labeller is wired with the task).
        assert kind.needs_task == (kind.family == "llm" and "labeller" not in kind.settings), name
        assert kind.features in ("tree", "dense", "text"), name


def test_toml_learner_tables_are_variants(tmp_path):
    (tmp_path / "study.toml").write_text(
        '[study]\nlearners = ["logreg"]\n\n[learners.gemma-zero]\nkind = "llm-zero"\n\n'
        '[learners.xgb-shallow]\nkind = "xgboost"\nmax_depth = 3\n\n'
        '[learners.few16]\nkind = "llm-few"\nshots = 16\nanswers = { "no" = "No", "yes" = "Yes" }\n')
    learners = load_config(tmp_path / "study.toml").study.learners
    assert [v.name for v in learners] == ["logreg", "gemma-zero", "xgb-shallow", "few16"]
    assert learners[2] == Variant("xgb-shallow", "xgboost", {"max_depth": 3})
    assert learners[3].settings["answers"] == {"no": "No", "yes": "Yes"}
    (tmp_path / "alone.toml").write_text('[learners.x]\nkind = "xgboost"\n')
    assert [v.name for v in load_config(tmp_path / "alone.toml").study.learners] == ["x"]
    (tmp_path / "bad.toml").write_text('[learners.x]\nmax_depth = 3\n')
    with pytest.raises(ConfigError, match=r"\[learners.x\] .* needs kind"):
        load_config(tmp_path / "bad.toml")


def test_llm_answers_read_as_pairs_or_a_table():
    assert Settings().with_overrides(llm_answers="0=No, 1=Yes").llm.answers == {"0": "No", "1": "Yes"}
    with pytest.raises(ConfigError, match="label=word pairs"):
        Settings().with_overrides(llm_answers="0:No")


def test_max_size_runs_a_learner_only_up_to_its_size(tmp_path):
    """llm-few with a few shots learns nothing from thousands of labels: max_size skips the
    study's larger sizes for that learner alone; the others keep every size."""
    from dataeff import Study
    from tests.conftest import make_messy_frame

    specs = {s.name: s for s in resolve_learners(parse_learner_list("logreg, lr16=logreg(max_size=16)"))}
    assert specs["lr16"].max_size == 16 and specs["logreg"].max_size is None
    assert specs["lr16"].params == {}  # not an estimator argument
    assert specs["lr16"].identity() != specs["logreg"].identity()
    study = Study(make_messy_frame(300), label="churned", learners="logreg, lr16=logreg(max_size=16)",
                  sizes=[8, 16, 64], seeds=2, test_rows=60)
    results = study.run(tmp_path / "run", progress=False).results
    sizes = results.groupby("learner")["n_train"].unique().map(sorted).to_dict()
    assert sizes == {"logreg": [8, 16, 64], "lr16": [8, 16]}
    assert (results.loc[results["learner"] == "lr16", "status"] == "ok").all()
