"""The backends package: the cache folder is an argument, never the environment; importing the
package loads no heavy library; backends are found by alias with a clear error otherwise."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from dataeff.errors import ConfigError
from dataeff.learners.llm.backends import get_backend
from dataeff.learners.llm.cache import CacheSettings

LLM_PACKAGE = Path(__file__).parents[2] / "src" / "dataeff" / "learners" / "llm"


def test_no_module_under_learners_llm_reads_dataeff_settings_from_the_environment():
    modules = sorted(LLM_PACKAGE.rglob("*.py"))
    assert len(modules) >= 10
    for module in modules:
        text = module.read_text()
        assert not re.search(r"DATAEFF_\w+", text), f"{module} names a DATAEFF_ variable"
        for line in text.splitlines():
            if re.search(r"os\.environ|getenv|environ\[|environ\.", line):
                # the only environment read allowed: the endpoint's API key, by its variable's name;
                # and one write for a library: cuBLAS's fixed workspace, which deterministic GPU
                # training needs and which has no API of its own
                assert "api_key_env" in line or 'os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG"' in line, \
                    f"{module}: {line.strip()}"


def test_importing_the_backends_loads_no_heavy_library():
    heavy = ["llama_cpp", "torch", "transformers", "sentence_transformers", "httpx", "tenacity"]
    code = ("import sys, dataeff.learners.llm.backends, dataeff.learners.llm.learners; "
            f"print([m for m in {heavy!r} if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_get_backend_takes_the_cache_folder_and_switch_as_an_argument(tmp_path):
    url = "http://127.0.0.1:9/v1::model"  # endpoints connect only when asked something
    on = get_backend("openai", url, cache=CacheSettings(tmp_path / "a"))
    assert on is get_backend("openai", url, cache=CacheSettings(tmp_path / "a"))  # one per process and cache
    other = get_backend("openai", url, cache=CacheSettings(tmp_path / "b"))
    off = get_backend("openai", url, cache=CacheSettings(tmp_path / "off", enabled=False))
    assert other is not on and other.inner is not on.inner
    assert on.cache.path == tmp_path / "a" / "llm-cache.sqlite" and on.cache.path.is_file()
    assert not off.cache.enabled and not (tmp_path / "off").exists()


def test_an_unknown_backend_names_the_choices():
    with pytest.raises(ConfigError, match="Unknown LLM backend 'llamacp'. Did you mean 'llamacpp'"):
        get_backend("llamacp", cache=CacheSettings(Path("unused")))
