"""LLM backends behind one narrow contract: ``loglikelihood(requests)`` and ``embed(texts)``.

Backends are chosen by alias and imported lazily (``registry``); every one sits behind the
shared answer cache, so repeated prompts cost no model call. The cache folder is an argument
(``CacheSettings``), never read from the environment here.

    base        the contract (Backend) and the cache in front of it (Cached)
    registry    aliases, get_backend (one backend per process), closing at exit
    models      model files: packaged defaults, GGUF check, content hashes
    preflight   checks before a run, local token counts
    llamacpp, transformers, sentence, endpoint: the backends themselves

Heavy libraries (llama_cpp, torch, transformers, sentence_transformers, httpx, tenacity) are
imported only when a backend is built or a check needs them, never by importing this package.
"""

from __future__ import annotations

from dataeff.learners.llm.backends.base import Backend, Cached
from dataeff.learners.llm.backends.endpoint import EndpointClient, OpenAICompletions, OpenAIEmbeddings
from dataeff.learners.llm.backends.llamacpp import LOCAL_CONTEXT, LlamaCpp
from dataeff.learners.llm.backends.models import (default_gguf, default_minilm, file_fingerprint, is_gguf,
                                                  local_model_path)
from dataeff.learners.llm.backends.preflight import local_token_counter, preflight
from dataeff.learners.llm.backends.registry import ALIASES, backend_class, get_backend, runs_locally
from dataeff.learners.llm.backends.sentence import SentenceEmbedder
from dataeff.learners.llm.backends.transformers import Transformers
from dataeff.learners.llm.cache import AnswerCache, CacheSettings

__all__ = ["ALIASES", "LOCAL_CONTEXT", "AnswerCache", "Backend", "CacheSettings", "Cached",
           "EndpointClient", "LlamaCpp", "OpenAICompletions", "OpenAIEmbeddings", "SentenceEmbedder", "Transformers",
           "backend_class", "default_gguf", "default_minilm", "file_fingerprint", "get_backend", "is_gguf",
           "local_model_path", "local_token_counter", "preflight", "runs_locally"]
