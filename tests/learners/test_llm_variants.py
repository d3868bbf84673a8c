"""Several LLMs side by side in one study: the same Gemma run locally (llama.cpp in process)
and served by llama.cpp's OpenAI-compatible server, few-shot prompts of 4 and 16 shots, on the
same paired test rows and in one report."""

from __future__ import annotations

import numpy as np

import dataeff


def test_two_routes_to_the_same_gemma_agree_within_their_noise(tmp_path, llama_server, llm_cache):
    served = f'served=llm-zero(backend=openai, url="{llama_server.base}", model=gemma)'
    result = dataeff.run(data="fine-foods", learners=["llm-zero", served, "few4=llm-few(shots=4)", "logreg"],
                         seeds=2, sizes=[8], test_rows=24, out=tmp_path / "run", progress=False, jobs=2,
                         cache_dir=str(llm_cache.folder))
    cells = result.results
    assert (cells["status"] == "ok").all(), cells[["learner", "error"]]
    local = cells[cells["learner"] == "llm-zero"].set_index(["n_train", "seed"])["roc_auc"]
    remote = cells[cells["learner"] == "served"].set_index(["n_train", "seed"])["roc_auc"]
    difference = (local - remote.reindex(local.index)).to_numpy()
    print("llm-zero local vs served roc_auc per cell:", local.to_dict(), remote.to_dict())
    # Same model, same prompts, same test rows: the two routes differ by llama.cpp's batching
    # (a few hundredths of a nat per answer), far less than the seed-to-seed spread.
    assert np.abs(difference).max() <= 0.03
    assert np.abs(difference).max() < max(np.ptp(local.to_numpy()), 0.01) + 0.03
    facts = result.facts
    assert facts.families() == {"llm-zero": "llm", "served": "llm", "few4": "llm", "logreg": "classic"}
    assert "backend: openai" in facts.learner_info["served"].settings
    assert facts.llm_usage["endpoint_prompts"] > 0 and "served" not in facts.learner_info["llm-zero"].settings
    # one report: every curve is in the chart and in the answers
    html = (result.out / "report.html").read_text()
    for name in ("llm-zero", "served", "few4", "logreg"):
        assert f'data-learner="{name}"' in html
    assert result.analysis.reference == "logreg"
    assert {w.learner for w in result.analysis.prompt_worth} == {"llm-zero", "served", "few4"}
