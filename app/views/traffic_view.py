"""The Traffic tab: import the provider's API request logs, find campaigns, see them.

Everything is decided in core: the import is :func:`core.traffic.import_logs.import_logs`
and the analysis :func:`core.traffic.conduct.analyse_case_logs` (which records it in the
audit log); both run as jobs (progress and Cancel in the jobs panel). The tab shows the
latest recorded analysis: the flagged campaigns, the indicators of the selected one and the
report's own timeline chart (:func:`core.reports.charts.campaign_timeline_figure`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.views.charts import ChartView
from app.views.table_model import Column, RecordTableModel
from app.views.tables import fit_columns, make_table

if TYPE_CHECKING:
    from app.host import Host
    from app.jobs import Job
    from core.jobs import JobState
    from core.store.db import CaseFile

Row = dict[str, Any]

CAMPAIGN_COLUMNS: list[Column[Row]] = [
    Column("Campaign", lambda c: c["id"]),
    Column("Accounts", lambda c: len(c["accounts"]), align_right=True),
    Column("Requests", lambda c: c["requests"], align_right=True),
    Column("First seen", lambda c: c["first_seen"][:19].replace("T", " ")),
    Column("Last seen", lambda c: c["last_seen"][:19].replace("T", " ")),
    Column(
        "Est. cost",
        lambda c: f"{c['estimated_cost']:,.2f} {c['price']['currency']}",
        align_right=True,
    ),
    Column("Indicators fired", lambda c: ", ".join(c["fired"])),
]
INDICATOR_COLUMNS: list[Column[Row]] = [
    Column("Indicator", lambda i: i["name"]),
    Column("Value", lambda i: f"{i['value']:.3g}", align_right=True),
    Column("Threshold", lambda i: i["threshold"], align_right=True),
    Column("Fired", lambda i: "yes" if i["fired"] else "no"),
    Column("Counts", lambda i: "counted" if i["counts_towards_flag"] else "descriptive"),
    Column("Meaning", lambda i: i.get("meaning", "")),
]
LOG_FILTER = "Request logs (*.jsonl *.jsonl.gz *.csv *.csv.gz *.parquet);;All files (*)"


def import_case_logs(cf: CaseFile, files: list[Path], case_id: int | None, state: JobState) -> Any:
    """The import as a job: progress and Cancel through ``state``."""
    from core.traffic.import_logs import import_logs

    return import_logs(cf, files, progress=state, case=case_id)


class TrafficView(QWidget):
    """Campaigns of the latest recorded traffic analysis of the selected case."""

    def __init__(self, host: Host, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.analysis: Row | None = None
        self.job: Job | None = None
        self.campaigns: RecordTableModel[Row] = RecordTableModel(CAMPAIGN_COLUMNS, self)
        self.indicators: RecordTableModel[Row] = RecordTableModel(INDICATOR_COLUMNS, self)
        self.campaign_table = make_table("Campaigns", self)
        self.campaign_table.setModel(self.campaigns)
        self.indicator_table = make_table("Indicators of the selected campaign", self)
        self.indicator_table.setModel(self.indicators)
        self.chart = ChartView("Requests per day of each campaign", self)
        self.import_button = QPushButton("&Import request logs…", self)
        self.import_button.setAccessibleName("Import API request logs")
        self.import_button.clicked.connect(self.import_logs)
        self.analyse_button = QPushButton("&Find campaigns", self)
        self.analyse_button.setAccessibleName("Find campaigns in the request logs")
        self.analyse_button.clicked.connect(self.find_campaigns)
        self.served = QLineEdit(self)
        self.served.setAccessibleName("Countries the service is offered in")
        self.served.setPlaceholderText("served countries, e.g. US,GB,DE")
        self.releases = QLineEdit(self)
        self.releases.setAccessibleName("Model release dates")
        self.releases.setPlaceholderText("release dates, e.g. 2025-07-14")
        self.rate_limit = QSpinBox(self)
        self.rate_limit.setAccessibleName("Rate limit in requests per hour")
        self.rate_limit.setRange(1, 10_000_000)
        self.rate_limit.setValue(60)
        self.rate_limit.setSuffix(" requests/hour")
        self.summary = QLabel("No traffic analysis recorded for this case.", self)
        self.summary.setObjectName("TrafficSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.campaign_table.selectionModel().currentRowChanged.connect(
            lambda cur, _prev: self._show_campaign(cur.row())
        )
        bar = QHBoxLayout()
        bar.addWidget(self.import_button)
        bar.addWidget(self.served)
        bar.addWidget(self.releases)
        bar.addWidget(self.rate_limit)
        bar.addWidget(self.analyse_button)
        lower = QSplitter(Qt.Orientation.Horizontal, self)
        lower.addWidget(self.indicator_table)
        lower.addWidget(self.chart)
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self.campaign_table)
        split.addWidget(lower)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.summary)
        layout.addWidget(split, 1)

    # --- dialogs (tests replace them) ----------------------------------------------------
    def ask_log_files(self) -> list[Path]:
        chosen, _ = QFileDialog.getOpenFileNames(self, "Choose request logs", "", LOG_FILTER)
        return [Path(c) for c in chosen]

    # --- actions ---------------------------------------------------------------------------
    def import_logs(self) -> Job | None:
        """Ask for log files and import them as a job (progress, Cancel)."""
        cf, case_id = self.host.case_file, self.host.case_id
        if cf is None or case_id is None:
            return None
        files = self.ask_log_files()
        if not files:
            return None
        self.job = self.host.runner.run(
            import_case_logs,
            cf,
            files,
            case_id,
            label=f"Import {len(files)} request log(s)",
            on_success=self._imported,
            on_failure=lambda exc: self.host.show_error("Cannot import the request logs", str(exc)),
        )
        return self.job

    def find_campaigns(self) -> Job | None:
        """Analyse the case's log store as a job and show the recorded result."""
        from core.errors import DistillAuditError
        from core.traffic.conduct import analyse_case_logs, params_from_text

        cf, case_id = self.host.case_file, self.host.case_id
        if cf is None or case_id is None:
            return None
        try:
            params = params_from_text(
                self.served.text(), self.releases.text(), self.rate_limit.value()
            )
        except DistillAuditError as exc:
            self.host.show_error("Cannot analyse the request logs", str(exc))
            return None
        self.job = self.host.runner.run(
            analyse_case_logs,
            cf,
            case_id,
            params,
            label="Find campaigns in the request logs",
            on_success=self.show_analysis,
            on_failure=lambda exc: self.host.show_error(
                "Cannot analyse the request logs", str(exc)
            ),
        )
        return self.job

    def _imported(self, report: Any) -> None:
        self.summary.setText(
            f"Imported {report.rows_accepted:,} requests ({report.rows_rejected:,} rejected). "
            "Find campaigns to analyse them."
        )

    # --- display ---------------------------------------------------------------------------
    def load(self) -> None:
        """Show the selected case's latest recorded analysis (or none)."""
        from core.traffic.conduct import recorded_analysis

        cf, case_id = self.host.case_file, self.host.case_id
        found = recorded_analysis(cf, case_id) if cf is not None and case_id is not None else None
        self.show_analysis(found)

    def show_analysis(self, analysis: Row | None) -> None:
        self.analysis = analysis
        rows = list((analysis or {}).get("campaigns", []))
        self.campaigns.set_records(rows)
        fit_columns(self.campaign_table, 6)
        if analysis is None:
            self.summary.setText("No traffic analysis recorded for this case." + self._stored())
        else:
            self.summary.setText(
                f"{len(rows)} campaign(s) flagged of {analysis.get('candidates', 0)} candidates "
                f"(engine {analysis.get('engine', '')}; audit event {analysis.get('event_id')})."
            )
        if rows:
            self.campaign_table.selectRow(0)
            self._show_campaign(0)
        else:
            self.indicators.set_records([])
        from core.reports.charts import campaign_timeline_figure

        self.chart.set_figure(
            campaign_timeline_figure({c["id"]: c.get("daily_requests", {}) for c in rows})
            if rows
            else None,
            "Requests per day (UTC) of each flagged campaign",
        )

    def _stored(self) -> str:
        """What the log store holds, for the summary line (empty when nothing was imported)."""
        from core.errors import DistillAuditError
        from core.traffic.store import describe_store

        cf = self.host.case_file
        if cf is None:
            return ""
        try:
            rows = describe_store(cf).rows
        except DistillAuditError:  # no store yet, or one that no longer opens
            return ""
        return f" The log store holds {rows:,} requests; find campaigns to analyse them."

    def _show_campaign(self, row: int) -> None:
        rows = list((self.analysis or {}).get("campaigns", []))
        if 0 <= row < len(rows):
            self.indicators.set_records(list(rows[row].get("indicators", [])))
            fit_columns(self.indicator_table, 5)
