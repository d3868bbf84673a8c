"""Rows as text for an LLM, read as the model reads them: the 'text' style, a template's
``fields``, and a data dictionary from JSON, through the settings a study is given."""

import json

import numpy as np
import pandas as pd
import pytest

import dataeff
from dataeff.data.serialize import serialize_row

ROW = pd.Series({"age": 43.0, "plan_type": "basic", "monthly_fee": 19.5, "note": np.nan})
FRAME = pd.DataFrame({"age": [43.0, 51.0, 29.0, 35.0], "plan_type": ["basic", "plus", "basic", "plus"],
                      "monthly_fee": [19.5, 39.9, 19.9, 41.0], "note": [np.nan, "x", "y", "z"],
                      "churned": ["yes", "no", "yes", "no"]})


def test_text_style_writes_sentences_and_leaves_missing_values_unsaid():
    assert serialize_row(ROW, "text") == 'The age is 43. The plan type is "basic". The monthly fee is 19.5.'
    assert serialize_row(ROW, "list") == 'age: 43\nplan type: "basic"\nmonthly fee: 19.5'


def test_a_template_sees_fields_with_names_values_and_descriptions():
    template = ("{% for f in fields %}[{{ f.column }}|{{ f.name }}|{{ f.value }}|{{ f.description }}]"
                "{% endfor %} fee={{ row.monthly_fee }} note={{ row.note }}.")
    text = serialize_row(ROW, descriptions={"age": "years_since_birth"}, template=template)
    assert text == ('[age|age|43|years since birth][plan_type|plan type|"basic"|]'
                    '[monthly_fee|monthly fee|19.5|] fee=19.5 note=.')


def _study(tmp_path, **llm):
    return dataeff.Study(FRAME, label="churned", learners=["llm-zero"], seeds=1, test_rows=2, **llm)


def _row_text(study) -> str:
    _, _, specs = study.prepare()  # wires the task; no model is loaded
    return specs[0].params["task"].row_text(FRAME.drop(columns="churned").iloc[0])


def test_a_json_data_dictionary_and_the_text_style_reach_the_prompt(tmp_path):
    path = tmp_path / "columns.json"
    path.write_text(json.dumps({"age": "years since birth", "monthly_fee": "in euros", "note": "  "}))
    text = _row_text(_study(tmp_path, llm_dictionary=str(path), llm_style="text"))
    assert text == ('The age (years since birth) is 43. The plan type is "basic". '
                    "The monthly fee (in euros) is 19.5.")
    listed = _row_text(_study(tmp_path, llm_dictionary=str(path)))
    assert listed == 'age (years since birth): 43\nplan type: "basic"\nmonthly fee (in euros): 19.5'


def test_a_json_dictionary_that_is_not_an_object_or_names_no_column_is_refused(tmp_path):
    from dataeff.errors import ConfigError

    bad = tmp_path / "list.json"
    bad.write_text(json.dumps(["age", "years"]))
    with pytest.raises(ConfigError, match="not a JSON object of column -> description"):
        _study(tmp_path, llm_dictionary=str(bad)).prepare()
    typo = tmp_path / "typo.json"
    typo.write_text(json.dumps({"agee": "years"}))
    with pytest.raises(ConfigError, match="Did you mean 'age'"):
        _study(tmp_path, llm_dictionary=str(typo)).prepare()


def test_the_style_and_a_template_with_fields_from_a_study_toml(tmp_path):
    FRAME.to_csv(tmp_path / "c.csv", index=False)
    (tmp_path / "row.j2").write_text("{% for f in fields %}{{ f.name }} = {{ f.value }}; {% endfor %}")
    (tmp_path / "text.toml").write_text('[data]\nsource = "c.csv"\nlabel = "churned"\n'
                                        '[study]\nlearners = ["llm-zero"]\n[llm]\nstyle = "text"\n')
    (tmp_path / "tmpl.toml").write_text('[data]\nsource = "c.csv"\nlabel = "churned"\n'
                                        '[study]\nlearners = ["llm-zero"]\n[llm]\ntemplate = "row.j2"\n')
    from dataeff.config import load_config

    as_text = _row_text(dataeff.Study(settings=load_config(tmp_path / "text.toml"), test_rows=2))
    assert as_text == 'The age is 43. The plan type is "basic". The monthly fee is 19.5.'
    templated = _row_text(dataeff.Study(settings=load_config(tmp_path / "tmpl.toml"), test_rows=2))
    assert templated == 'age = 43; plan type = "basic"; monthly fee = 19.5;'
