"""The LLM cache the learner tests pass explicitly, and a real llama.cpp server for the endpoint
tests, started once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataeff.learners.llm.cache import CacheSettings
from tests.llm_server import FaultProxy, LlamaServer


@pytest.fixture(scope="session")
def llm_cache(private_llm_cache) -> CacheSettings:
    """The session's private cache folder (tests/conftest.py), handed to backends and learners
    as an argument: the default model is assembled into it once for every test."""
    return CacheSettings(Path(private_llm_cache))


@pytest.fixture(scope="session")
def llama_server(llm_cache, tmp_path_factory):
    """The server's address behind a pass-through proxy that answers 400 at once when the
    server has died (a segfault), so every test after fails in a second, not after retries."""
    from dataeff.learners.llm.backends import default_gguf

    server = LlamaServer(default_gguf(llm_cache.folder), tmp_path_factory.mktemp("server") / "server.log").start()
    guard = FaultProxy(server.base, server=server, record=False)
    yield guard
    guard.close()
    server.stop()
