"""Cheap checks of an LLM backend's inputs before a run starts, and local models' token counts."""

from __future__ import annotations

from pathlib import Path

from dataeff.errors import ConfigError, one_line
from dataeff.learners.llm.backends.models import default_gguf, is_gguf, local_model_path
from dataeff.learners.llm.cache import CacheSettings
from dataeff.terms import setting_name


def preflight(alias: str, model: str | None, options: dict | None = None, cache: CacheSettings | None = None) -> None:
    """Cheap checks before a run folder is made: the model file is a GGUF file (or model
    folder), the device exists, the endpoint answers. A problem here is a bad input (one line,
    exit 2), not a column of failed cells. The packaged default model is assembled, and a GGUF
    file for transformers converted, here, once, into ``cache.folder`` before workers start.

    Examples
    --------
    >>> preflight("llamacpp", "missing.gguf")
    Traceback (most recent call last):
    dataeff.errors.ConfigError: LLM model file not found: missing.gguf. Pass an existing GGUF file with llm_model.
    """
    cache = cache or CacheSettings.default()
    if alias == "transformers":
        from dataeff.learners.llm.backends.transformers import check_device, model_folder

        check_device((options or {}).get("device", "auto"))
        model_folder(local_model_path(model, cache.folder), cache.folder)
    elif alias == "llamacpp":
        from dataeff.learners.llm.backends.llamabuild import check_runs_here

        check_runs_here()  # a build for another CPU: one line now, not a SIGILL in a cell
        path = Path(model) if model else None
        if path is None:
            default_gguf(cache.folder)
            return
        if not path.is_file():
            raise ConfigError(f"LLM model file not found: {path}. Pass an existing GGUF file with "
                              f"{setting_name('llm_model')}.")
        if not is_gguf(path):
            raise ConfigError(f"{path} is not a GGUF model file (bad header); pass a .gguf file.")
    elif alias in ("openai", "openai-embed"):
        from dataeff.learners.llm.backends.endpoint import Endpoint

        _check_reachable(Endpoint.of(model).url)


def check_probe_layer(alias: str, model: str | None, layer: int, cache: CacheSettings | None = None) -> None:
    """llm-probe's layer checked against the model's layers (read from the file, no weights)."""
    folder = (cache or CacheSettings.default()).folder
    path = local_model_path(model, folder)
    if alias == "transformers":
        from dataeff.learners.llm.backends.base import check_layer
        from dataeff.learners.llm.backends.transformers import layer_count

        check_layer(layer, layer_count(path, folder))
    elif alias == "llamacpp":
        from llama_cpp import Llama

        from dataeff.learners.llm.backends.llamacpp import check_llamacpp_layer, gguf_layers, silence_llama_cpp

        silence_llama_cpp()
        check_llamacpp_layer(layer, gguf_layers(Llama(model_path=str(path), vocab_only=True, verbose=False).metadata))


def _check_reachable(url: str) -> None:
    import httpx

    from dataeff.config import check_endpoint_url

    base = check_endpoint_url(url)
    try:
        # Any answer will do: /models may be missing or need a key, and completions still work.
        httpx.get(base + "/models", timeout=10)
    except httpx.TransportError as exc:
        raise ConfigError(f"The LLM endpoint {base} is unreachable ({one_line(exc, 120)}); "
                          f"start the server or fix {setting_name('llm_url')}.") from None


def local_token_counter(alias: str, model: str | None, cache: CacheSettings | None = None):
    """(token counter, context length) of a local model, without loading its weights. The
    length is the context the model was trained for: the llamacpp backend sizes its context
    to the prompts, up to that."""
    folder = (cache or CacheSettings.default()).folder
    if alias == "transformers":
        from dataeff.learners.llm.backends.transformers import token_counter

        return token_counter(local_model_path(model, folder), folder)
    from llama_cpp import Llama

    from dataeff.learners.llm.backends.llamacpp import silence_llama_cpp

    silence_llama_cpp()
    vocab = Llama(model_path=str(local_model_path(model, folder)), vocab_only=True, verbose=False)
    trained = trained_context(vocab.metadata)
    return (lambda texts: [len(vocab.tokenize(t.encode(), add_bos=True, special=False)) for t in texts]), trained


def trained_context(metadata: dict) -> int:
    """The context a GGUF model was trained for, from its metadata (a vocabulary-only load
    reads no hyperparameters); LlamaCpp's default when the file does not say."""
    from dataeff.learners.llm.backends.llamacpp import LOCAL_CONTEXT

    arch = metadata.get("general.architecture", "")
    return int(metadata.get(f"{arch}.context_length", 0) or LOCAL_CONTEXT)
