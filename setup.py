"""Packaging glue that pyproject.toml cannot express; all other metadata lives there.

The wheel ships the top-level ``resources/`` folder as the data package
``distill_audit_resources`` (core/resources.py finds it), while the code packages
``core*`` and ``app*`` are still discovered automatically: pyproject.toml's
``packages.find`` cannot be combined with a renamed extra package.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import find_namespace_packages, setup

ROOT = Path(__file__).resolve().parent
RESOURCES_PACKAGE = "distill_audit_resources"  # core/resources.py looks it up by this name


def resource_packages() -> list[str]:
    """The data package and each folder under the resource folders pyproject.toml ships.

    pyproject.toml's package-data for the data package is the one list of what ships
    (its patterns start with the top folder); the folders below those are named here as
    well, so setuptools packs them as listed data rather than warning about each one.
    """
    with (ROOT / "pyproject.toml").open("rb") as f:
        patterns = tomllib.load(f)["tool"]["setuptools"]["package-data"][RESOURCES_PACKAGE]
    packages = [RESOURCES_PACKAGE]
    for top in sorted({pattern.split("/")[0] for pattern in patterns}):
        folder = ROOT / "resources" / top
        for sub in [folder, *sorted(p for p in folder.rglob("*") if p.is_dir())]:
            parts = sub.relative_to(ROOT / "resources").parts
            if all(part.isidentifier() and part != "__pycache__" for part in parts):
                packages.append(".".join((RESOURCES_PACKAGE, *parts)))
    return packages


setup(
    packages=[
        *find_namespace_packages(include=["core", "core.*", "app", "app.*"]),
        *resource_packages(),
    ],
    package_dir={RESOURCES_PACKAGE: "resources"},
)
