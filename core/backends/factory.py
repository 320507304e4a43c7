"""Open a model folder with the backend its files call for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.backends.base import LanguageModel
from core.backends.folders import detect_format


def load_model(path: str | Path, **options: Any) -> LanguageModel:
    """A lazily loaded model for ``path``: ONNX when model.onnx is there, else torch.

    ``path`` is a folder or a ``.onnx`` file. ``options`` go to the backend
    (``name``, ``num_threads``, ``max_length``, ``max_batch_tokens``, ``max_batch_size``).
    Raises PickledWeightsError for pickle-only folders and ModelLoadError for folders
    that hold no usable model; weights load on first use or on ``model.load()``.
    """
    kind, folder, filename = detect_format(path)
    if kind == "onnx":
        from core.backends.onnx_backend import OnnxModel

        return OnnxModel(folder, filename=filename, **options)
    from core.backends.torch_backend import TorchModel

    return TorchModel(folder, **options)
