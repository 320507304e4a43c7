"""A read-only table model over a list of plain records, described by columns.

Every table in the window (cases, evidence, audit events) shows records produced by
core; this model only formats them. Cells can have a tooltip and a foreground colour.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from app.views.column_help import column_help

R = TypeVar("R")
Index = QModelIndex | QPersistentModelIndex
#: The role tables sort by: numbers as numbers, everything else as its text.
SORT_ROLE = int(Qt.ItemDataRole.UserRole) + 1
#: The role copying reads: the whole value (e.g. a full SHA-256) where the cell abbreviates.
COPY_ROLE = int(Qt.ItemDataRole.UserRole) + 2


@dataclass(frozen=True)
class Column(Generic[R]):
    """One column: its header, the cell text, optionally a tooltip and the copied text."""

    header: str
    text: Callable[[R], Any]
    tooltip: Callable[[R], str] | None = None
    align_right: bool = False
    copy: Callable[[R], str] | None = None


class RecordTableModel(QAbstractTableModel, Generic[R]):
    """Rows are records; columns are :class:`Column` descriptions."""

    def __init__(self, columns: Sequence[Column[R]], parent: Any = None) -> None:
        super().__init__(parent)
        self.columns = list(columns)
        self._rows: list[R] = []
        self._colours: dict[int, QColor] = {}

    # --- data in ----------------------------------------------------------------------
    def set_records(self, rows: Sequence[R]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self._colours = {}
        self.endResetModel()

    def set_row_colour(self, row: int, colour: QColor | None) -> None:
        """Colour one row's text (e.g. red for a broken audit event); None clears it."""
        if colour is None:
            self._colours.pop(row, None)
        else:
            self._colours[row] = colour
        if 0 <= row < len(self._rows):
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.columns) - 1))

    def record(self, row: int) -> R:
        return self._rows[row]

    def records(self) -> list[R]:
        return list(self._rows)

    # --- Qt model interface -----------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.columns):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section].header
        if role == Qt.ItemDataRole.ToolTipRole:
            return column_help(self.columns[section].header)
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        rec, col = self._rows[index.row()], self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            value = col.text(rec)
            return "" if value is None else str(value)
        if role == COPY_ROLE:
            value = col.copy(rec) if col.copy is not None else col.text(rec)
            return "" if value is None else str(value)
        if role == SORT_ROLE:
            value = col.text(rec)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
            return "" if value is None else str(value)
        if role == Qt.ItemDataRole.ToolTipRole and col.tooltip is not None:
            return col.tooltip(rec)
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._colours.get(index.row())
        if role == Qt.ItemDataRole.TextAlignmentRole and col.align_right:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None
