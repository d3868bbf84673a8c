"""The openai backend against a real OpenAI-compatible server: llama.cpp's, on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dataeff.errors import ConfigError
from dataeff.learners.llm.backends import LlamaCpp, OpenAICompatible
from tests.llm_server import free_port as _free_port

PROMPTS = [
    'review: "I love this tea, it is delicious and fresh"\nQuestion: Is this review positive?\nAnswer:',
    'review: "awful, stale and broken, a waste of money"\nQuestion: Is this review positive?\nAnswer:',
    'review: "it arrived on time"\nQuestion: Is this review positive?\nAnswer:',
]


@pytest.fixture(scope="module")
def server(llama_server):
    return llama_server.base


def test_endpoint_and_local_scores_agree_within_01_nats(server):
    remote = OpenAICompatible(f"{server}::gemma")
    local = LlamaCpp()
    requests = [(p, a) for p in PROMPTS for a in (" Yes", " No")]
    from_server = remote.loglikelihood(requests)
    from_file = local.loglikelihood(requests)
    print("max |server - local| nats:", max(abs(a - b) for a, b in zip(from_server, from_file)))
    for r, a, b in zip(requests, from_server, from_file):
        assert abs(a - b) <= 0.1, (r, a, b)
    assert remote.stats["failed"] == 0 and remote.stats["sent"] == len(PROMPTS)


def test_answer_words_sharing_a_first_token_are_refused(server):
    remote = OpenAICompatible(f"{server}::gemma")
    with pytest.raises(ConfigError, match="share their first token"):
        remote.loglikelihood([(PROMPTS[0], " Yes"), (PROMPTS[0], " Yes indeed")])


def test_unreachable_endpoint_is_one_clear_error():
    remote = OpenAICompatible(f"http://127.0.0.1:{_free_port()}/v1::gemma", retries=1, timeout=2)
    with pytest.raises(ConfigError, match="failed after 2 tries"):
        remote.loglikelihood([(PROMPTS[0], " Yes")])
    assert remote.stats == {"prompts": 0, "sent": 2, "retried": 1, "failed": 1}


def test_a_study_runs_llm_zero_through_the_endpoint(server, tmp_path):
    import dataeff

    frame = dataeff.data.builtin.load_builtin("fine-foods")
    common = dict(learners=["llm-zero"], seeds=1, sizes=[8], test_rows=12, jobs=1)
    remote = dataeff.Study(frame, llm_backend="openai", llm_url=server, llm_model="gemma", **common)
    local = dataeff.Study(frame, **common)
    a = remote.run(tmp_path / "remote", progress=False).results
    b = local.run(tmp_path / "local", progress=False).results
    assert (a["status"] == "ok").all(), a["error"].tolist()
    assert abs(a["roc_auc"].mean() - b["roc_auc"].mean()) < 0.1


def test_openai_backend_needs_url_and_model():
    import dataeff

    with pytest.raises(ConfigError, match="needs --llm-url"):
        dataeff.Study("fine-foods", learners=["llm-zero"], llm_backend="openai")


def test_dead_endpoint_or_bad_model_file_stop_the_run_before_any_folder(tmp_path):
    bad = tmp_path / "model.gguf"
    bad.write_text("not a model")
    base = ["-m", "dataeff", "run", "--data", "fine-foods", "--learners", "llm-zero", "--seeds", "1",
            "--sizes", "8", "--test-rows", "10"]
    cases = [
        (["--llm-backend", "openai", "--llm-url", f"http://127.0.0.1:{_free_port()}/v1", "--llm-model", "x"],
         "is unreachable"),
        (["--llm-model", str(tmp_path / "missing.gguf")], "LLM model file not found"),
        (["--llm-model", str(bad)], "is not a GGUF model file"),
    ]
    for extra, message in cases:
        out = tmp_path / "never"
        result = subprocess.run([sys.executable, *base, *extra, "--out", str(out)], capture_output=True, text=True)
        assert result.returncode == 2 and message in result.stderr, (extra, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and not out.exists()
