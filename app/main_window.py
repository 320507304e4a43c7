"""The main window: case list, the selected case's tabs, the jobs panel, menus.

Everything the window does is a call into core: reads on the UI thread (short, plain
records via :mod:`app.case_data`), long work through the one :class:`JobRunner`. Every
dialog goes through a small ``ask_…`` / ``show_…`` method so tests can replace it.

Start-up: this module imports no SQLAlchemy/Alembic (about half a second on a slow
machine). The window paints first; ``app.main`` then opens the case file, and the
engine's store modules are imported inside the methods that need them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QTabWidget,
    QWidget,
)

from app.dialogs.messages import ask_yes_no, describe_error, open_error_box
from app.dialogs.new_case import NewCaseInput, NewCaseWizard
from app.jobs import Job, JobRunner
from app.views.audit_view import AuditView
from app.views.case_list import CaseListView
from app.views.evidence_view import EvidenceView
from app.views.jobs_panel import JobsPanel
from app.views.overview import OverviewView
from core import __version__
from core.errors import DistillAuditError
from core.resources import resource_path

if TYPE_CHECKING:
    from collections.abc import Callable

    from core.store.audit import ChainReport
    from core.store.db import CaseFile

log = logging.getLogger(__name__)
APP_NAME = "Distill Audit"
JOBS_PANEL_DELAY_MS = 500  # like Anki: show progress only for work that takes a while


def _verify_chain_job(cf: CaseFile) -> ChainReport:
    """Worker body: walk the audit chain in a session of this thread's own."""
    from core.store.audit import verify_chain

    with cf.read_session() as s:
        return verify_chain(s)


class MainWindow(QMainWindow):
    """One open case file at a time; one selected case within it."""

    def __init__(self, runner: JobRunner | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.case_file: CaseFile | None = None
        self.case_id: int | None = None
        self.runner = runner or JobRunner(self)
        self.runner.unhandled_failure.connect(self._on_unhandled_failure)
        self._last_dir = str(Path.home())
        self.setObjectName("MainWindow")
        icon = resource_path("icons", "distill-audit.svg")
        if icon.is_file():
            self.setWindowIcon(QIcon(str(icon)))
        self._build_actions()
        self._build_ui()
        self._build_menus()
        self._update_title()
        self._update_enabled()
        self.resize(1280, 800)

    # --- construction -----------------------------------------------------------------
    def _action(self, text: str, slot: object, shortcut: QKeySequence | str | None = None,
                tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.triggered.connect(slot)
        return action

    def _build_actions(self) -> None:
        self.new_case_action = self._action(
            "&New case…", self.new_case, QKeySequence.StandardKey.New,
            "Create a case with its two competing hypotheses")
        self.open_action = self._action(
            "&Open case file…", self.open_case_file_dialog, QKeySequence.StandardKey.Open,
            "Open another case file")
        self.import_model_action = self._action(
            "Import &model…", self.import_model, "Ctrl+Shift+M",
            "Hash and record a model folder (Hugging Face safetensors or ONNX)")
        self.import_transcripts_action = self._action(
            "Import &transcripts…", self.import_transcripts, "Ctrl+Shift+T",
            "Hash and record a JSONL or CSV file of prompt/response pairs")
        self.quit_action = self._action("&Quit", self.close, "Ctrl+Q")
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.refresh_action = self._action("&Refresh", self.refresh, QKeySequence.StandardKey.Refresh)
        self.about_action = self._action("&About Distill Audit", self.show_about)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)

    def _build_ui(self) -> None:
        self.case_list = CaseListView(self)
        self.case_list.case_selected.connect(self._on_case_selected)
        self.overview = OverviewView(self)
        self.evidence_view = EvidenceView(
            [self.import_model_action, self.import_transcripts_action], self)
        self.audit_view = AuditView(self)
        self.audit_view.verify_requested.connect(self.verify_chain)
        self.audit_view.scope_changed.connect(lambda _all: self._refresh_audit())
        self.tabs = QTabWidget(self)
        self.tabs.setAccessibleName("Case details")
        self.tabs.addTab(self.overview, "&Overview")
        self.tabs.addTab(self.evidence_view, "&Evidence")
        self.tabs.addTab(self.audit_view, "A&udit")
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(self.case_list)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([380, 900])
        splitter.setChildrenCollapsible(False)
        self.setCentralWidget(splitter)

        self.jobs_panel = JobsPanel(self.runner, self)
        self.jobs_dock = QDockWidget("Jobs", self)
        self.jobs_dock.setObjectName("JobsDock")
        self.jobs_dock.setWidget(self.jobs_panel)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.jobs_dock)
        self.jobs_dock.hide()
        self.runner.job_added.connect(self._on_job_added)

        self.file_label = QLabel(self)
        self.file_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.revision_label = QLabel(self)
        self.statusBar().addWidget(self.file_label, 1)
        self.statusBar().addPermanentWidget(self.revision_label)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addActions([self.new_case_action, self.open_action])
        file_menu.addSeparator()
        file_menu.addActions([self.import_model_action, self.import_transcripts_action])
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        view_menu = self.menuBar().addMenu("&View")
        jobs_toggle = self.jobs_dock.toggleViewAction()
        jobs_toggle.setText("&Jobs panel")
        jobs_toggle.setShortcut(QKeySequence("Ctrl+J"))
        view_menu.addAction(jobs_toggle)
        view_menu.addAction(self.refresh_action)
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(self.about_action)

    # --- case file ----------------------------------------------------------------------
    def open_case_file(self, path: Path | str | None, create: bool = True) -> bool:
        """Open (creating if needed) a case file; on failure keep the current one."""
        if not self._stop_jobs("open another case file"):
            return False
        from core.store.db import open_case_file

        try:
            cf = open_case_file(path, create=create)
            revision = cf.revision() or "?"
        except DistillAuditError as exc:
            message, details = describe_error(exc)
            self.show_error("Cannot open the case file", message, details)
            return False
        if self.case_file is not None:
            self.case_file.close()
        self.case_file = cf
        self.revision_label.setText(f"Schema revision {revision}")
        if cf.backup_path:
            self.statusBar().showMessage(
                f"The case file was upgraded; the old version is kept at {cf.backup_path}", 15000)
        self.audit_view.reset()
        self._update_title()
        self.refresh_cases()
        return True

    def open_case_file_dialog(self) -> None:
        path = self.ask_path("case-file")
        if path is not None:
            self.open_case_file(path, create=False)

    def _update_title(self) -> None:
        if self.case_file is None:
            self.setWindowTitle(APP_NAME)
            self.file_label.setText("No case file open")
        else:
            self.setWindowTitle(f"{self.case_file.path} — {APP_NAME}")
            self.setWindowFilePath(str(self.case_file.path))
            self.file_label.setText(f"Case file: {self.case_file.path}")

    def _update_enabled(self) -> None:
        has_file, has_case = self.case_file is not None, self.case_id is not None
        self.new_case_action.setEnabled(has_file)
        self.import_model_action.setEnabled(has_case)
        self.import_transcripts_action.setEnabled(has_case)
        self.audit_view.verify_button.setEnabled(has_file)

    # --- reading into the views -------------------------------------------------------
    def refresh(self) -> None:
        self.refresh_cases()

    def refresh_cases(self, select_id: int | None = None) -> None:
        from core.store.cases import list_cases

        cases = list_cases(self.case_file) if self.case_file is not None else []
        self.case_list.set_cases(cases, select_id)

    @Slot(object)
    def _on_case_selected(self, case_id: int | None) -> None:
        self.case_id = case_id
        self._update_enabled()
        self.refresh_case()

    def refresh_case(self) -> None:
        """Re-read the selected case's overview, evidence and audit events."""
        from app import case_data
        from core.evidence.inventory import list_evidence

        cf, case_id = self.case_file, self.case_id
        if cf is None or case_id is None:
            self.overview.show_case(None)
            self.evidence_view.set_items([])
        else:
            self.overview.show_case(case_data.case_details(cf, case_id))
            self.evidence_view.set_items(list_evidence(cf, case_id))
        self._refresh_audit()

    def _refresh_audit(self) -> None:
        from app import case_data

        cf = self.case_file
        if cf is None:
            self.audit_view.set_events([])
            return
        if self.audit_view.all_events.isChecked():
            self.audit_view.set_events(case_data.audit_rows(cf))
        elif self.case_id is None:
            self.audit_view.set_events([])
        else:
            self.audit_view.set_events(case_data.audit_rows(cf, self.case_id))

    # --- new case -----------------------------------------------------------------------
    def new_case(self) -> NewCaseWizard | None:
        """Open the New case wizard (non-blocking); returns it so tests can drive it."""
        if self.case_file is None:
            return None
        wizard = NewCaseWizard(self._create_case, self)
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        wizard.accepted.connect(lambda: self.refresh_cases(select_id=wizard.case_id))
        wizard.open()
        return wizard

    def _create_case(self, values: NewCaseInput) -> int:
        from core.store.cases import create_case

        assert self.case_file is not None
        return create_case(self.case_file, values.title, values.reference,
                           parties=values.parties, commissioned_by=values.commissioned_by,
                           hypothesis_p=values.hypothesis_p, hypothesis_d=values.hypothesis_d)

    # --- importing evidence -----------------------------------------------------------
    def import_model(self) -> Job | None:
        from core.store.models import ARTIFACT_ROLES

        path = self.ask_path("model")
        role = self.ask_role("model", ARTIFACT_ROLES) if path is not None else None
        return self.start_model_import(path, role) if path and role else None

    def import_transcripts(self) -> Job | None:
        from core.store.models import TRANSCRIPT_ROLES

        path = self.ask_path("transcripts")
        role = self.ask_role("transcripts", TRANSCRIPT_ROLES) if path is not None else None
        return self.start_transcript_import(path, role) if path and role else None

    def start_model_import(self, path: Path, role: str) -> Job:
        from core.evidence.importer import import_model

        return self._start_import(import_model, path, role, f"Import model {Path(path).name}")

    def start_transcript_import(self, path: Path, role: str) -> Job:
        from core.evidence.importer import import_transcripts

        return self._start_import(import_transcripts, path, role,
                                  f"Import transcripts {Path(path).name}")

    def _start_import(self, fn: Callable[..., Any], path: Path, role: str, label: str) -> Job:
        assert self.case_file is not None and self.case_id is not None
        case_id = self.case_id
        return self.runner.run(
            fn, self.case_file, case_id, Path(path), role, label=label,
            on_success=lambda _id: self._after_import(case_id),
            on_failure=lambda exc: self._show_job_error(f"{label} failed", exc),
        )

    def _after_import(self, case_id: int) -> None:
        self.refresh_cases(select_id=case_id)
        self.tabs.setCurrentWidget(self.evidence_view)

    # --- audit chain ---------------------------------------------------------------------
    def verify_chain(self) -> Job | None:
        """Walk the audit chain off the UI thread; the Audit tab shows the outcome."""
        if self.case_file is None:
            return None
        self.audit_view.set_busy(True)
        return self.runner.run(
            _verify_chain_job, self.case_file, label="Verify audit chain", pass_state=False,
            on_success=self.audit_view.show_report,
            on_failure=lambda exc: (self.audit_view.set_busy(False),
                                    self._show_job_error("Verifying the audit chain failed",
                                                         exc)),
        )

    # --- jobs ----------------------------------------------------------------------------
    @Slot(object)
    def _on_job_added(self, job: Job) -> None:
        QTimer.singleShot(JOBS_PANEL_DELAY_MS, self, lambda: self._reveal_jobs(job))

    def _reveal_jobs(self, job: Job) -> None:
        if not job.is_finished:
            self.jobs_dock.show()

    @Slot(object)
    def _on_unhandled_failure(self, job: Job) -> None:
        assert job.error is not None
        self._show_job_error(f"{job.label} failed", job.error, job.traceback_text)

    def _show_job_error(self, title: str, error: BaseException, traceback_text: str = "") -> None:
        message, details = describe_error(error, traceback_text)
        self.show_error(title, message, details)

    def _stop_jobs(self, action: str) -> bool:
        """Ask before cancelling running jobs; then cancel them and wait for their threads."""
        active = self.runner.active_jobs()
        if active and not self.ask_cancel_running_jobs(len(active), action):
            return False
        self.runner.cancel_and_wait()
        return True

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if not self._stop_jobs("close the window"):
            event.ignore()
            return
        if self.case_file is not None:
            self.case_file.close()
        event.accept()

    # --- every dialog goes through one of these (tests replace them) --------------------
    def ask_path(self, kind: str) -> Path | None:
        """Ask for a model folder, a transcript file or a case file; None if cancelled."""
        if kind == "model":
            chosen = QFileDialog.getExistingDirectory(
                self, "Choose a model folder (Hugging Face safetensors or ONNX)", self._last_dir)
        elif kind == "transcripts":
            chosen, _ = QFileDialog.getOpenFileName(
                self, "Choose a transcript file", self._last_dir,
                "Transcripts (*.jsonl *.ndjson *.json *.csv *.tsv);;All files (*)")
        else:
            chosen, _ = QFileDialog.getOpenFileName(
                self, "Open case file", self._last_dir, "Case files (*.dacase);;All files (*)")
        if not chosen:
            return None
        self._last_dir = str(Path(chosen).parent)
        return Path(chosen)

    def ask_role(self, kind: str, roles: tuple[str, ...]) -> str | None:
        what = "model" if kind == "model" else "transcript set"
        role, ok = QInputDialog.getItem(self, f"Role of the {what}",
                                        f"What is this {what} in the case?", list(roles), 0,
                                        False)
        return role if ok and role else None

    def ask_cancel_running_jobs(self, count: int, action: str) -> bool:
        return ask_yes_no(self, APP_NAME,
                          f"{count} job(s) are still running. Cancel them to {action}?")

    def show_error(self, title: str, message: str, details: str = "") -> None:
        log.warning("%s: %s", title, message)
        open_error_box(self, title, message, details)

    def show_about(self) -> None:
        from PySide6 import __version__ as qt_version

        QMessageBox.about(
            self, f"About {APP_NAME}",
            f"<b>{APP_NAME}</b> {__version__}<br>"
            "A forensic workbench: was a suspect model trained on a protected model's "
            "outputs, and which terms did that break?<br><br>"
            f"PySide6 {qt_version}<br>Case file: {self.case_file.path if self.case_file else '—'}")
