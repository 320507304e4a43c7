"""Recent case files: most recent first, no duplicates, at most ``MAX_RECENT``; a File menu."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from app.settings import MAX_RECENT


def remember(recent: list[str], path: Path | str) -> list[str]:
    """``recent`` with ``path`` moved (or added) to the front."""
    resolved = str(Path(path).expanduser().absolute())
    return [resolved, *(p for p in recent if p != resolved)][:MAX_RECENT]


def existing(recent: list[str]) -> list[str]:
    """The recent files that still exist."""
    return [p for p in recent if Path(p).is_file()]


def fill_menu(
    menu: QMenu, recent: list[str], open_file: Callable[[Path], object], clear: Callable[[], object]
) -> None:
    """Rebuild File → Open recent: one numbered action per file, then "Clear"."""
    menu.clear()
    files = existing(recent)
    for number, path in enumerate(files, start=1):
        label = f"&{number} {Path(path).name}" if number < 10 else Path(path).name
        action = QAction(label, menu)
        action.setToolTip(path)
        action.setStatusTip(path)
        action.triggered.connect(lambda _checked=False, p=path: open_file(Path(p)))
        menu.addAction(action)
    if not files:
        empty = menu.addAction("No recent case files")
        empty.setEnabled(False)
    menu.addSeparator()
    clear_action = menu.addAction("&Clear the list")
    clear_action.setEnabled(bool(files))
    clear_action.triggered.connect(clear)
