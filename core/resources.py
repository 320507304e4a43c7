"""The one place that finds shipped resources (probe suites, taxonomy, demo case, icons).

Works from a source checkout, an installed wheel and a frozen PyInstaller bundle
(``sys._MEIPASS``), so nothing else in the code base builds resource paths by hand.
A wheel carries the top-level ``resources/`` tree as the data package
``distill_audit_resources`` (setup.py maps it; pyproject.toml lists the files).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

# The import name the wheel installs resources/ under (setup.py, pyproject.toml).
RESOURCES_PACKAGE = "distill_audit_resources"


def resources_root() -> Path:
    """Directory holding the ``resources/`` tree.

    Looked up in this order: the frozen bundle, the source checkout this ``core`` was
    imported from (so a checkout always uses its own files, even next to an installed
    copy), then the data package of an installed wheel.
    """
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "resources"
    checkout = Path(__file__).resolve().parent.parent
    source = checkout / "resources"
    if (checkout / "pyproject.toml").is_file() and source.is_dir():
        return source
    installed = _installed_root()
    return installed if installed is not None else source


def _installed_root() -> Path | None:
    """Folder of the installed ``distill_audit_resources`` package, if there is one."""
    try:
        spec = importlib.util.find_spec(RESOURCES_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def resource_path(*parts: str) -> Path:
    """Path of a resource by name, e.g. ``resource_path("demo", "models")``."""
    return resources_root().joinpath(*parts)
