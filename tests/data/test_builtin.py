import numpy as np
import pytest

from dataeff.data.builtin import BUILTINS, builtin_task, load_builtin
from dataeff.errors import DataError

# name -> (rows, feature columns, classes): each built-in loads offline with its own shape
SHAPES = {
    "churn": (5000, 19, ["no", "yes"]),
    "telco-churn": (7043, 19, ["No", "Yes"]),
    "credit": (4454, 13, ["bad", "good"]),
    "attrition": (1470, 30, ["No", "Yes"]),
    "caravan": (5822, 85, ["No", "Yes"]),
    "fine-foods": (5000, 1, ["great", "other"]),
    "synthetic-customers": (10000, 14, ["no", "yes"]),
    "penguins": (344, 7, ["Adelie", "Chinstrap", "Gentoo"]),
    "mortgage": (2380, 13, ["no", "yes"]),
    "titanic": (1309, 4, ["no", "yes"]),
    "hpc-jobs": (4331, 7, ["F", "L", "M", "VF"]),
    "remote-work": (5594, 20, ["Not remote", "Remote"]),
    "crash-deaths": (26217, 11, ["alive", "dead"]),
}


def test_at_least_ten_builtins_of_every_kind():
    assert set(SHAPES) == set(BUILTINS) and len(BUILTINS) >= 10
    tags = {tag for spec in BUILTINS.values() for tag in spec.tags}
    assert {"tabular", "text", "mixed", "binary", "multiclass"} <= tags


@pytest.mark.parametrize("name", list(BUILTINS))
def test_builtin_loads_offline_with_readable_labels(name):
    ds = load_builtin(name)
    rows, columns, classes = SHAPES[name]
    assert ds.label == BUILTINS[name].label
    assert "rownames" not in ds.X.columns and ds.label not in ds.X.columns
    assert (ds.n_rows, ds.X.shape[1], ds.classes) == (rows, columns, classes)
    assert all(isinstance(v, str) for v in ds.y.unique())
    assert len(ds.X) == len(ds.y)
    assert ("multiclass" in BUILTINS[name].tags) == (len(classes) > 2)


@pytest.mark.parametrize("name", list(BUILTINS))
def test_builtin_declares_its_question_answer_words_source_and_licence(name):
    spec = BUILTINS[name]
    question, answers = builtin_task(name)
    assert question.endswith("?") and set(answers) == set(SHAPES[name][2])
    assert len(set(answers.values())) == len(answers)  # one distinct word per label
    assert spec.source and spec.licence and spec.licence != "see source"


def test_prompting_reads_the_question_declared_with_the_dataset():
    from dataeff.learners.llm.prompting import Task

    task = Task.for_dataset("crash-deaths", "dead", ["alive", "dead"])
    assert task.question == "Did this occupant die in the crash?"
    assert task.verbalizers == {"alive": "No", "dead": "Yes"}
    other = Task.for_dataset("my-table", "plan_type", ["a", "b"])
    assert other.question == "What is the plan type?"


def test_leaks_and_bookkeeping_are_dropped_and_titanic_keeps_passenger_names():
    assert "injSeverity" not in load_builtin("crash-deaths").X.columns
    titanic = load_builtin("titanic")
    assert "name" in titanic.X.columns and titanic.X["name"].str.contains(",").all()


def test_churn_shape_and_classes():
    ds = load_builtin("churn")
    assert ds.X.shape == (5000, 19)
    assert ds.classes == ["no", "yes"]


def test_fine_foods_keeps_the_packages_own_split():
    ds = load_builtin("fine-foods")
    assert ds.test_mask is not None
    assert int(ds.test_mask.sum()) == 1000 and int((~ds.test_mask).sum()) == 4000
    assert list(ds.X.columns) == ["review"]
    assert set(ds.classes) == {"great", "other"}


def test_unknown_builtin_suggests_the_closest_name():
    with pytest.raises(DataError, match="Did you mean 'churn'"):
        load_builtin("chrun")


def test_fingerprint_is_stable_and_content_sensitive():
    a, b = load_builtin("attrition"), load_builtin("attrition")
    assert a.fingerprint() == b.fingerprint()
    b.X.iloc[0, 0] = np.nan
    assert a.fingerprint() != b.fingerprint()
