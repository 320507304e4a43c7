"""``distill-audit-gui``: start the main window on a case file.

Usage: ``distill-audit-gui [--db PATH] [CASE_FILE]`` (a positional path is what a
desktop passes on double-click). Unknown options go to Qt (e.g. ``-platform``).

Start-up is kept fast: nothing heavy (torch, transformers, onnx, scipy, matplotlib) is
imported at all, and the case-file store (SQLAlchemy, Alembic) only after the window's
first paint. With ``DISTILL_AUDIT_EXIT_AFTER_SHOW=1`` the app prints
``first-paint-ms=<ms since main()>`` and, once the case file is open and shown,
``ready-ms=<ms>``, then quits; ``tests/benchmarks/bench_startup.py`` uses that.
``--self-test`` does the same and also prints ``cases=<n>``, exiting 1 when the case file
could not be opened: the installers' smoke test starts the frozen app that way.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from core import __version__


def _app() -> QApplication:
    app = QApplication.instance()
    assert isinstance(app, QApplication), "the QApplication must exist first"
    return app


EXIT_AFTER_SHOW = "DISTILL_AUDIT_EXIT_AFTER_SHOW"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="distill-audit-gui", description="Distill Audit desktop application."
    )
    parser.add_argument("--version", action="version", version=f"distill-audit-gui {__version__}")
    parser.add_argument(
        "--db",
        metavar="PATH",
        help="case file to open (default: the workspace case file in your "
        "data folder, or $DISTILL_AUDIT_DB)",
    )
    parser.add_argument(
        "case_file",
        nargs="?",
        metavar="CASE_FILE",
        help="case file to open (same as --db; e.g. from a double-click)",
    )
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="open the case file, print timings and the number of cases, then "
        "quit (exit status 1 if it could not be opened)",
    )
    return parser


def case_file_argument(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Path:
    """The case file named on the command line, or the default workspace case file."""
    if args.db and args.case_file and Path(args.db) != Path(args.case_file):
        parser.error("give the case file either with --db or as a path, not both")
    chosen = args.case_file or args.db
    if chosen:
        return Path(chosen).expanduser()
    from core.store.db import default_case_file

    return default_case_file()


class _AfterFirstPaint(QObject):
    """Calls ``callback`` once, right after ``window`` (or a child of it) first paints.

    A fallback timer calls it anyway should no paint arrive (e.g. a minimised start).
    """

    def __init__(
        self, window: QWidget, callback: Callable[[], None], fallback_ms: int = 2000
    ) -> None:
        super().__init__(window)
        self._window, self._callback, self._done = window, callback, False
        _app().installEventFilter(self)
        QTimer.singleShot(fallback_ms, self, self._fire)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            not self._done
            and event.type() == QEvent.Type.Paint
            and isinstance(watched, QWidget)
            and watched.window() is self._window
        ):
            QTimer.singleShot(0, self, self._fire)  # let this paint finish first
        return False

    def _fire(self) -> None:
        if self._done:
            return
        self._done = True
        _app().removeEventFilter(self)
        self._callback()


def main(argv: Sequence[str] | None = None) -> int:
    started = time.perf_counter()
    parser = build_parser()
    args, qt_args = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    path = case_file_argument(args, parser)

    from app.crash import install_excepthook, setup_logging

    setup_logging()
    app = QApplication.instance() or QApplication([sys.argv[0], *qt_args])
    assert isinstance(app, QApplication)
    app.setApplicationName("Distill Audit")
    app.setOrganizationName("DistillAudit")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("distill-audit")
    install_excepthook()

    from app.main_window import MainWindow

    window = MainWindow()
    app.aboutToQuit.connect(window.shutdown)  # no job thread outlives the application
    window.statusBar().showMessage(f"Opening {path}…")
    measure = bool(os.environ.get(EXIT_AFTER_SHOW)) or args.self_test

    def load() -> None:
        # The window is on screen; now load the engine's store and open the case file.
        if measure:
            print(f"first-paint-ms={(time.perf_counter() - started) * 1000:.1f}", flush=True)
        opened = window.open_case_file(path)
        window.statusBar().clearMessage()
        if measure:
            window.repaint()
            print(f"ready-ms={(time.perf_counter() - started) * 1000:.1f}", flush=True)
            if args.self_test:
                from core.store.cases import list_cases

                cases = len(list_cases(window.case_file)) if opened and window.case_file else 0
                print(f"cases={cases}", flush=True)
            status = 1 if args.self_test and not opened else 0
            QTimer.singleShot(0, lambda: app.exit(status))

    _AfterFirstPaint(window, load)
    window.show()
    return app.exec()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
