"""Distill Audit engine. No Qt here, ever (import-linter contract in pyproject).

Importing ``core`` forces offline mode before transformers can be imported anywhere:
nothing is ever fetched from a model hub. It also switches off onnxruntime's own telemetry
(``ORT_DISABLE_TELEMETRY``), which the library reads once, when it is first imported.
"""

from __future__ import annotations

import os

for _var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ[_var] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ["ORT_DISABLE_TELEMETRY"] = "1"  # see core/backends/onnx_backend.import_onnxruntime
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

__version__ = "0.1.0"
