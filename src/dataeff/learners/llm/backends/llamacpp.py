"""The ``llamacpp`` backend: any GGUF model through llama-cpp-python on the CPU, scored from its
next-token logits with the KV cache reused across requests that share a context."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dataeff.errors import ConfigError, one_line
from dataeff.learners.llm.backends.base import Backend, common_prefix
from dataeff.learners.llm.backends.models import file_fingerprint, local_model_path
from dataeff.learners.llm.cache import CacheSettings

LOCAL_CONTEXT = 4096  # tokens of context the llamacpp backend gives the model


class LlamaCpp(Backend):
    """Any GGUF model through llama-cpp-python, on the CPU.

    Continuations are scored from the next-token logits after the context (no
    ``logits_all``: it halves throughput); a context shared with the previous request keeps
    its KV cache, so a few-shot prefix is evaluated once per set of demonstrations.
    ``cache_folder`` holds the packaged default model and the file's remembered hash (None:
    ``CacheSettings.default()``'s folder).
    """

    model_files = True

    def __init__(self, model: str | None = None, n_ctx: int = LOCAL_CONTEXT, n_threads: int = 1,
                 cache_folder: Path | None = None):
        cache_folder = cache_folder or CacheSettings.default().folder
        path = local_model_path(model, cache_folder)
        if not path.is_file():
            raise ConfigError(f"LLM model file not found: {path}. Pass an existing GGUF file.")
        try:
            from llama_cpp import Llama
        except ImportError:
            raise ConfigError("The llamacpp backend needs llama-cpp-python: pip install llama-cpp-python.") from None
        silence_llama_cpp()
        try:
            # n_threads_batch too: its default is every core, and parallel cells then fight
            # over them (measured: 40x slower with 2 jobs on 2 cores).
            self.llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads,
                             n_batch=512,
                             logits_all=False, verbose=False)
        except Exception as exc:  # noqa: BLE001 - llama.cpp reports a bad file as a plain error
            raise ConfigError(f"Cannot load {path.name} as a GGUF model ({one_line(exc)}); "
                              "check the file (it may be truncated or not a GGUF model).") from None
        self.fingerprint = f"llamacpp:{file_fingerprint(path, cache_folder)}"
        self.n_ctx = n_ctx

    def close(self) -> None:
        self.llm.close()

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
        shared = common_prefix(ctx_tokens, full)
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
        keep = min(common_prefix(held, tokens), len(tokens) - 1) // self.BLOCK * self.BLOCK
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


def silence_llama_cpp() -> None:
    """llama.cpp logs to stderr even with verbose=False (KV-cache notes); a run's output is ours."""
    global _LOG_CALLBACK
    if _LOG_CALLBACK is not None:
        return
    import ctypes

    import llama_cpp

    _LOG_CALLBACK = llama_cpp.llama_log_callback(lambda level, text, user_data: None)  # kept: C holds it
    llama_cpp.llama_log_set(_LOG_CALLBACK, ctypes.c_void_p())

