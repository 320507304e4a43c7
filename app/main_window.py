"""The main window: case list, the selected case's tabs, the jobs panel, menus.

The window holds the layout, the open case file and the selected case. Everything it does
is a call into core: reads on the UI thread (short, plain records via :mod:`core.records`),
long work and writes through the one :class:`JobRunner`. What the user's actions start
(wizards, jobs, the demo case, settings) lives in the controllers of :mod:`app.controllers`,
which reach the window only through :class:`app.host.WindowHost`; the actions and menus
are one table in :mod:`app.menus`. Every dialog goes through a small ``ask_…`` /
``show_…`` method so tests can replace it.

Start-up: this module imports no SQLAlchemy/Alembic (about half a second on a slow
machine). The window paints first; ``app.main`` then opens the case file, and the
engine's store modules are imported inside the methods that need them. Tabs are read
when shown; heavier engine modules are imported by a quiet background job.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QFileInfo, Qt, QTimer, QUrl, Slot
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QIcon,
)
from PySide6.QtWidgets import (
    QDialog,
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QWidget,
    QWizard,
)

from app import menus
from app.controllers.analysis import AnalysisController
from app.controllers.case_file import CaseFileController
from app.controllers.evidence import EvidenceController
from app.dialogs.messages import ask_yes_no, describe_error, open_error_box, open_text_box
from app.jobs import Job, JobRunner
from app.settings import AppSettings, load_settings
from app.views.analyses_view import AnalysesView
from app.views.audit_view import AuditView
from app.views.case_list import CaseListView
from app.views.evidence_view import EvidenceView
from app.views.findings_view import FindingsView
from app.views.font_size import apply_font_size
from app.views.jobs_panel import JobsPanel
from app.views.overview import OverviewView
from app.views.policies_view import PoliciesView
from app.views.traffic_view import TrafficView
from app.views.welcome import WelcomeView
from core import __version__
from core.errors import DistillAuditError
from core.resources import resource_path

if TYPE_CHECKING:
    from app.host import Tab
    from core.store.audit import ChainReport
    from core.store.db import CaseFile

log = logging.getLogger(__name__)
APP_NAME = "Distill Audit"
JOBS_PANEL_DELAY_MS = 500  # like Anki: show progress only for work that takes a while
# A worker running Python code hands the GIL over after this many seconds when the UI
# thread asks for it (CPython's default is 5 ms): shorter keeps the window fluid.
GIL_SWITCH_INTERVAL_S = 0.001
WARM_UP_DELAY_MS = 1000  # after the window is usable (see app.warmup)
WARM_UP = "Load the analysis modules"
# The open-file dialogs' titles; their name filters come from core.evidence.formats.
_FILE_DIALOG_TITLES = {
    "transcripts": "Choose a transcript file",
    "evidence": "Choose an evidence file",
    "policy": "Choose a terms document",
    "case-file": "Open case file",
}


class MainWindow(QMainWindow):
    """One open case file at a time; one selected case within it (a :class:`WindowHost`)."""

    def __init__(
        self,
        runner: JobRunner | None = None,
        parent: QWidget | None = None,
        settings: AppSettings | None = None,
    ) -> None:
        super().__init__(parent)
        sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_INTERVAL_S))
        self.case_file: CaseFile | None = None
        self.case_id: int | None = None
        self.settings = settings or load_settings()
        apply_font_size(self.settings.font_size)
        self.runner = runner or JobRunner(self)
        self.runner.unhandled_failure.connect(self._on_unhandled_failure)
        self.runner.job_finished.connect(self._on_job_finished)
        self.wizards: list[QWizard] = []
        self._closed = False  # set once the window closed or the application quits
        self._stale: set[QWidget] = set()
        self._last_dir = self.settings.data_folder or str(Path.home())
        self.setObjectName("MainWindow")
        self.setAcceptDrops(True)
        icon = resource_path("icons", "distill-audit.svg")
        if icon.is_file():
            self.setWindowIcon(QIcon(str(icon)))
        self.case_files: CaseFileController = CaseFileController(self, self)
        self.evidence: EvidenceController = EvidenceController(self, self)
        self.analysis: AnalysisController = AnalysisController(self, self)
        self._actions = menus.build_actions(self)
        self.recent_menu: QMenu
        self._build_ui()
        menus.build_menus(self, self._actions)
        self._update_title()
        self._update_enabled()
        self.resize(1280, 800)

    # --- construction -----------------------------------------------------------------
    def _build_ui(self) -> None:
        self.case_list = CaseListView(self)
        self.case_list.case_selected.connect(self._on_case_selected)
        self.overview = OverviewView(self)
        self.evidence_view = EvidenceView(menus.toolbar(self._actions, "evidence"), self)
        self.policies_view = PoliciesView(self, menus.toolbar(self._actions, "policies"), self)
        self.analyses_view = AnalysesView(self, menus.toolbar(self._actions, "analyses"), self)
        self.findings_view = FindingsView(self, self)
        self.audit_view = AuditView(self)
        self.traffic_view = TrafficView(self, self)
        self.audit_view.verify_requested.connect(self.case_files.verify_chain)
        self.audit_view.scope_changed.connect(lambda _all: self._refresh_audit())
        self.tabs = QTabWidget(self)
        self.tabs.setAccessibleName("Case details")
        self._tab_widgets: dict[Tab, QWidget] = {
            "overview": self.overview,
            "evidence": self.evidence_view,
            "policies": self.policies_view,
            "analyses": self.analyses_view,
            "findings": self.findings_view,
            "audit": self.audit_view,
            "traffic": self.traffic_view,
        }
        for widget, title in zip(
            self._tab_widgets.values(),
            ("&Overview", "Evi&dence", "&Policies", "A&nalyses", "Findin&gs", "A&udit", "&Traffic"),
            strict=True,
        ):
            self.tabs.addTab(widget, title)
        self.tabs.currentChanged.connect(lambda _i: self._refresh_current())
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(self.case_list)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([300, 980])
        splitter.setChildrenCollapsible(False)
        self.welcome = WelcomeView(
            self.action("demo_case"),
            self.action("open_case_file"),
            self.action("new_case"),
            lambda path: self.open_case_file(path, create=False),
            self,
        )
        self.welcome.set_recent(self.settings.recent_files)
        self.pages = QStackedWidget(self)
        self.pages.addWidget(self.welcome)
        self.pages.addWidget(splitter)
        self.setCentralWidget(self.pages)

        self.jobs_panel = JobsPanel(self.runner, self)
        self.jobs_panel.partial_requested.connect(self.analysis.show_partial_results)
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

    # --- case file ----------------------------------------------------------------------
    def open_case_file(self, path: Path | str | None, create: bool = True) -> bool:
        """Open (creating if needed) a case file; on failure keep the current one."""
        if not self.stop_jobs("open another case file"):
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
        self.pages.setCurrentIndex(1)  # the case, no longer the welcome page
        self.revision_label.setText(f"Schema revision {revision}")
        if cf.backup_path:
            self.statusBar().showMessage(
                f"The case file was upgraded; the old version is kept at {cf.backup_path}", 15000
            )
        self.audit_view.reset()
        self.evidence_view.verified = {}
        self.case_files.remember(cf.path)
        self._update_title()
        self.refresh_cases()
        QTimer.singleShot(WARM_UP_DELAY_MS, self, self.warm_up)
        return True

    def _update_title(self) -> None:
        if self.case_file is None:
            self.setWindowTitle(APP_NAME)
            self.file_label.setText("No case file open")
        else:
            self.setWindowTitle(f"{self.case_file.path} — {APP_NAME}")
            self.setWindowFilePath(str(self.case_file.path))
            self.file_label.setText(f"Case file: {self.case_file.path}")

    def action(self, action_id: str) -> QAction:
        """The window's action with this id (see :data:`app.menus.ACTIONS`)."""
        try:
            return self._actions[action_id]
        except KeyError:
            raise KeyError(f"No action {action_id!r}; known: {sorted(self._actions)}") from None

    def _update_enabled(self) -> None:
        menus.update_enabled(self, self._actions)
        self.audit_view.verify_button.setEnabled(self.action("verify_chain").isEnabled())

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
        """Re-read the selected case: overview, evidence and audit now (a few quick reads);
        policies, analyses and findings when next shown (they read more)."""
        from core.evidence.inventory import list_evidence

        self._refresh_overview()
        cf, case_id = self.case_file, self.case_id
        self.evidence_view.set_items(
            list_evidence(cf, case_id) if cf is not None and case_id is not None else []
        )
        self._refresh_audit()
        self._stale = {
            self.policies_view,
            self.analyses_view,
            self.findings_view,
            self.traffic_view,
        }
        self._refresh_current()

    def _refresh_current(self) -> None:
        tab = self.tabs.currentWidget()
        if tab not in self._stale:
            return
        self._stale.discard(tab)
        if tab is self.findings_view:
            details = self._details()
            self.findings_view.load(details.conduct_date if details else None)
        elif tab in (self.policies_view, self.analyses_view, self.traffic_view):
            tab.load()

    def _details(self) -> Any:
        from core import records

        if self.case_file is None or self.case_id is None:
            return None
        return records.case_details(self.case_file, self.case_id)

    def _refresh_overview(self) -> None:
        from core import records

        details = self._details()
        self.overview.show_case(details)
        if details is not None and self.case_file is not None and self.case_id is not None:
            from core.store.findings import list_findings

            statuses = [f.status for f in list_findings(self.case_file, self.case_id)]
            counts = {
                s: statuses.count(s) for s in ("draft", "accepted", "rejected") if statuses.count(s)
            }
            self.overview.show_latest(records.run_rows(self.case_file, self.case_id), counts)

    def _refresh_audit(self) -> None:
        from core import records

        cf = self.case_file
        if cf is None:
            self.audit_view.set_events([])
            return
        if self.audit_view.all_events.isChecked():
            self.audit_view.set_events(records.audit_rows(cf))
        elif self.case_id is None:
            self.audit_view.set_events([])
        else:
            self.audit_view.set_events(records.audit_rows(cf, self.case_id))

    # --- jobs ----------------------------------------------------------------------------
    def run_write(
        self,
        fn: Callable[..., Any],
        *args: Any,
        label: str,
        on_done: Callable[[Any], None] | None = None,
        **kwargs: Any,
    ) -> Job:
        """Run a short core write off the UI thread (it may wait for the database lock)."""

        def done(result: Any) -> None:
            if on_done is not None:
                on_done(result)
            self.refresh_case()

        return self.runner.run(
            fn,
            *args,
            label=label,
            pass_state=False,
            quiet=True,
            on_success=done,
            on_failure=lambda exc: self.show_job_error(f"{label} failed", exc),
            **kwargs,
        )

    def reviewer(self) -> str:
        """Who is acting: the reviewer name from the settings, else the system user."""
        from core.store.audit import current_actor

        return self.settings.reviewer_name or current_actor()

    @Slot(object)
    def _on_job_added(self, job: Job) -> None:
        if job.quiet:
            return
        job.partial_result.connect(lambda _v: self._runs_changed())
        QTimer.singleShot(JOBS_PANEL_DELAY_MS, self, lambda: self._reveal_jobs(job))

    def _reveal_jobs(self, job: Job) -> None:
        if not job.is_finished:
            self.jobs_dock.show()

    @Slot(object)
    def _on_job_finished(self, job: Job) -> None:
        if not job.quiet and self.case_file is not None:
            self.refresh_cases()
            self.refresh_case()

    def _runs_changed(self) -> None:
        if self.tabs.currentWidget() is self.analyses_view:
            self.analyses_view.load()

    @Slot(object)
    def _on_unhandled_failure(self, job: Job) -> None:
        assert job.error is not None
        self.show_job_error(f"{job.label} failed", job.error, job.traceback_text)

    def stop_jobs(self, action: str) -> bool:
        """Ask before cancelling running jobs; then cancel them and wait for their threads."""
        active = self.runner.user_jobs()
        if active and not self.ask_cancel_running_jobs(len(active), action):
            return False
        for wizard in list(self.wizards):
            wizard.reject()
        self.runner.cancel_and_wait()
        return True

    def shutdown(self) -> None:
        """The application is quitting (maybe without closing this window): stop every job."""
        self._closed = True
        for wizard in list(self.wizards):
            wizard.reject()
        self.runner.cancel_and_wait()

    def warm_up(self) -> Job | None:
        """Import the engine's modules in a quiet job, then freeze them (see app.warmup)."""
        import gc

        from app.warmup import MODULES, warm_up

        running = [j for j in self.runner.active_jobs() if j.label == WARM_UP]
        if self.case_file is None or self._closed or running:
            return running[0] if running else None
        if all(m in sys.modules for m in MODULES):
            gc.freeze()  # O(1): nothing to import; keep later collections short
            return None
        return self.runner.run(warm_up, label=WARM_UP, quiet=True)

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.stop_jobs("close the window"):
            event.ignore()
            return
        self._closed = True
        if self.case_file is not None:
            self.case_file.close()
        event.accept()

    # --- drag and drop ------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.evidence.open_dropped(paths[0])

    # --- what the controllers ask of the window (app.host.WindowHost) -------------------
    def dialog_parent(self) -> QWidget:
        return self

    def open_wizard(self, wizard: QWizard) -> QWizard:
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.wizards.append(wizard)
        wizard.finished.connect(
            lambda _r, w=wizard: self.wizards.remove(w) if w in self.wizards else None
        )
        wizard.setWindowModality(Qt.WindowModality.NonModal)  # the window stays usable:
        wizard.show()  # a run it started goes on in the jobs panel after it closes
        return wizard

    def apply_settings(self, settings: AppSettings) -> None:
        from app.settings import save_settings

        self.settings = settings
        save_settings(settings)
        self._last_dir = settings.data_folder or self._last_dir
        apply_font_size(settings.font_size)

    def show_tab(self, tab: Tab) -> None:
        self.tabs.setCurrentWidget(self._tab_widgets[tab])

    def select_run(self, run_id: int | None) -> None:
        self.analyses_view.load(select_run=run_id)

    def selected_case_reference(self) -> str:
        summary = self.case_list.selected_case()
        return summary.reference if summary else ""

    def selected_policy_id(self) -> int | None:
        selected = self.policies_view.selected_policy()
        return selected.id if selected else None

    def show_evidence_verification(self, results: Any) -> None:
        self.evidence_view.set_verification(results)

    def set_chain_busy(self, busy: bool) -> None:
        self.audit_view.set_busy(busy)

    def show_chain_report(self, report: ChainReport) -> None:
        self.audit_view.show_report(report)

    def show_job_error(self, title: str, error: BaseException, traceback_text: str = "") -> None:
        message, details = describe_error(error, traceback_text)
        self.show_error(title, message, details)

    # --- every dialog goes through one of these (tests replace them) --------------------
    def ask_path(self, kind: str) -> Path | None:
        """Ask for a model folder, an evidence file or a case file; None if cancelled."""
        from core.evidence.formats import dialog_filters

        if kind == "model":
            chosen = QFileDialog.getExistingDirectory(
                self, "Choose a model folder (Hugging Face safetensors or ONNX)", self._last_dir
            )
        else:
            what = kind if kind in _FILE_DIALOG_TITLES else "case-file"
            filters = ";;".join(
                f"{label} ({' '.join(patterns)})" for label, patterns in dialog_filters(what)
            )
            chosen, _ = QFileDialog.getOpenFileName(
                self, _FILE_DIALOG_TITLES[what], self._last_dir, filters
            )
        if not chosen:
            return None
        self._last_dir = str(Path(chosen).parent)
        return Path(chosen)

    def ask_save_path(self, kind: str, suggested: str) -> Path | None:
        """Ask where to save a report; None if cancelled."""
        chosen, _ = QFileDialog.getSaveFileName(
            self, "Save the report as", suggested, "PDF (*.pdf)"
        )
        return Path(chosen) if chosen else None

    def ask_role(self, kind: str, roles: tuple[str, ...]) -> str | None:
        what = "model" if kind == "model" else "transcript set"
        role, ok = QInputDialog.getItem(
            self, f"Role of the {what}", f"What is this {what} in the case?", list(roles), 0, False
        )
        return role if ok and role else None

    def ask_cancel_running_jobs(self, count: int, action: str) -> bool:
        return ask_yes_no(
            self, APP_NAME, f"{count} job(s) are still running. Cancel them to {action}?"
        )

    def show_error(self, title: str, message: str, details: str = "") -> None:
        log.warning("%s: %s", title, message)
        open_error_box(self, title, message, details)

    def show_text(self, title: str, text: str) -> None:
        open_text_box(self, title, text)

    def open_file(self, path: Path) -> None:
        """Open an exported file with the system's viewer."""
        QDesktopServices.openUrl(QUrl.fromLocalFile(QFileInfo(str(path)).absoluteFilePath()))

    def show_help(self) -> QDialog:
        """Help → Help and glossary (non-modal, so it can stay open beside the case)."""
        from app.help.help_dialog import HelpDialog

        dialog = HelpDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        self.help_dialog = dialog
        return dialog

    def show_about(self) -> None:
        from PySide6 import __version__ as qt_version

        QMessageBox.about(
            self,
            f"About {APP_NAME}",
            f"<b>{APP_NAME}</b> {__version__}<br>"
            "A forensic workbench: was a suspect model trained on a protected model's "
            "outputs, and which terms did that break?<br><br>"
            f"PySide6 {qt_version}<br>Case file: {self.case_file.path if self.case_file else '—'}",
        )
