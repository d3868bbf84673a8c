"""The ``llamacpp`` backend: any GGUF model through llama-cpp-python on the CPU, scored from its
next-token logits with the KV cache reused across requests that share a context."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from dataeff.errors import ConfigError, one_line
from dataeff.learners.llm.backends.base import Backend, Generation, common_prefix
from dataeff.learners.llm.backends.llamabuild import check_runs_here, load_llama
from dataeff.learners.llm.backends.models import file_fingerprint, local_model_path
from dataeff.learners.llm.cache import CacheSettings
from dataeff.stopping import C_CALLBACKS

# Tokens of context the llamacpp backend gives the model unless its prompts need more. llama.cpp
# allocates a context's KV cache up front (Gemma 3 270M at its trained 32,768 tokens: 813 MB
# resident against 378 MB at 4,096, measured), so a longer one is made only for prompts that
# need it (``context_size``).
LOCAL_CONTEXT = 4096


def context_size(tokens: int, trained: int) -> int:
    """The context for prompts of up to ``tokens``: LOCAL_CONTEXT doubled until they fit (few
    sizes, so one process holds few), at most the model's trained context ``trained`` (a longer
    prompt then fails with the context's message)."""
    n_ctx = LOCAL_CONTEXT
    while n_ctx < tokens and n_ctx < trained:
        n_ctx *= 2
    return max(LOCAL_CONTEXT, min(n_ctx, trained))


class LlamaCpp(Backend):
    """Any GGUF model through llama-cpp-python, on the CPU.

    Continuations are scored from the next-token logits after the context (no
    ``logits_all``: it halves throughput); a context shared with the previous request keeps
    its KV cache, so a few-shot prefix is evaluated once per set of demonstrations.
    ``n_ctx``: the context in tokens (``context_size``; a score does not depend on it, only
    memory does); ``n_ctx_train`` is the most the model was trained for. ``cache_folder``
    holds the packaged default model and the file's remembered hash (None:
    ``CacheSettings.default()``'s folder).
    """

    model_files = True
    serves = frozenset({"loglikelihood", "generate", "hidden_states"})

    def __init__(self, model: str | None = None, n_ctx: int = LOCAL_CONTEXT, n_threads: int = 1,
                 cache_folder: Path | None = None):
        cache_folder = cache_folder or CacheSettings.default().folder
        path = local_model_path(model, cache_folder)
        if not path.is_file():
            raise ConfigError(f"LLM model file not found: {path}. Pass an existing GGUF file.")
        try:
            import llama_cpp
        except ImportError:
            raise ConfigError("The llamacpp backend needs llama-cpp-python: pip install llama-cpp-python.") from None
        silence_llama_cpp()
        check_runs_here()
        try:
            # n_threads_batch too: its default is every core, and parallel cells then fight
            # over them (measured: 40x slower with 2 jobs on 2 cores).
            # swa_full=False: a sliding-window layer (Gemma 3: 15 of 18, 512 tokens back) keeps
            # only the window's KV, so a test row after many demonstrations attends over the
            # window there, not over all of them (measured on fine-foods: a row after 64
            # demonstrations cost 2.79x one after 8 with the full cache, 1.39x with the window).
            # load_llama: off AMX kernels where the build has them (they segfault on Q4_K).
            self.llm = load_llama(str(path), n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads,
                                  n_batch=512, swa_full=False, logits_all=False, verbose=False)
        except Exception as exc:  # noqa: BLE001 - llama.cpp reports a bad file as a plain error
            raise ConfigError(f"Cannot load {path.name} as a GGUF model ({one_line(exc)}); "
                              "check the file (it may be truncated or not a GGUF model).") from None
        # The windowed cache sums attention in another order than a full one (scores moved by
        # ~0.1 nats on average, measured), so its answers are cached apart from the full cache's.
        self.fingerprint = f"llamacpp:{file_fingerprint(path, cache_folder)}:swa-window"
        if not self.llm.model_params.use_extra_bufts:  # plain kernels sum in another order than repacked ones
            self.fingerprint += ":plain-buffers"
        self.n_swa = int(llama_cpp.llama_model_n_swa(self.llm._model.model))
        self.n_ctx = n_ctx
        self.n_ctx_train = int(self.llm._model.n_ctx_train()) or n_ctx

    def close(self) -> None:
        self.llm.close()
        if self._reader is not None:
            self._reader.close()

    def count_tokens(self, texts):
        return [len(self.llm.tokenize(t.encode(), add_bos=True, special=False)) for t in texts]

    def hidden_states(self, texts, layer=None, pooling="last"):
        """The last layer's state (after the final norm) per text, of its last token or the mean
        over its tokens (BOS included, as the transformers backend does). llama.cpp exposes no
        other layer: another one is a one-line error pointing to the transformers backend."""
        import llama_cpp

        check_llamacpp_layer(layer, int(llama_cpp.llama_model_n_layer(self.llm._model.model)))
        reader = self._state_reader()
        n_embd = reader.n_embd()
        states = np.empty((len(texts), n_embd), dtype=np.float32)
        for i, text in enumerate(texts):
            tokens = reader.tokenize(text.encode(), add_bos=True, special=False)
            if len(tokens) > reader.n_batch:
                raise ConfigError(f"A row of {len(tokens)} tokens exceeds the {reader.n_batch} llm-probe reads at "
                                  "once; shorten the rows (a template, fewer columns).")
            # One text per decode from an empty KV cache, so a state is a function of its text
            # alone (the cache relies on it): llama-cpp-python's embed() packs several texts
            # into one batch, which moved Gemma's states by up to 0.9 (measured).
            reader._ctx.kv_cache_clear()
            reader._batch.reset()
            # "last": only the last token is an output, so the last layer runs for it alone.
            reader._batch.add_sequence(tokens, 0, pooling == "mean")
            reader._ctx.decode(reader._batch)
            if pooling == "mean":
                every = np.ctypeslib.as_array(llama_cpp.llama_get_embeddings(reader._ctx.ctx),
                                              shape=(len(tokens), n_embd))
                states[i] = every.mean(axis=0, dtype=np.float64)
            else:
                states[i] = np.ctypeslib.as_array(llama_cpp.llama_get_embeddings_ith(reader._ctx.ctx, -1),
                                                  shape=(n_embd,))
        return states

    _reader = None

    def _state_reader(self):
        """A second context on the same file in embedding mode (no pooling: the per-token
        states, pooled here), built on first use; its weights are the same mapped file. Its
        graph stops once the states exist (``_stop_at_states``)."""
        if self._reader is None:
            import llama_cpp

            self._stop_at_states = llama_cpp.ggml_backend_sched_eval_callback(_stop_at_states)  # kept: C holds it
            self._reader = load_llama(self.llm.model_path, eval_callback=self._stop_at_states, embedding=True,
                                      pooling_type=llama_cpp.LLAMA_POOLING_TYPE_NONE, n_ctx=PROBE_CONTEXT,
                                      n_batch=PROBE_CONTEXT, n_ubatch=512, n_threads=self.llm.n_threads,
                                      n_threads_batch=self.llm.n_threads_batch, verbose=False)
        return self._reader

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

    def generate(self, requests):
        """Each request's ``n`` answers, sampled token by token from the logits after one
        evaluation of its prompt (the KV cache rolled back to the prompt between answers). The
        draws are seeded by the prompt, so a prompt's answers are a function of it alone."""
        order = sorted(range(len(requests)), key=lambda i: requests[i].prompt)
        answers: list[list[str]] = [[] for _ in requests]
        for i in order:
            answers[i] = self._sample(requests[i])
        return answers

    def _sample(self, request: Generation) -> list[str]:
        import zlib

        import llama_cpp

        tokens = self.llm.tokenize(request.prompt.encode(), add_bos=True, special=False)
        if len(tokens) + request.max_tokens > self.n_ctx:
            raise ConfigError(f"A prompt of {len(tokens)} tokens and its answer exceed the model's context of "
                              f"{self.n_ctx}; use fewer demonstrations or shorter rows.")
        if tokens != self._held_context:
            self._prefill(tokens)
        rng = np.random.default_rng(zlib.crc32(request.prompt.encode()))
        vocab = self.llm._model.vocab
        answers = []
        for _ in range(request.n):
            drawn: list[int] = []
            fed = False  # whether a drawn token went into the KV cache
            logits = self._context_logits
            try:
                while len(drawn) < request.max_tokens:
                    token = _draw(logits, request.temperature, rng)
                    if llama_cpp.llama_vocab_is_eog(vocab, token):
                        break
                    drawn.append(token)
                    text = self.llm.detokenize(drawn).decode("utf-8", errors="ignore")
                    if any(stop in text for stop in request.stop) or len(drawn) == request.max_tokens:
                        break
                    fed = True
                    self.llm.eval([token])
                    logits = self._last_logits()
            finally:
                if fed:  # back to the bare prompt for the next answer
                    self.llm._ctx.kv_cache_seq_rm(-1, len(tokens), -1)
                    self.llm.n_tokens = len(tokens)
            answers.append(_cut(self.llm.detokenize(drawn).decode("utf-8", errors="ignore"), request.stop))
        return answers

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
        if not self._window_held(keep):
            keep = 0
            self.llm._ctx.kv_cache_clear()
        self.llm.n_tokens = keep
        for start in range(keep, len(tokens), self.BLOCK):
            self.llm.eval(tokens[start:start + self.BLOCK])
        self._held_context = list(tokens)
        self._context_logits = self._last_logits().copy()

    def _window_held(self, keep: int) -> bool:
        """Whether the KV cache still holds the window a token at ``keep`` attends to. A
        sliding-window cache keeps the last n_swa + n_ubatch positions: after a row longer than
        n_ubatch the window before ``keep`` is gone, and the context is evaluated again from
        its start (llama.cpp's server makes the same check)."""
        import llama_cpp

        if not self.n_swa or keep == 0:
            return True
        lowest = llama_cpp.llama_memory_seq_pos_min(llama_cpp.llama_get_memory(self.llm._ctx.ctx), 0)
        return 0 <= lowest <= max(0, keep - self.n_swa)

    def _last_logits(self) -> np.ndarray:
        import llama_cpp

        n_vocab = self.llm.n_vocab()
        return np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(self.llm._ctx.ctx, -1), shape=(n_vocab,))


PROBE_CONTEXT = 4096  # tokens of one row that llm-probe reads at once (its own context)


def gguf_layers(metadata: dict) -> int:
    """How many layers a GGUF model has, from its metadata (a vocabulary-only load reads it)."""
    return int(metadata.get(f"{metadata.get('general.architecture', '')}.block_count", 0))


def check_llamacpp_layer(layer: int | None, n_layers: int) -> None:
    """llama.cpp gives the last layer only: another is one line naming the transformers backend."""
    from dataeff.learners.llm.backends.base import check_layer

    check_layer(layer, n_layers)
    if layer is not None and layer != n_layers:
        raise ConfigError(f"The llamacpp backend gives only the last layer's state ({n_layers}); for layer {layer} "
                          f"use the transformers backend, e.g. llm-probe(layer={layer}, backend=transformers).")


def _draw(logits: np.ndarray, temperature: float, rng: np.random.Generator, top: int = 256) -> int:
    """A token drawn from the softmax of ``logits / temperature`` over the ``top`` most likely
    (the rest of a 262k vocabulary holds a negligible share, and a full draw costs ~10x more);
    the most likely at temperature 0."""
    if temperature <= 0:
        return int(np.argmax(logits))
    candidates = np.argpartition(logits, -top)[-top:] if len(logits) > top else np.arange(len(logits))
    scaled = logits[candidates].astype(np.float64) / temperature
    weights = np.exp(scaled - scaled.max())
    return int(candidates[rng.choice(len(candidates), p=weights / weights.sum())])


def _cut(text: str, stops: tuple[str, ...]) -> str:
    """``text`` up to the first of ``stops`` it holds."""
    ends = [text.index(stop) for stop in stops if stop in text]
    return text[: min(ends)] if ends else text


def _logprob(logits: np.ndarray, token: int) -> float:
    logits = logits.astype(np.float64)
    top = logits.max()
    return float(logits[token] - top - np.log(np.exp(logits - top).sum()))


_LOG_CALLBACK = None


# The final norm's output, the states llm-probe reads: llama.cpp names it result_norm, and
# result_embd_pooled once its pooling step (none here) has passed it on.
STATE_TENSORS = (b"result_norm", b"result_embd_pooled")


def _stop_at_states(tensor, ask, user_data) -> bool:
    """The state reader's eval callback: ask to see the states' tensor, then end the graph there.
    In embedding mode llama.cpp makes every token an output and would run the output layer
    (Gemma 3: 262,144 words) for each; the states do not need it, and it was 2.3x the rest of
    the decode (fine-foods, 60 rows, one thread: 17-20 CPU s with the stop, 41-46 without,
    the states equal to the bit)."""
    if ask:
        return _tensor_name()(tensor) in STATE_TENSORS
    return False  # false ends the graph's computation after this tensor


C_CALLBACKS.add(_stop_at_states.__code__)


@functools.cache
def _tensor_name():
    """ggml's ``ggml_get_name(tensor) -> const char *``, from the library llama-cpp-python loaded."""
    import ctypes

    import llama_cpp._ggml

    return ctypes.CFUNCTYPE(ctypes.c_char_p, ctypes.c_void_p)(("ggml_get_name", llama_cpp._ggml.libggml))


def silence_llama_cpp() -> None:
    """llama.cpp logs to stderr even with verbose=False (KV-cache notes); a run's output is ours."""
    global _LOG_CALLBACK
    if _LOG_CALLBACK is not None:
        return
    import ctypes

    import llama_cpp

    _LOG_CALLBACK = llama_cpp.llama_log_callback(_discard_log)  # kept: C holds it
    llama_cpp.llama_log_set(_LOG_CALLBACK, ctypes.c_void_p())


def _discard_log(level, text, user_data) -> None:
    """llama.cpp's log sink: loading a model calls it ~1,400 times, and a stop signal that
    arrives meanwhile must not be raised inside it (ctypes would drop the exception)."""


C_CALLBACKS.add(_discard_log.__code__)
