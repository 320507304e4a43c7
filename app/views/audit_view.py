"""The Audit tab: the hash-chained audit events and a "Verify chain" button."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.views.table_model import Column, RecordTableModel
from app.views.tables import fit_columns, make_filter_box, make_table

if TYPE_CHECKING:
    from core.records import AuditRow
    from core.store.audit import ChainReport

BROKEN = QColor("#b00020")
INTACT = QColor("#1b5e20")

COLUMNS: list[Column[AuditRow]] = [
    Column("#", lambda r: r.id, align_right=True),
    Column("At (UTC)", lambda r: r.at[:19].replace("T", " "), tooltip=lambda r: r.at),
    Column("Actor", lambda r: r.actor),
    Column("Case", lambda r: "" if r.case_id is None else r.case_id, align_right=True),
    Column("Action", lambda r: r.action),
    Column("Entity", lambda r: f"{r.entity} {r.entity_id or ''}".strip()),
    Column(
        "Hash",
        lambda r: r.hash[:12] + "…",
        tooltip=lambda r: f"SHA-256 of this event:\n{r.hash}\nPrevious event:\n{r.prev_hash}",
        copy=lambda r: r.hash,
    ),
]


class AuditView(QWidget):
    """Audit events of the selected case (or of the whole file) and the chain check."""

    verify_requested = Signal()
    scope_changed = Signal(bool)  # True: show every event in the case file
    chain_checked = Signal(object)  # the ChainReport shown

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model: RecordTableModel[AuditRow] = RecordTableModel(COLUMNS, self)
        self.table = make_table("Audit events", self)
        self.table.setAccessibleDescription("The append-only, hash-chained audit log")
        self.table.setModel(self.model)
        self.filter = make_filter_box(self.table, self)

        self.verify_button = QPushButton("&Verify chain", self)
        self.verify_button.setAccessibleName("Verify audit chain")
        self.verify_button.setToolTip(
            "Re-compute every event's hash and check that each links to its predecessor"
        )
        self.verify_button.clicked.connect(self.verify_requested)
        self.all_events = QCheckBox("Show events of &all cases", self)
        self.all_events.setAccessibleName("Show audit events of all cases")
        self.all_events.toggled.connect(self.scope_changed)
        self.result = QLabel("The chain has not been verified in this session.", self)
        self.result.setObjectName("ChainResult")
        self.result.setAccessibleName("Audit chain verification result")
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.report: ChainReport | None = None

        bar = QHBoxLayout()
        bar.addWidget(self.verify_button)
        bar.addWidget(self.all_events)
        bar.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.result)
        layout.addWidget(self.filter)
        layout.addWidget(self.table)

    def set_events(self, rows: list[AuditRow]) -> None:
        self.model.set_records(rows)
        fit_columns(self.table, stretch=6, fit=(0, 1, 2, 3, 4, 5))
        self._mark_broken()

    def reset(self) -> None:
        """Forget the last verification (another case file was opened)."""
        self.report = None
        self.result.setText("The chain has not been verified in this session.")
        self.result.setStyleSheet("")
        self._mark_broken()

    def set_busy(self, busy: bool) -> None:
        self.verify_button.setEnabled(not busy)
        if busy:
            self.result.setText("Verifying the audit chain…")
            self.result.setStyleSheet("")

    def show_report(self, report: ChainReport) -> None:
        """Show the outcome: green when intact, red naming the first broken event."""
        self.report = report
        self.verify_button.setEnabled(True)
        if report.ok:
            text = (
                f"Audit chain of this case file intact: {report.events} event(s); head hash "
                f"{report.head_hash}."
            )
            colour = INTACT
        else:
            text = (
                f"AUDIT CHAIN BROKEN at event {report.first_broken_id}: {report.problem}. "
                "Events from this one on cannot be trusted."
            )
            colour = BROKEN
        self.result.setText(text)
        self.result.setStyleSheet(f"color: {colour.name()}; font-weight: bold;")
        self._mark_broken()
        self.chain_checked.emit(report)

    def _mark_broken(self) -> None:
        broken = None if self.report is None or self.report.ok else self.report.first_broken_id
        for row, rec in enumerate(self.model.records()):
            self.model.set_row_colour(row, BROKEN if rec.id == broken else None)
