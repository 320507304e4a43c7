"""The Overview tab: identification, the two competing hypotheses, counts, latest results."""

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
    from core.records import CaseDetails, RunRow


def _value_label(name: str, parent: QWidget) -> QLabel:
    label = QLabel(parent)
    label.setObjectName(name)
    label.setAccessibleName(name)
    label.setWordWrap(True)
    label.setTextInteractionFlags(
        Qt.TextInteractionFlag.TextSelectableByMouse
        | Qt.TextInteractionFlag.TextSelectableByKeyboard
    )
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
        for text, widget in (
            ("Title:", self.title),
            ("Reference:", self.reference),
            ("Status:", self.status),
            ("Parties:", self.parties),
            ("Commissioned by:", self.commissioned_by),
            ("Created (UTC):", self.created),
        ):
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
        self.findings = _value_label("Findings by status", counts)
        cform.addRow("Findings:", self.findings)

        latest = QGroupBox("Latest results", body)
        lform = QFormLayout(latest)
        lform.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.latest = _value_label("Latest results", latest)
        lform.addRow(self.latest)

        self.placeholder = QLabel(
            "No case selected. Create one with File → New case… (Ctrl+N).", body
        )
        self.placeholder.setObjectName("OverviewPlaceholder")
        self.placeholder.setWordWrap(True)

        layout = QVBoxLayout(body)
        layout.addWidget(self.placeholder)
        layout.addWidget(ident)
        layout.addWidget(hyp)
        layout.addWidget(counts)
        layout.addWidget(latest)
        layout.addStretch(1)
        self._groups = (ident, hyp, counts, latest)
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
        self.status.setText(
            s.status + (f"; conduct date {details.conduct_date}" if details.conduct_date else "")
        )
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

    def show_latest(self, runs: list[RunRow], findings: dict[str, int]) -> None:
        """The newest runs' verdicts at a glance, and how many findings await review."""
        lines = []
        for run in runs[:3]:
            verdicts = "; ".join(f"{k}: {v}" for k, v in run.verdicts.items())
            lines.append(
                f"{run.label} ({run.category}, {run.status}"
                f"{', ' + run.created_at[:10] if run.created_at else ''})"
                + (f" — {verdicts}" if verdicts else "")
            )
        self.latest.setText(
            "\n".join(lines)
            or "No analyses yet. Run a check with Analysis → Run a check… (Ctrl+R)."
        )
        self.findings.setText(", ".join(f"{n} {k}" for k, n in findings.items()) or "none")
