"""The Policies tab: terms documents by version, their clauses with category chips.

Left: every imported version, grouped by provider and document series (with effective
dates). Right: the selected version's clauses, filterable by category; below them the
selected clause's text, its category chips and the reviewer's tag corrections (audited
through core.policy.persist.correct_tag). "Which version was in force on…" answers with
core.policy.persist.policy_in_force.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QDate, Qt, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.views.chips import ChipRow
from app.views.table_model import Column, RecordTableModel
from app.views.tables import fit_columns, make_table

if TYPE_CHECKING:
    from app.host import Host
    from core.policy.persist import ClauseView
    from core.records import PolicyRow

POLICY_COLUMNS: list[Column[PolicyRow]] = [
    Column("Provider", lambda p: p.provider),
    Column("Document", lambda p: p.title, tooltip=lambda p: f"Series: {p.series}"),
    Column("Version", lambda p: p.version),
    Column("In force from", lambda p: p.effective_from or "—"),
    Column("Until", lambda p: p.effective_to or "—"),
    Column("Clauses", lambda p: p.clauses, align_right=True),
]


class PoliciesView(QWidget):
    """Versions, clauses, category chips, a category filter and tag corrections."""

    def __init__(self, host: Host, actions: list[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.labels: dict[str, str] = {}
        self.policies: RecordTableModel[PolicyRow] = RecordTableModel(POLICY_COLUMNS, self)
        self.policy_table = make_table("Policy versions", self)
        self.policy_table.setModel(self.policies)
        self.policy_table.selectionModel().selectionChanged.connect(lambda *_: self.load_clauses())
        self.clauses: RecordTableModel[ClauseView] = RecordTableModel(
            [
                Column("No.", lambda c: c.number),
                Column("Heading", lambda c: c.heading, tooltip=lambda c: c.text[:400]),
                Column(
                    "Categories", lambda c: " · ".join(self._label(t["category"]) for t in c.tags)
                ),
            ],
            self,
        )
        self.clause_table = make_table("Clauses", self)
        self.clause_table.setModel(self.clauses)
        self.clause_table.selectionModel().selectionChanged.connect(lambda *_: self._show_clause())

        self.category = QComboBox(self)
        self.category.setAccessibleName("Filter clauses by category")
        self.category.currentIndexChanged.connect(lambda _i: self.load_clauses())
        filter_label = QLabel("&Category:", self)
        filter_label.setBuddy(self.category)
        self.in_force_date = QDateEdit(QDate.currentDate(), self)
        self.in_force_date.setCalendarPopup(True)
        self.in_force_date.setDisplayFormat("yyyy-MM-dd")
        self.in_force_date.setAccessibleName("Date for the version in force")
        self.in_force_button = QPushButton("In &force on…", self)
        self.in_force_button.setAccessibleName("Which version was in force on the date")
        self.in_force_button.clicked.connect(self.show_in_force)
        self.in_force = QLabel(self)
        self.in_force.setAccessibleName("Version in force")
        self.in_force.setWordWrap(True)
        self.in_force.setVisible(False)

        self.chips = ChipRow("Categories of the selected clause", self)
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        self.text.setAccessibleName("Text of the selected clause")
        self.tag_category = QComboBox(self)
        self.tag_category.setAccessibleName("Category to add or remove")
        self.tag_category.setMinimumContentsLength(24)
        self.tag_category.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.add_tag = QPushButton("&Add category", self)
        self.add_tag.setAccessibleName("Add the category to the clause")
        self.add_tag.clicked.connect(lambda: self.correct(add=True))
        self.remove_tag = QPushButton("&Remove category", self)
        self.remove_tag.setAccessibleName("Remove the category from the clause")
        self.remove_tag.clicked.connect(lambda: self.correct(add=False))

        bar = QHBoxLayout()
        for action in actions:
            button = QToolButton(self)
            button.setDefaultAction(action)
            button.setAccessibleName(action.text().replace("&", "").rstrip("…"))
            bar.addWidget(button)
        bar.addStretch(1)
        bar.addWidget(self.in_force_date)
        bar.addWidget(self.in_force_button)
        tag_bar = QHBoxLayout()
        tag_bar.addWidget(QLabel("Correct the categories:", self))
        tag_bar.addWidget(self.tag_category, 1)
        tag_bar.addWidget(self.add_tag)
        tag_bar.addWidget(self.remove_tag)
        filter_bar = QHBoxLayout()
        filter_bar.addWidget(filter_label)
        filter_bar.addWidget(self.category, 1)

        right = QWidget(self)
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addLayout(filter_bar)
        rl.addWidget(self.clause_table, 3)
        rl.addWidget(self.chips)
        rl.addWidget(self.text, 2)
        rl.addLayout(tag_bar)
        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(self.policy_table)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([440, 560])
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.in_force)
        layout.addWidget(split, 1)
        self._enable()

    # --- reading -------------------------------------------------------------------
    def _label(self, category: str) -> str:
        return self.labels.get(category, category)

    def _categories(self) -> None:
        if self.labels:
            return
        from core.policy.taxonomy import load_taxonomy

        taxonomy = load_taxonomy()
        self.labels = {c.id: c.label for c in taxonomy.categories}
        self.category.blockSignals(True)
        self.category.addItem("All categories", None)
        for c in taxonomy.categories:
            self.category.addItem(c.label, c.id)
            self.category.setItemData(
                self.category.count() - 1, c.description, Qt.ItemDataRole.ToolTipRole
            )
            self.tag_category.addItem(c.label, c.id)
        self.category.blockSignals(False)

    def load(self) -> None:
        """Re-read the case's policies (keeping the selected version)."""
        from core.records import policy_rows

        cf, case_id = self.host.case_file, self.host.case_id
        keep = self.selected_policy()
        rows = policy_rows(cf, case_id) if cf is not None and case_id is not None else []
        if rows:
            self._categories()
        self.policies.set_records(rows)
        fit_columns(self.policy_table, stretch=1, fit=(0, 2, 3, 4, 5))
        ids = [r.id for r in rows]
        if rows:
            self.select_policy(keep.id if keep and keep.id in ids else ids[-1])
        else:
            self.load_clauses()
        self.in_force.clear()
        self.in_force.setVisible(False)

    def select_policy(self, policy_id: int) -> None:
        for row, rec in enumerate(self.policies.records()):
            if rec.id == policy_id:
                self.policy_table.select_source_row(row)
                return

    def selected_policy(self) -> PolicyRow | None:
        row = self.policy_table.selected_source_row()
        return self.policies.record(row) if row is not None else None

    def selected_clause(self) -> ClauseView | None:
        row = self.clause_table.selected_source_row()
        return self.clauses.record(row) if row is not None else None

    def set_category(self, category: str | None) -> None:
        index = self.category.findData(category)
        self.category.setCurrentIndex(max(0, index))

    @Slot()
    def load_clauses(self) -> None:
        policy, cf = self.selected_policy(), self.host.case_file
        clauses: list[Any] = []
        if policy is not None and cf is not None:
            from core.policy.persist import list_clauses

            clauses = list_clauses(cf, policy.id, self.category.currentData())
        keep = self.selected_clause()
        self.clauses.set_records(clauses)
        fit_columns(self.clause_table, stretch=2, fit=(0,))
        header = self.clause_table.horizontalHeader()
        header.resizeSection(1, min(max(header.sectionSize(1), 120), 260))
        for row, c in enumerate(clauses):
            if keep is not None and c.id == keep.id:
                self.clause_table.select_source_row(row)
        self._show_clause()

    def _show_clause(self) -> None:
        clause = self.selected_clause()
        self.text.setPlainText(clause.text if clause else "")
        items = []
        for t in clause.tags if clause else []:
            cues = ", ".join(t.get("cues") or []) or "added by a reviewer"
            tip = f"Score {t['score']:.2f}; cue phrases: {cues}; {t['status']}"
            items.append(
                (
                    self._label(t["category"]),
                    tip,
                    "reviewer" if t["source"] == "reviewer" else t["status"],
                )
            )
        self.chips.set_chips(items)
        self._enable()

    def _enable(self) -> None:
        has_clause = self.selected_clause() is not None
        for widget in (self.tag_category, self.add_tag, self.remove_tag):
            widget.setEnabled(has_clause)
        self.in_force_button.setEnabled(self.selected_policy() is not None)

    # --- acting ---------------------------------------------------------------------
    def correct(self, add: bool) -> None:
        """Add or remove the chosen category on the selected clause (audited)."""
        from core.policy.persist import correct_tag

        clause = self.selected_clause()
        category = self.tag_category.currentData()
        if clause is None or not category:
            return
        verb = "Add" if add else "Remove"
        self.host.run_write(
            correct_tag,
            self.host.case_file,
            clause.id,
            category,
            add=add,
            actor=self.host.reviewer(),
            label=f"{verb} {category} on clause {clause.number}",
            on_done=lambda _r: self.load_clauses(),
        )

    def show_in_force(self) -> None:
        """Name the version of the selected document that was in force on the chosen date."""
        self.in_force.setVisible(True)
        from core.errors import DistillAuditError
        from core.policy.persist import policy_in_force, why_not_in_force

        policy, cf = self.selected_policy(), self.host.case_file
        if policy is None or cf is None or self.host.case_id is None:
            return
        when = self.in_force_date.date().toPython()
        assert isinstance(when, date)
        try:
            hit = policy_in_force(cf, self.host.case_id, policy.provider, when, policy.title)
        except DistillAuditError as exc:
            self.in_force.setText(str(exc))
            return
        if hit is None:
            self.in_force.setText(
                why_not_in_force(cf, self.host.case_id, policy.provider, when, policy.title)
            )
            return
        self.in_force.setText(
            f"On {when.isoformat()}, {hit.provider} {hit.title} version "
            f"{hit.version} was in force (from "
            f"{hit.effective_from.isoformat() if hit.effective_from else '?'})."
        )
        self.select_policy(hit.id)
