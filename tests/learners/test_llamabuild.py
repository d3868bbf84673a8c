"""llama.cpp on every x86-64 CPU: the install step builds it for this CPU without AMX kernels
(they segfault on Gemma's Q4_K weights on AMX CPUs, llama.cpp issue 20824); a build that has them
anyway (a wheel pip cached earlier, the user's own) loads models without the extra buffer types
that route matrix products into them, and one made for another CPU is refused in one line.
These checks fail on the old code on any machine."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path

import pytest

from dataeff.learners.llm.backends import llamabuild
from dataeff.learners.llm.backends.llamacpp import LlamaCpp

ROOT = Path(__file__).resolve().parents[2]
# llama-cpp-python 0.3.36's default (-march=native) build on an Intel Xeon with AMX, as it read on
# one (2026-12-07); loaded with its extra buffers, it died of SIGSEGV in the first decode there.
SAPPHIRE_RAPIDS = ("CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX_VNNI = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | "
                   "AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | AMX_INT8 = 1 | "
                   "LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 |")


def test_the_install_step_builds_llama_cpp_for_this_cpu_without_amx():
    if platform.machine() != "x86_64":
        pytest.skip("the flags are set on x86-64 only; elsewhere llama.cpp's default build is used")
    made = subprocess.run(["make", "-s", "llama-cmake-args"], cwd=ROOT, capture_output=True, text=True, check=True)
    flags = made.stdout.split()
    # -march=native is what brings AMX in: the GGML_AMX_* switches alone do not take it out.
    assert "-DGGML_NATIVE=OFF" in flags and "-DGGML_AMX_INT8=OFF" in flags and "-DGGML_AMX_TILE=OFF" in flags
    cpu = llamabuild.cpu_flags()
    for feature, flag in llamabuild.FEATURES.items():
        if feature != "AMX_INT8":  # each set this CPU has, and none it lacks
            assert f"-DGGML_{feature}={'ON' if flag in cpu else 'OFF'}" in flags, (feature, flags)
    makefile = (ROOT / "Makefile").read_text()
    assert 'CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install' in makefile
    # and a cached wheel that does not fit is dropped from pip's cache and rebuilt
    assert "mismatch(system_info(), cpu_flags())" in makefile and "pip cache remove llama_cpp_python" in makefile


def test_the_installed_llama_cpp_fits_this_cpu():
    info = llamabuild.system_info()
    assert llamabuild.mismatch(info, llamabuild.cpu_flags()) is None, info
    assert not llamabuild.has_amx(info)


def test_a_build_is_read_against_the_cpu_it_runs_on():
    avx2_cpu = {"avx", "avx2", "fma", "f16c", "bmi2", "sse4_2"}
    amx_cpu = avx2_cpu | {"avx_vnni", "avx512f", "avx512vbmi", "avx512_vnni", "avx512_bf16", "amx_int8", "amx_tile"}
    assert llamabuild.has_amx(SAPPHIRE_RAPIDS)
    assert llamabuild.mismatch(SAPPHIRE_RAPIDS, amx_cpu) == "it has AMX kernels"
    without_amx = SAPPHIRE_RAPIDS.replace("AMX_INT8 = 1 | ", "")
    assert llamabuild.mismatch(without_amx, amx_cpu) is None
    assert llamabuild.beyond_cpu(without_amx, avx2_cpu) == ["AVX512", "AVX512_BF16", "AVX512_VBMI", "AVX512_VNNI",
                                                            "AVX_VNNI"]
    assert llamabuild.mismatch(without_amx, avx2_cpu).startswith("it needs AVX512")
    avx2_build = "CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | REPACK = 1 |"
    assert llamabuild.mismatch(avx2_build, avx2_cpu) is None
    assert llamabuild.mismatch(avx2_build, amx_cpu).startswith("it was built without AVX512")
    assert llamabuild.mismatch(avx2_build, None) is None  # no /proc/cpuinfo: nothing to say


def test_a_build_for_another_cpu_is_refused_in_one_line_not_a_sigill(llm_cache, monkeypatch):
    from dataeff.errors import ConfigError

    monkeypatch.setattr(llamabuild, "system_info", lambda: SAPPHIRE_RAPIDS.replace("AMX_INT8 = 1 | ", ""))
    monkeypatch.setattr(llamabuild, "cpu_flags", lambda: {"avx", "avx2", "fma", "f16c", "bmi2"})
    with pytest.raises(ConfigError, match="built for a CPU with AVX512, .* which this one lacks; rebuild it here"):
        LlamaCpp(cache_folder=llm_cache.folder)


@pytest.mark.parametrize("amx", [False, True], ids=["plain build", "build with AMX kernels"])
def test_the_backend_loads_the_model_off_amx_buffers_where_the_build_has_them(amx, llm_cache, monkeypatch):
    import llama_cpp.llama_cpp as native

    plain = llamabuild.system_info()
    monkeypatch.setattr(llamabuild, "system_info", lambda: SAPPHIRE_RAPIDS if amx else plain)
    monkeypatch.setattr(llamabuild, "cpu_flags", lambda: None)  # the simulated build runs here
    backend = LlamaCpp(cache_folder=llm_cache.folder)
    try:
        # the configuration the model was loaded with: extra buffer types (AMX, repack) only
        # where no AMX kernel can be reached through them
        assert backend.llm.model_params.use_extra_bufts is (not amx)
        score = backend.loglikelihood([("Review: Great coffee, I love it.\nPositive?", " Yes")])[0]
        assert -20 < score < 0  # it decodes
    finally:
        backend.close()
    assert native.llama_model_default_params().use_extra_bufts  # the library's default put back
