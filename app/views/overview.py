"""The Overview tab: identification, the two competing hypotheses, and counts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from app.case_data import CaseDetails



def _value_label(name: str, parent: QWidget) -> QLabel:
    label = QLabel(parent)
    label.setObjectName(name)
    label.setAccessibleName(name)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                  | Qt.TextInteractionFlag.TextSelectableByKeyboard)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


class OverviewView(QScrollArea):
    """Read-only summary of the selected case."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        body = QWidget(self)
        self.setWidget(body)

        ident = QGroupBox("Identification", body)
        form = QFormLayout(ident)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        self.title = _value_label("Title", ident)
        self.reference = _value_label("Reference", ident)
        self.status = _value_label("Status", ident)
        self.parties = _value_label("Parties", ident)
        self.commissioned_by = _value_label("Commissioned by", ident)
        self.created = _value_label("Created", ident)
        for text, widget in (("Title:", self.title), ("Reference:", self.reference),
                             ("Status:", self.status), ("Parties:", self.parties),
                             ("Commissioned by:", self.commissioned_by),
                             ("Created (UTC):", self.created)):
            form.addRow(text, widget)

        hyp = QGroupBox("Competing hypotheses", body)
        hform = QFormLayout(hyp)
        hform.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        self.hp = _value_label("Hypothesis Hp", hyp)
        self.hd = _value_label("Hypothesis Hd", hyp)
        hp_label = QLabel("H<sub>p</sub>:", hyp)
        hp_label.setToolTip("The prosecution / claimant hypothesis")
        hd_label = QLabel("H<sub>d</sub>:", hyp)
        hd_label.setToolTip("The defence / alternative hypothesis")
        hform.addRow(hp_label, self.hp)
        hform.addRow(hd_label, self.hd)

        counts = QGroupBox("Contents", body)
        cform = QFormLayout(counts)
        self.counts = _value_label("Counts", counts)
        cform.addRow("Recorded:", self.counts)

        self.placeholder = QLabel(
            "No case selected. Create one with File → New case… (Ctrl+N).", body)
        self.placeholder.setObjectName("OverviewPlaceholder")
        self.placeholder.setWordWrap(True)

        layout = QVBoxLayout(body)
        layout.addWidget(self.placeholder)
        layout.addWidget(ident)
        layout.addWidget(hyp)
        layout.addWidget(counts)
        layout.addStretch(1)
        self._groups = (ident, hyp, counts)
        self.show_case(None)

    def show_case(self, details: CaseDetails | None) -> None:
        self.placeholder.setVisible(details is None)
        for group in self._groups:
            group.setVisible(details is not None)
        if details is None:
            return
        s = details.summary
        self.title.setText(s.title)
        self.reference.setText(s.reference)
        self.status.setText(s.status)
        self.parties.setText("; ".join(details.parties) or "—")
        self.commissioned_by.setText(details.commissioned_by or "—")
        self.created.setText(s.created_at.replace("T", " ").replace("+00:00", ""))
        self.hp.setText(details.hypothesis_p)
        self.hd.setText(details.hypothesis_d)
        self.counts.setText(
            f"{s.artifacts} model(s), {s.transcript_sets} transcript set(s), "
            f"{s.policies} polic{'y' if s.policies == 1 else 'ies'}, {s.runs} run(s), "
            f"{s.findings} finding(s)"
        )
