"""What tabs, wizards and controllers need from the main window, as Protocols.

:class:`Host` is what a tab or a wizard uses: the open case file and selected case, the
job runner, the settings and the patchable dialogs. Views read through core on the UI
thread (short read sessions that never wait for a writer) and change the case file only
through :meth:`Host.run_write`, which runs the core function as a quiet background job:
a write waits for the database lock if an import is committing, and that wait must never
freeze the window.

:class:`WindowHost` adds what the controllers (:mod:`app.controllers`) need to steer the
window: open a case file, open a wizard, show a tab, show a job's outcome in a view. A
controller never touches the window's widgets; it asks through these methods.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget, QWizard

    from app.jobs import Job, JobRunner
    from app.settings import AppSettings
    from core.store.audit import ChainReport
    from core.store.db import CaseFile

Tab = Literal["overview", "evidence", "policies", "analyses", "findings", "audit", "traffic"]


class Host(Protocol):
    """The main window as a tab or a wizard sees it."""

    case_file: CaseFile | None
    case_id: int | None
    runner: JobRunner
    settings: AppSettings

    def show_error(self, title: str, message: str, details: str = "") -> None: ...

    def reviewer(self) -> str: ...

    def run_write(
        self,
        fn: Callable[..., Any],
        *args: Any,
        label: str,
        on_done: Callable[[Any], None] | None = None,
        **kwargs: Any,
    ) -> Job: ...

    def ask_save_path(self, kind: str, suggested: str) -> Path | None: ...

    def open_file(self, path: Path) -> None: ...


class WindowHost(Host, Protocol):
    """The main window as a controller sees it: its state, its dialogs, its views."""

    # --- dialogs (tests replace them) ------------------------------------------------
    def ask_path(self, kind: str) -> Path | None: ...

    def ask_role(self, kind: str, roles: tuple[str, ...]) -> str | None: ...

    def show_text(self, title: str, text: str) -> None: ...

    def show_job_error(self, title: str, error: BaseException, traceback_text: str = "") -> None:
        """Show a failed job's error as the user-facing message with the details folded."""
        ...

    def dialog_parent(self) -> QWidget:
        """The widget wizards and dialogs are opened over."""
        ...

    def open_wizard(self, wizard: QWizard) -> QWizard:
        """Open ``wizard`` non-modally; the window closes it when its case file goes."""
        ...

    # --- the case file ---------------------------------------------------------------
    def open_case_file(self, path: Path | str | None, create: bool = True) -> bool: ...

    def stop_jobs(self, action: str) -> bool:
        """Ask before cancelling running jobs (to ``action``); False if the user declined."""
        ...

    def apply_settings(self, settings: AppSettings) -> None: ...

    # --- the views -------------------------------------------------------------------
    def refresh_cases(self, select_id: int | None = None) -> None: ...

    def refresh_case(self) -> None: ...

    def show_tab(self, tab: Tab) -> None: ...

    def select_run(self, run_id: int | None) -> None:
        """Re-read the Analyses tab with ``run_id`` selected."""
        ...

    def selected_case_reference(self) -> str: ...

    def selected_policy_id(self) -> int | None: ...

    def show_evidence_verification(self, results: Any) -> None: ...

    def set_chain_busy(self, busy: bool) -> None: ...

    def show_chain_report(self, report: ChainReport) -> None: ...
