"""A real llama.cpp server for the endpoint tests, started once per test session."""

from __future__ import annotations

import os

import pytest

from tests.llm_server import LlamaServer


@pytest.fixture(scope="session")
def llm_cache_dir(tmp_path_factory):
    os.environ.setdefault("DATAEFF_CACHE_DIR", str(tmp_path_factory.mktemp("llm-cache")))
    return os.environ["DATAEFF_CACHE_DIR"]


@pytest.fixture(scope="session")
def llama_server(llm_cache_dir, tmp_path_factory):
    from dataeff.learners.llm.backends import default_gguf

    server = LlamaServer(default_gguf(), tmp_path_factory.mktemp("server") / "server.log").start()
    yield server
    server.stop()
