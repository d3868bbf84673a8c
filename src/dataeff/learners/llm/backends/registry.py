"""Backends by alias: imported lazily, built once per process, behind the answer cache, closed at exit."""

from __future__ import annotations

import importlib

from dataeff.errors import ConfigError, did_you_mean
from dataeff.learners.llm.backends.base import Backend, Cached
from dataeff.learners.llm.cache import AnswerCache, CacheSettings

# Heavy imports (llama_cpp, torch, sentence_transformers, httpx) happen only when one is built.
ALIASES = {
    "llamacpp": "dataeff.learners.llm.backends.llamacpp:LlamaCpp",
    "minilm": "dataeff.learners.llm.backends.sentence:SentenceEmbedder",
    "openai": "dataeff.learners.llm.backends.endpoint:OpenAICompletions",
    "openai-embed": "dataeff.learners.llm.backends.endpoint:OpenAIEmbeddings",
    "transformers": "dataeff.learners.llm.backends.transformers:Transformers",
}
_LOADED: dict[tuple, Cached] = {}


def backend_class(alias: str) -> type[Backend]:
    """The class behind ``alias`` (imported now), or a one-line error naming the choices."""
    if alias not in ALIASES:
        raise ConfigError(f"Unknown LLM backend '{alias}'.{did_you_mean(alias, ALIASES)} "
                          f"Backends: {', '.join(ALIASES)}.")
    module, attr = ALIASES[alias].split(":")
    return getattr(importlib.import_module(module), attr)


def runs_locally(alias: str) -> bool:
    """Whether the backend behind ``alias`` runs on this machine (its model in this process, its
    context known): False sends rows to a server. The backend class's own fact."""
    return backend_class(alias).runs_locally


def get_backend(alias: str, model: str | None = None, options: dict | None = None,
                cache: CacheSettings | None = None) -> Cached:
    """The process's backend for ``alias`` (loaded once per alias, model, options and cache),
    behind the answer cache.

    Parameters
    ----------
    alias : str
        A key of ``ALIASES`` (llamacpp, transformers, minilm, openai, openai-embed).
    model : str, optional
        A model file or folder for local backends, an ``Endpoint`` (or ``BASE_URL::MODEL``) for endpoints; None is
        the packaged default.
    options : dict, optional
        Keyword arguments of the backend's constructor (the endpoint's timeout, retries, ...;
        llamacpp's context size ``n_ctx``: the backend with the longest context asked for so
        far serves every shorter need).
    cache : CacheSettings, optional
        The cache folder and whether answers are cached; None is ``CacheSettings.default()``.

    Examples
    --------
    >>> lm = get_backend("llamacpp", cache=CacheSettings("/tmp/c"))  # doctest: +SKIP
    >>> lm.loglikelihood([("Is tea a drink? Answer:", " Yes")])  # doctest: +SKIP
    """
    cache = cache or CacheSettings.default()
    options = dict(options or {})
    key = (alias, model, tuple(sorted(options.items())), cache)
    if key not in _LOADED:
        # One context per model: a loaded one at least as long serves (a context's size changes
        # no score, only memory), and a longer one replaces the shorter ones it outgrew.
        other_contexts = _other_contexts(key)
        roomy = [k for k in other_contexts if getattr(_LOADED[k].inner, "n_ctx", 0) >= options.get("n_ctx", 0)]
        if roomy:
            return _LOADED[roomy[0]]
        cls = backend_class(alias)
        if cls.model_files:
            options["cache_folder"] = cache.folder
        inner = cls(model, **options)
        for outgrown in other_contexts:
            _LOADED.pop(outgrown).close()
        _LOADED[key] = Cached(inner, AnswerCache.for_settings(cache))
        if len(_LOADED) == 1:
            import atexit

            atexit.register(_close_all)
    return _LOADED[key]


def _other_contexts(key: tuple) -> list[tuple]:
    """Loaded backends of the same alias, model, cache and options as ``key`` but another
    context size (the ``n_ctx`` option, or none: the backend's default)."""
    def rest(options):
        return tuple(item for item in options if item[0] != "n_ctx")

    alias, model, options, cache = key
    return [k for k in _LOADED if k != key and k[0] == alias and k[1] == model and k[3] == cache
            and rest(k[2]) == rest(options) and (any(name == "n_ctx" for name, _ in k[2] + options))]


def _close_all() -> None:
    # llama-cpp-python frees its model in __del__, which fails noisily once the interpreter
    # is tearing down; closing while everything is still alive keeps exits quiet.
    for backend in _LOADED.values():
        backend.close()
    _LOADED.clear()
