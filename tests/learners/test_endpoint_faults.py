"""The openai backend against a real llama.cpp server behind a fault-injecting proxy:
dropped connections, 500, 429 with Retry-After, stalls past the timeout, malformed JSON,
a server killed mid-run and restarted. Nothing is lost, no error is cached as an answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pandas as pd
import pytest

import dataeff
from dataeff.errors import ConfigError
from dataeff.learners.llm.backends import Cached, OpenAICompletions
from dataeff.learners.llm.cache import AnswerCache
from tests.llm_server import FaultProxy, LlamaServer

PROMPTS = [f'review: "{text}"\nQuestion: Is this review positive?\nAnswer:'
           for text in ("I love this tea", "stale and broken", "it arrived on time", "tastes like cardboard",
                        "my dog adores these treats", "too sweet for me")]
REQUESTS = [(p, a) for p in PROMPTS for a in (" Yes", " No")]


@pytest.fixture
def proxy(llama_server):
    # A stall outlasts the 5 s timeout below; an honest answer, even on a machine busy with
    # other work (2 cores: up to ~2.6 s measured), does not.
    proxy = FaultProxy(llama_server.base, retry_after=2.0, stall=8.0)
    yield proxy
    proxy.close()


def _same_server_state(llama_server) -> None:
    """llama.cpp's server reuses the previous prompt's prefix, which shifts its scores by a few
    hundredths of a nat; one fixed prompt first puts it in the same state for both runs
    compared (whatever other tests asked before)."""
    OpenAICompletions(f"{llama_server.base}::gemma", concurrency=1).loglikelihood([("A fixed prompt.", " Yes")])


@pytest.fixture(scope="module")
def clean_scores(llama_server):
    _same_server_state(llama_server)
    return OpenAICompletions(f"{llama_server.base}::gemma", concurrency=1).loglikelihood(REQUESTS)


def test_every_kind_of_fault_is_retried_and_the_answers_are_unchanged(proxy, clean_scores, llama_server):
    _same_server_state(llama_server)
    proxy.script = ["429", "drop", "500", "stall", "malformed"]
    client = OpenAICompletions(f"{proxy.base}::gemma", concurrency=1, timeout=5.0, retries=6)
    started = time.monotonic()
    scores = client.loglikelihood(REQUESTS)
    assert scores == clean_scores  # the same numbers as without faults
    seen = proxy.counts()
    # An honest answer slower than the timeout (a 2-core machine busy with other work; the
    # urllib client before httpx did the same) is one more try; on an idle machine there is none.
    slow = seen.pop("ok") - len(PROMPTS)
    assert seen == {"429": 1, "drop": 1, "500": 1, "stall": 1, "malformed": 1} and slow >= 0
    stats = dict(client.stats)
    billed = {key: stats.pop(key) for key in ("input_tokens", "output_tokens")}
    assert stats == {"prompts": len(PROMPTS), "sent": len(PROMPTS) + 5 + slow, "retried": 5 + slow,
                     "failed": 0, "unlisted": 0}  # Gemma's top 20 holds " Yes" and " No"
    # Billed as the answers' usage said: the faulted tries billed nothing, each prompt one output token
    assert billed["output_tokens"] == len(PROMPTS) and billed["input_tokens"] > 0
    # Retry-After: 2 was honoured (the backoff alone would have waited 0-1 s)
    after_429 = proxy.seen[1]["time"] - proxy.seen[0]["time"]
    assert after_429 >= 2.0, after_429
    print(f"5 faults survived in {time.monotonic() - started:.1f} s")


def test_backoff_grows_exponentially_with_full_jitter(monkeypatch, proxy):
    proxy.default = "500"
    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", waits.append)
    client = OpenAICompletions(f"{proxy.base}::gemma", retries=7, max_wait=8)
    with pytest.raises(ConfigError, match="failed after 8 tries \\(HTTP 500\\)"):
        client.loglikelihood(REQUESTS[:1])
    assert len(waits) == 7 and client.stats["failed"] == 1 and client.stats["retried"] == 7
    # Full jitter: each wait anywhere in [0, cap], the cap doubling from 1 s up to max_wait.
    caps = [min(8.0, 2.0 ** attempt) for attempt in range(7)]
    assert caps == [1, 2, 4, 8, 8, 8, 8]
    assert all(0 <= wait <= cap for wait, cap in zip(waits, caps)), waits
    ratios = [w / cap for w, cap in zip(waits, caps)]
    assert len(set(round(r, 6) for r in ratios)) > 1  # jittered, not a fixed schedule


def test_requests_in_flight_never_exceed_the_bound(llama_server):
    proxy = FaultProxy(llama_server.base, delay=0.3)
    try:
        client = OpenAICompletions(f"{proxy.base}::gemma", concurrency=3)
        client.loglikelihood(REQUESTS)
        assert proxy.peak == 3  # bounded, and the bound was used
    finally:
        proxy.close()


def test_an_error_is_never_cached_as_an_answer(proxy, tmp_path, clean_scores):
    cache = AnswerCache(tmp_path / "cache.sqlite")
    proxy.default = "500"
    failing = Cached(OpenAICompletions(f"{proxy.base}::gemma", retries=1, timeout=2.0), cache)
    with pytest.raises(ConfigError, match="failed after 2 tries"):
        failing.loglikelihood(REQUESTS)
    assert cache._conn.execute("SELECT count(*) FROM answers").fetchone()[0] == 0
    proxy.default = "malformed"
    with pytest.raises(ConfigError):
        failing.loglikelihood(REQUESTS)
    assert cache._conn.execute("SELECT count(*) FROM answers").fetchone()[0] == 0
    proxy.default = "ok"
    _same_server_state(proxy)
    healthy = Cached(OpenAICompletions(f"{proxy.base}::gemma", concurrency=1), cache)
    assert healthy.loglikelihood(REQUESTS) == clean_scores
    assert cache._conn.execute("SELECT count(*) FROM answers").fetchone()[0] == len(REQUESTS)


def _study(base, **extra):
    frame = dataeff.data.builtin.load_builtin("fine-foods")
    return dataeff.Study(frame, learners=["llm-zero"], seeds=1, sizes=[8], test_rows=12, jobs=1,
                         llm_backend="openai", llm_url=base, llm_model="gemma", **extra)


def test_a_failing_cell_is_recorded_and_retried_by_the_next_run(proxy, tmp_path):
    proxy.default = "500"
    # no_cache: the server is asked every time
    first = _study(proxy.base, llm_retries=1, llm_timeout=30.0, no_cache=True).run(tmp_path / "run", progress=False)
    assert (first.results["status"] == "failed").all()
    assert first.results["error"].str.contains("failed after 2 tries").all()
    usage = first.facts.llm_usage
    assert usage["endpoint_failures"] >= 1 and usage["endpoint_prompts"] == 0
    proxy.default = "ok"
    second = _study(proxy.base, llm_retries=1, llm_timeout=30.0, no_cache=True).run(tmp_path / "run", progress=False)
    assert (second.results["status"] == "ok").all(), second.results["error"].tolist()
    usage = second.facts.llm_usage
    # 12 test rows + 3 content-free rows, once per cell (n = 0 and n = 8): the rows that left
    assert usage["endpoint_prompts"] == 2 * 15 and usage["endpoint_failures"] == 0
    markdown = (tmp_path / "run" / "summary.md").read_text()
    assert f"30 prompts to {proxy.base} (model gemma)" in markdown
    assert "30 prompts" in (tmp_path / "run" / "report.html").read_text()


def test_a_server_killed_mid_run_and_restarted_lets_the_run_finish(tmp_path, llm_cache):
    from dataeff.learners.llm.backends import default_gguf

    server = LlamaServer(default_gguf(llm_cache.folder), tmp_path / "server.log").start()
    proxy = FaultProxy(server.base)  # a pass-through that counts what reached the server
    result: dict = {}

    def restart_after(requests: int) -> None:
        while len(proxy.seen) < requests:
            time.sleep(0.05)
        server.kill()
        result["killed_at"] = len(proxy.seen)
        time.sleep(1.0)
        server.start()
        result["restarted"] = True

    killer = threading.Thread(target=restart_after, args=(8,))
    killer.start()
    try:
        # 10 retries: about 90 s of backoff on average, far more than a restart takes even on
        # a busy machine (full jitter may draw a run of short waits; 10 leaves a wide margin).
        run = _study(proxy.base, llm_retries=10, llm_timeout=10.0, no_cache=True).run(tmp_path / "run", progress=False)
        killer.join(timeout=120)
    finally:
        server.stop()
        proxy.close()
    assert result.get("restarted") and result["killed_at"] >= 8
    assert (run.results["status"] == "ok").all(), run.results["error"].tolist()
    usage = run.facts.llm_usage
    assert usage["endpoint_retries"] >= 1 and usage["endpoint_failures"] == 0
    print(f"server killed after {result['killed_at']} requests; retries: {usage['endpoint_retries']}")


def test_the_api_key_is_sent_but_never_written_anywhere(llama_server, tmp_path):
    """A planted key reaches the server in the Authorization header and appears in no output:
    not in the run folder, the answer cache, stdout, stderr, or a refused request's error."""
    key = "sk-planted-" + "7f3a9c1e5b2d4f6a8c0e"
    proxy = FaultProxy(llama_server.base)
    cache_dir = tmp_path / "cache"
    env = {**os.environ, "DATAEFF_TEST_KEY": key, "DATAEFF_CACHE_DIR": str(cache_dir), "COLUMNS": "200"}
    common = [sys.executable, "-m", "dataeff", "run", "--data", "fine-foods", "--learners", "llm-zero",
              "--sizes", "8", "--seeds", "1", "--test-rows", "10", "--jobs", "1", "--llm-backend", "openai",
              "--llm-url",
              proxy.base, "--llm-model", "gemma", "--llm-api-key-env", "DATAEFF_TEST_KEY"]
    try:
        ok = subprocess.run([*common, "--out", str(tmp_path / "ok")], capture_output=True, text=True, env=env,
                            timeout=300)
        proxy.default = "401-echo"  # a server that echoes the key back in its error
        refused = subprocess.run([*common, "--out", str(tmp_path / "refused"), "--no-cache"], capture_output=True,
                                 text=True, env=env, timeout=300)
    finally:
        proxy.close()
    assert ok.returncode == 0, ok.stderr
    assert any(entry["authorization"] == f"Bearer {key}" for entry in proxy.seen)  # it was used
    assert refused.returncode == 1  # the cells failed, the run did not: it says so and exits 1
    assert "2 cells failed: llm-zero n=0 seed 0: " in refused.stderr, refused.stderr
    errors = pd.read_csv(tmp_path / "refused" / "results.csv")["error"]
    assert errors.str.contains("HTTP 401").all() and errors.str.contains(r"\[key\]").all()
    written = [p for folder in (tmp_path / "ok", tmp_path / "refused", cache_dir) for p in folder.rglob("*")
               if p.is_file()]
    assert len(written) >= 10
    for path in written:
        assert key.encode() not in path.read_bytes(), path
    for stream in (ok.stdout, ok.stderr, refused.stdout, refused.stderr):
        assert key not in stream
    summary = json.loads((tmp_path / "ok" / "summary.json").read_text())
    # one job: the cell at n = 8 finds the n = 0 cell's 10 rows + 3 calibration prompts cached
    # (two jobs would race and ask for them twice)
    assert summary["facts"]["llm_usage"]["endpoint_prompts"] == 13


def test_a_server_that_segfaults_is_noticed_at_once_not_waited_on(tmp_path, llm_cache):
    """The test sessions's guard (tests/learners/conftest.py): once the server has died, a
    client with the default retries fails in seconds, naming the server's death."""
    import signal

    from dataeff.learners.llm.backends import default_gguf

    server = LlamaServer(default_gguf(llm_cache.folder), tmp_path / "server.log").start()
    guard = FaultProxy(server.base, server=server, record=False)
    try:
        server.process.send_signal(signal.SIGSEGV)  # as llama.cpp's AMX kernels ended it
        server.process.wait(timeout=30)
        started = time.monotonic()
        with pytest.raises(ConfigError, match=r"the llama.cpp server died \(exit code -11\)"):
            OpenAICompletions(f"{guard.base}::gemma").loglikelihood([("A fixed prompt.", " Yes")])
        assert time.monotonic() - started < 5
    finally:
        guard.close()
        server.stop()
