"""Money before and after a remote run: list prices from the packaged table, the estimate of the
tokens billed against what a real server billed, and --max-cost refusing before any request."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from dataeff.learners.llm.spend import list_price
from tests.llm_server import FaultProxy

BASE = [sys.executable, "-m", "dataeff", "run", "--data", "fine-foods", "--seeds", "1", "--sizes", "8",
        "--test-rows", "8", "--llm-backend", "openai", "--llm-model", "gemma", "--jobs", "1"]


def test_list_prices_come_from_the_packaged_table_and_an_unknown_model_has_none():
    claude = list_price("claude-sonnet-4-5", "anthropic")
    assert claude is not None and (claude.input, claude.output) == (3.0, 15.0)
    assert "Claude Sonnet 4.5" in claude.source
    assert claude.cost(1_000_000, 100_000) == pytest.approx(4.5)
    assert list_price("gemma", "openai") is None


@pytest.fixture
def proxy(llama_server):
    recording = FaultProxy(llama_server.base)
    yield recording
    recording.close()


def test_max_cost_refuses_before_any_request(proxy, tmp_path):
    out = tmp_path / "never"
    priced = ["--llm-input-price", "1000", "--llm-output-price", "1000"]
    cases = [
        (["--learners", "llm-zero", *priced, "--max-cost", "0.01"], r"would cost about \$\d+\.\d\d at list prices"),
        (["--learners", "llm-zero", "--max-cost", "5"], "needs a price, and none is known for"),
    ]
    for extra, message in cases:
        result = subprocess.run([*BASE, "--llm-url", proxy.base, *extra, "--out", str(out), "--cache-dir",
                                 str(tmp_path / "cache")], capture_output=True, text=True)
        assert result.returncode == 2, result.stderr
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and re.search(message, errors[0]), result.stderr
        assert proxy.seen == [] and not out.exists()


@pytest.mark.parametrize("scoring", ["next-token", "sample"])
def test_the_spend_estimate_is_within_25_percent_of_what_the_server_billed(proxy, tmp_path, scoring):
    out = tmp_path / "run"
    result = subprocess.run([*BASE, "--llm-url", proxy.base, "--learners", "llm-zero,llm-few", "--llm-scoring", scoring,
                             "--llm-input-price", "2", "--llm-output-price", "8", "--max-cost", "1",
                             "--out", str(out), "--cache-dir", str(tmp_path / "cache")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    said = re.search(r"LLM spend: about ([\d,]+) input tokens and ([\d,]+) output tokens", result.stdout + result.stderr)
    assert said, result.stderr[-3000:]
    estimated_input = float(said.group(1).replace(",", ""))
    spend = json.loads((out / "summary.json").read_text())["facts"]["llm_usage"]["spend"]
    billed_input = sum(s["input_tokens"] for s in spend.values())
    billed_output = sum(s["output_tokens"] for s in spend.values())
    # llama.cpp's Python server answers one choice a request, so sampled answers are asked one
    # request each: its prompt is billed once per answer, which the estimate (one request of n
    # choices, as OpenAI and llama.cpp's own server bill) does not count.
    requests_per_prompt = 8 if scoring == "sample" else 1
    assert billed_input == pytest.approx(estimated_input * requests_per_prompt, rel=0.25)
    assert billed_output > 0
    dollars = sum(s["dollars"] for s in spend.values())
    assert dollars == pytest.approx((billed_input * 2 + billed_output * 8) / 1e6)
    assert "Billed:" in (out / "summary.md").read_text()
