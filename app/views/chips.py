"""Category chips: small rounded labels that wrap onto several lines like words."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QLabel, QLayout, QLayoutItem, QSizePolicy, QWidget

# em units: chips grow with the system font size.
CHIP_STYLE = (
    "QLabel { border-radius: 0.6em; padding: 0.1em 0.6em; background: %s; "
    "color: %s; border: 1px solid %s; }"
)
STATUS_COLOURS = {
    "auto": ("#e8eef6", "#1d3557", "#b7c6db"),
    "confirmed": ("#e3f1e6", "#1b5e20", "#9ccaa5"),
    "reviewer": ("#e3f1e6", "#1b5e20", "#9ccaa5"),
}


class FlowLayout(QLayout):
    """Lays widgets out left to right, wrapping to a new line when the width runs out."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 4) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self.setSpacing(spacing)
        self.setContentsMargins(0, 0, 0, 0)

    def addItem(self, item: QLayoutItem) -> None:
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._place(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        self._place(rect, move=True)

    def sizeHint(self) -> QSize:
        return self.minimumSize()

    def minimumSize(self) -> QSize:
        size = QSize()
        for item in self._items:
            size = size.expandedTo(item.minimumSize())
        return size

    def _place(self, rect: QRect, move: bool) -> int:
        x, y, line = rect.x(), rect.y(), 0
        gap = self.spacing()
        for item in self._items:
            hint = item.sizeHint()
            if x + hint.width() > rect.right() and line > 0:
                x, y, line = rect.x(), y + line + gap, 0
            if move:
                item.setGeometry(QRect(QPoint(x, y), hint))
            x += hint.width() + gap
            line = max(line, hint.height())
        return y + line - rect.y()


def chip(
    text: str, tooltip: str = "", status: str = "auto", parent: QWidget | None = None
) -> QLabel:
    """One chip; its accessible name is its text (a screen reader reads the category)."""
    label = QLabel(text, parent)
    background, colour, border = STATUS_COLOURS.get(status, STATUS_COLOURS["auto"])
    label.setStyleSheet(CHIP_STYLE % (background, colour, border))
    label.setAccessibleName(f"Category {text}")
    label.setToolTip(tooltip)
    label.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
    return label


class ChipRow(QWidget):
    """A wrapping row of chips, replaced as a whole."""

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName(name)
        self.flow = FlowLayout(self)
        self.chips: list[QLabel] = []

    def set_chips(self, items: list[tuple[str, str, str]]) -> None:
        """``items``: (text, tooltip, status) per chip."""
        for old in self.chips:
            self.flow.removeWidget(old)
            old.deleteLater()
        self.chips = [chip(text, tip, status, self) for text, tip, status in items]
        for c in self.chips:
            self.flow.addWidget(c)
        self.updateGeometry()
