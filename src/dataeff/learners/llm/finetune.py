"""``llm-finetune``: LoRA adapters (``peft``) trained on the cell's labelled rows, then the
answer words scored after each test row's prompt, as the other LLM learners score them.

The recipe is fixed, as TabLLM's is (Hegselmann et al. 2023), so a curve measures the labels and
not a search: each training row is the task's query (its serialized row, the question and
"Answer:") followed by its label's answer word, and the loss is the answer word's tokens only
(the prompt is context, not a target). LoRA of rank ``rank`` (default 8, alpha = 2 x rank, no
dropout) on every attention and MLP projection (q, k, v, o, gate, up, down) of each layer;
AdamW (no weight decay), learning rate ``lr`` (default 3e-3) decaying linearly to 0, gradients
clipped at norm 1; ``steps`` optimizer steps (default 16) of ``batch_size`` rows (default 8, or
every row when there are fewer), the rows drawn epoch by epoch in an order fixed by the seed.
The step count does not grow with n: a cell costs the same at 16 and at 512 labels, and at 512
the model sees 128 of them (16 steps x 8 rows). LoRA's own weights start from the seed too, so
a seed gives the same scores again (on one device and thread count). At n = 0 there is nothing
to train: it is llm-zero, calibrated as llm-zero is. A trained model is not calibrated: its
answers already carry the label shares it was trained on, which content-free prompts would
divide out.

Cost, measured on a 2-core CPU (one thread, as a cell has; Gemma 3 270M in float32; fine-food
reviews of ~82 tokens; ``benchmarks/bench_finetune.py``, CPU seconds on a shared machine): 88
training tokens a second, 7.5 s a step of 8 rows, so 16 steps take about 2 minutes at any n;
scoring with the adapters in place about 190 tokens a second; about 2.2 GiB more memory while
training. On a GPU the same recipe runs in bfloat16 with float32 adapters and deterministic
kernels: on one H100, 1.6 s a step, 10 s a cell at n = 512 with 200 test rows, and the same
seed gave identical probabilities (``benchmarks/bench_gpu.py``).

The backend's model is shared by every cell of a process, so adapters live in it only inside
``_adapted`` (training, then scoring), which removes them (peft's ``unload``) and restores the
model's own flags whatever happens. Scores of a trained model go to the answer cache under a
fingerprint of their own: the base model's, the recipe, the seed and the training rows.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager

import numpy as np

from dataeff.config import FINETUNE_BATCH, FINETUNE_LR, FINETUNE_STEPS, LORA_RANK
from dataeff.errors import ConfigError
from dataeff.learners.llm.cache import CacheSettings
from dataeff.learners.llm.learners import _LLMLearner
from dataeff.learners.llm.prompting import Task

#: Gemma's (and Llama's, Qwen's, Mistral's) names for every linear layer of a decoder block.
TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
#: Padded tokens per forward pass at most: a step's rows are split into micro-batches (their
#: gradients summed), so long rows do not blow up activation memory.
MICRO_BATCH_TOKENS = 2048
MAX_GRAD_NORM = 1.0
TRAINABLE_BACKENDS = ("transformers",)


class FineTune(_LLMLearner):
    """LoRA fine-tuning on the training rows (answer-only loss), then answer words scored."""

    needs_examples = False  # at n = 0 it is the zero-shot model

    def __init__(self, task: Task | None = None, backend: str = "transformers", model: str | None = None,
                 steps: int = FINETUNE_STEPS, rank: int = LORA_RANK, lr: float = FINETUNE_LR,
                 batch_size: int = FINETUNE_BATCH, calibrate: bool = True, random_state: int = 0,
                 backend_options: dict | None = None, cache: CacheSettings | None = None):
        super().__init__(task, backend, model, calibrate, random_state, backend_options, cache)
        self.steps, self.rank, self.lr, self.batch_size = steps, rank, lr, batch_size

    def recipe(self) -> dict:
        return {"steps": self.steps, "rank": self.rank, "alpha": 2 * self.rank, "lr": self.lr,
                "batch_size": self.batch_size, "modules": list(TARGET_MODULES), "loss": "answer-only"}

    def _fit(self, X, y):
        check_trainable(self.backend)
        self._adapter, self._adapted_lm = None, None
        if len(y) == 0:
            return
        lm = self._lm()
        examples = [(self.task.query(row), f" {self.task.verbalizers[label]}")
                    for (_, row), label in zip(X.iterrows(), y)]
        seed = int(self.random_state)
        with _adapted(lm.inner.model, self.rank, seed) as model:
            self.train_tokens_ = train(model, lm.inner, examples, self.steps, self.batch_size, self.lr, seed)
            self._adapter = {name: p.detach().to("cpu", copy=True) for name, p in model.named_parameters()
                             if "lora_" in name}
        self._tokens += self.train_tokens_
        # The answers of this adapter, and no other model's, are cached under this name.
        payload = json.dumps([lm.fingerprint, lm.inner.device.type, self.recipe(), seed, examples], ensure_ascii=False)
        self.fingerprint_ = f"{lm.fingerprint}+lora:{hashlib.sha256(payload.encode()).hexdigest()[:24]}"

    def _predict_proba(self, X):
        prompts = [self.task.query(row) for _, row in X.iterrows()]
        if self._adapter is None:  # n = 0: the zero-shot model, calibrated like llm-zero
            return self._score(prompts, "", list(X.columns))
        from dataeff.learners.llm.backends.base import Cached

        lm = self._lm()
        with _adapted(lm.inner.model, self.rank, int(self.random_state), self._adapter) as model:
            # The backend's scoring on the adapted model, with its own fingerprint and prefix
            # cache; the answers counted in the same cache counters as the base model's.
            self._adapted_lm = Cached(lm.inner.scoring_with(model, self.fingerprint_), lm.cache)
            try:
                return self._score(prompts)  # no columns: no calibration of a trained model
            finally:
                self._adapted_lm = None

    def _lm(self, *args, **kwargs):
        return getattr(self, "_adapted_lm", None) or super()._lm(*args, **kwargs)


def llm_finetune(random_state: int = 0, **params) -> FineTune:
    return FineTune(random_state=random_state, **params)


def check_trainable(backend: str) -> None:
    """Refuse a backend whose model this process cannot train, or a missing peft (one line,
    before any work)."""
    if backend not in TRAINABLE_BACKENDS:
        raise ConfigError(f"llm-finetune trains its model in this process, through the transformers backend; the "
                          f"{backend} backend cannot train. Give it backend=transformers (with model= a GGUF file or "
                          "model folder, or none for the default Gemma), e.g. ft=llm-finetune(backend=transformers).")
    import importlib.util

    if importlib.util.find_spec("peft") is None or importlib.util.find_spec("transformers") is None:
        raise ConfigError("llm-finetune needs peft and transformers: pip install 'dataeff[transformers]'.")


@contextmanager
def _adapted(model, rank: int, seed: int, state: dict | None = None):
    """``model`` with fresh LoRA adapters (seeded), or those of ``state``, for the block only.

    The model is the backend's, shared by every cell of the process: the adapters are removed
    (``unload``, no merge: the base weights are never written) and its parameters' requires_grad
    flags and train/eval mode restored, even when training fails."""
    import torch
    from peft import LoraConfig, LoraModel

    config = LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.0, bias="none",
                        target_modules=list(TARGET_MODULES), init_lora_weights=True)
    flags = {name: p.requires_grad for name, p in model.named_parameters()}
    mode = model.training
    device = next(model.parameters()).device
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)  # LoRA's A matrices are drawn at injection
        tuner = LoraModel(model, config, "default")
    try:
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "lora_" in name:
                    # float32 adapters on a bfloat16 model (GPU), as peft's autocast would make them
                    p.data = p.data.float()
                    if state is not None:
                        p.copy_(state[name])
        yield model
    finally:
        tuner.unload()
        for name, p in model.named_parameters():
            p.requires_grad_(flags[name])
        model.train(mode)


def train(model, backend, examples: list[tuple[str, str]], steps: int, batch_size: int, lr: float,
          seed: int) -> int:
    """The recipe's training loop on (prompt, answer) pairs; returns the tokens it read.

    ``backend`` is the transformers backend (its tokenizer and device); the model stays in eval
    mode (no dropout anywhere: the recipe has none, and the shared model's mode is left alone)."""
    import torch

    from dataeff.learners.llm.backends.base import common_prefix
    from dataeff.learners.llm.backends.transformers import encoder

    encode = encoder(backend.tokenizer)
    rows = []
    for prompt, answer in examples:
        context, full = encode(prompt), encode(prompt + answer)
        shared = common_prefix(context, full)
        if shared == len(full):
            raise ConfigError(f"The answer {answer!r} adds no token to the prompt; choose other answer words.")
        rows.append((full[:-1], full[shared:]))  # what the model reads, the answer tokens it must predict
    per_step = min(batch_size, len(rows))
    rng = np.random.default_rng(seed)
    order: list[int] = []
    while len(order) < steps * per_step:  # epoch after epoch, each in a seeded order
        order += rng.permutation(len(rows)).tolist()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / steps)
    tokens = 0
    with _deterministic(backend.device):
        for step in range(steps):
            tokens += _step(model, backend, rows, order[step * per_step:(step + 1) * per_step], optimizer, params)
            schedule.step()
    return tokens


def _step(model, backend, rows, chosen: list[int], optimizer, params) -> int:
    """One optimizer step on the rows ``chosen``; returns the tokens read."""
    import torch

    batch = [rows[i] for i in chosen]
    answer_tokens = sum(len(answer) for _, answer in batch)
    optimizer.zero_grad(set_to_none=True)
    tokens = 0
    for micro in _micro_batches(batch):
        loss = _answer_nll(model, micro, backend.device) / answer_tokens
        loss.backward()
        tokens += sum(len(reads) for reads, _ in micro)
    torch.nn.utils.clip_grad_norm_(params, MAX_GRAD_NORM)
    optimizer.step()
    return tokens


@contextmanager
def _deterministic(device):
    """Deterministic kernels while training on a GPU: attention's backward pass and some
    reductions add in whatever order threads finish, so a seed would not give the same adapters
    twice (measured on an H100 before this: probabilities 0.12 apart). On the CPU they already are."""
    import torch

    if device.type == "cpu":
        yield
        return
    before = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])


def _micro_batches(batch: list):
    """The step's rows in runs of at most MICRO_BATCH_TOKENS padded tokens (similar lengths together)."""
    run: list = []
    for row in sorted(batch, key=lambda r: len(r[0])):
        if run and len(row[0]) * (len(run) + 1) > MICRO_BATCH_TOKENS:
            yield run
            run = []
        run.append(row)
    if run:
        yield run


def _answer_nll(model, rows: list, device):
    """Summed negative log-likelihood of each row's answer tokens after its prompt.

    Rows are left-padded so each ends at the last column: the logits that predict the answer
    tokens are then the last few columns, and only those are computed (the vocabulary is large)."""
    import torch

    width = max(len(reads) for reads, _ in rows)
    keep = max(len(answer) for _, answer in rows)
    ids = torch.zeros((len(rows), width), dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (reads, _) in enumerate(rows):
        ids[i, width - len(reads):] = torch.tensor(reads)
        mask[i, width - len(reads):] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    out = model(input_ids=ids.to(device), attention_mask=mask.to(device), position_ids=positions.to(device),
                logits_to_keep=keep, use_cache=False)
    logp = torch.log_softmax(out.logits.float(), dim=-1)
    total = logp.new_zeros(())
    for i, (_, answer) in enumerate(rows):
        picked = logp[i, keep - len(answer):, :].gather(-1, torch.tensor(answer, device=logp.device)[:, None])
        total = total - picked.sum()
    return total
