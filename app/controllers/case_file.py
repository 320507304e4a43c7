"""The case file: open one, recent files, a new case, the demo case, settings, the audit chain.

The window itself opens a case file (:meth:`app.main_window.MainWindow.open_case_file`:
it holds the open file and resets its views); this controller is the user's ways to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt

from app.controllers.base import Controller

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMenu

    from app.dialogs.new_case import NewCaseInput, NewCaseWizard
    from app.dialogs.settings_dialog import SettingsDialog
    from app.jobs import Job


class CaseFileController(Controller):
    """Open / recent / new case / demo case / settings / verify the audit chain."""

    # --- opening -----------------------------------------------------------------------
    def open_case_file_dialog(self) -> None:
        path = self.host.ask_path("case-file")
        if path is not None:
            self.host.open_case_file(path, create=False)

    def open_demo_case(self, path: Path | None = None) -> Job | None:
        """Build the demo case file once (a job with progress), then open it."""
        from app.demo_case import prepare_demo_case

        if not self.host.stop_jobs("open the demo case"):
            return None
        return self.host.runner.run(
            prepare_demo_case,
            path,
            label="Open the demo case",
            on_success=self._open_built_demo,
        )

    def _open_built_demo(self, path: Path) -> None:
        self.host.open_case_file(path)

    # --- recent files ------------------------------------------------------------------
    def remember(self, path: Path) -> None:
        """Put ``path`` first in the settings' recent files (and save them)."""
        from app.recent import remember
        from app.settings import save_settings

        self.host.settings.recent_files = remember(self.host.settings.recent_files, path)
        save_settings(self.host.settings)

    def fill_recent_menu(self, menu: QMenu) -> None:
        from app.recent import fill_menu

        fill_menu(
            menu,
            self.host.settings.recent_files,
            lambda p: self.host.open_case_file(p, create=False),
            self.clear_recent,
        )

    def clear_recent(self) -> None:
        from app.settings import save_settings

        self.host.settings.recent_files = []
        save_settings(self.host.settings)

    # --- a new case --------------------------------------------------------------------
    def new_case(self) -> NewCaseWizard | None:
        """Open the New case wizard (non-blocking); returns it so tests can drive it."""
        if self.host.case_file is None:
            return None
        from app.dialogs.new_case import NewCaseWizard
        from core.records import reference_problem

        cf = self.host.case_file
        wizard = NewCaseWizard(
            self._create_case, self.host.dialog_parent(), lambda r: reference_problem(cf, r)
        )
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        wizard.accepted.connect(lambda: self.host.refresh_cases(select_id=wizard.case_id))
        wizard.open()
        return wizard

    def _create_case(self, values: NewCaseInput) -> int:
        from core.store.cases import create_case

        assert self.host.case_file is not None
        return create_case(
            self.host.case_file,
            values.title,
            values.reference,
            parties=values.parties,
            commissioned_by=values.commissioned_by,
            hypothesis_p=values.hypothesis_p,
            hypothesis_d=values.hypothesis_d,
            actor=self.host.reviewer(),
        )

    # --- settings ----------------------------------------------------------------------
    def edit_settings(self) -> SettingsDialog:
        from app.dialogs.settings_dialog import SettingsDialog

        host = self.host
        dialog = SettingsDialog(host.settings, host.apply_settings, host.dialog_parent())
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    # --- the audit chain ---------------------------------------------------------------
    def verify_chain(self) -> Job | None:
        """Walk the audit chain off the UI thread; the Audit tab shows the outcome."""
        host = self.host
        if host.case_file is None:
            return None
        from core.store.audit import verify_case_file_chain

        host.set_chain_busy(True)
        return host.runner.run(
            verify_case_file_chain,
            host.case_file,
            label="Verify audit chain",
            pass_state=False,
            on_success=host.show_chain_report,
            on_failure=self._chain_failed,
        )

    def _chain_failed(self, error: BaseException) -> None:
        self.host.set_chain_busy(False)
        self.host.show_job_error("Verifying the audit chain failed", error)
