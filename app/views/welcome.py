"""The first-run page, shown while no case file is open.

Four ways in, in the words a first-time user looks for: open the demo case (a finished
example), open a case file, start a new case, or one of the recent case files. The
buttons trigger the window's own actions (app/menus.py), so they do exactly what the
menu entries do.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.recent import existing


class WelcomeView(QWidget):
    """Big buttons for the demo case, Open…, New case…, and the recent files."""

    def __init__(
        self,
        demo: QAction,
        open_file: QAction,
        new_case: QAction,
        open_recent: Callable[[Path], object],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("Welcome")
        self._open_recent = open_recent
        title = QLabel("<h1>Distill Audit</h1>", self)
        intro = QLabel(
            "Was a suspect AI model trained on a protected model's outputs, and which terms "
            "of service did that break? Start with the demo case to see a finished example.",
            self,
        )
        intro.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(title)
        layout.addWidget(intro)
        self.buttons: dict[str, QPushButton] = {}
        for key, text, action in (
            ("demo", "Open the &demo case", demo),
            ("open", "&Open a case file…", open_file),
            ("new", "&New case…", new_case),
        ):
            button = QPushButton(text, self)
            button.setAccessibleName(text.replace("&", "").rstrip("…"))
            button.setToolTip(action.toolTip())
            button.setMinimumHeight(2 * button.fontMetrics().height() + 8)
            button.clicked.connect(action.trigger)
            layout.addWidget(button)
            self.buttons[key] = button
        self.recent_label = QLabel("Recent case files:", self)
        self.recent = QListWidget(self)
        self.recent.setAccessibleName("Recent case files")
        self.recent.itemActivated.connect(self._activated)
        layout.addWidget(self.recent_label)
        layout.addWidget(self.recent)

    def set_recent(self, recent: list[str]) -> None:
        """List the recent case files that still exist (double-click or Enter opens one)."""
        self.recent.clear()
        files = existing(recent)
        for path in files:
            item = QListWidgetItem(f"{Path(path).name} — {Path(path).parent}", self.recent)
            item.setData(Qt.ItemDataRole.UserRole, path)
            item.setToolTip(path)
        self.recent_label.setVisible(bool(files))
        self.recent.setVisible(bool(files))

    def _activated(self, item: QListWidgetItem) -> None:
        self._open_recent(Path(str(item.data(Qt.ItemDataRole.UserRole))))
