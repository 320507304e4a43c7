"""The Export report wizard: preview the sections, choose the files, export.

1. *Preview*: core.reports.gather.gather_report_data (a job: it re-hashes every evidence
   file and walks the audit chain) — what each section will hold and what is missing.
2. *Files*: the PDF, and optionally the JSON bundle and the CSV tables; who prepared it.
3. *Export*: core.reports.export.export_report, as ``distill-audit report`` does — all
   files or none, then one ``report.exported`` audit event with their hashes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
    QWizardPage,
)

from app.jobs import Job
from app.wizards.common import HostWizard, JobPage, error_label, show_message

if TYPE_CHECKING:
    from app.host import Host


def preview_lines(data: Any) -> list[tuple[str, str]]:
    """(section, what it will hold) for a ReportData, in the report's order."""
    ev = data.evidence
    kinds = {k: sum(e.kind == k for e in ev) for k in ("model", "transcripts", "policy")}
    f = {s: len(data.findings_with_status(s)) for s in ("accepted", "draft", "rejected")}
    v = data.verification
    return [
        ("Case", f"{data.case.reference} — {data.case.title}"),
        (
            "Evidence",
            f"{kinds['model']} model(s), {kinds['transcripts']} transcript set(s), "
            f"{kinds['policy']} terms document(s)",
        ),
        (
            "Evidence re-hashed now",
            f"{v.files_checked} file(s): "
            + ("all match" if v.ok else f"{len(v.problems)} problem(s)"),
        ),
        (
            "Audit chain",
            f"intact, {data.chain.events} events"
            if data.chain.ok
            else f"BROKEN at event {data.chain.first_broken_id}",
        ),
        (
            "Checks",
            f"{len(data.checks)} check result(s) in {len({c.run_id for c in data.checks})} run(s)"
            if data.checks
            else data.notes.get("results", "none"),
        ),
        (
            "Validation",
            f"{len(data.calibration)} measured rate(s)"
            if data.calibration
            else data.notes.get("validation", "no calibration run"),
        ),
        ("Findings", f"{f['accepted']} accepted, {f['draft']} draft, {f['rejected']} rejected"),
        ("Clause mapping", f"{len(data.clause_links)} link(s) to terms clauses"),
        ("Main limitation", data.main_limitation or "—"),
    ]


class PreviewPage(JobPage):
    def __init__(self, wizard: ExportReportWizard) -> None:
        super().__init__(
            "What the report will hold",
            "Read only: the evidence is re-hashed and "
            "the audit chain verified, as the export will do.",
            wizard.start_preview,
            wizard,
            compact=True,
        )
        self.form = QFormLayout()
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.body.addLayout(self.form)
        self.body.addStretch(1)

    def initializePage(self) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        super().initializePage()

    def succeeded(self, result: Any) -> None:
        for section, text in preview_lines(result):
            value = QLabel(text, self)
            value.setAccessibleName(section)
            value.setWordWrap(True)
            self.form.addRow(f"{section}:", value)


class FilesPage(QWizardPage):
    def __init__(self, wizard: ExportReportWizard) -> None:
        super().__init__(wizard)
        self.setTitle("Where to save it")
        self.setSubTitle(
            "The PDF for the reader; the JSON bundle and CSV tables carry the same "
            "data for other tools. Existing files are replaced."
        )
        self.pdf = QLineEdit(self)
        self.pdf.setAccessibleName("PDF file")
        self.pdf.textChanged.connect(self.completeChanged)
        browse = QPushButton("Bro&wse…", self)
        browse.setAccessibleName("Choose the PDF file")
        browse.clicked.connect(self._browse)
        self.with_json = QCheckBox("Also the &JSON bundle (same name, .json)", self)
        self.with_json.setAccessibleName("Also write the JSON bundle")
        self.with_json.setChecked(True)
        self.with_csv = QCheckBox("Also the &CSV tables (a folder beside the PDF)", self)
        self.with_csv.setAccessibleName("Also write the CSV tables")
        self.prepared_by = QLineEdit(self)
        self.prepared_by.setAccessibleName("Prepared by")
        row = QHBoxLayout()
        row.addWidget(self.pdf, 1)
        row.addWidget(browse)
        holder = QWidget(self)
        row.setContentsMargins(0, 0, 0, 0)
        holder.setLayout(row)
        self.error = error_label(self)
        form = QFormLayout(self)
        form.addRow("&PDF:", holder)
        form.addRow("", self.with_json)
        form.addRow("", self.with_csv)
        form.addRow("Prepared b&y:", self.prepared_by)
        form.addRow(self.error)

    def initializePage(self) -> None:
        wizard = self.wizard()
        assert isinstance(wizard, ExportReportWizard)
        if not self.pdf.text():
            folder = Path(wizard.host.settings.data_folder or Path.home())
            self.pdf.setText(str(folder / f"{wizard.reference or 'case'}-report.pdf"))
        if not self.prepared_by.text():
            self.prepared_by.setText(wizard.host.reviewer())

    def _browse(self) -> None:
        wizard = self.wizard()
        if not isinstance(wizard, HostWizard):
            return
        chosen = wizard.host.ask_save_path("report", self.pdf.text())
        if chosen is not None:
            self.pdf.setText(str(chosen))

    def paths(self) -> tuple[Path, Path | None, Path | None]:
        pdf = Path(self.pdf.text().strip()).expanduser()
        if pdf.suffix.lower() != ".pdf":
            pdf = pdf.with_suffix(".pdf")
        return (
            pdf,
            pdf.with_suffix(".json") if self.with_json.isChecked() else None,
            pdf.with_name(pdf.stem + "-tables") if self.with_csv.isChecked() else None,
        )

    def validatePage(self) -> bool:
        pdf = self.paths()[0]
        if not pdf.parent.is_dir():
            show_message(self.error, f"The folder {pdf.parent} does not exist.")
            return False
        show_message(self.error, "")
        return True

    def isComplete(self) -> bool:
        return bool(self.pdf.text().strip())


class ExportPage(JobPage):
    def __init__(self, wizard: ExportReportWizard) -> None:
        super().__init__(
            "Exporting",
            "All files are written, or none; the export is recorded "
            "in the audit log with the files' SHA-256.",
            wizard.start_export,
            wizard,
        )
        self.done = QLabel(self)
        self.done.setAccessibleName("Export result")
        self.done.setWordWrap(True)
        self.open_button = QPushButton("&Open the PDF", self)
        self.open_button.setAccessibleName("Open the exported PDF")
        self.open_button.setEnabled(False)
        self.open_button.clicked.connect(self._open)
        self.body.addWidget(self.done)
        self.body.addWidget(self.open_button)
        self.body.addStretch(1)

    def succeeded(self, result: Any) -> None:
        wizard = self.wizard()
        if isinstance(wizard, ExportReportWizard):
            wizard.export = result
        lines = [
            f"Report {result.report_id}: {result.pages} page(s), written to "
            f"{result.pdf_path} (SHA-256 {result.pdf_sha256[:16]}…)."
        ]
        if result.json_path:
            lines.append(f"JSON bundle: {result.json_path}.")
        if result.csv_files:
            lines.append(f"CSV tables: {len(result.csv_files)} file(s).")
        if not result.evidence_ok:
            lines.append(
                "Warning: some evidence files no longer match their recorded hashes; "
                "the report says so."
            )
        lines.append(f"Recorded as audit event {result.audit_event_id}.")
        self.done.setText("\n".join(lines))
        self.open_button.setEnabled(True)

    def _open(self) -> None:
        wizard = self.wizard()
        if isinstance(wizard, ExportReportWizard) and wizard.export is not None:
            wizard.host.open_file(wizard.export.pdf_path)


class ExportReportWizard(HostWizard):
    """Preview → Files → Export; ``export`` holds core's ExportResult when done."""

    def __init__(self, host: Host, reference: str = "", parent: QWidget | None = None) -> None:
        super().__init__(host, "Export the report", "ExportReportWizard", parent)
        self.case_id = host.case_id
        self.reference = reference
        self.export: Any = None
        self.preview = PreviewPage(self)
        self.files = FilesPage(self)
        self.exporting = ExportPage(self)
        for page in (self.preview, self.files, self.exporting):
            self.addPage(page)
        self.files.setButtonText(self.WizardButton.NextButton, "&Export")

    def start_preview(self) -> Job | None:
        if self.host.case_file is None or self.case_id is None:
            return None
        from core.reports.gather import gather_report_data  # loaded by the window's warm-up

        return self.host.runner.run(
            gather_report_data,
            self.host.case_file,
            self.case_id,
            prepared_by=self.host.reviewer(),
            label="Preview the report",
        )

    def start_export(self) -> Job | None:
        if self.host.case_file is None or self.case_id is None:
            return None
        from core.reports.export import export_report  # loaded by the window's warm-up

        pdf, json_path, csv_dir = self.files.paths()
        return self.host.runner.run(
            export_report,
            self.host.case_file,
            self.case_id,
            pdf,
            json_path=json_path,
            csv_dir=csv_dir,
            prepared_by=self.files.prepared_by.text().strip(),
            actor=self.host.reviewer(),
            label=f"Export {pdf.name}",
        )

    def background_jobs(self) -> list[Job]:
        return [j for j in (self.exporting.job,) if j is not None]
