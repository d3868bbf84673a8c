"""The ``openai`` and ``openai-embed`` backends: one HTTP client for an OpenAI-compatible server
(vLLM, llama.cpp server, Ollama, OpenAI), used for completions scoring and for embeddings.

The client owns everything about talking to the server: one keep-alive connection pool, at
most ``concurrency`` requests in flight, a ``timeout`` each, retries with exponential backoff
and full jitter (tenacity) that honour Retry-After, the API key, and the traffic counters.
The two backends only say what to send and how to read the answer.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from dataeff.errors import ConfigError, one_line
from dataeff.learners.llm.backends.base import Backend, Generation
from dataeff.terms import setting_name


@dataclass(frozen=True)
class Endpoint:
    """An OpenAI-compatible server (its base URL, checked: http(s), no credentials) and the name
    of the model it serves: what the endpoint backends are given as their ``model``."""

    url: str
    model: str

    def __post_init__(self):
        from dataeff.config import check_endpoint_url

        object.__setattr__(self, "url", check_endpoint_url(self.url))

    @classmethod
    def of(cls, model: Endpoint | str | None) -> Endpoint:
        """An Endpoint, or one from its text 'BASE_URL::MODEL' (the Python API's shorthand)."""
        if isinstance(model, Endpoint):
            return model
        if not model or "::" not in model:
            raise ConfigError("The openai backend needs the server and model as 'BASE_URL::MODEL', "
                              f"e.g. http://127.0.0.1:8000/v1::gemma ({setting_name('llm_url')} and "
                              f"{setting_name('llm_model')}).")
        url, model_name = model.rsplit("::", 1)
        return cls(url, model_name)

    def __str__(self) -> str:
        return f"{self.url}::{self.model}"


# Answers worth another try: the server is busy, restarting, or behind a struggling proxy.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class Refused(ConfigError):
    """The server refused a request for good (an HTTP error not worth retrying), with its status."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class _Retryable(Exception):
    """A failed try worth another: why (for the final error), and the server's Retry-After."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.reason, self.retry_after = reason, retry_after


class EndpointClient:
    """POSTs JSON to one OpenAI-compatible server, safely from many threads at once.

    ``model`` is an ``Endpoint`` (or its text, ``"BASE_URL::MODEL_NAME"``). The API key is read from the environment variable
    named by ``api_key_env`` at each request and sent only in the Authorization header: it is
    never stored, logged, part of a cache key or of an error (a server that echoes it back gets
    it replaced by ``[key]``). Connection errors, timeouts, malformed JSON and HTTP 408, 429,
    500, 502, 503, 504 are retried up to ``retries`` times; any other HTTP error is a
    one-line ``ConfigError`` at once. ``stats`` counts prompts answered (the backends add to
    it), requests sent, retried and failed for good, and answer words scored without the
    server's log-probability (``unlisted``: outside its top log-probabilities).

    Examples
    --------
    >>> client = EndpointClient("http://127.0.0.1:8000/v1::gemma", concurrency=2)  # doctest: +SKIP
    >>> client.map(lambda text: client.post("/embeddings", {"input": [text]}), ["a", "b"])  # doctest: +SKIP
    """

    def __init__(self, model: Endpoint | str | None = None, concurrency: int = 4, timeout: float = 60.0,
                 retries: int = 6, api_key_env: str = "OPENAI_API_KEY", max_wait: float = 30.0):
        self.endpoint = Endpoint.of(model)
        self.base_url, self.model_name = self.endpoint.url, self.endpoint.model
        self.concurrency, self.timeout, self.retries, self.max_wait = concurrency, timeout, retries, max_wait
        self.api_key_env = api_key_env
        self.stats = {"prompts": 0, "sent": 0, "retried": 0, "failed": 0, "unlisted": 0, "input_tokens": 0,
                      "output_tokens": 0}
        self._lock = threading.Lock()
        import httpx
        import tenacity

        # One pool of kept-alive connections, as many as requests may be in flight.
        self._http = httpx.Client(timeout=httpx.Timeout(timeout),
                                  limits=httpx.Limits(max_connections=concurrency,
                                                      max_keepalive_connections=concurrency))
        # Full jitter: each wait anywhere in [0, cap], the cap doubling from 1 s up to max_wait,
        # so waits average plain backoff's 0.5, 1, 2, 4 s ... (the patience a restarting
        # server needs) while clients that failed together retry apart.
        self._backoff = tenacity.wait_random_exponential(multiplier=1.0, max=max_wait)

    def count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.stats[key] += n

    def count_usage(self, answer: dict) -> None:
        """Add an answer's billed tokens (its ``usage``, where the server reports one)."""
        usage = answer.get("usage") if isinstance(answer.get("usage"), dict) else {}
        for ours, theirs in (("input_tokens", "prompt_tokens"), ("output_tokens", "completion_tokens")):
            self.count(ours, usage[theirs] if isinstance(usage.get(theirs), int) and usage[theirs] >= 0 else 0)

    def map(self, call: Callable, items: Iterable) -> list:
        """``call`` on each item, at most ``concurrency`` at once, results in order."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(call, items))

    def post(self, path: str, body: dict) -> dict:
        """The server's JSON object for ``body`` POSTed to ``path``, retried as the class says."""
        import tenacity

        api_key = os.environ.get(self.api_key_env, "")
        retrying = tenacity.Retrying(stop=tenacity.stop_after_attempt(self.retries + 1), wait=self._wait,
                                     retry=tenacity.retry_if_exception_type(_Retryable),
                                     before_sleep=lambda state: self.count("retried"), reraise=True)
        try:
            return retrying(self._try_once, path, body, api_key)
        except _Retryable as exc:
            self.count("failed")
            raise ConfigError(f"The LLM endpoint {self.base_url} failed after {self.retries + 1} tries "
                              f"({exc.reason}); check that the server is up and the URL is right.") from None

    def _try_once(self, path: str, body: dict, api_key: str) -> dict:
        import httpx

        self.count("sent")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        try:
            response = self._http.post(self.base_url + path, json=body, headers=headers)
        except httpx.RequestError as exc:  # refused, dropped, timed out, a body that cannot be decoded
            raise _Retryable(one_line(exc, 120) or type(exc).__name__) from None
        if response.status_code in RETRY_STATUSES:
            raise _Retryable(f"HTTP {response.status_code}", _seconds(response.headers.get("Retry-After")))
        if not response.is_success:
            detail = _redacted(one_line(response.text, 200), api_key)
            raise Refused(f"{self.base_url} refused the request (HTTP {response.status_code}: {detail}); "
                          f"check {setting_name('llm_model')} and the API key's variable.", response.status_code)
        try:
            answer = response.json()
        except ValueError:  # json.JSONDecodeError, a body cut short
            answer = None
        if not isinstance(answer, dict):
            raise _Retryable("a malformed JSON answer")
        return answer

    def _wait(self, state) -> float:
        """Seconds before the next try: what the server asked for (Retry-After, up to a minute
        or ``max_wait`` if longer), else exponential backoff with full jitter."""
        asked = getattr(state.outcome.exception(), "retry_after", None)
        if asked is not None:
            return min(max(self.max_wait, 60.0), asked)
        return self._backoff(state)

    def close(self) -> None:
        self._http.close()


class EndpointBackend(Backend):
    """What both endpoint uses share: their ``EndpointClient`` (built from the options), its
    counters as ``stats``, and a fingerprint naming the use, server and model."""

    use = "openai"
    runs_locally = False

    def __init__(self, model: str | None = None, **client_options):
        self.client = EndpointClient(model, **client_options)
        self.base_url, self.model_name = self.client.base_url, self.client.model_name
        self.fingerprint = f"{self.use}:{self.base_url}:{self.model_name}"

    @property
    def stats(self) -> dict[str, int]:
        return self.client.stats

    def close(self) -> None:
        self.client.close()


class OpenAICompletions(EndpointBackend):
    """Scores continuations, or samples answers, with a server's ``/completions`` (alias ``openai``).

    ``generate``: each request's answers in one completion of ``n`` choices, asked again for
    the rest where a server gives fewer (llama.cpp's gives one); no log-probabilities asked.

    ``scoring="next-token"``: one completion per prompt with ``max_tokens=1`` and the top
    log-probabilities of the next token; each answer word is scored by its first token, so
    answer words must start with different tokens. An answer word outside the top
    ``TOP_LOGPROBS`` gets at most the smallest listed value (``min(top) - 1``), an estimate
    counted in ``stats["unlisted"]`` and reported with the run's traffic. ``scoring="echo"``:
    the server's own log-probabilities of the prompt tokens, so answer words of several tokens
    are scored whole (needs a server that returns them). Other options go to ``EndpointClient``.
    """

    TOP_LOGPROBS = 20
    serves = frozenset({"loglikelihood", "generate"})
    provider = "openai"  # genai-prices' provider: a model it does not know (your own server's) has no price

    def __init__(self, model: str | None = None, scoring: str = "next-token", **client_options):
        if scoring not in ("next-token", "echo"):
            raise ConfigError(f"Unknown endpoint scoring '{scoring}'; choose next-token or echo.")
        self.scoring = scoring
        super().__init__(model, **client_options)

    def loglikelihood(self, requests):
        if self.scoring == "echo":
            unique = list(dict.fromkeys(requests))
            scores = dict(zip(unique, self.client.map(lambda r: self._echo_score(*r), unique)))
            return [scores[r] for r in requests]
        contexts = list(dict.fromkeys(c for c, _ in requests))
        tops = dict(zip(contexts, self.client.map(self._top_logprobs, contexts)))
        by_context: dict[str, list[str]] = {}
        for context, continuation in requests:
            by_context.setdefault(context, []).append(continuation)
        scores = {}
        for context, continuations in by_context.items():
            top = tops[context]
            firsts = {}
            for continuation in dict.fromkeys(continuations):
                token = max((t for t in top if t and continuation.startswith(t)), key=len, default=None)
                if token is None:  # not among the top tokens: at most the smallest listed
                    scores[(context, continuation)] = min(top.values()) - 1.0
                    self.client.count("unlisted")
                    continue
                if token in firsts.values():
                    raise ConfigError(f"Answer words {continuation!r} and "
                                      f"{[c for c, t in firsts.items() if t == token][0]!r} share their first "
                                      f"token {token!r}; next-token scoring cannot tell them apart: choose "
                                      f"answer words that start differently, or {setting_name('llm_scoring', 'echo')}.")
                firsts[continuation] = token
                scores[(context, continuation)] = float(top[token])
        return [scores[r] for r in requests]

    def generate(self, requests):
        return self.client.map(self._sampled, requests)

    # Choices one request may ask for: servers cap n (llama.cpp's at its parallel slots, 4 by
    # default), and one that refuses a larger n (HTTP 400) is asked for half as many from then on.
    max_choices = 128

    def _sampled(self, request: Generation) -> list[str]:
        answers: list[str] = []
        while len(answers) < request.n:
            n = min(request.n - len(answers), self.max_choices)
            body = {"model": self.model_name, "prompt": request.prompt, "max_tokens": request.max_tokens,
                    "temperature": request.temperature, "n": n, "stop": list(request.stop)}
            try:
                answer = self.client.post("/completions", body)
            except Refused as refused:
                if refused.status != 400 or n == 1:
                    raise
                self.max_choices = n // 2
                continue
            choices = answer.get("choices")
            texts = [str(c["text"]) for c in choices if isinstance(c, dict) and "text" in c] if isinstance(choices, list) else []
            if not texts:
                raise ConfigError(f"{self.base_url} answered /completions without a text choice; use an "
                                  "OpenAI-compatible server.")
            self.client.count_usage(answer)
            answers += texts[: request.n - len(answers)]
        self.client.count("prompts")
        return answers

    def _echo_score(self, context: str, continuation: str) -> float:
        """The continuation's log-probability from the server's own scores of the prompt
        tokens (``echo``): every answer word, however many tokens, scored whole. Slow on some
        servers (llama.cpp's: about 0.7 s per prompt token), fast on vLLM."""
        # max_tokens=1, not 0: llama.cpp's server reads 0 as "no limit".
        body = {"model": self.model_name, "prompt": context + continuation, "max_tokens": 1, "temperature": 0.0,
                "echo": True, "logprobs": 1}
        end = len(context + continuation)

        def read(logprobs):
            return [float(v) for o, v in zip(logprobs["text_offset"], logprobs["token_logprobs"])
                    if len(context) <= o < end]

        picked = self._completion_logprobs(body, read, "prompt log-probabilities; echo scoring needs a server that "
                                                       "returns them (vLLM, llama.cpp server), else use next-token")
        if not picked:
            raise ConfigError(f"The answer {continuation!r} got no token of its own from {self.base_url}; "
                              "choose other answer words.")
        self.client.count("prompts")
        return sum(picked)

    def _top_logprobs(self, prompt: str) -> dict[str, float]:
        body = {"model": self.model_name, "prompt": prompt, "max_tokens": 1, "temperature": 0.0,
                "logprobs": self.TOP_LOGPROBS}

        def read(logprobs):
            if "top_logprobs" not in logprobs and "content" in logprobs:  # llama.cpp's own server: chat's form
                logprobs = {"top_logprobs": [logprobs["content"][0]["top_logprobs"]]}
            top = logprobs["top_logprobs"][0]
            if isinstance(top, list):  # some servers send [{"token": ..., "logprob": ...}]
                top = {item["token"]: item["logprob"] for item in top}
            return {str(k): float(v) for k, v in top.items()}

        top = self._completion_logprobs(body, read, "log-probabilities; use a server that returns 'logprobs' "
                                                    "for completions (vLLM, llama.cpp server)")
        if not top:
            raise ConfigError(f"{self.base_url} answered with no log-probabilities; use a server that "
                              "returns 'logprobs' for completions (vLLM, llama.cpp server).")
        self.client.count("prompts")
        return top

    def _completion_logprobs(self, body: dict, read, missing: str):
        """POST a completion and ``read`` its ``logprobs``; an answer without them is one
        clear error ("answered without <missing>")."""
        answer = self.client.post("/completions", body)
        self.client.count_usage(answer)
        try:
            return read(answer["choices"][0]["logprobs"])
        except (KeyError, IndexError, TypeError, AttributeError, ValueError):
            raise ConfigError(f"{self.base_url} answered without {missing}.") from None


class OpenAIEmbeddings(EndpointBackend):
    """Embeddings from a server's ``/embeddings`` (alias ``openai-embed``), ``BATCH`` texts a
    request, L2-normalized like the local embedder's; options go to ``EndpointClient``."""

    use = "openai-embed"
    serves = frozenset({"embed", "hidden_states"})
    BATCH = 64

    def embed(self, texts):
        batches = [list(texts[i:i + self.BATCH]) for i in range(0, len(texts), self.BATCH)]
        parts = self.client.map(self._embed_batch, batches)
        vectors = np.array([v for part in parts for v in part], dtype=np.float32).reshape(len(texts), -1)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms > 0, norms, 1)

    def hidden_states(self, texts, layer=None, pooling="last"):
        """The server's embedding of each text (llm-probe through a server that offers nothing
        else): its layer and pooling are the server's, so asking for either is an error."""
        check_endpoint_probe(layer, pooling)
        return self.embed(texts)

    def _embed_batch(self, batch: list[str]) -> list[list[float]]:
        answer = self.client.post("/embeddings", {"model": self.model_name, "input": batch})
        try:
            data = sorted(answer["data"], key=lambda item: item.get("index", 0))
            # A server without pooling (llama.cpp's, for some models) sends a vector per token:
            # their mean stands for the text.
            vectors = [np.asarray(item["embedding"], dtype=float).reshape(-1, np.shape(item["embedding"])[-1])
                       .mean(axis=0).tolist() for item in data]
        except (KeyError, TypeError, ValueError):
            raise ConfigError(f"{self.base_url} answered /embeddings without vectors; use a server that serves "
                              "embeddings (llama.cpp server with --embedding, vLLM, OpenAI).") from None
        if len(vectors) != len(batch):
            raise ConfigError(f"{self.base_url} returned {len(vectors)} embeddings for {len(batch)} texts.")
        self.client.count("prompts", len(batch))
        return vectors


def check_endpoint_probe(layer: int | None, pooling: str | None) -> None:
    """An endpoint's /embeddings chooses its own layer and pooling: setting one is one line."""
    if layer is not None or pooling is not None:
        raise ConfigError(f"llm-probe through an endpoint reads its /embeddings, whose layer and pooling the server "
                          f"chooses; drop {'layer' if layer is not None else 'pooling'}, or use the llamacpp or "
                          "transformers backend.")


def _seconds(retry_after: str | None) -> float | None:
    """A Retry-After header as seconds: either a number or an HTTP date."""
    if not retry_after:
        return None
    try:
        return max(0.0, float(retry_after))
    except ValueError:
        pass
    from datetime import datetime, timezone
    from email.utils import parsedate_to_datetime

    try:
        return max(0.0, (parsedate_to_datetime(retry_after) - datetime.now(timezone.utc)).total_seconds())
    except (TypeError, ValueError):
        return None


def _redacted(text: str, secret: str) -> str:
    return text.replace(secret, "[key]") if secret else text
