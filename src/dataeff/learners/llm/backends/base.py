"""The backend contract (``loglikelihood``, ``embed``, ``count_tokens``, ``fingerprint``) and the
answer cache in front of any backend."""

from __future__ import annotations

import json

import numpy as np

from dataeff.errors import ConfigError
from dataeff.learners.llm.cache import AnswerCache


class Backend:
    """Scores continuations and/or embeds texts. ``fingerprint`` names the exact model.

    ``model_files``: whether the backend reads model files (and keeps their hashes and
    conversions) in the cache folder, so the registry hands it ``cache_folder``.
    """

    fingerprint: str = ""
    model_files: bool = False

    def loglikelihood(self, requests: list[tuple[str, str]]) -> list[float]:
        raise ConfigError(f"{type(self).__name__} cannot score text; use an LLM backend such as llamacpp.")

    def embed(self, texts: list[str]) -> np.ndarray:
        raise ConfigError(f"{type(self).__name__} cannot embed text; use an embedding backend such as minilm.")

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [max(1, len(t) // 4) for t in texts]

    def close(self) -> None:
        """Free what the backend holds (a model, connections); the registry calls it at exit."""


class Cached(Backend):
    """The cache in front of a backend: only requests never seen go to the model, in one call."""

    def __init__(self, inner: Backend, cache: AnswerCache):
        self.inner, self.cache, self.fingerprint = inner, cache, inner.fingerprint

    def loglikelihood(self, requests):
        return self._through_cache("loglikelihood", [list(r) for r in requests],
                                   lambda todo: self.inner.loglikelihood([tuple(r) for r in todo]))

    def embed(self, texts):
        answers = self._through_cache("embed", list(texts), lambda todo: self.inner.embed(todo).tolist())
        return np.array(answers, dtype=np.float32)

    # Answers are stored every CHUNK requests, so a run killed while scoring thousands of
    # rows has paid for at most one chunk that it must ask for again.
    CHUNK = 64

    def _through_cache(self, method: str, payloads: list, compute) -> list:
        """Answers for ``payloads``: cached ones from the cache, the rest (each distinct
        payload once, in sorted order so shared prompt prefixes stay adjacent) from
        ``compute`` chunk by chunk, each chunk stored as it returns. A failing call stores
        nothing of its chunk."""
        keys = [self.cache.key(self.fingerprint, method, p) for p in payloads]
        found = self.cache.get_many(list(dict.fromkeys(keys)))
        todo = {k: p for k, p in zip(keys, payloads) if k not in found}
        ordered = sorted(todo.items(), key=lambda item: json.dumps(item[1], ensure_ascii=False))
        for start in range(0, len(ordered), self.CHUNK):
            chunk = dict(ordered[start:start + self.CHUNK])
            fresh = dict(zip(chunk, compute(list(chunk.values()))))
            self.cache.put_many(fresh)
            found.update(fresh)
        return [found[k] for k in keys]

    def count_tokens(self, texts):
        return self.inner.count_tokens(texts)

    def close(self) -> None:
        self.inner.close()


def common_prefix(a, b) -> int:
    """How many leading items (tokens) ``a`` and ``b`` share."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i
