"""Distill Audit engine. No Qt here, ever (import-linter contract in pyproject).

Importing ``core`` forces offline mode before transformers can be imported anywhere:
nothing is ever fetched from a model hub.
"""

from __future__ import annotations

import os

for _var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ[_var] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

__version__ = "0.1.0"
