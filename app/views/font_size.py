"""The text size setting, applied to the whole application at once.

Qt gives every widget the application font unless a widget sets its own, so one
``QApplication.setFont`` resizes menus, tables, wizards and dialogs alike. The size the
system chose is remembered the first time so that "System default" (0) restores it.
"""

from __future__ import annotations

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication

_SYSTEM_POINT_SIZE = "distill_audit_system_point_size"


def system_point_size(app: QApplication) -> float:
    """The application font's size before any setting changed it."""
    stored = app.property(_SYSTEM_POINT_SIZE)
    if stored is None:
        stored = QApplication.font().pointSizeF()
        app.setProperty(_SYSTEM_POINT_SIZE, stored)
    return float(stored)


def apply_font_size(size: int) -> float:
    """Set the application font to ``size`` points (0: the system's); return the size set."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        return 0.0
    points = float(size) if size > 0 else system_point_size(app)
    system_point_size(app)  # remember the system's size before the first change
    font = QFont(QApplication.font())
    if font.pointSizeF() != points:
        font.setPointSizeF(points)
        QApplication.setFont(font)
    return points
