"""The transformers backend on the real Gemma 3 270M GGUF (dequantized by transformers once per
test session, ~45 s) and on a small model folder: scores against llama.cpp's, the prefix-reuse
path against plain forward passes, the cache, and clear errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import dataeff
from dataeff.errors import ConfigError
from dataeff.learners.llm.backends.transformers import Transformers, model_folder

QUESTION = "\nQuestion: Is this review positive?\nAnswer:"
REVIEWS = [
    "I love this tea, it is delicious and fresh",
    "awful, stale and broken, a waste of money",
    "The coffee arrived quickly and tastes great every morning",
    "Too sweet for me and the box was crushed",
    "My dog refuses to eat these treats",
    "Best cookies I have bought online, will order again",
    "It is fine, nothing special, a bit pricey",
    "Smells wonderful and the flavour lasts",
]


def _prompt(review: str) -> str:
    return f'review: "{review}"{QUESTION}'


@pytest.fixture(scope="module")
def gemma_hf(llm_cache):
    return Transformers(device="cpu", cache_folder=llm_cache.folder)


def test_gguf_is_converted_once_into_the_cache_and_named_by_its_hash(gemma_hf, llm_cache):
    from dataeff.learners.llm.backends import default_gguf, file_fingerprint

    gguf = default_gguf(llm_cache.folder)
    folder, model_hash = model_folder(gguf, llm_cache.folder)
    assert model_hash == file_fingerprint(gguf, llm_cache.folder)
    assert folder.parent == llm_cache.folder / "models"
    assert folder.name.endswith(f"-{model_hash}-hf") and (folder / "model.safetensors").is_file()
    assert gemma_hf.fingerprint == f"transformers:{model_hash}:float32"
    assert not list(folder.parent.glob(".*partial"))  # nothing half-written left behind


def test_scores_agree_with_llama_cpp_on_the_same_gguf(gemma_hf, llm_cache):
    from dataeff.learners.llm.backends import LlamaCpp

    llama = LlamaCpp(cache_folder=llm_cache.folder)
    requests = [(_prompt(r), answer) for r in REVIEWS for answer in (" Yes", " No")]
    ours = np.array(gemma_hf.loglikelihood(requests))
    theirs = np.array(llama.loglikelihood(requests))
    assert gemma_hf.count_tokens([requests[0][0]]) == llama.count_tokens([requests[0][0]])  # same tokens
    # Same weights, other arithmetic: llama.cpp multiplies Q4_K weights with 8-bit-quantized
    # activations, transformers with the float32 dequantized weights. The README's bounds: mean
    # under 0.06, max under 0.26 nats apart (measured on these 8 reviews: 0.042 and 0.174; on 20
    # fine-foods reviews 0.070 and 0.259); the Yes-vs-No margins correlate at 0.95.
    assert np.abs(ours - theirs).mean() < 0.06
    assert np.abs(ours - theirs).max() < 0.26
    margins = ours[0::2] - ours[1::2], theirs[0::2] - theirs[1::2]
    assert np.corrcoef(*margins)[0, 1] > 0.8
    assert margins[0][0] > margins[0][1] + 0.5  # the model reads the review


def test_shared_prefix_reuse_equals_plain_forward_passes_past_the_sliding_window(gemma_hf):
    # A few-shot block longer than Gemma's 512-token sliding window, one-token and
    # multi-token answers: the reused KV cache must give what a full forward pass gives.
    demos = "".join(f'{_prompt(r * 3)} {"Yes" if i % 2 else "No"}\n\n' for i, r in enumerate(REVIEWS * 2))
    requests = [(demos + _prompt(r), answer) for r in REVIEWS[:4] for answer in (" Yes", " No", " Yes, very much")]
    assert gemma_hf.count_tokens([requests[0][0]])[0] > 600
    reused = np.array(gemma_hf.loglikelihood(requests))
    plain = Transformers.__new__(Transformers)
    plain.__dict__.update(gemma_hf.__dict__, MIN_PREFIX=10**9, _prefix=None)
    full = np.array(plain.loglikelihood(requests))
    one_by_one = np.array([plain.loglikelihood([r])[0] for r in requests[:3]])
    # the README: the prefix-reuse path equals plain forward passes within 2e-5 nats (measured
    # 1.42e-5 here; the README said 1e-5 before this was measured), batched against one at a
    # time 1.57e-5
    assert np.abs(reused - full).max() < 2e-5
    assert np.abs(one_by_one - full[:3]).max() < 2e-5
    assert (reused[2::3] < reused[0::3]).all()  # "Yes, very much" sums more tokens than "Yes"


def test_a_study_on_transformers_and_a_new_folder_costs_no_model_calls(tmp_path):
    frame = dataeff.data.builtin.load_builtin("fine-foods")
    kwargs = {"learners": ["llm-zero", "llm-few"], "seeds": 1, "sizes": [8], "test_rows": 10, "jobs": 1,
              "llm_backend": "transformers", "llm_device": "cpu"}
    first = dataeff.Study(frame, **kwargs).run(tmp_path / "a", progress=False)
    assert (first.results["status"] == "ok").all(), first.results["error"].tolist()
    assert first.facts.llm_usage["model_calls"] > 0
    second = dataeff.Study(frame, **kwargs).run(tmp_path / "b", progress=False)
    assert second.facts.llm_usage["model_calls"] == 0
    assert np.allclose(first.results["roc_auc"], second.results["roc_auc"])


def test_a_model_folder_of_another_architecture_works(tmp_path, gemma_hf, llm_cache):
    """A Llama-architecture folder saved with save_pretrained (small, random weights, Gemma's
    tokenizer): the folder route, its own fingerprint, and prefix reuse on another model class."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(gemma_hf.tokenizer), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                         max_position_embeddings=2048, bos_token_id=gemma_hf.tokenizer.bos_token_id)
    LlamaForCausalLM(config).save_pretrained(tmp_path / "tiny")
    gemma_hf.tokenizer.save_pretrained(tmp_path / "tiny")
    tiny = Transformers(str(tmp_path / "tiny"), device="cpu", cache_folder=llm_cache.folder)
    assert tiny.fingerprint.startswith("transformers:") and tiny.fingerprint != gemma_hf.fingerprint
    demos = " ".join(REVIEWS) * 2
    requests = [(demos + _prompt(r), a) for r in REVIEWS[:3] for a in (" Yes", " No")]
    tiny.MIN_PREFIX = 8
    reused = np.array(tiny.loglikelihood(requests))
    tiny.MIN_PREFIX, tiny._prefix = 10**9, None
    assert np.abs(reused - np.array(tiny.loglikelihood(requests))).max() < 1e-4


def test_bad_models_and_devices_are_one_clear_line(tmp_path, llm_cache):
    folder = llm_cache.folder
    with pytest.raises(ConfigError, match="LLM model not found"):
        Transformers(str(tmp_path / "missing.gguf"), cache_folder=folder)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="not a transformers model folder"):
        Transformers(str(tmp_path / "empty"), cache_folder=folder)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ConfigError, match="neither a GGUF file nor a model folder"):
        Transformers(str(tmp_path / "notes.txt"), cache_folder=folder)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text(json.dumps({"model_type": "no-such-architecture"}))
    with pytest.raises(ConfigError, match="Cannot load .* as a transformers causal LM"):
        Transformers(str(broken), cache_folder=folder)


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has a GPU")
def test_cli_refuses_cuda_without_a_gpu_before_making_a_run_folder(tmp_path):
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "dataeff", "run", "--data", "fine-foods", "--learners", "llm-zero",
                           "--llm-backend", "transformers", "--llm-device", "cuda", "--test-rows", "10",
                           "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: --llm-device cuda, but PyTorch sees no CUDA GPU here; use --llm-device cpu or --llm-device auto."]
    assert not out.exists()


def test_a_gguf_tokenizer_that_splits_text_unlike_llama_cpp_is_refused(gemma_hf, llm_cache):
    """transformers 5.17 rebuilt Gemma 3's tokenizer from the GGUF file as one token per
    character (seen on a GPU machine: scores near chance). The check compares with llama.cpp's
    own tokenizer: the right one passes, a per-character one is refused in one line."""
    from dataeff.learners.llm.backends import default_gguf
    from dataeff.learners.llm.backends.transformers import TOKENIZER_SAMPLE, check_gguf_tokenizer

    gguf = default_gguf(llm_cache.folder)
    check_gguf_tokenizer(gemma_hf.tokenizer, gguf)  # the converted tokenizer agrees

    class PerCharacter:
        def encode(self, text, add_special_tokens=False):
            return [gemma_hf.tokenizer.convert_tokens_to_ids(c) for c in TOKENIZER_SAMPLE]

    with pytest.raises(ConfigError, match=r"tokenizes .* unlike the file's own tokenizer \(\d+ tokens where llama"):
        check_gguf_tokenizer(PerCharacter(), gguf)


def test_explicit_batch_sizes_win_over_the_device_default(llm_cache):
    """The device picks the batches (a GPU's are 16x the CPU's: measured 9x the prompt tokens/s
    on an H100); sizes given explicitly win."""
    lm = Transformers(device="cpu", cache_folder=llm_cache.folder, batch_tokens=1000, max_batch=3)
    assert (lm.batch_tokens, lm.max_batch) == (1000, 3)
    default = Transformers(device="cpu", cache_folder=llm_cache.folder)
    assert (default.batch_tokens, default.max_batch) == Transformers.BATCHES["cpu"]
