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

DIST_NAME = "distill-audit"


def _version() -> str:
    """The version written once, in pyproject.toml's ``[project] version``.

    A source checkout reads it from its own pyproject.toml (an editable install's metadata
    may be older than the file); an installed wheel or a frozen app, which carry no
    pyproject.toml, read the installed package metadata.
    """
    import tomllib
    from pathlib import Path

    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    try:
        with pyproject.open("rb") as f:
            project = tomllib.load(f).get("project", {})
        if project.get("name") == DIST_NAME and project.get("version"):
            return str(project["version"])
    except (OSError, tomllib.TOMLDecodeError):
        pass
    from importlib import metadata  # about 20 ms: only where there is no pyproject.toml

    try:
        return metadata.version(DIST_NAME)
    except metadata.PackageNotFoundError:
        return "0+unknown"


__version__ = _version()
