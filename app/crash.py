"""Logging set-up and the last-resort exception hook: log it, show it, keep running.

Exceptions escaping a Qt slot or event handler reach ``sys.excepthook``; by default
PySide6 prints them and carries on, and a frozen GUI app has no console, so the user
would never see them. The hook writes the traceback to the log file and shows a dialog
with a plain message and the traceback under Details.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from logging.handlers import RotatingFileHandler
from pathlib import Path
from types import TracebackType

from PySide6.QtWidgets import QApplication, QWidget

from app.dialogs.messages import describe_error, open_error_box

log = logging.getLogger("distill_audit")

ExceptHook = Callable[[type[BaseException], BaseException, TracebackType | None], None]
ShowError = Callable[[str, str, str], object]


def log_file() -> Path:
    from platformdirs import user_log_dir

    return Path(user_log_dir("DistillAudit", appauthor=False)) / "distill-audit-gui.log"


def setup_logging(level: int = logging.INFO) -> Path | None:
    """Log to a rotating file in the user's log folder (and to stderr when there is one)."""
    root = logging.getLogger()
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # migration chatter
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    path: Path | None = log_file()
    try:
        assert path is not None
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = RotatingFileHandler(
            path, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
        handler.setFormatter(fmt)
        root.addHandler(handler)
    except OSError:
        path = None
    if sys.stderr is not None:
        stream = logging.StreamHandler()
        stream.setFormatter(fmt)
        root.addHandler(stream)
    return path


def _default_show(title: str, message: str, details: str) -> object:
    parent: QWidget | None = QApplication.activeWindow()
    return open_error_box(parent, title, message, details)


def make_excepthook(show: ShowError = _default_show) -> ExceptHook:
    """A ``sys.excepthook`` that logs the exception and shows it with ``show``."""
    showing = False

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        nonlocal showing
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        log.error("Unhandled exception", exc_info=(exc_type, exc, tb))
        if showing or QApplication.instance() is None:
            return
        showing = True
        try:
            message, details = describe_error(exc.with_traceback(tb))
            show("Distill Audit — unexpected error", message, details)
        except Exception:
            log.exception("Could not show the error dialog")
        finally:
            showing = False

    return hook


def install_excepthook(show: ShowError = _default_show) -> ExceptHook:
    hook = make_excepthook(show)
    sys.excepthook = hook
    return hook
