"""The one place that finds shipped resources (probe suites, taxonomy, demo case, icons).

Works from a source checkout, an installed wheel and a frozen PyInstaller bundle
(``sys._MEIPASS``), so nothing else in the code base builds resource paths by hand.
"""

from __future__ import annotations

import sys
from pathlib import Path


def resources_root() -> Path:
    """Directory holding the ``resources/`` tree."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def resource_path(*parts: str) -> Path:
    """Path of a resource by name, e.g. ``resource_path("demo", "models")``."""
    return resources_root().joinpath(*parts)
