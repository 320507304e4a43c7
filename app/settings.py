"""The application's own settings: a small JSON file in the user's config folder.

The file carries a ``schema_version``; :func:`migrate` upgrades an older form step by
step (napari / Orange style) and fills anything missing or unusable with its default, so
a damaged or hand-edited file never stops the app from starting. A file written by a
newer version is read for the keys this version knows and is not overwritten until the
user changes a setting.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
MAX_RECENT = 8
MIN_FONT, MAX_FONT = 7, 28


def default_threads() -> int:
    """Half the CPU cores (at least 1, at most 8): leaves the machine usable during a run."""
    return max(1, min(8, (os.cpu_count() or 2) // 2))


@dataclass
class AppSettings:
    """Every setting the user can change (Edit → Settings), plus the recent case files."""

    cpu_threads: int = field(default_factory=default_threads)
    default_alpha: float = 0.05
    data_folder: str = field(default_factory=lambda: str(Path.home()))
    reviewer_name: str = ""
    font_size: int = 0  # points; 0 = the system's size (app/views/font_size.py applies it)
    recent_files: list[str] = field(default_factory=list)
    model_dtype: str = "auto"  # the precision models run at (core.backends.precision.DTYPES)

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, **asdict(self)}


def settings_path() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir("DistillAudit", appauthor=False)) / "settings.json"


def _from_unversioned(data: dict[str, Any]) -> dict[str, Any]:
    """Version 0: a file without ``schema_version`` (development builds); same keys."""
    return {**data, "schema_version": 1}


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: _from_unversioned}


def _valid(name: str, value: Any) -> bool:
    if name == "cpu_threads":
        return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 256
    if name == "default_alpha":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1
    if name == "font_size":
        return (
            isinstance(value, int)
            and not isinstance(value, bool)
            and (value == 0 or MIN_FONT <= value <= MAX_FONT)
        )
    if name in ("data_folder", "reviewer_name"):
        return isinstance(value, str)
    if name == "model_dtype":
        from core.backends.precision import DTYPES

        return value in DTYPES
    if name == "recent_files":
        return isinstance(value, list) and all(isinstance(p, str) for p in value)
    return False


def migrate(data: Any) -> AppSettings:
    """Settings from the stored JSON of any schema version (unusable values → defaults)."""
    if not isinstance(data, dict):
        return AppSettings()
    version = data.get("schema_version", 0)
    if not isinstance(version, int) or version < 0:
        version = 0
    while version < SCHEMA_VERSION and version in MIGRATIONS:
        data = MIGRATIONS[version](dict(data))
        version = data.get("schema_version", version + 1)
    values = {
        f.name: data[f.name]
        for f in fields(AppSettings)
        if f.name in data and _valid(f.name, data[f.name])
    }
    settings = AppSettings(**values)
    settings.default_alpha = float(settings.default_alpha)
    settings.recent_files = settings.recent_files[:MAX_RECENT]
    return settings


def load_settings(path: Path | None = None) -> AppSettings:
    """Read the settings file; defaults when it is missing or unreadable."""
    p = path or settings_path()
    try:
        return migrate(json.loads(p.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return AppSettings()
    except (OSError, ValueError) as exc:
        log.warning("Settings file %s is unreadable (%s); using defaults", p, exc)
        return AppSettings()


def save_settings(settings: AppSettings, path: Path | None = None) -> None:
    """Write the settings atomically (a half-written file never replaces a good one)."""
    p = path or settings_path()
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(".json.part")
        tmp.write_text(json.dumps(settings.to_dict(), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, p)
    except OSError as exc:
        log.warning("Could not save settings to %s: %s", p, exc)
