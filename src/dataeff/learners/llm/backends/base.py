"""The backend contract (three request kinds: ``loglikelihood``, ``generate``, vectors from
``embed`` and ``hidden_states``; and ``count_tokens``, ``fingerprint``, the backend's facts) and
the answer cache in front of any backend."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import numpy as np

from dataeff.errors import ConfigError
from dataeff.learners.llm.cache import AnswerCache


@dataclass(frozen=True)
class Generation:
    """One text-generation request: ``n`` answers sampled after ``prompt`` at ``temperature``,
    each at most ``max_tokens`` long and cut at the first of ``stop``."""

    prompt: str
    max_tokens: int = 8
    temperature: float = 1.0
    n: int = 1
    stop: tuple[str, ...] = ("\n",)

    def payload(self) -> list:
        return [self.prompt, self.max_tokens, self.temperature, self.n, list(self.stop)]


class Backend:
    """Scores continuations, generates text and/or embeds texts. ``fingerprint`` names the exact model.

    Each backend declares its facts, and nothing outside the backends package asks its name:
    ``serves`` (the request kinds it answers: loglikelihood, generate, embed, hidden_states),
    ``runs_locally`` (False: rows leave this machine for a server), ``model_files`` (it reads
    model files, and keeps their hashes and conversions, in the cache folder, so the registry
    hands it ``cache_folder``).
    """

    fingerprint: str = ""
    model_files: bool = False
    runs_locally: bool = True
    serves: frozenset[str] = frozenset()

    def loglikelihood(self, requests: list[tuple[str, str]]) -> list[float]:
        raise ConfigError(f"{type(self).__name__} cannot score text; use an LLM backend such as llamacpp.")

    def generate(self, requests: list[Generation]) -> list[list[str]]:
        """Each request's ``n`` sampled answers (texts), in order."""
        raise ConfigError(f"{type(self).__name__} cannot generate text; use an LLM backend such as llamacpp.")

    def embed(self, texts: list[str]) -> np.ndarray:
        raise ConfigError(f"{type(self).__name__} cannot embed text; use an embedding backend such as minilm.")

    def hidden_states(self, texts: list[str], layer: int | None = None, pooling: str = "last") -> np.ndarray:
        """One vector per text: the model's hidden state at ``layer`` (0: the token embeddings;
        None: the last layer, after the final norm), of the last token or the mean over tokens."""
        raise ConfigError(f"{type(self).__name__} gives no hidden states; llm-probe needs the llamacpp or "
                          "transformers backend, or an endpoint (openai) with /embeddings.")

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [max(1, len(t) // 4) for t in texts]

    def close(self) -> None:
        """Free what the backend holds (a model, connections); the registry calls it at exit."""


class Cached(Backend):
    """The cache in front of a backend: only requests never seen go to the model, in one call."""

    def __init__(self, inner: Backend, cache: AnswerCache):
        self.inner, self.cache, self.fingerprint = inner, cache, inner.fingerprint
        self.runs_locally, self.serves = inner.runs_locally, inner.serves

    @property
    def stats(self) -> dict[str, int]:
        """The backend's own traffic counters (an endpoint's requests, retries, ...), if any."""
        return dict(getattr(self.inner, "stats", {}))

    def generate(self, requests):
        # A sampled answer is cached like any other: a resumed run must not pay for it again,
        # and the cell it belongs to reads the same votes.
        return self._through_cache("generate", [r.payload() for r in requests],
                                   lambda todo: self.inner.generate([Generation(p[0], p[1], p[2], p[3], tuple(p[4]))
                                                                     for p in todo]))

    def loglikelihood(self, requests):
        return self._through_cache("loglikelihood", [list(r) for r in requests],
                                   lambda todo: self.inner.loglikelihood([tuple(r) for r in todo]))

    def embed(self, texts):
        answers = self._through_cache("embed", list(texts), lambda todo: self.inner.embed(todo).tolist())
        return np.array(answers, dtype=np.float32)

    def hidden_states(self, texts, layer=None, pooling="last"):
        # Stored as the float32 bytes (base64): exact, and a quarter of the JSON numbers' size.
        def compute(todo):
            states = np.asarray(self.inner.hidden_states([p[0] for p in todo], layer, pooling), dtype=np.float32)
            return [base64.b64encode(state.tobytes()).decode("ascii") for state in states]

        answers = self._through_cache("hidden_states", [[t, layer, pooling] for t in texts], compute)
        if not answers:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([np.frombuffer(base64.b64decode(a), dtype=np.float32) for a in answers])

    # Answers are stored every CHUNK prompts (a prompt's answer words together; an embedded
    # text counts one), so a run killed while scoring thousands of rows has paid for at most
    # one chunk that it must ask for again.
    CHUNK = 64

    def _through_cache(self, method: str, payloads: list, compute) -> list:
        """Answers for ``payloads``: cached ones from the cache, the rest (each distinct
        payload once, in sorted order so shared prompt prefixes stay adjacent) from
        ``compute`` CHUNK prompts at a time, each chunk stored as it returns. A scoring
        request's prompt is its context: every answer word of a prompt goes in the same
        chunk. A failing call stores nothing of its chunk."""
        keys = [self.cache.key(self.fingerprint, method, p) for p in payloads]
        found = self.cache.get_many(list(dict.fromkeys(keys)))
        todo = {k: p for k, p in zip(keys, payloads) if k not in found}
        ordered = sorted(todo.items(), key=lambda item: json.dumps(item[1], ensure_ascii=False))
        by_prompt: dict[str, list] = {}
        for key, payload in ordered:
            prompt = payload[0] if method == "loglikelihood" else key
            by_prompt.setdefault(prompt, []).append((key, payload))
        prompts = list(by_prompt.values())
        for start in range(0, len(prompts), self.CHUNK):
            chunk = dict(item for prompt in prompts[start:start + self.CHUNK] for item in prompt)
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


def check_layer(layer: int | None, n_layers: int) -> None:
    """A hidden layer the model has (0 to ``n_layers``), or one line naming how many it has."""
    if layer is not None and not 0 <= layer <= n_layers:
        raise ConfigError(f"The model has {n_layers} layers; choose a layer from 0 (the token embeddings) to "
                          f"{n_layers} (the last, the default). Got {layer}.")
