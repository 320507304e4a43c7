"""The case list on the left of the main window."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelection, Qt, Signal, Slot
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.views.table_model import Column, RecordTableModel
from app.views.tables import fit_columns, make_table

if TYPE_CHECKING:
    from core.store.cases import CaseSummary

COLUMNS: list[Column[CaseSummary]] = [
    Column("ID", lambda c: c.id, align_right=True),
    Column("Reference", lambda c: c.reference, tooltip=lambda c: c.reference),
    Column("Title", lambda c: c.title, tooltip=lambda c: c.title),
    Column("Status", lambda c: c.status),
]


class CaseListView(QWidget):
    """Lists the cases of the open case file; emits the id of the selected case."""

    case_selected = Signal(object)  # int, or None when nothing is selected

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model: RecordTableModel[CaseSummary] = RecordTableModel(COLUMNS, self)
        self.table = make_table("Cases", self)
        self.table.setAccessibleDescription("The cases in the open case file")
        self.table.setModel(self.model)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        fit_columns(self.table, stretch=2, fit=(0, 1, 3))
        self.table.selectionModel().selectionChanged.connect(self._on_selection)
        label = QLabel("&Cases", self)
        label.setBuddy(self.table)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 0, 0)
        layout.addWidget(label)
        layout.addWidget(self.table)

    def set_cases(self, cases: list[CaseSummary], select_id: int | None = None) -> None:
        """Show ``cases``; keep (or move) the selection to ``select_id`` if present."""
        keep = select_id if select_id is not None else self.selected_case_id()
        self.model.set_records(cases)
        fit_columns(self.table, stretch=2, fit=(0, 1, 3))
        ids = [c.id for c in cases]
        if keep in ids:
            self.select_case(keep)
        elif cases:
            self.select_case(ids[0])
        else:
            self.case_selected.emit(None)

    def select_case(self, case_id: int) -> None:
        for row, case in enumerate(self.model.records()):
            if case.id == case_id:
                self.table.select_source_row(row)
                return

    def selected_case_id(self) -> int | None:
        row = self.table.selected_source_row()
        return self.model.record(row).id if row is not None else None

    def selected_case(self) -> CaseSummary | None:
        row = self.table.selected_source_row()
        return self.model.record(row) if row is not None else None

    @Slot(QItemSelection, QItemSelection)
    def _on_selection(self, *_: object) -> None:
        self.case_selected.emit(self.selected_case_id())
