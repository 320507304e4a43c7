"""What every controller shares: its host, and the guard "a case must be selected"."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

if TYPE_CHECKING:
    from app.host import WindowHost


class Controller(QObject):
    """A plain QObject that acts on the window through its :class:`WindowHost`."""

    def __init__(self, host: WindowHost, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.host = host

    def need_case(self, what: str) -> bool:
        """True when a case is selected; otherwise say how to get one (``Cannot {what}``)."""
        if self.host.case_file is None or self.host.case_id is None:
            self.host.show_error(
                f"Cannot {what}", "Select a case first (or create one with File → New case…)."
            )
            return False
        return True
