"""llm-labels: an LLM's labels of a pool as a student's training data. Stub labellers stand in
for the LLM where the answer must be known: an oracle that knows how the table's labels were
drawn, the same oracle flipping a set share of its answers, and one that answers one class."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import dataeff
from dataeff.cli import app
from dataeff.learners.base import Learner

WEIGHTS = np.array([1.0, -0.8, 0.6, 0.4, -0.3])
POOL = 64


def _noise(ids: np.ndarray, salt: int) -> np.ndarray:
    """A number in [0, 1) per row id, the same wherever it is computed (no model can learn it)."""
    return ((ids.astype(np.int64) * 2654435761 + salt * 40503) % 2**32) / 2**32


def table(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    """Five informative columns, a row id, and a label drawn from both (noise keyed by the id)."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 5)), columns=[f"x{i}" for i in range(5)])
    X["row_id"] = rng.permutation(n) + 10_000
    return X.assign(label=_truth(X))


def _truth(X: pd.DataFrame) -> np.ndarray:
    logit = X[[f"x{i}" for i in range(5)]].to_numpy() @ WEIGHTS
    return np.where(_noise(X["row_id"].to_numpy(), 1) < 1 / (1 + np.exp(-2 * logit)), "pos", "neg")


class Oracle(Learner):
    """Knows how the labels were drawn: right on every row, but for the share ``flip`` of rows
    (picked by id) whose answer it turns around."""

    family, needs_examples = "llm", False
    flip = 0.0

    def __init__(self, random_state: int = 0):
        self.random_state = random_state

    def _fit(self, X, y):
        pass

    def fit(self, X, y):  # answers with no labels, whatever it is shown
        self.classes_, self._constant = np.array(["neg", "pos"]), False
        return self

    def _predict_proba(self, X):
        right = _truth(X) == "pos"
        flipped = _noise(X["row_id"].to_numpy(), 2) < self.flip
        p = np.where(right ^ flipped, 0.9, 0.1)
        return np.column_stack([1 - p, p])


class FlipsAFifth(Oracle):
    flip = 0.2


class SaysNeg(Oracle):
    """Answers 'neg' for every row: a student that learns anything at n = 0 read hidden labels."""

    def _predict_proba(self, X):
        return np.tile([0.9, 0.1], (len(X), 1))


@pytest.fixture(scope="module")
def routes(tmp_path_factory):
    out = tmp_path_factory.mktemp("routes") / "run"
    learners = ["logreg", Oracle(), FlipsAFifth(), SaysNeg(),
                f"clean=llm-labels(labeller=oracle, pool={POOL})",
                f"noisy=llm-labels(labeller=flipsafifth, pool={POOL})",
                f"blind=llm-labels(labeller=saysneg, pool={POOL})"]
    return dataeff.run(data=table(), label="label", learners=learners, seeds=8, sizes=[16, 32, 64, 128, 256],
                       test_rows=300, out=out, progress=False)


def test_right_labels_of_a_pool_are_worth_as_many_human_labels(routes):
    answers = {r.learner: r for r in routes.analysis.label_routes}
    clean = answers["clean"]
    assert clean.student == "logreg" and clean.labeller == "oracle" and clean.pool_rows == POOL
    # 64 rows labelled right are 64 human labels (the same logreg on as many true labels)
    low, high = clean.exchange.ci
    assert clean.exchange.how == "measured" and low <= POOL <= high, clean.exchange
    assert high / low < 4  # an interval that says something
    assert clean.agreement == 1.0


def test_labels_a_fifth_wrong_agree_four_fifths_and_are_worth_fewer_labels(routes):
    answers = {r.learner: r for r in routes.analysis.label_routes}
    noisy, clean = answers["noisy"], answers["clean"]
    assert abs(noisy.agreement - 0.8) < 0.05
    assert set(noisy.confusion) == {"neg", "pos"}
    assert noisy.exchange.n < clean.exchange.n
    # noisy but unbiased labels: the student beats its teacher (whose answers are 80% right)
    assert noisy.versus_teacher_ci[0] > 0


def test_the_pools_hidden_labels_never_reach_the_student(routes):
    cells = routes.results[(routes.results["learner"] == "blind") & (routes.results["n_train"] == 0)]
    # one class from the labeller: the student predicts it for every row, whatever the rows' labels
    assert (cells["status"] == "ok").all() and np.allclose(cells["roc_auc"], 0.5)
    blind = {r.learner: r for r in routes.analysis.label_routes}["blind"]
    assert set(a for counts in blind.confusion.values() for a in counts) == {"neg"}


def test_the_route_costs_the_labellers_tokens_once_and_serves_without_them(routes):
    cells = routes.results[routes.results["learner"] == "clean"]
    assert (cells["predict_tokens"] == 0).all()
    assert "pool rows labelled by oracle" in cells["note"].iloc[0]


@pytest.mark.parametrize(("learners", "extra", "message"), [
    ("s=llm-labels(student=llm-zero)", [], "The 'student' of s must be a classic kind"),
    ("s=llm-labels(labeller=logreg)", [], "The labeller of s must be an LLM that answers the task"),
    ("s=llm-labels(labeller=nope)", [], "The labeller 'nope' of s is not a learner of this study"),
    ("s=llm-labels(pool=100000)", [], "s: a pool of 100,000 rows is more than the"),
    ("s=llm-labels(pool=0)", [], "The 'pool' of s must be a positive number"),
    ("s=llm-labels(student=knn, human_weight=3)", [], "the student knn takes no weights per row"),
    ("s=llm-labels", ["--unlabelled", "{lacking}"], "lacks 1 of the study's feature columns ('x4')"),
    ("s=llm-labels(pool=500)", ["--unlabelled", "{short}"], "asks for a pool of 500 rows but --unlabelled has 20"),
])
def test_bad_route_input_is_one_line(tmp_path, learners, extra, message):
    frame = table(300)
    frame.to_csv(tmp_path / "labelled.csv", index=False)
    frame.drop(columns=["label", "x4"]).to_csv(tmp_path / "lacking.csv", index=False)
    frame.drop(columns="label").head(20).to_csv(tmp_path / "short.csv", index=False)
    extra = [e.replace("{lacking}", str(tmp_path / "lacking.csv")).replace("{short}", str(tmp_path / "short.csv"))
             for e in extra]
    result = CliRunner().invoke(app, ["run", "--data", str(tmp_path / "labelled.csv"), "--label", "label",
                                      "--learners", learners, *extra, "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and result.output.count("\n") == 1 and message in result.output, result.output
    assert not (tmp_path / "run").exists()


def test_a_users_own_unlabelled_rows_are_the_pool(tmp_path):
    frame = table(400)
    frame.iloc[:300].to_csv(tmp_path / "labelled.csv", index=False)
    frame.iloc[300:].drop(columns="label").to_csv(tmp_path / "unlabelled.csv", index=False)
    result = dataeff.run(data=str(tmp_path / "labelled.csv"), label="label", unlabelled=str(tmp_path / "unlabelled.csv"),
                         learners=["logreg", Oracle(), "own=llm-labels(labeller=oracle, pool=100)"], seeds=2,
                         sizes=[16, 32], test_rows=100, out=tmp_path / "run", progress=False)
    own = result.results[result.results["learner"] == "own"]
    assert (own["status"] == "ok").all(), own["error"].tolist()
    assert own["note"].str.contains("100 pool rows labelled by oracle").all()
    [route] = result.analysis.label_routes
    assert route.pool_rows == 100 and route.agreement is None  # no hidden labels to agree with
    assert "100 rows of your own" in result.facts.learner_info["own"].settings


def test_routes_sharing_a_labeller_run_in_one_task_so_the_second_reads_the_cache():
    # Two routes asking one labeller about one pool send it the same prompts: in one task they
    # run one after the other and the second reads the answers the first paid for. Apart (two
    # workers at once), both pay them. A route with another labeller or pool is another task.
    from dataeff.experiment.runner import _groups

    study = dataeff.Study(data=table(600), label="label", seeds=2, sizes=[16, 64], test_rows=100, learners=[
        Oracle(), FlipsAFifth(), f"a=llm-labels(labeller=oracle, pool={POOL})",
        f"b=llm-labels(labeller=oracle, student=xgboost, pool={POOL})",
        f"c=llm-labels(labeller=flipsafifth, pool={POOL})", "d=llm-labels(labeller=oracle, pool=32)"])
    _, plan, specs = study.prepare()
    cells = plan.cells([(s.name, s.needs_examples) for s in specs])
    groups = [{c.learner for c in g} for g in _groups(cells, {s.name: s for s in specs})
              if {c.learner for c in g} & {"a", "b", "c", "d"}]
    # n = 0 and each (seed, size): {a, b} together, c and d alone
    assert groups.count({"a", "b"}) == 2 * 3 and groups.count({"c"}) == 2 * 3 and groups.count({"d"}) == 2 * 3
    assert len(groups) == 3 * 2 * 3
