"""The main window's flows: each opens a wizard or starts a job; none holds analysis logic.

A mixin of :class:`app.main_window.MainWindow` (kept apart so the window class stays about
its layout and its case file). Every wizard is opened non-modally with ``open()`` and
returned, so tests drive it with ``next()``; every dialog goes through a patchable
``ask_…`` / ``show_…`` method of the window.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QWizard

from app.jobs import Job, lazy

if TYPE_CHECKING:
    from collections.abc import Callable

    from app.main_window import MainWindow
    from app.wizards.add_evidence import AddEvidenceWizard
    from app.wizards.export_report import ExportReportWizard
    from app.wizards.import_policy import CompareVersionsWizard, ImportPolicyWizard
    from app.wizards.run_check import RunCheckWizard
    from core.store.audit import ChainReport
    from core.store.db import CaseFile

_Base: Any = object


def _verify_chain_job(cf: CaseFile) -> ChainReport:
    """Worker body: walk the audit chain in a session of this thread's own."""
    from core.store.audit import verify_chain

    with cf.read_session() as s:
        return verify_chain(s)


class WindowFlows(_Base):
    """Wizards, quick imports, verification, demo case, drag and drop, settings, warm-up."""

    def _show_wizard(self: MainWindow, wizard: QWizard) -> QWizard:
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.wizards.append(wizard)
        wizard.finished.connect(
            lambda _r, w=wizard: self.wizards.remove(w) if w in self.wizards else None
        )
        wizard.open()
        return wizard

    def _need_case(self: MainWindow, what: str) -> bool:
        if self.case_file is None or self.case_id is None:
            self.show_error(
                f"Cannot {what}", "Select a case first (or create one with File → New case…)."
            )
            return False
        return True

    # --- evidence --------------------------------------------------------------------
    def add_evidence(self: MainWindow, path: Path | None = None) -> AddEvidenceWizard | None:
        """The Add evidence wizard (starting at ``path`` if given)."""
        if not self._need_case("add evidence"):
            return None
        from app.wizards.add_evidence import AddEvidenceWizard

        wizard = AddEvidenceWizard(self, path, parent=self)
        wizard.accepted.connect(lambda: self._after_evidence(wizard))
        self._show_wizard(wizard)
        if path is not None and wizard.choose.isComplete():
            wizard.next()
        return wizard

    def add_evidence_of(self: MainWindow, kind: str) -> AddEvidenceWizard | None:
        """Ask for a model folder / transcript file, then open the wizard on it."""
        if not self._need_case("add evidence"):
            return None
        path = self.ask_path(kind)
        return self.add_evidence(path) if path is not None else None

    def _after_evidence(self: MainWindow, wizard: AddEvidenceWizard) -> None:
        found = wizard.found()
        self.refresh_case()
        if found is not None and wizard.imported_id is not None:
            self.tabs.setCurrentWidget(
                self.policies_view if found.kind == "policy" else self.evidence_view
            )

    def import_policy(self: MainWindow, path: Path | None = None) -> ImportPolicyWizard | None:
        if not self._need_case("import terms"):
            return None
        from app.wizards.import_policy import ImportPolicyWizard

        wizard = ImportPolicyWizard(self, path, parent=self)
        wizard.accepted.connect(
            lambda: (self.refresh_case(), self.tabs.setCurrentWidget(self.policies_view))
        )
        self._show_wizard(wizard)
        if path is not None and wizard.choose.isComplete():
            wizard.next()
        return wizard

    def compare_policies(self: MainWindow) -> CompareVersionsWizard | None:
        if not self._need_case("compare terms"):
            return None
        from app.wizards.import_policy import CompareVersionsWizard

        selected = self.policies_view.selected_policy()
        wizard = CompareVersionsWizard(self, selected.id if selected else None, parent=self)
        self._show_wizard(wizard)
        return wizard

    def verify_evidence(self: MainWindow) -> Job | None:
        """Re-hash the case's evidence (a job); the Evidence tab shows each item's outcome."""
        if not self._need_case("verify the evidence"):
            return None
        self.tabs.setCurrentWidget(self.evidence_view)
        return self.runner.run(
            lazy("core.evidence.verify", "verify_case_evidence"),
            self.case_file,
            self.case_id,
            actor=self.reviewer(),
            label="Verify the evidence",
            on_success=self.evidence_view.set_verification,
        )

    # --- analyses and report --------------------------------------------------------
    def run_check(self: MainWindow) -> RunCheckWizard | None:
        if not self._need_case("run a check"):
            return None
        from app.wizards.run_check import RunCheckWizard

        wizard = RunCheckWizard(self, parent=self)
        wizard.accepted.connect(lambda: self.show_run(wizard.run_id))
        self._show_wizard(wizard)
        return wizard

    def run_experiment(self: MainWindow) -> QWizard | None:
        from app.menus import experiments_available

        if not experiments_available() or not self._need_case("run an experiment"):
            return None
        from app.wizards.experiment import ExperimentWizard

        wizard = ExperimentWizard(self, parent=self)
        wizard.accepted.connect(
            lambda: self.show_run(wizard.run_ids[0] if wizard.run_ids else None)
        )
        self._show_wizard(wizard)
        return wizard

    def show_run(self: MainWindow, run_id: int | None) -> None:
        """Switch to the Analyses tab with ``run_id`` selected."""
        self.refresh_case()
        self.tabs.setCurrentWidget(self.analyses_view)
        self.analyses_view.load(select_run=run_id)

    def export_report(self: MainWindow) -> ExportReportWizard | None:
        if not self._need_case("export a report"):
            return None
        from app.wizards.export_report import ExportReportWizard

        summary = self.case_list.selected_case()
        wizard = ExportReportWizard(self, summary.reference if summary else "", parent=self)
        self._show_wizard(wizard)
        return wizard

    # --- the demo case -----------------------------------------------------------------
    def open_demo_case(self: MainWindow, path: Path | None = None) -> Job | None:
        """Build the demo case file once (a job with progress), then open it."""
        from app.demo_case import prepare_demo_case

        if not self._stop_jobs("open the demo case"):
            return None
        return self.runner.run(
            prepare_demo_case,
            path,
            label="Open the demo case",
            on_success=lambda p: self.open_case_file(p),
        )

    # --- drag and drop -------------------------------------------------------------------
    def dragEnterEvent(self: MainWindow, event: QDragEnterEvent) -> None:
        if any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self: MainWindow, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_dropped(paths[0])

    def open_dropped(self: MainWindow, path: Path) -> QWizard | bool | None:
        """A dropped case file opens; evidence starts the matching import wizard."""
        from core.evidence.formats import CASE_FILE_SUFFIX, POLICY, detect_kind

        if path.suffix.lower() == CASE_FILE_SUFFIX:
            return self.open_case_file(path, create=False)
        kind = detect_kind(path)
        if kind is None:
            self.show_error(
                "Cannot import this file",
                f"{path.name} is not a model, a transcript file or a terms document.",
            )
            return None
        return self.import_policy(path) if kind == POLICY else self.add_evidence(path)

    # --- quick imports (no wizard; used by scripts and tests) -----------------------------
    def import_model(self: MainWindow) -> Job | None:
        from core.evidence.formats import ARTIFACT_ROLES

        path = self.ask_path("model")
        role = self.ask_role("model", ARTIFACT_ROLES) if path is not None else None
        return self.start_model_import(path, role) if path and role else None

    def import_transcripts(self: MainWindow) -> Job | None:
        from core.evidence.formats import TRANSCRIPT_ROLES

        path = self.ask_path("transcripts")
        role = self.ask_role("transcripts", TRANSCRIPT_ROLES) if path is not None else None
        return self.start_transcript_import(path, role) if path and role else None

    def start_model_import(self: MainWindow, path: Path, role: str) -> Job:
        from core.evidence.importer import import_model

        return self._start_import(import_model, path, role, f"Import model {Path(path).name}")

    def start_transcript_import(self: MainWindow, path: Path, role: str) -> Job:
        from core.evidence.importer import import_transcripts

        return self._start_import(
            import_transcripts, path, role, f"Import transcripts {Path(path).name}"
        )

    def _start_import(
        self: MainWindow, fn: Callable[..., Any], path: Path, role: str, label: str
    ) -> Job:
        assert self.case_file is not None and self.case_id is not None
        case_id = self.case_id
        return self.runner.run(
            fn,
            self.case_file,
            case_id,
            Path(path),
            role,
            label=label,
            on_success=lambda _id: self._after_import(case_id),
            on_failure=lambda exc: self._show_job_error(f"{label} failed", exc),
        )

    def _after_import(self: MainWindow, case_id: int) -> None:
        self.refresh_cases(select_id=case_id)
        self.tabs.setCurrentWidget(self.evidence_view)

    # --- audit chain ---------------------------------------------------------------------
    def verify_chain(self: MainWindow) -> Job | None:
        """Walk the audit chain off the UI thread; the Audit tab shows the outcome."""
        if self.case_file is None:
            return None
        self.audit_view.set_busy(True)
        return self.runner.run(
            _verify_chain_job,
            self.case_file,
            label="Verify audit chain",
            pass_state=False,
            on_success=self.audit_view.show_report,
            on_failure=lambda exc: (
                self.audit_view.set_busy(False),
                self._show_job_error("Verifying the audit chain failed", exc),
            ),
        )

    def warm_up(self: MainWindow) -> Job | None:
        """Import the engine's modules in a quiet job, then freeze them (see app.warmup)."""
        import gc

        from app.main_window import WARM_UP
        from app.warmup import MODULES, warm_up

        running = [j for j in self.runner.active_jobs() if j.label == WARM_UP]
        if self.case_file is None or self._closed or running:
            return running[0] if running else None
        if all(m in sys.modules for m in MODULES):
            gc.freeze()  # O(1): nothing to import; keep later collections short
            return None
        return self.runner.run(warm_up, label=WARM_UP, quiet=True)

    # --- settings and partial results ------------------------------------------------------
    def edit_settings(self: MainWindow) -> Any:
        from app.dialogs.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.settings, self.apply_settings, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def apply_settings(self: MainWindow, settings: Any) -> None:
        from app.settings import save_settings

        self.settings = settings
        save_settings(settings)
        self._last_dir = settings.data_folder or self._last_dir

    def show_partial_results(self: MainWindow, job: Job) -> None:
        import json

        text = (
            "\n".join(json.dumps(v, default=str, ensure_ascii=False) for v in job.partial_results)
            or "Nothing yet."
        )
        self.show_text(f"Partial results: {job.label}", text)
