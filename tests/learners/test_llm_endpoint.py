"""The openai backend against a real OpenAI-compatible server: llama.cpp's, on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from dataeff.errors import ConfigError
from dataeff.learners.llm.backends import EndpointClient, LlamaCpp, OpenAICompletions, OpenAIEmbeddings
from tests.llm_server import free_port as _free_port

PROMPTS = [
    'review: "I love this tea, it is delicious and fresh"\nQuestion: Is this review positive?\nAnswer:',
    'review: "awful, stale and broken, a waste of money"\nQuestion: Is this review positive?\nAnswer:',
    'review: "it arrived on time"\nQuestion: Is this review positive?\nAnswer:',
]


@pytest.fixture(scope="module")
def server(llama_server):
    return llama_server.base


def test_endpoint_and_local_scores_agree_within_01_nats(server, llm_cache):
    remote = OpenAICompletions(f"{server}::gemma")
    local = LlamaCpp(cache_folder=llm_cache.folder)
    requests = [(p, a) for p in PROMPTS for a in (" Yes", " No")]
    from_server = remote.loglikelihood(requests)
    from_file = local.loglikelihood(requests)
    print("max |server - local| nats:", max(abs(a - b) for a, b in zip(from_server, from_file)))
    for r, a, b in zip(requests, from_server, from_file):
        assert abs(a - b) <= 0.1, (r, a, b)
    assert remote.stats["failed"] == 0 and remote.stats["sent"] == len(PROMPTS)


def test_answer_words_sharing_a_first_token_are_refused(server):
    remote = OpenAICompletions(f"{server}::gemma")
    with pytest.raises(ConfigError, match="share their first token"):
        remote.loglikelihood([(PROMPTS[0], " Yes"), (PROMPTS[0], " Yes indeed")])


def test_unreachable_endpoint_is_one_clear_error():
    remote = OpenAICompletions(f"http://127.0.0.1:{_free_port()}/v1::gemma", retries=1, timeout=2)
    with pytest.raises(ConfigError, match="failed after 2 tries"):
        remote.loglikelihood([(PROMPTS[0], " Yes")])
    assert remote.stats == {"prompts": 0, "sent": 2, "retried": 1, "failed": 1, "unlisted": 0, "input_tokens": 0,
                            "output_tokens": 0}


def test_scoring_and_embeddings_are_two_uses_of_one_http_client(monkeypatch):
    """One client class carries the retries, timeout, key and counters for both; neither
    backend is a subclass of the other with a method switched off."""
    import time

    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    url = f"http://127.0.0.1:{_free_port()}/v1::gemma"
    scorer = OpenAICompletions(url, retries=2, timeout=2)
    embedder = OpenAIEmbeddings(url, retries=2, timeout=2)
    assert type(scorer.client) is type(embedder.client) is EndpointClient
    assert not isinstance(embedder, OpenAICompletions) and not isinstance(scorer, OpenAIEmbeddings)
    assert scorer.fingerprint == url.replace("::", ":").replace("http", "openai:http", 1)
    assert embedder.fingerprint.startswith("openai-embed:")
    with pytest.raises(ConfigError, match="cannot score text"):
        embedder.loglikelihood([(PROMPTS[0], " Yes")])
    with pytest.raises(ConfigError, match="cannot embed text"):
        scorer.embed(["good tea"])
    with pytest.raises(ConfigError, match="failed after 3 tries"):
        embedder.embed(["good tea"])
    assert embedder.stats == {"prompts": 0, "sent": 3, "retried": 2, "failed": 1, "unlisted": 0, "input_tokens": 0, "output_tokens": 0}


def test_a_study_runs_llm_zero_through_the_endpoint(server, tmp_path):
    import dataeff
    from dataeff.data.builtin import load_builtin

    frame = load_builtin("fine-foods")
    common = dict(learners=["llm-zero"], seeds=1, sizes=[8], test_rows=12, jobs=1)
    remote = dataeff.Study(frame, llm_backend="openai", llm_url=server, llm_model="gemma", **common)
    local = dataeff.Study(frame, **common)
    a = remote.run(tmp_path / "remote", progress=False).results
    b = local.run(tmp_path / "local", progress=False).results
    assert (a["status"] == "ok").all(), a["error"].tolist()
    assert abs(a["roc_auc"].mean() - b["roc_auc"].mean()) < 0.1


def test_openai_backend_needs_url_and_model():
    import dataeff

    with pytest.raises(ConfigError, match=r"needs llm_url=.http://127.0.0.1:8000/v1. \(the server.s base URL\) and llm_model"):
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


def test_echo_scoring_sums_multi_token_answers_and_agrees_with_the_local_model(server, llm_cache):
    """Echo mode scores answer words of several tokens whole (llama.cpp's server is slow at it:
    about 0.7 s per prompt token, so the prompts here are short)."""
    remote = OpenAICompletions(f"{server}::gemma", scoring="echo")
    local = LlamaCpp(cache_folder=llm_cache.folder)
    requests = [("Is tea a drink? Answer:", " Yes, of course"), ("Is tea a drink? Answer:", " No")]
    from_server = remote.loglikelihood(requests)
    from_file = local.loglikelihood(requests)
    print("echo vs local nats:", [round(a - b, 3) for a, b in zip(from_server, from_file)])
    for a, b in zip(from_server, from_file):
        assert abs(a - b) <= 0.15
    assert from_server[0] < from_server[1] - 1  # three more tokens cost probability


def test_embeddings_from_an_endpoint(tmp_path, llm_cache):
    """/v1/embeddings of a real llama.cpp server started with --embedding, through the cache."""
    from dataeff.learners.llm.backends import default_gguf, get_backend
    from tests.llm_server import LlamaServer

    server = LlamaServer(default_gguf(llm_cache.folder), tmp_path / "embed.log", extra=["--embedding", "true"]).start()
    try:
        embedder = get_backend("openai-embed", f"{server.base}::gemma", cache=llm_cache)
        vectors = embedder.embed(["good tea", "bad tea", "good tea"])
        again = embedder.embed(["good tea"])
    finally:
        server.stop()
    assert vectors.shape == (3, 640) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert np.array_equal(vectors[0], vectors[2]) and np.array_equal(again[0], vectors[0])
    assert embedder.inner.stats["prompts"] == 2  # each distinct text once; the repeat came from the cache


class _CraftedServer:
    """A real HTTP server on 127.0.0.1 answering /completions with a crafted top-20 of
    log-probabilities: " Yes" at -0.5 and 19 other tokens down to -3.0, never " No"."""

    TOP = {" Yes": -0.5, **{f" w{i}": -1.0 - i * 2.0 / 18 for i in range(19)}}

    def __init__(self):
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        top = self.TOP
        self.authorization: list[str | None] = []
        self.status = 200  # 500: a server failing every request
        seen, server = self.authorization, self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, payload: dict) -> None:
                body = json.dumps(payload).encode()
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                self._send({"data": [{"id": "crafted"}]})

            def do_POST(self):
                seen.append(self.headers.get("Authorization"))
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._send({"choices": [{"text": " Yes", "logprobs": {"top_logprobs": [top]}}]})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_answer_words_outside_the_top_20_are_counted_per_cell_and_reported(tmp_path):
    """" No" is never among the server's top 20: it gets min(top) - 1 = -4.0, and every such
    estimate is counted (backend stats, each cell's stored traffic, the run's traffic line)."""
    import sqlite3

    import dataeff

    crafted = _CraftedServer()
    try:
        remote = OpenAICompletions(f"{crafted.base}::crafted")
        scores = remote.loglikelihood([(p, a) for p in PROMPTS for a in (" Yes", " No")])
        assert scores == [-0.5, -4.0] * len(PROMPTS)
        assert remote.stats == {"prompts": 3, "sent": 3, "retried": 0, "failed": 0, "unlisted": 3, "input_tokens": 0, "output_tokens": 0}
        frame = dataeff.data.builtin.load_builtin("fine-foods")
        said: list[str] = []
        run = dataeff.Study(frame, learners=["llm-zero"], seeds=1, sizes=[8], test_rows=12, jobs=1, no_cache=True,
                            llm_backend="openai", llm_url=crafted.base, llm_model="crafted").run(
            tmp_path / "run", progress=False, log=said.append)
    finally:
        crafted.close()
    assert (run.results["status"] == "ok").all(), run.results["error"].tolist()
    with sqlite3.connect(tmp_path / "run" / "store.sqlite") as db:
        per_cell = db.execute("SELECT n_train, endpoint_prompts, endpoint_unlisted FROM cells ORDER BY n_train")
        # 12 test rows + 3 content-free rows per cell, " No" unlisted after each
        assert per_cell.fetchall() == [(0, 15, 15), (8, 15, 15)]
    assert run.facts.llm_usage["endpoint_unlisted"] == 30
    line = "30 answer words fell outside the endpoint's top log-probabilities"
    assert any(line in text for text in said)
    assert line in (tmp_path / "run" / "summary.md").read_text()


def test_endpoint_defaults_reach_the_client(monkeypatch):
    """Unless a study says otherwise: the key from OPENAI_API_KEY, 4 requests in flight, 60 s a
    request and 6 retries, in the EndpointClient a study's learner actually uses."""
    import time

    import dataeff
    from dataeff.learners.llm.backends import registry

    monkeypatch.setattr(registry, "_LOADED", {})
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-default-variable")
    crafted = _CraftedServer()
    try:
        study = dataeff.Study(dataeff.data.builtin.load_builtin("fine-foods"), learners=["llm-zero"], sizes=[8],
                              test_rows=4, llm_backend="openai", llm_url=crafted.base, llm_model="crafted")
        lm = study.prepare()[2][0].build(0)._lm()
        lm.inner.loglikelihood([(PROMPTS[0], " Yes")])
        waits: list[float] = []
        monkeypatch.setattr(time, "sleep", waits.append)
        crafted.status = 500
        with pytest.raises(ConfigError, match="failed after 7 tries"):  # 6 retries
            lm.inner.loglikelihood([(PROMPTS[1], " Yes")])
    finally:
        crafted.close()
    assert len(waits) == 6
    client = lm.inner.client
    assert crafted.authorization == ["Bearer sk-from-the-default-variable"] * (1 + 7)  # the key on every try
    assert (client.api_key_env, client.concurrency, client.timeout, client.retries) == ("OPENAI_API_KEY", 4, 60.0, 6)
    assert client._http.timeout.read == 60.0 and client._http.timeout.connect == 60.0
    assert client._http._transport._pool._max_connections == 4
