"""The ``transformers`` backend: any causal LM through Hugging Face transformers and PyTorch.

The model is a local model folder (``config.json`` + weights + tokenizer) or a GGUF file. A
GGUF file is dequantized by transformers (``gguf`` package; ~45 s for Gemma 3 270M on 2 cores)
and the converted copy is kept under the cache folder, so later runs load it in seconds.
On a machine with CUDA the model runs on the GPU: this is the route from the laptop study to a
big model on a GPU server, with the same prompts and the same answer cache.

Scoring batches prompts of similar length; a long shared token prefix (a few-shot block) is
evaluated once and its KV cache reused for every row, as the llamacpp backend does.
"""

from __future__ import annotations

import copy
import inspect
import os
import shutil
import sys
from pathlib import Path

import numpy as np

from dataeff.errors import ConfigError, one_line
from dataeff.learners.llm.backends.base import Backend, check_layer, common_prefix
from dataeff.learners.llm.backends.models import file_fingerprint, is_gguf, local_model_path
from dataeff.learners.llm.cache import CacheSettings
from dataeff.terms import setting_name


class Transformers(Backend):
    """A causal LM in PyTorch. ``device`` auto picks CUDA when there is one; weights are float32 on
    the CPU (exact dequantized GGUF values) and bfloat16 on a GPU (big models fit). A GGUF file is
    converted once into ``cache_folder`` (None: ``CacheSettings.default()``'s folder)."""

    model_files = True
    serves = frozenset({"loglikelihood", "hidden_states"})

    # A shared prefix shorter than this is recomputed per row: copying its cache costs more.
    MIN_PREFIX = 32

    # Padded tokens and rows per forward pass, by device. Measured on an H100 (bfloat16, 400
    # fine-food reviews, benchmarks/bench_gpu.py): the CPU's batches gave 4,707 prompt tokens/s,
    # 65,536 tokens / 256 rows 43,393. On the CPU bigger batches buy nothing and cost memory.
    BATCHES = {"cpu": (4096, 16), "cuda": (65536, 256)}

    def __init__(self, model: str | None = None, device: str = "auto", batch_tokens: int | None = None,
                 max_batch: int | None = None, cache_folder: Path | None = None):
        try:
            import torch
            import transformers
        except ImportError:
            raise ConfigError("The transformers backend needs torch and transformers: "
                              "pip install 'dataeff[transformers]'.") from None
        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
        check_device(device)
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.torch, self.device = torch, torch.device(device)
        self.dtype = torch.float32 if device == "cpu" else torch.bfloat16
        if device != "cpu":
            # cuBLAS reduces in a fixed order only with a fixed workspace (llm-finetune's seed)
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        cache_folder = cache_folder or CacheSettings.default().folder
        folder, model_hash = model_folder(local_model_path(model, cache_folder), cache_folder)
        from transformers import AutoModelForCausalLM, AutoTokenizer

        try:
            # local_files_only: a folder on disk; nothing may reach the Hub.
            self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            self.model = AutoModelForCausalLM.from_pretrained(folder, dtype=self.dtype, local_files_only=True)
            self.model = self.model.to(self.device).eval()
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(f"Cannot load {folder} as a transformers causal LM ({one_line(exc, 160)}); "
                              "pass a model folder with config.json, weights and tokenizer, or a GGUF file.") from None
        self.n_ctx = int(getattr(self.model.config, "max_position_embeddings", 0) or 4096)
        # transformers 5 renamed past_key_values to cache; older models still take the old name.
        forward = inspect.signature(self.model.forward).parameters
        self._cache_argument = "cache" if "cache" in forward else "past_key_values"
        self._encode = encoder(self.tokenizer)
        self.fingerprint = f"transformers:{model_hash}:{str(self.dtype).removeprefix('torch.')}"
        default_tokens, default_rows = self.BATCHES["cpu" if device == "cpu" else "cuda"]
        self.batch_tokens, self.max_batch = batch_tokens or default_tokens, max_batch or default_rows
        self._prefix: tuple[tuple[int, ...], object] | None = None

    def count_tokens(self, texts):
        return [len(self._encode(t)) for t in texts]

    def scoring_with(self, model, fingerprint: str) -> Transformers:
        """This backend's scoring (tokenizer, device, batching) on another model, such as this
        one with adapters (learners/llm/finetune.py), under ``fingerprint`` and with a prefix
        cache of its own: a KV cache of one model must never serve the other."""
        other = copy.copy(self)
        other.model, other.fingerprint, other._prefix = model, fingerprint, None
        return other

    def hidden_states(self, texts, layer=None, pooling="last"):
        """The state after block ``layer`` (0: the token embeddings; None or the last: after
        the final norm, as llama.cpp gives it) per text, of its last token or the mean over its
        tokens (BOS included), in length-sorted right-padded batches without the LM head."""
        check_layer(layer, self.n_layers)
        torch = self.torch
        encoded = [self._encode(t) for t in texts]
        for tokens in encoded:
            if len(tokens) > self.n_ctx:
                raise ConfigError(f"A row of {len(tokens)} tokens exceeds the model's context of {self.n_ctx}; "
                                  "shorten the rows (a template, fewer columns).")
        states = np.empty((len(texts), self.model.config.get_text_config().hidden_size), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
        start = 0
        while start < len(order):  # batches of similar length, bounded in rows and tokens
            width, end = len(encoded[order[start]]), start
            while end < len(order) and end - start < self.max_batch and \
                    len(encoded[order[end]]) * (end - start + 1) <= max(self.batch_tokens, width):
                end += 1
            batch = [encoded[i] for i in order[start:end]]
            width = max(map(len, batch))
            ids = torch.zeros((len(batch), width), dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, tokens in enumerate(batch):
                ids[row, :len(tokens)], mask[row, :len(tokens)] = torch.tensor(tokens), 1
            with torch.inference_mode():
                # The decoder without the LM head: a 262k-word head per token would cost more
                # than the 18 blocks of Gemma 3 270M.
                out = self.model.base_model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                                            output_hidden_states=True, use_cache=False)
                hidden = out.hidden_states[self.n_layers if layer is None else layer].float()
                if pooling == "mean":
                    weights = mask.to(self.device, hidden.dtype).unsqueeze(-1)
                    pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1)
                else:
                    pooled = hidden[torch.arange(len(batch), device=self.device),
                                    torch.tensor([len(t) - 1 for t in batch], device=self.device)]
            states[order[start:end]] = pooled.cpu().numpy()
            start = end
        return states

    @property
    def n_layers(self) -> int:
        return int(self.model.config.get_text_config().num_hidden_layers)

    def loglikelihood(self, requests):
        # Each request needs the log-probs of its answer tokens; the model reads the prompt and
        # all but the last answer token. Requests that read the same tokens (the answer words
        # of one prompt, when they are one token each) share one forward pass.
        wanted: dict[tuple[int, ...], list] = {}
        plans = []
        contexts = {c: self._encode(c) for c in dict.fromkeys(c for c, _ in requests)}  # each prompt once
        for context, continuation in requests:
            full = self._encode(context + continuation)
            shared = common_prefix(contexts[context], full)
            answer = full[shared:]
            if not answer:
                raise ConfigError(f"The answer {continuation!r} adds no token to the prompt; choose other verbalizers.")
            if len(full) > self.n_ctx:
                raise ConfigError(f"A prompt of {len(full)} tokens exceeds the model's context of {self.n_ctx}; "
                                  "use fewer demonstrations or shorter rows.")
            reads = tuple(full[:-1])
            # (position from the end of ``reads``, token) for each answer token
            needs = [(len(answer) - j, token) for j, token in enumerate(answer)]
            wanted.setdefault(reads, []).extend(needs)
            plans.append((reads, needs))
        logprobs: dict[tuple[int, ...], dict] = {}
        for shared, group in self._groups(sorted(wanted), wanted):
            shared = self._prefix_length(shared, group, wanted)
            for batch in self._batches(group, shared):
                logprobs.update(self._forward(batch, shared, {reads: wanted[reads] for reads in batch}))
        return [float(sum(logprobs[reads][need] for need in needs)) for reads, needs in plans]

    def _groups(self, ordered: list[tuple[int, ...]], wanted: dict):
        """(shared prefix length, sequences): runs of sorted sequences sharing at least
        MIN_PREFIX tokens (a few-shot block), whose prefix is evaluated once for the run; the
        sequences that share less with their neighbours together, with no prefix."""
        def room(reads):  # a prefix stops before the first position whose logits are needed
            return len(reads) - max(back for back, _ in wanted[reads])

        loners: list[tuple[int, ...]] = []
        run, common = [], 0
        for reads in ordered + [()]:  # () ends the last run
            shared = min(common, common_prefix(run[0], reads), room(reads)) if run and reads else 0
            if shared >= self.MIN_PREFIX:
                run.append(reads)
                common = shared
                continue
            if len(run) > 1:
                yield common, run
            else:
                loners += run
            run, common = ([reads], room(reads)) if reads else ([], 0)
        if loners:
            yield 0, loners

    # The rows of one set of demonstrations arrive in several calls (the answer cache's chunks,
    # the last maybe of one row), and the rows of one call may share a few tokens past the
    # demonstrations; so a prefix is the one held when every row begins with it, else cut to
    # a multiple of PREFIX_BLOCK tokens: each call then asks for the same prefix, evaluated
    # once (counted in tests/learners/test_many_shot.py).
    PREFIX_BLOCK = 64

    def _prefix_length(self, shared: int, group: list[tuple[int, ...]], wanted: dict) -> int:
        """The prefix of ``group`` to evaluate once (its rows share ``shared`` tokens)."""
        held = self._prefix[0] if self._prefix is not None else ()
        if len(held) >= self.MIN_PREFIX and all(
                reads[: len(held)] == held and len(reads) - max(back for back, _ in wanted[reads]) >= len(held)
                for reads in group):
            return len(held)
        cut = shared // self.PREFIX_BLOCK * self.PREFIX_BLOCK
        return cut if cut >= self.MIN_PREFIX else shared

    def _batches(self, group: list[tuple[int, ...]], shared: int):
        """Batches of similar length (less padding), bounded in rows and in tokens beyond the
        shared prefix."""
        batch: list[tuple[int, ...]] = []
        for reads in sorted(group, key=len):
            width = len(reads) - shared  # the longest so far: sorted by length
            if batch and (width * (len(batch) + 1) > self.batch_tokens or len(batch) == self.max_batch):
                yield batch
                batch = []
            batch.append(reads)
        if batch:
            yield batch

    def _forward(self, batch: list[tuple[int, ...]], shared: int, needs: dict) -> dict:
        """One forward pass over ``batch`` -> {reads: {(position from end, token): log-prob}}.

        Without a shared prefix, rows are left-padded so that every row ends at the last
        column and only the last few positions need logits. After a shared prefix (its KV
        cache reused) they are right-padded: padding between the prefix and a row would move
        the row's tokens relative to the prefix's in a sliding-window layer."""
        torch = self.torch
        rest = [r[shared:] for r in batch]
        width = max(len(r) for r in rest)
        ids = torch.zeros((len(batch), width), dtype=torch.long)
        mask = torch.zeros((len(batch), shared + width), dtype=torch.long)
        mask[:, :shared] = 1
        ends = []  # the column after each row's last token
        for i, r in enumerate(rest):
            begin = width - len(r) if not shared else 0
            ids[i, begin: begin + len(r)] = torch.tensor(r)
            mask[i, shared + begin: shared + begin + len(r)] = 1
            ends.append(begin + len(r))
        if shared:
            positions = torch.arange(shared, shared + width).expand(len(batch), -1)
        else:
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
        # Only the positions some row needs get logits: the vocabulary is large (262k for Gemma).
        keep = sorted({end - back for reads, end in zip(batch, ends) for back, _ in needs[reads]})
        column = {p: k for k, p in enumerate(keep)}
        kwargs = {}
        if shared:
            cache = copy.deepcopy(self._prefix_cache(batch[0][:shared]))
            cache.batch_repeat_interleave(len(batch))
            kwargs = {self._cache_argument: cache, "use_cache": True}
        else:
            kwargs = {"use_cache": False}
        with torch.inference_mode():
            out = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                             position_ids=positions.to(self.device),
                             logits_to_keep=torch.tensor(keep, device=self.device), **kwargs)
            logp = torch.log_softmax(out.logits.float(), dim=-1).cpu()
        return {reads: {(back, token): float(logp[i, column[ends[i] - back], token]) for back, token in needs[reads]}
                for i, reads in enumerate(batch)}

    def _prefix_cache(self, prefix: tuple[int, ...]):
        """The KV cache after ``prefix`` (batch of one), computed once while rows share it."""
        if self._prefix is None or self._prefix[0] != prefix:
            torch = self.torch
            self._prefix = None
            with torch.inference_mode():
                out = self.model(input_ids=torch.tensor([prefix], device=self.device), use_cache=True,
                                 logits_to_keep=1)
            self._prefix = (prefix, getattr(out, "cache", None) or out.past_key_values)
        return self._prefix[1]


def model_folder(path: Path, cache_folder: Path) -> tuple[Path, str]:
    """A transformers model folder for ``path`` and a hash naming the exact weights. A GGUF file
    is converted once into ``<cache_folder>/models/<name>-<hash>-hf`` (float32 safetensors)."""
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ConfigError(f"{path} is not a transformers model folder (no config.json); "
                              "pass a folder saved with save_pretrained, or a GGUF file.")
        return path, file_fingerprint(path, cache_folder)
    if not path.is_file():
        raise ConfigError(f"LLM model not found: {path}. Pass a GGUF file or a transformers model folder.")
    if not is_gguf(path):
        raise ConfigError(f"{path} is neither a GGUF file nor a model folder; pass one of those.")
    model_hash = file_fingerprint(path, cache_folder)
    folder = Path(cache_folder) / "models" / f"{path.stem}-{model_hash}-hf"
    if not (folder / "config.json").is_file():
        _convert_gguf(path, folder)
    return folder, model_hash


def _convert_gguf(path: Path, folder: Path) -> None:
    """Dequantize ``path`` with transformers and save it as a model folder (atomically: a
    killed conversion leaves no half folder, and parallel workers may race to finish first)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        import gguf  # noqa: F401 - transformers reads GGUF files with it
    except ImportError:
        raise ConfigError("Loading a GGUF file with the transformers backend needs the 'gguf' package: "
                          "pip install 'dataeff[transformers]'.") from None
    print(f"converting {path.name} for transformers once (about a minute); kept in {folder.parent}",
          file=sys.stderr, flush=True)
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.partial")
    try:
        try:
            tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32,
                                                         local_files_only=True)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise ConfigError(f"transformers cannot read {path.name} ({one_line(exc, 160)}); "
                              "use the llamacpp backend for this GGUF file.") from None
        check_gguf_tokenizer(tokenizer, path)
        # The weights are plain float32 now; the GGUF "quantizer" transformers attached only
        # blocks saving them.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        try:
            os.replace(tmp, folder)
        except OSError:
            if not (folder / "config.json").is_file():  # not another worker's finished copy
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


#: A sentence tokenized both ways when a GGUF file is converted.
TOKENIZER_SAMPLE = "Review: I love these cookies, they taste great.\nQuestion: Is the review positive?\nAnswer: yes"


def check_gguf_tokenizer(tokenizer, path: Path) -> None:
    """Refuse a conversion whose tokenizer splits text other than the GGUF file's own (llama.cpp's)
    does. Measured: transformers 5.17 rebuilt Gemma 3's tokenizer from a GGUF file as one token per
    character (107 tokens where llama.cpp reads 26), and its scores were near chance; 5.24 reads
    the same tokens as llama.cpp. Without llama-cpp-python there is nothing to compare with."""
    try:
        from llama_cpp import Llama

        from dataeff.learners.llm.backends.llamacpp import silence_llama_cpp
    except ImportError:
        return
    silence_llama_cpp()
    reference = Llama(model_path=str(path), vocab_only=True, verbose=False).tokenize(
        TOKENIZER_SAMPLE.encode(), add_bos=False, special=False)
    ours = tokenizer.encode(TOKENIZER_SAMPLE, add_special_tokens=False)
    if list(ours) != list(reference):
        import transformers

        raise ConfigError(f"transformers {transformers.__version__} tokenizes {path.name} unlike the file's own "
                          f"tokenizer ({len(ours)} tokens where llama.cpp reads {len(reference)}); "
                          "upgrade transformers (5.24 reads it right), or use the llamacpp backend.")


def check_device(device: str) -> None:
    """Refuse a device this machine does not have, before a run starts (the setting's own
    constraint has refused a device that does not exist)."""
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            cpu, auto = setting_name("llm_device", "cpu"), setting_name("llm_device", "auto")
            raise ConfigError(f"{setting_name('llm_device', 'cuda')}, but PyTorch sees no CUDA GPU here; use {cpu} "
                              f"or {auto}.")


def token_counter(path: Path, cache_folder: Path):
    """(token counter, context length) from the model folder's tokenizer and config, no weights."""
    import json

    from transformers import AutoTokenizer

    folder, _ = model_folder(path, cache_folder)
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    config = json.loads((folder / "config.json").read_text())
    context = int(config.get("max_position_embeddings") or config.get("text_config", {}).get("max_position_embeddings") or 4096)
    encode = encoder(tokenizer)
    return (lambda texts: [len(encode(t)) for t in texts]), context


def layer_count(path: Path, cache_folder: Path) -> int:
    """How many layers the model has, from its folder's config.json (no weights loaded)."""
    import json

    folder, _ = model_folder(path, cache_folder)
    config = json.loads((folder / "config.json").read_text())
    return int(config.get("num_hidden_layers") or config.get("text_config", {}).get("num_hidden_layers") or 0)


def encoder(tokenizer):
    """text -> token ids: BOS as the llamacpp backend adds it, no EOS (an answer word follows)."""
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    return lambda text: bos + list(tokenizer(text, add_special_tokens=False).input_ids)
