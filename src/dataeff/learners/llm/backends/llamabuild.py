"""What the installed llama.cpp was compiled with against what this CPU has, and a model load
that keeps clear of llama.cpp's AMX kernels, which segfault on Q4_K weights in the first decode
(llama.cpp issue 20824).

The install step builds llama.cpp for this CPU's instruction sets as ``-march=native`` would,
less AMX (the Makefile's ``LLAMA_CMAKE_ARGS``, from the same table as ``FEATURES`` here), and
rebuilds a wheel pip cached earlier that does not match (pip reuses one by version alone,
whatever it was built for). A user may bring their own build: ``load_llama`` loads models
off the AMX kernels where a build has them, and ``check_runs_here`` refuses, in one line, a
build that needs instructions this CPU lacks (it would die of SIGILL).
"""

from __future__ import annotations

import re
from contextlib import ExitStack, contextmanager
from pathlib import Path

from dataeff.errors import ConfigError

# llama.cpp's feature name -> the /proc/cpuinfo flag it needs (x86-64; AMX is never built).
FEATURES = {"AVX": "avx", "AVX_VNNI": "avx_vnni", "AVX2": "avx2", "FMA": "fma", "F16C": "f16c", "BMI2": "bmi2",
            "AVX512": "avx512f", "AVX512_VBMI": "avx512vbmi", "AVX512_VNNI": "avx512_vnni",
            "AVX512_BF16": "avx512_bf16", "AMX_INT8": "amx_int8"}
REBUILD = "make clean && make install (or: pip uninstall llama-cpp-python, then pip install --no-cache-dir it)"


def system_info() -> str:
    """llama.cpp's own line of compiled features (``CPU : SSE3 = 1 | AVX2 = 1 | ...``)."""
    import llama_cpp

    return llama_cpp.llama_print_system_info().decode(errors="replace")


def built_features(info: str) -> set[str]:
    """The features a system-info line says are compiled in (``NAME = 1``)."""
    return set(re.findall(r"\b([A-Z0-9_]+) = 1\b", info))


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str] | None:
    """This CPU's instruction-set flags (Linux), None where /proc/cpuinfo does not say."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return None
    line = re.search(r"^flags\s*:(.*)$", text, re.MULTILINE)
    return set(line.group(1).split()) if line else None


def has_amx(info: str) -> bool:
    """Whether a system-info line says the CPU backend was compiled with AMX int8 kernels."""
    return "AMX_INT8" in built_features(info)


# The sets the install step builds with wherever the CPU has them (AMX never).
BUILT_WHERE_PRESENT = {name: flag for name, flag in FEATURES.items() if name != "AMX_INT8"}


def beyond_cpu(info: str, flags: set[str] | None) -> list[str]:
    """Compiled features this CPU lacks (a build made on another machine): each dies of SIGILL."""
    if flags is None:
        return []
    return sorted(f for f in built_features(info) & BUILT_WHERE_PRESENT.keys() if BUILT_WHERE_PRESENT[f] not in flags)


def mismatch(info: str, flags: set[str] | None) -> str | None:
    """Why the installed build is not the one the install step makes for this CPU, or None."""
    if has_amx(info):
        return "it has AMX kernels"
    if flags is None:
        return None
    if missing := beyond_cpu(info, flags):
        return f"it needs {', '.join(missing)}, which this CPU lacks"
    built = built_features(info)
    unused = sorted(f for f, flag in BUILT_WHERE_PRESENT.items() if flag in flags and f not in built)
    return f"it was built without {', '.join(unused)}, which this CPU has" if unused else None


def check_runs_here() -> None:
    """Refuse, in one line, a build whose instructions this CPU lacks (instead of a SIGILL)."""
    missing = beyond_cpu(system_info(), cpu_flags())
    if missing:
        raise ConfigError(f"The installed llama-cpp-python was built for a CPU with {', '.join(missing)}, which "
                          f"this one lacks; rebuild it here: {REBUILD}.")


def load_llama(model_path: str, eval_callback=None, **kwargs):
    """``llama_cpp.Llama(model_path=..., **kwargs)``; on a build with AMX kernels, loaded without
    llama.cpp's extra weight buffer types (AMX, and the CPU repack beside it, which the same
    switch turns off), so every matrix product runs in the plain CPU kernels. ``eval_callback``
    (a ``ggml_backend_sched_eval_callback``, kept alive by the caller) becomes the context's."""
    from llama_cpp import Llama

    with ExitStack() as patched:
        if has_amx(system_info()):
            patched.enter_context(_defaults_with("llama_model_default_params", use_extra_bufts=False))
        if eval_callback is not None:
            patched.enter_context(_defaults_with("llama_context_default_params", cb_eval=eval_callback))
        return Llama(model_path=model_path, **kwargs)


@contextmanager
def _defaults_with(function: str, **fields):
    """``Llama()`` takes no ``use_extra_bufts`` or ``cb_eval`` argument: it starts from the
    library's default structs (``llama_model_default_params()``,
    ``llama_context_default_params()``), so the named function is wrapped for this one load to
    return its struct with ``fields`` set, and put back after it (a load happens in one thread
    of one cell's process)."""
    import llama_cpp.llama_cpp as native

    default = getattr(native, function)

    def with_fields():
        params = default()
        for name, value in fields.items():
            setattr(params, name, value)
        return params

    setattr(native, function, with_fields)
    try:
        yield
    finally:
        setattr(native, function, default)
