"""The New case wizard: identification, then the two competing hypotheses.

The hypotheses are prefilled with the standard wording (core.records.DEFAULT_HP /
DEFAULT_HD) so a reviewer edits rather than invents them. Finishing calls ``submit``
(the main window passes one that calls core.store.cases.create_case); if core refuses
(e.g. a reference already in use) the wizard stays open and shows why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtWidgets import (
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from core.errors import DistillAuditError


@dataclass
class NewCaseInput:
    """What the wizard collected; maps one to one onto create_case's arguments."""

    title: str
    reference: str
    hypothesis_p: str
    hypothesis_d: str
    parties: list[str] = field(default_factory=list)
    commissioned_by: str = ""


def split_parties(text: str) -> list[str]:
    """Parties typed one per line or separated by semicolons."""
    parts = [p.strip() for line in text.splitlines() for p in line.split(";")]
    return [p for p in parts if p]


def _error_label(parent: QWidget) -> QLabel:
    label = QLabel(parent)
    label.setObjectName("WizardError")
    label.setWordWrap(True)
    label.setStyleSheet("color: #b00020;")
    label.setVisible(False)
    return label


class IdentificationPage(QWizardPage):
    def __init__(
        self,
        parent: QWidget | None = None,
        check_reference: Callable[[str], str | None] | None = None,
    ) -> None:
        super().__init__(parent)
        self._check_reference = check_reference  # core.records.reference_problem
        self.setTitle("Identify the case")
        self.setSubTitle("A short title and a unique reference, as used in your files.")
        self.title_edit = QLineEdit(self)
        self.title_edit.setAccessibleName("Case title")
        self.title_edit.setPlaceholderText("e.g. Halcyon Labs v Quillmark AI")
        self.reference = QLineEdit(self)
        self.reference.setAccessibleName("Case reference")
        self.reference.setPlaceholderText("e.g. DA-2025-001")
        self.parties = QPlainTextEdit(self)
        self.parties.setAccessibleName("Parties, one per line")
        self.parties.setPlaceholderText("One party per line")
        self.parties.setTabChangesFocus(True)
        self.parties.setFixedHeight(72)
        self.commissioned_by = QLineEdit(self)
        self.commissioned_by.setAccessibleName("Commissioned by")
        form = QFormLayout()
        form.addRow("&Title:", self.title_edit)
        form.addRow("&Reference:", self.reference)
        form.addRow("&Parties:", self.parties)
        form.addRow("&Commissioned by:", self.commissioned_by)
        self.reference_error = _error_label(self)
        self.reference_error.setAccessibleName("Why this reference cannot be used")
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.reference_error)
        layout.addStretch(1)
        self.registerField("title*", self.title_edit)
        self.registerField("reference*", self.reference)
        self.reference.textChanged.connect(lambda _t: self._on_reference())

    def reference_problem(self) -> str | None:
        check = self._check_reference
        return check(self.reference.text()) if check is not None else None

    def _on_reference(self) -> None:
        problem = self.reference_problem()
        self.reference_error.setText(problem or "")
        self.reference_error.setVisible(bool(problem))
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return super().isComplete() and self.reference_problem() is None


class HypothesesPage(QWizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        from core.records import DEFAULT_HD, DEFAULT_HP  # the store loads after start-up

        super().__init__(parent)
        self.setTitle("State the competing hypotheses")
        self.setSubTitle(
            "Every result is weighed against both. Edit the standard wording "
            "only if the case needs it."
        )
        self.hp = QPlainTextEdit(DEFAULT_HP, self)
        self.hp.setAccessibleName("Hypothesis Hp")
        self.hp.setTabChangesFocus(True)
        self.hd = QPlainTextEdit(DEFAULT_HD, self)
        self.hd.setAccessibleName("Hypothesis Hd")
        self.hd.setTabChangesFocus(True)
        self.error = _error_label(self)
        form = QFormLayout()
        form.addRow("H&p (claim):", self.hp)
        form.addRow("H&d (alternative):", self.hd)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        self.hp.textChanged.connect(self.completeChanged)
        self.hd.textChanged.connect(self.completeChanged)

    def isComplete(self) -> bool:
        return bool(self.hp.toPlainText().strip() and self.hd.toPlainText().strip())

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))


class NewCaseWizard(QWizard):
    """Two pages; on Finish calls ``submit(NewCaseInput) -> case id`` and keeps the id."""

    def __init__(
        self,
        submit: Callable[[NewCaseInput], int],
        parent: QWidget | None = None,
        check_reference: Callable[[str], str | None] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("New case")
        self.setObjectName("NewCaseWizard")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self._submit = submit
        self.case_id: int | None = None
        self.identification = IdentificationPage(self, check_reference)
        self.hypotheses = HypothesesPage(self)
        self.addPage(self.identification)
        self.addPage(self.hypotheses)
        self.resize(640, 480)

    def collected(self) -> NewCaseInput:
        page = self.identification
        return NewCaseInput(
            title=page.title_edit.text().strip(),
            reference=page.reference.text().strip(),
            parties=split_parties(page.parties.toPlainText()),
            commissioned_by=page.commissioned_by.text().strip(),
            hypothesis_p=self.hypotheses.hp.toPlainText().strip(),
            hypothesis_d=self.hypotheses.hd.toPlainText().strip(),
        )

    def validateCurrentPage(self) -> bool:
        if self.currentPage() is not self.hypotheses:
            return super().validateCurrentPage()
        self.hypotheses.show_error("")
        try:
            self.case_id = self._submit(self.collected())
        except DistillAuditError as exc:
            self.hypotheses.show_error(str(exc))
            return False
        return True
