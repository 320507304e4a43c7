"""The Evidence tab: models and transcript sets of the case with their hashes.

The "Verified" column shows the outcome of the last re-hash of the evidence in this
session (core.evidence.verify.verify_case_evidence): ok, changed or missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QColor, QGuiApplication
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from app.views.evidence_detail import EvidenceDetailDialog
from app.views.table_model import Column, RecordTableModel
from app.views.tables import fit_columns, make_filter_box, make_table

if TYPE_CHECKING:
    from core.evidence.inventory import EvidenceItem
    from core.evidence.verify import EvidenceCheck

NOT_VERIFIED = "not yet re-hashed"
PROBLEM = QColor("#b00020")

KIND_NAMES = {"model": "Model", "transcripts": "Transcripts", "policy": "Policy"}


def short_hash(digest: str, keep: int = 12) -> str:
    return digest[:keep] + "…" if len(digest) > keep else digest


def _when(text: str) -> str:
    return text[:19].replace("T", " ")


COLUMNS: list[Column[EvidenceItem]] = [
    Column("Kind", lambda e: KIND_NAMES.get(e.kind, e.kind)),
    Column("Role", lambda e: e.role),
    Column("Name", lambda e: e.name, tooltip=lambda e: e.path),
    Column(
        "SHA-256",
        lambda e: short_hash(e.sha256),
        tooltip=lambda e: (
            f"SHA-256 {'of the file manifest' if e.kind == 'model' else 'of the file'}:"
            f"\n{e.sha256}\n(Ctrl+C or right-click copies it)"
        ),
        copy=lambda e: e.sha256,
    ),
    Column("Description", lambda e: e.description, tooltip=lambda e: e.description),
    Column("Imported by", lambda e: e.imported_by),
    Column("Imported at (UTC)", lambda e: _when(e.imported_at), tooltip=lambda e: e.imported_at),
]


def custody_text(e: EvidenceItem) -> str:
    """Custody from the source in one cell: production number, method, a discrepancy."""
    c = e.custody or {}
    if not c:
        return "—"
    text = " · ".join(v for v in (c.get("production_no"), c.get("collection_method")) if v)
    return ("HASH DISCREPANCY · " if c.get("discrepancy") else "") + (text or "recorded")


def custody_detail(e: EvidenceItem) -> str:
    """Every custody field and transfer, for the cell's tooltip."""
    c = e.custody or {}
    if not c:
        return "No custody from the source recorded (distill-audit evidence custody …)."
    lines = [
        f"Produced by: {c.get('produced_by') or '—'}",
        f"Collected at: {c.get('collected_at') or '—'} ({c.get('collection_method') or '—'})",
        f"Production no.: {c.get('production_no') or '—'}",
        f"Hash at source: {c.get('source_sha256') or 'not stated'}",
        f"Hash on receipt: {c.get('receipt_sha256') or '—'}",
    ]
    if c.get("discrepancy"):
        lines.append(f"DISCREPANCY: {c['discrepancy']}")
    lines += [
        f"Transfer: {t.get('from')} → {t.get('to')} at {t.get('at')} {t.get('how') or ''}".rstrip()
        for t in c.get("transfers") or []
    ]
    return "\n".join(lines)


class EvidenceView(QWidget):
    """Table of the selected case's evidence; the full SHA-256 can be copied."""

    def __init__(self, import_actions: list[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.verified: dict[tuple[str, int], tuple[str, str]] = {}  # (kind, id) -> status, detail
        verified: Column[EvidenceItem] = Column(
            "Verified",
            lambda e: self.verified.get((e.kind, e.id), (NOT_VERIFIED, ""))[0],
            tooltip=lambda e: self.verified.get((e.kind, e.id), ("", "Use Verify evidence"))[1],
        )
        custody: Column[EvidenceItem] = Column("Custody", custody_text, tooltip=custody_detail)
        self.model: RecordTableModel[EvidenceItem] = RecordTableModel(
            [*COLUMNS, verified, custody], self
        )
        self.table = make_table("Evidence", self)
        self.table.setAccessibleDescription(
            "Models and transcript sets of the case; Ctrl+C copies the selected rows with "
            "their full SHA-256; double-click shows an item's details"
        )
        self.table.setModel(self.model)

        self.copy_action = QAction("&Copy SHA-256", self)
        self.copy_action.triggered.connect(self.copy_selected_hash)
        self.table.addAction(self.copy_action)
        self.table.doubleClicked.connect(lambda _i: self.show_details())
        self.filter = make_filter_box(self.table, self)
        self.detail: EvidenceDetailDialog | None = None

        bar = QHBoxLayout()
        for action in import_actions:
            button = QToolButton(self)
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.setAccessibleName(action.text().replace("&", "").rstrip("…"))
            bar.addWidget(button)
        bar.addStretch(1)
        self.summary = QLabel(self)
        self.summary.setObjectName("EvidenceSummary")
        bar.addWidget(self.summary)

        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.filter)
        layout.addWidget(self.table)

    def set_items(self, items: list[EvidenceItem]) -> None:
        self.model.set_records(items)
        fit_columns(self.table, stretch=4, fit=(0, 1, 3, 5, 6, 7))
        self._colour_problems()
        header = self.table.horizontalHeader()
        header.resizeSection(2, min(max(header.sectionSize(2), 100), 260))  # name
        models = sum(e.kind == "model" for e in items)
        self.summary.setText(f"{models} model(s), {len(items) - models} transcript set(s)")

    def set_verification(self, checks: list[EvidenceCheck]) -> None:
        """Show the outcome of a re-hash: every file ok, or which changed / went missing."""
        self.verified = {}
        for c in checks:
            bad = [f for f in c.files if f.status != "ok"]
            status = (
                "ok"
                if not bad
                else ("missing" if all(f.status == "missing" for f in bad) else "changed")
            )
            detail = (
                f"All {len(c.files)} file(s) match their recorded SHA-256."
                if not bad
                else "\n".join(f"{f.status}: {f.path}" for f in bad)
            )
            self.verified[(c.kind, c.id)] = (status, detail)
        self.model.set_records(self.model.records())
        self._colour_problems()

    def _colour_problems(self) -> None:
        for row, e in enumerate(self.model.records()):
            status = self.verified.get((e.kind, e.id), ("",))[0]
            self.model.set_row_colour(row, PROBLEM if status in ("changed", "missing") else None)

    def selected_item(self) -> EvidenceItem | None:
        row = self.table.selected_source_row()
        return self.model.record(row) if row is not None else None

    def show_details(self) -> EvidenceDetailDialog | None:
        """Open the detail pane of the selected item (who collected it, source, hashes)."""
        item = self.selected_item()
        if item is None:
            return None
        if self.detail is not None:
            self.detail.close()
        self.detail = EvidenceDetailDialog(item, self)
        self.detail.open()
        return self.detail

    def copy_selected_hash(self) -> str | None:
        """Put the selected item's full SHA-256 on the clipboard; return it."""
        item = self.selected_item()
        if item is None:
            return None
        QGuiApplication.clipboard().setText(item.sha256)
        return item.sha256
