"""llm-finetune on the real default Gemma (its GGUF through the transformers backend, converted
once per test session) on a toy task of a few short rows and a few steps: reproducible for its
seed, training moves the answers toward the labels, the shared base model is left as it was,
its answers are cached apart from the base model's, and a backend that cannot train is one line
and exit 2 before anything is written."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from dataeff.errors import ConfigError
from dataeff.learners.llm.finetune import FineTune
from dataeff.learners.llm.prompting import Task

# A question the model cannot answer (it says Yes for every item, p ~0.75), whose labels follow
# a line it knows (fruit or tool): a few steps can teach it. Made-up codes took more steps.
ITEMS = {"apple": "good", "banana": "good", "cherry": "good", "mango": "good",
         "hammer": "bad", "wrench": "bad", "shovel": "bad", "pliers": "bad"}
TASK = Task("Is this item approved?", {"bad": "No", "good": "Yes"}, classes=["bad", "good"])
X = pd.DataFrame({"item": list(ITEMS)})
Y = pd.Series(list(ITEMS.values()))
# lr 5e-3: at 1e-2 six steps diverged to "Yes" for every item (p ~1) on torch's AVX-512 kernels
# while its AVX2 kernels learned (2026-12-03, the same code and seed); 5e-3 learns on both.
RECIPE = {"steps": 6, "batch_size": 8, "lr": 5e-3, "rank": 4}


def _learner(llm_cache, seed: int = 0, **recipe) -> FineTune:
    return FineTune(task=TASK, backend="transformers", backend_options={"device": "cpu"}, cache=llm_cache,
                    calibrate=False, random_state=seed, **{**RECIPE, **recipe})


def _correct(proba: np.ndarray) -> float:
    """Mean probability of each row's own label."""
    return float(np.mean([proba[i, list(TASK.classes).index(label)] for i, label in enumerate(Y)]))


@pytest.fixture(scope="module")
def base(llm_cache):
    from dataeff.learners.llm.backends import get_backend

    return get_backend("transformers", None, {"device": "cpu"}, cache=llm_cache)


def test_training_is_reproducible_moves_answers_to_the_labels_and_leaves_the_base_model(base, llm_cache):
    model = base.inner.model
    requests = [(TASK.query(row), ending) for _, row in X.iterrows() for ending in TASK.continuations()]
    before = base.inner.loglikelihood(requests)  # the model itself, not the cache
    flags = {name: p.requires_grad for name, p in model.named_parameters()}
    untrained = _learner(llm_cache).fit(X.iloc[:0], Y.iloc[:0]).predict_proba(X)  # n = 0: zero-shot

    first = _learner(llm_cache).fit(X, Y)
    tuned = first.predict_proba(X)
    assert first.traffic()["llm_calls"] > 0  # scored by the adapted model, not found in the cache
    assert _correct(tuned) > _correct(untrained) + 0.15, (_correct(untrained), _correct(tuned))
    assert (np.argmax(tuned, axis=1) == [TASK.classes.index(label) for label in Y]).mean() >= 0.75

    again = _learner(llm_cache).fit(X, Y)  # the same seed: the same adapters, the same answers
    assert again.fingerprint_ == first.fingerprint_
    assert all(np.array_equal(again._adapter[name], first._adapter[name]) for name in first._adapter)
    assert np.array_equal(again.predict_proba(X), tuned)
    other = _learner(llm_cache, seed=1).fit(X, Y)
    assert other.fingerprint_ != first.fingerprint_
    assert not np.array_equal(other.predict_proba(X), tuned)

    # The base model is as it was: no LoRA module, its flags and mode, the same scores.
    assert not [name for name, _ in model.named_modules() if "lora" in name]
    assert {name: p.requires_grad for name, p in model.named_parameters()} == flags and not model.training
    assert base.inner.loglikelihood(requests) == before


def test_trained_answers_are_cached_under_their_own_fingerprint(base, llm_cache):
    unseen = pd.DataFrame({"item": ["kiwi", "chisel"]})  # rows no test here asks the base model about
    learner = _learner(llm_cache, seed=2, steps=1)
    learner.fit(X, Y).predict_proba(unseen)
    assert learner.fingerprint_.startswith(base.fingerprint + "+lora:")
    request = [TASK.query(unseen.iloc[0]), TASK.continuations()[0]]
    cache = base.cache
    assert cache.get_many([cache.key(learner.fingerprint_, "loglikelihood", request)])
    assert not cache.get_many([cache.key(base.fingerprint, "loglikelihood", request)])


def test_zero_labels_is_the_zero_shot_learner(base, llm_cache):
    from dataeff.learners.llm.learners import ZeroShot

    zero = ZeroShot(task=TASK, backend="transformers", backend_options={"device": "cpu"}, cache=llm_cache)
    tuned = FineTune(task=TASK, backend="transformers", backend_options={"device": "cpu"}, cache=llm_cache)
    assert np.array_equal(tuned.fit(X.iloc[:0], Y.iloc[:0]).predict_proba(X),
                          zero.fit(X.iloc[:0], Y.iloc[:0]).predict_proba(X))


def test_a_study_runs_it_from_zero_labels_and_sizes_its_training(tmp_path):
    import dataeff
    from dataeff.learners.llm.workload import estimate

    frame = pd.concat([X.assign(label=Y)] * 4, ignore_index=True)
    kwargs = {"label": "label", "learners": ["ft=llm-finetune(steps=1, batch_size=4)"], "seeds": 1, "sizes": [8],
              "test_rows": 8, "llm_device": "cpu", "llm_question": TASK.question, "llm_answers": TASK.verbalizers}
    study = dataeff.Study(frame, **kwargs)
    dataset, plan, specs = study.prepare()
    assert specs[0].params["backend"] == "transformers" and specs[0].params["steps"] == 1
    work = estimate(dataset, plan, specs)
    assert work.train_tokens > 0
    doubled = estimate(dataset, plan, [replace(specs[0], params={**specs[0].params, "steps": 2})])
    assert doubled.train_tokens == 2 * work.train_tokens and doubled.local_seconds > work.local_seconds
    result = study.run(tmp_path / "run", progress=False, jobs=1)
    assert (result.results["status"] == "ok").all(), result.results["error"].tolist()
    assert sorted(result.results["n_train"]) == [0, 8]


@pytest.mark.parametrize("flags", [
    ["--learners", "ft=llm-finetune(backend=llamacpp)"],
    ["--learners", "llm-finetune", "--llm-backend", "openai", "--llm-url", "http://127.0.0.1:9/v1",
     "--llm-model", "served"],
], ids=["llamacpp", "openai"])
def test_a_backend_that_cannot_train_is_one_line_and_exit_2(tmp_path, flags):
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "dataeff", "run", "--data", "fine-foods", "--test-rows", "10",
                           *flags, "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: llm-finetune trains its model in this process"), lines
    assert "cannot train" in lines[0]
    assert not out.exists()


def test_bad_recipe_settings_are_one_line():
    import dataeff

    for setting, message in (("steps=0", "Learner 'ft': steps must be a positive integer"),
                             ("lr=-1", "Learner 'ft': lr must be greater than 0"),
                             ("rank=2.5", "Learner 'ft': rank must be a whole number")):
        with pytest.raises(ConfigError, match=message):
            dataeff.Study("fine-foods", learners=[f"ft=llm-finetune({setting})"], test_rows=10).prepare()
