"""Language-model backends: one :class:`LanguageModel` protocol, torch and ONNX Runtime.

Importing this package is cheap: torch, transformers and onnxruntime are imported only
when a model is first used, so the GUI starts fast.
"""

from __future__ import annotations

from core.backends.base import LanguageModel, ScoredText
from core.backends.factory import load_model
from core.backends.folders import check_hf_folder, detect_format
from core.backends.onnx_backend import OnnxModel
from core.backends.onnx_export import ParityReport, export_onnx, parity_check
from core.backends.torch_backend import TorchModel

__all__ = [
    "LanguageModel",
    "OnnxModel",
    "ParityReport",
    "ScoredText",
    "TorchModel",
    "check_hf_folder",
    "detect_format",
    "export_onnx",
    "load_model",
    "parity_check",
]
