"""Terms of service: import a version (and see what changed), or compare two versions.

:class:`ImportPolicyWizard` is the add-evidence wizard for terms documents
(core.policy.persist.import_policy) with one more page: the clause-level changes from
the document's previous version. :class:`CompareVersionsWizard` compares any two
versions. Both diff through core.policy.persist.diff_policies, as ``policy diff`` does.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QTextBrowser,
    QWidget,
    QWizardPage,
)

from app.jobs import Job
from app.views.table_model import Column, RecordTableModel
from app.views.tables import fit_columns, make_table
from app.wizards.add_evidence import AddEvidenceWizard
from app.wizards.common import HostWizard, JobPage
from core.evidence.formats import POLICY

if TYPE_CHECKING:
    from pathlib import Path

    from app.host import Host
    from core.records import PolicyRow

_REMOVED = re.compile(r"\[-(.*?)-\]", re.DOTALL)
_ADDED = re.compile(r"\{\+(.*?)\+\}", re.DOTALL)
CHANGE_COLUMNS: list[Column[Any]] = [
    Column("Change", lambda c: "moved" if c.renumbered and c.kind == "unchanged" else c.kind),
    Column("Old no.", lambda c: c.old_number or "—"),
    Column("New no.", lambda c: c.new_number or "—"),
    Column("Similarity", lambda c: f"{c.similarity:.2f}", align_right=True),
    Column("Words", lambda c: c.word_diff[:200].replace("\n", " "), tooltip=lambda c: c.word_diff),
]


def diff_html(word_diff: str) -> str:
    """The git-style word diff as HTML: removed words struck through in red, added in green."""
    text = html.escape(word_diff)
    text = _REMOVED.sub(r'<span style="color:#b00020;text-decoration:line-through">\1</span>', text)
    text = _ADDED.sub(r'<span style="color:#1b5e20;font-weight:bold">\1</span>', text)
    return text.replace("\n", "<br>")


class ChangesPage(JobPage):
    """Clause-level changes between two versions, one row per clause; unchanged hidden.

    With no earlier version (the first terms of a document) there is nothing to compare:
    the page says so and the wizard can finish.
    """

    complete_when_idle = True

    def __init__(self, wizard: HostWizard, start: Any) -> None:
        super().__init__(
            "What changed",
            "Matched clause by clause (renumbered clauses are "
            "recognised); removed words struck through, added words in bold.",
            start,
            wizard,
            compact=True,
        )
        self.changes: list[Any] = []
        self.model: RecordTableModel[Any] = RecordTableModel(CHANGE_COLUMNS, self)
        self.table = make_table("Clause changes", self)
        self.table.setModel(self.model)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._show())
        self.show_unchanged = QCheckBox("Show &unchanged clauses", self)
        self.show_unchanged.setAccessibleName("Show unchanged clauses")
        self.show_unchanged.toggled.connect(lambda _c: self._fill())
        self.summary = QLabel(self)
        self.summary.setAccessibleName("Summary of the changes")
        self.summary.setWordWrap(True)
        self.detail = QTextBrowser(self)
        self.detail.setAccessibleName("Word changes of the selected clause")
        self.body.addWidget(self.summary)
        self.body.addWidget(self.show_unchanged)
        self.body.addWidget(self.table, 2)
        self.body.addWidget(self.detail, 1)

    def initializePage(self) -> None:
        self.changes = []
        self.model.set_records([])
        self.detail.clear()
        self.summary.setText("")
        for w in (self.show_unchanged, self.table, self.detail):
            w.setVisible(True)
        super().initializePage()

    def idle(self) -> None:
        for w in (self.show_unchanged, self.table, self.detail):
            w.setVisible(False)
        self.summary.setText(
            "This is the first version of this document in the case: there is nothing to "
            "compare it with yet. Finish to close; the next version you import is compared "
            "with this one."
        )

    def succeeded(self, result: Any) -> None:
        self.changes = list(result or [])
        kinds = [c.kind for c in self.changes]
        self.summary.setText(
            f"{kinds.count('changed')} changed, {kinds.count('added')} added, "
            f"{kinds.count('removed')} removed, "
            f"{sum(c.renumbered for c in self.changes)} renumbered, "
            f"{kinds.count('unchanged')} unchanged clause(s)."
        )
        self._fill()

    def _fill(self) -> None:
        shown = [
            c
            for c in self.changes
            if self.show_unchanged.isChecked() or c.kind != "unchanged" or c.renumbered
        ]
        self.model.set_records(shown)
        fit_columns(self.table, stretch=4, fit=(0, 1, 2, 3))
        if shown:
            self.table.select_source_row(0)

    def _show(self) -> None:
        row = self.table.selected_source_row()
        change = self.model.record(row) if row is not None else None
        self.detail.setHtml(diff_html(change.word_diff) if change else "")


def _start_diff(host: Host, old_id: int | None, new_id: int | None) -> Job | None:
    if host.case_file is None or old_id is None or new_id is None:
        return None
    from core.policy.persist import diff_policies  # loaded by the window's warm-up

    return host.runner.run(
        diff_policies,
        host.case_file,
        old_id,
        new_id,
        pass_state=False,
        quiet=True,
        label=f"Compare policy {old_id} with {new_id}",
    )


def previous_version(rows: list[PolicyRow], new_id: int) -> PolicyRow | None:
    """The version of the same provider's document that came before ``new_id``."""
    new = next((r for r in rows if r.id == new_id), None)
    if new is None:
        return None
    same = [
        r for r in rows if r.id != new_id and r.provider == new.provider and r.series == new.series
    ]
    earlier = [r for r in same if (r.effective_from or "") <= (new.effective_from or "9999")]
    pool = earlier or same
    return max(pool, key=lambda r: (r.effective_from or "", r.id)) if pool else None


class ImportPolicyWizard(AddEvidenceWizard):
    """Choose → What I found → Document details → Import → What changed since the last one."""

    def __init__(self, host: Host, path: Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(
            host, path, kinds=(POLICY,), parent=parent, title="Import terms of service"
        )
        self.setObjectName("ImportPolicyWizard")
        self.old_id: int | None = None
        if host.case_file is not None and host.case_id is not None:
            from core.records import policy_rows

            known = policy_rows(host.case_file, host.case_id)
            if known:  # most terms in a case are one provider's: suggest the last one
                self.preset = {"provider": known[-1].provider}
        self.changes = ChangesPage(self, self._start_changes)
        self.addPage(self.changes)

    def _start_changes(self) -> Job | None:
        from core.records import policy_rows

        if self.imported_id is None or self.host.case_file is None or self.case_id is None:
            return None
        previous = previous_version(
            policy_rows(self.host.case_file, self.case_id), self.imported_id
        )
        if previous is None:
            self.changes.setSubTitle(
                "This is the first version of this document in the case: "
                "there is nothing to compare it with yet."
            )
            return None
        self.old_id = previous.id
        self.changes.setSubTitle(
            f"Compared with version {previous.version} (in force from "
            f"{previous.effective_from or 'an unknown date'})."
        )
        return _start_diff(self.host, previous.id, self.imported_id)


class ChooseVersionsPage(QWizardPage):
    """Step 1 of a comparison: the older and the newer version."""

    def __init__(self, wizard: CompareVersionsWizard) -> None:
        super().__init__(wizard)
        self.setTitle("Which versions?")
        self.setSubTitle("Pick the older and the newer version of a terms document.")
        self.old = QComboBox(self)
        self.old.setAccessibleName("Older version")
        self.new = QComboBox(self)
        self.new.setAccessibleName("Newer version")
        form = QFormLayout(self)
        form.addRow("&Older version:", self.old)
        form.addRow("Ne&wer version:", self.new)
        for box in (self.old, self.new):
            box.currentIndexChanged.connect(lambda _i: self.completeChanged.emit())

    def fill(self, rows: list[PolicyRow], new_id: int | None = None) -> None:
        for box in (self.old, self.new):
            box.clear()
            for r in rows:
                box.addItem(
                    f"{r.provider} — {r.title} — version {r.version} "
                    f"(from {r.effective_from or '?'})",
                    r.id,
                )
        if rows:
            chosen = new_id if new_id is not None else rows[-1].id
            self.new.setCurrentIndex(max(0, self.new.findData(chosen)))
            previous = previous_version(rows, chosen)
            if previous is not None:
                self.old.setCurrentIndex(self.old.findData(previous.id))

    def isComplete(self) -> bool:
        old, new = self.old.currentData(), self.new.currentData()
        return old is not None and new is not None and old != new


class CompareVersionsWizard(HostWizard):
    """Choose two versions → their clause-level changes."""

    def __init__(
        self, host: Host, new_id: int | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(host, "Compare terms versions", "CompareVersionsWizard", parent)
        from core.records import policy_rows

        self.choose = ChooseVersionsPage(self)
        self.changes = ChangesPage(
            self,
            lambda: _start_diff(
                self.host, self.choose.old.currentData(), self.choose.new.currentData()
            ),
        )
        self.addPage(self.choose)
        self.addPage(self.changes)
        rows = (
            policy_rows(host.case_file, host.case_id)
            if host.case_file is not None and host.case_id is not None
            else []
        )
        self.choose.fill(rows, new_id)
