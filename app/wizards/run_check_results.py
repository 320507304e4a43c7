"""The last page of the check wizard: verdicts, the combined statement and the charts.

Read back from the case file (core.records.run_details, i.e. core.reports.analyses), so
it shows exactly what the Analyses tab and the PDF report will show.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget, QWizardPage

from app.views.analyses_view import CHECK_COLUMNS
from app.views.charts import ChartView, probe_chart
from app.views.table_model import RecordTableModel
from app.views.tables import fit_columns, fit_rows, make_table

if TYPE_CHECKING:
    from core.records import RunDetails


class ResultsPage(QWizardPage):
    """Verdict table, combined statement, reasons and the selected check's chart."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle("Results")
        self.setSubTitle(
            "Each verdict asks whether the suspect lies outside the spread of the "
            "reference models. A p-value is not the chance that the suspect was distilled."
        )
        self.details: RunDetails | None = None
        self.model: RecordTableModel = RecordTableModel(CHECK_COLUMNS, self)
        self.table = make_table("Verdicts", self)
        self.table.setModel(self.model)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._on_check())
        self.combined = QLabel(self)
        self.combined.setAccessibleName("Combined result")
        self.combined.setWordWrap(True)
        self.reason = QLabel(self)
        self.reason.setAccessibleName("Reason for the selected verdict")
        self.reason.setWordWrap(True)
        self.findings = QLabel(self)
        self.findings.setAccessibleName("Draft findings proposed")
        self.findings.setWordWrap(True)
        self.chart = ChartView("Per-probe chart of the selected check", self)
        layout = QVBoxLayout(self)
        layout.addWidget(self.combined)
        layout.addWidget(self.table, 2)
        layout.addWidget(self.reason)
        layout.addWidget(self.chart, 3)
        layout.addWidget(self.findings)

    def initializePage(self) -> None:
        from core.records import run_details

        wizard = self.wizard()
        run_id = getattr(wizard, "run_id", None)
        cf = getattr(getattr(wizard, "host", None), "case_file", None)
        if run_id is None or cf is None:
            return
        self.details = run_details(cf, run_id)
        combined, label = self.details.combined, self.details.row.label
        self.combined.setText(
            f"{label}. Combined over the checks (Holm): {combined.statement}. "
            f"{combined.signal_note + ' ' if combined.signal_note else ''}{combined.limit}"
            if combined
            else f"{label}."
        )
        self.model.set_records(self.details.checks)
        fit_rows(self.table)  # every verdict whole, not a row and a half
        fit_columns(self.table, stretch=0, fit=range(1, len(CHECK_COLUMNS)))
        found = self.details.summary.get("findings") or []
        self.findings.setText(
            f"{len(found)} draft finding(s) proposed: review them in the Findings tab before "
            "they count as conclusions."
            if found
            else "No check reached alpha after Holm across the checks, so no finding was proposed."
        )
        if self.details.checks:
            self.table.select_source_row(0)

    def _on_check(self) -> None:
        row = self.table.selected_source_row()
        record = self.model.record(row) if row is not None else None
        self.reason.setText("\n".join([record.reason, *record.warnings]) if record else "")
        self.chart.set_figure(probe_chart(record) if record else None)
