"""Fixtures for the GUI tests: no dangling threads, a main window on a real case file.

Tests under tests/gui get the thread check from tests/gui/conftest.py; a Qt test elsewhere
imports it (``from tests.gui.fixtures import no_dangling_threads``), which makes it autouse
in that module, and tests/conftest.py refuses one that does not. Like napari's
``_dangling_qthreads``, it records where every QThread / QThreadPool was started and fails
a test that leaves one running.
"""

from __future__ import annotations

import json
import traceback
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QThread, QThreadPool


def _where() -> str:
    return "".join(traceback.format_stack(limit=8)[:-2])


@pytest.fixture(autouse=True)
def no_dangling_threads(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail the test if a QThread or a thread-pool worker it started is still running."""
    threads: weakref.WeakKeyDictionary[QThread, str] = weakref.WeakKeyDictionary()
    pools: weakref.WeakKeyDictionary[QThreadPool, str] = weakref.WeakKeyDictionary()
    thread_start, pool_start = QThread.start, QThreadPool.start

    def start_thread(self: QThread, *args: Any) -> None:
        threads[self] = _where()
        thread_start(self, *args)

    def start_pool(self: QThreadPool, *args: Any) -> None:
        pools[self] = _where()
        pool_start(self, *args)

    monkeypatch.setattr(QThread, "start", start_thread)
    monkeypatch.setattr(QThreadPool, "start", start_pool)
    yield
    dangling = []
    for thread, where in list(threads.items()):
        try:
            if thread.isRunning():
                dangling.append(f"QThread {thread.objectName()!r} started at:\n{where}")
        except RuntimeError:  # the C++ object is gone: it cannot be running
            pass
    for pool, where in list(pools.items()):
        if pool.activeThreadCount():
            dangling.append(f"QThreadPool with {pool.activeThreadCount()} active, at:\n{where}")
    if QThreadPool.globalInstance().activeThreadCount():
        dangling.append("the global QThreadPool still has active workers")
    if dangling:
        for thread in list(threads):  # don't let them crash the next test
            thread.wait(10_000)
        pytest.fail("Threads left running after the test:\n" + "\n".join(dangling))


class Recorder:
    """Stands in for a dialog method: records the calls, returns a preset answer."""

    def __init__(self, answer: Any = None) -> None:
        self.answer = answer
        self.calls: list[tuple[Any, ...]] = []

    def __call__(self, *args: Any) -> Any:
        self.calls.append(args)
        return self.answer


def _unexpected(name: str) -> Any:
    def fail(*args: Any) -> Any:
        raise AssertionError(f"unexpected dialog {name}{args}")

    return fail


@pytest.fixture
def window(qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A shown MainWindow on a new case file; dialogs replaced (errors are recorded)."""
    from app.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.errors = Recorder()
    monkeypatch.setattr(win, "show_error", win.errors)
    for name in (
        "ask_path",
        "ask_role",
        "ask_cancel_running_jobs",
        "show_about",
        "show_text",
        "open_file",
        "ask_save_path",
    ):
        monkeypatch.setattr(win, name, _unexpected(name))
    assert win.open_case_file(tmp_path / "case.dacase")
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.runner.cancel_and_wait()
    win.close()


def new_case(
    win: Any, title: str = "Halcyon Labs v Quillmark AI", reference: str = "DA-GUI-1"
) -> int:
    """Create a case through core (for tests about other things) and select it."""
    from core.store.cases import create_case

    case_id = create_case(win.case_file, title, reference, parties=["Halcyon Labs"])
    win.refresh_cases(select_id=case_id)
    assert win.case_id == case_id
    return case_id


def write_jsonl(path: Path, n: int = 12) -> Path:
    path.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"q{i}",
                    "prompt": f"Question {i}?",
                    "response": f"Answer {i}.",
                    "model": "Lumen",
                    "provider": "Halcyon Labs",
                }
            )
            + "\n"
            for i in range(n)
        ),
        encoding="utf-8",
    )
    return path


# --- the demonstration case (built once per session, copied per test) -----------------------


def demo_world() -> Path:
    """The demo world: $DISTILL_AUDIT_DEMO or the shipped resources/demo."""
    import os

    from core.resources import resource_path

    return Path(os.environ.get("DISTILL_AUDIT_DEMO") or resource_path("demo"))


needs_demo = pytest.mark.skipif(
    not (demo_world() / "lineage.json").is_file(),
    reason="the demo world is not built (resources/demo/lineage.json)",
)


@pytest.fixture(scope="session")
def demo_case_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo case file, built once per session with core.demo.build_demo_case."""
    from core.demo import build_demo_case
    from core.store.db import open_case_file

    path = tmp_path_factory.mktemp("demo-master") / "demo.dacase"
    with open_case_file(path) as cf:
        build_demo_case(cf, demo_world())
    return path


def copy_case_file(source: Path, target: Path) -> Path:
    """A consistent copy with SQLite's backup API (the WAL is folded in)."""
    import sqlite3

    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    return target


def _open_window(qtbot: Any, path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    from app.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.errors = Recorder()
    monkeypatch.setattr(win, "show_error", win.errors)
    for name in (
        "ask_path",
        "ask_role",
        "ask_cancel_running_jobs",
        "show_about",
        "show_text",
        "open_file",
        "ask_save_path",
    ):
        monkeypatch.setattr(win, name, _unexpected(name))
    assert win.open_case_file(path)
    win.show()
    qtbot.waitExposed(win)
    return win


@pytest.fixture
def demo_window(
    qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, demo_case_master: Path
) -> Iterator[Any]:
    """A shown MainWindow on a fresh copy of the demo case file, the demo case selected."""
    monkeypatch.setenv("DISTILL_AUDIT_DEMO", str(demo_world()))
    win = _open_window(
        qtbot, copy_case_file(demo_case_master, tmp_path / "demo.dacase"), monkeypatch
    )
    assert win.case_id is not None
    yield win
    win.runner.cancel_and_wait()
    win.close()


def wait_jobs(win: Any, qtbot: Any, timeout_ms: int = 120_000) -> None:
    """Wait until the window's runner has no job queued or running."""
    qtbot.waitUntil(lambda: not win.runner.active_jobs(), timeout=timeout_ms)


def wait_page(wizard: Any, page: Any, qtbot: Any, timeout_ms: int = 120_000) -> None:
    """Wait until a job page's job finished (successfully: the page is complete)."""
    qtbot.waitUntil(lambda: page.job is not None and page.job.is_finished, timeout=timeout_ms)
    assert page.isComplete(), (page.job.outcome, page.job.error, page.job.traceback_text)


def unnamed_controls(root: Any) -> list[Any]:
    """Visible controls under ``root`` with neither an accessible name nor a text."""
    from PySide6.QtWidgets import (
        QAbstractButton,
        QAbstractItemView,
        QAbstractSpinBox,
        QComboBox,
        QLineEdit,
        QPlainTextEdit,
        QTextEdit,
    )

    bad = []
    for cls in (
        QAbstractButton,
        QAbstractItemView,
        QLineEdit,
        QPlainTextEdit,
        QTextEdit,
        QComboBox,
        QAbstractSpinBox,
    ):
        for w in root.findChildren(cls):
            if not w.isVisibleTo(root) or w.inherits("QHeaderView"):
                continue
            if isinstance(w, QLineEdit) and isinstance(w.parent(), (QAbstractSpinBox, QComboBox)):
                continue  # the editor inside a named spin box or combo box
            if isinstance(w, QAbstractButton) and (w.text() or w.accessibleName()):
                continue
            if not w.accessibleName():
                bad.append(w)
    return bad


def mnemonic_clashes(wizard: Any) -> dict[str, list[str]]:
    """Alt+letter keys used twice on a wizard's current page (labels, buttons, its buttons).

    Qt gives a clashing Alt+key to whichever widget comes first, so Alt+N could move the
    focus to a field instead of pressing Next.
    """
    import re

    from PySide6.QtWidgets import QAbstractButton, QGroupBox, QLabel, QWizard

    texts: list[str] = []
    page = wizard.currentPage()
    for cls in (QLabel, QAbstractButton, QGroupBox):
        for w in page.findChildren(cls):
            if w.isVisibleTo(page):
                texts.append(w.title() if isinstance(w, QGroupBox) else w.text())
    for which in (
        QWizard.WizardButton.BackButton,
        QWizard.WizardButton.NextButton,
        QWizard.WizardButton.FinishButton,
        QWizard.WizardButton.CancelButton,
        QWizard.WizardButton.CommitButton,
    ):
        button = wizard.button(which)
        if button is not None and button.isVisible():
            texts.append(button.text())
    seen: dict[str, list[str]] = {}
    for text in texts:
        m = re.search(r"&([^&\s])", text.replace("&&", ""))
        if m:
            seen.setdefault(m.group(1).lower(), []).append(text)
    return {k: v for k, v in seen.items() if len(v) > 1}
