"""The Findings tab: review the draft findings a check proposed.

Accept, reject or return to draft (with a reason), reword the statement, keep notes, and
link a finding to a terms clause as worded in the version in force on the conduct date.
Every step calls core (core.store.findings, core.policy.persist.link_finding_to_clause)
as a background write and lands in the audit log under the reviewer's name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QDate, Qt, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.views.table_model import Column, RecordTableModel
from app.views.tables import fit_columns, make_filter_box, make_table

if TYPE_CHECKING:
    from app.host import Host
    from core.store.findings import FindingView

STATUS_COLOURS = {"accepted": "#1b5e20", "rejected": "#b00020", "draft": "#6d4c00"}


def run_names(ids: tuple[int, ...] | list[int], labels: dict[int, str]) -> str:
    """The runs a finding came from, each named with the model it tested."""
    return "; ".join(labels.get(i, f"Run {i}") for i in ids) or "—"


def columns(labels: dict[int, str]) -> list[Column[FindingView]]:
    """The findings table's columns; ``labels`` (run id → "Run 3 — suspect-osprey
    (suspect)") is filled on each load."""
    return [*COLUMNS[:4], Column("Runs", lambda f: run_names(f.run_ids, labels)), COLUMNS[-1]]


COLUMNS: list[Column[FindingView]] = [
    Column("ID", lambda f: f.id, align_right=True),
    Column("Status", lambda f: f.status),
    Column("Statement", lambda f: f.statement.replace("\n", " "), tooltip=lambda f: f.statement),
    Column(
        "Strength",
        lambda f: f.strength.replace(" for Hp over Hd", ""),
        tooltip=lambda f: f.strength,
    ),
    Column("Runs", lambda f: ", ".join(map(str, f.run_ids))),
    Column(
        "Clauses", lambda f: ", ".join(f"{c.version} §{c.clause_number}" for c in f.clause_links)
    ),
]


def _text_box(name: str, parent: QWidget, height_lines: int = 5) -> QPlainTextEdit:
    box = QPlainTextEdit(parent)
    box.setAccessibleName(name)
    box.setTabChangesFocus(True)
    box.setMinimumHeight(height_lines * box.fontMetrics().height())
    return box


class FindingsView(QWidget):
    """Findings table on the left, the review panel of the selected finding on the right."""

    def __init__(self, host: Host, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.run_labels: dict[int, str] = {}
        self.model: RecordTableModel[FindingView] = RecordTableModel(columns(self.run_labels), self)
        self.table = make_table("Findings", self)
        self.table.setModel(self.model)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._show())
        self.filter = make_filter_box(self.table, self)
        self.summary = QLabel(self)
        self.summary.setAccessibleName("Findings summary")

        self.status = QLabel(self)
        self.status.setAccessibleName("Status of the selected finding")
        self.statement = _text_box("Statement of the finding", self, 7)
        self.notes = _text_box("Reviewer notes", self, 3)
        self.notes.setMaximumHeight(6 * self.notes.fontMetrics().height())
        self.reason = QLineEdit(self)
        self.reason.setAccessibleName("Reason for the decision")
        self.reason.setPlaceholderText("Why (kept with the decision in the audit log)")
        self.accept_button = self._button(
            "&Accept", "Accept the finding", lambda: self.set_status("accepted")
        )
        self.reject_button = self._button(
            "Re&ject", "Reject the finding", lambda: self.set_status("rejected")
        )
        self.draft_button = self._button(
            "Return to &draft", "Return the finding to draft", lambda: self.set_status("draft")
        )
        self.save_wording = self._button(
            "Save &wording", "Save the edited statement", self.save_statement
        )
        self.save_notes_button = self._button(
            "Save &notes", "Save the reviewer notes", self.save_notes
        )
        self.links = QLabel(self)
        self.links.setAccessibleName("Linked clauses")
        self.links.setWordWrap(True)
        self.links.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.clause = QComboBox(self)
        self.clause.setAccessibleName("Clause to link")
        self.conduct_date = QDateEdit(QDate.currentDate(), self)
        self.conduct_date.setCalendarPopup(True)
        self.conduct_date.setDisplayFormat("yyyy-MM-dd")
        self.conduct_date.setAccessibleName("Date of the conduct")
        self.link_note = QLineEdit(self)
        self.link_note.setAccessibleName("Note on the clause link")
        self.link_button = self._button(
            "&Link clause", "Link the clause to the finding", self.link_clause
        )

        decide = QHBoxLayout()
        for b in (self.accept_button, self.reject_button, self.draft_button):
            decide.addWidget(b)
        decide.addStretch(1)
        review = QGroupBox("Review", self)
        form = QFormLayout(review)
        form.addRow("Status:", self.status)
        form.addRow("&Statement:", self.statement)
        form.addRow("", self.save_wording)
        form.addRow("Rea&son:", self.reason)
        form.addRow("", _wrap(decide, self))
        form.addRow("N&otes:", self.notes)
        form.addRow("", self.save_notes_button)
        link_box = QGroupBox("Terms of service", self)
        lform = QFormLayout(link_box)
        lform.addRow("Linked:", self.links)
        lform.addRow("Cla&use:", self.clause)
        lform.addRow("Conduct &date:", self.conduct_date)
        lform.addRow("Note:", self.link_note)
        lform.addRow("", self.link_button)

        right = QWidget(self)
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(review)
        rl.addWidget(link_box)
        rl.addStretch(1)
        left = QWidget(self)
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.filter)
        ll.addWidget(self.table)
        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(left)
        # The review panel scrolls rather than forcing the window taller than a laptop
        # screen (with the Jobs panel open the window must fit 700 px).
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(right)
        split.addWidget(scroll)
        split.setStretchFactor(0, 1)
        split.setSizes([560, 520])
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(split, 1)
        self._show()

    def _button(self, text: str, name: str, slot: object) -> QPushButton:
        button = QPushButton(text, self)
        button.setAccessibleName(name)
        button.clicked.connect(slot)
        return button

    # --- reading -------------------------------------------------------------------
    def load(self, conduct_date: str | None = None) -> None:
        """Re-read the findings and the clauses they can be linked to."""
        from core.records import run_rows
        from core.store.findings import list_findings

        cf, case_id = self.host.case_file, self.host.case_id
        keep = self.selected()
        rows = list_findings(cf, case_id) if cf is not None and case_id is not None else []
        self.run_labels.clear()
        if cf is not None and case_id is not None:
            self.run_labels.update({r.id: r.label for r in run_rows(cf, case_id)})
        self.model.set_records(rows)
        fit_columns(self.table, stretch=2, fit=(0, 1, 3, 4, 5))
        for row, f in enumerate(rows):
            self.model.set_row_colour(row, None)
            if keep is not None and f.id == keep.id:
                self.table.select_source_row(row)
        if rows and self.selected() is None:
            self.table.select_source_row(0)
        counts = {s: sum(f.status == s for f in rows) for s in ("draft", "accepted", "rejected")}
        self.summary.setText(
            f"{len(rows)} finding(s): {counts['draft']} draft, "
            f"{counts['accepted']} accepted, {counts['rejected']} rejected. "
            "Only accepted findings are reported as conclusions."
        )
        if conduct_date:
            self.conduct_date.setDate(QDate.fromString(conduct_date, "yyyy-MM-dd"))
        self._load_clauses()
        self._show()

    def _load_clauses(self) -> None:
        from core.policy.persist import list_clauses
        from core.records import policy_rows

        cf, case_id = self.host.case_file, self.host.case_id
        self.clause.clear()
        if cf is None or case_id is None:
            return
        first_tagged = -1
        for p in policy_rows(cf, case_id):
            for c in list_clauses(cf, p.id):
                tags = ", ".join(t["category"] for t in c.tags)
                self.clause.addItem(
                    f"{p.title} {p.version} §{c.number} {c.heading}".strip()
                    + (f" [{tags}]" if tags else ""),
                    c.id,
                )
                if tags and first_tagged < 0:
                    first_tagged = self.clause.count() - 1
        self.clause.setCurrentIndex(max(0, first_tagged))

    def selected(self) -> FindingView | None:
        row = self.table.selected_source_row()
        return self.model.record(row) if row is not None else None

    def select_finding(self, finding_id: int) -> None:
        for row, f in enumerate(self.model.records()):
            if f.id == finding_id:
                self.table.select_source_row(row)

    @Slot()
    def _show(self) -> None:
        f = self.selected()
        for w in (
            self.statement,
            self.notes,
            self.reason,
            self.accept_button,
            self.reject_button,
            self.draft_button,
            self.save_wording,
            self.save_notes_button,
            self.clause,
            self.conduct_date,
            self.link_note,
            self.link_button,
        ):
            w.setEnabled(f is not None)
        if f is None:
            self.status.setText(
                "No finding selected. A check proposes draft findings when a result supports Hp."
            )
            self.status.setStyleSheet("")
            self.statement.setPlainText("")
            self.notes.setPlainText("")
            self.links.setText("—")
            return
        who = f" by {f.reviewer}" if f.reviewer else ""
        self.status.setText(
            f"{f.status}{who} · {f.strength} · {run_names(f.run_ids, self.run_labels)}"
        )
        self.status.setStyleSheet(f"color: {STATUS_COLOURS.get(f.status, '')}; font-weight: bold;")
        self.statement.setPlainText(f.statement)
        self.notes.setPlainText(f.reviewer_notes)
        self.accept_button.setEnabled(f.status != "accepted")
        self.reject_button.setEnabled(f.status != "rejected")
        self.draft_button.setEnabled(f.status != "draft")
        self.links.setText(
            "\n".join(
                f"{c.provider} {c.document} version {c.version} §{c.clause_number} "
                f"{c.clause_heading} (conduct {c.conduct_date}){' — ' + c.note if c.note else ''}"
                for c in f.clause_links
            )
            or "—"
        )
        self.link_button.setEnabled(self.clause.count() > 0)

    # --- acting ---------------------------------------------------------------------
    def set_status(self, status: str) -> None:
        from core.store.findings import set_status

        f = self.selected()
        if f is None:
            return
        note = self.reason.text().strip()
        self.host.run_write(
            set_status,
            self.host.case_file,
            f.id,
            status,
            self.host.reviewer(),
            note,
            label=f"Mark finding {f.id} {status}",
            on_done=lambda _r: self.reason.clear(),
        )

    def save_statement(self) -> None:
        from core.store.findings import edit_statement

        f = self.selected()
        if f is None:
            return
        self.host.run_write(
            edit_statement,
            self.host.case_file,
            f.id,
            self.statement.toPlainText(),
            self.host.reviewer(),
            self.reason.text().strip(),
            label=f"Reword finding {f.id}",
        )

    def save_notes(self) -> None:
        from core.store.findings import set_notes

        f = self.selected()
        if f is None:
            return
        self.host.run_write(
            set_notes,
            self.host.case_file,
            f.id,
            self.notes.toPlainText(),
            self.host.reviewer(),
            label=f"Notes on finding {f.id}",
        )

    def link_clause(self) -> None:
        from core.policy.persist import link_finding_to_clause

        f, clause_id = self.selected(), self.clause.currentData()
        if f is None or clause_id is None:
            return
        self.host.run_write(
            link_finding_to_clause,
            self.host.case_file,
            f.id,
            int(clause_id),
            self.conduct_date.date().toPython(),
            self.link_note.text().strip(),
            actor=self.host.reviewer(),
            label=f"Link finding {f.id} to a clause",
            on_done=lambda _r: self.link_note.clear(),
        )


def _wrap(layout: QHBoxLayout, parent: QWidget) -> QWidget:
    holder = QWidget(parent)
    layout.setContentsMargins(0, 0, 0, 0)
    holder.setLayout(layout)
    return holder
