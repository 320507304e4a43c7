"""What a tab or a wizard needs from the main window, as a Protocol (for type checkers).

Views read through core on the UI thread (short read sessions that never wait for a
writer) and change the case file only through :meth:`Host.run_write`, which runs the
core function as a quiet background job: a write waits for the database lock if an
import is committing, and that wait must never freeze the window.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from app.jobs import Job, JobRunner
    from app.settings import AppSettings
    from core.store.db import CaseFile


class Host(Protocol):
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
