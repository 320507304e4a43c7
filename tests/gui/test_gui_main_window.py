"""The main window, driven offscreen with pytest-qt on real SQLite case files."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QAbstractItemView, QLineEdit, QPlainTextEdit
from sqlalchemy import func, select

from app.jobs import CANCELLED, DONE, FAILED
from core.store.models import DEFAULT_HD, DEFAULT_HP, TranscriptItem, TranscriptSet
from tests.gui import fixtures as gui_fixtures
from tests.gui.fixtures import Recorder, new_case, write_jsonl

# Fixtures shared with other GUI test modules (assigned, so that ruff sees no shadowed import).
window = gui_fixtures.window

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "transformers", "onnx", "onnxruntime", "scipy", "matplotlib")
WAIT_MS = 20_000


def audit_actions(win) -> list[str]:
    return [r.action for r in win.audit_view.model.records()]


# --- opening ------------------------------------------------------------------------------


def test_window_opens_with_an_empty_case_file(window, tmp_path):
    path = str(tmp_path / "case.dacase")
    assert path in window.windowTitle()
    assert path in window.file_label.text()
    assert window.revision_label.text().startswith("Schema revision ")
    assert window.case_list.model.rowCount() == 0
    assert window.case_id is None
    assert window.action("new_case").isEnabled()
    assert not window.action("import_transcripts").isEnabled()
    assert not window.action("import_model").isEnabled()
    assert window.overview.placeholder.isVisibleTo(window)


def test_a_file_that_is_not_a_case_file_is_refused_and_the_old_one_kept(window, tmp_path):
    bogus = tmp_path / "notes.dacase"
    bogus.write_text("not a database")
    before = window.case_file
    assert not window.open_case_file(bogus)
    assert window.case_file is before
    ((title, message, _details),) = window.errors.calls
    assert "not a Distill Audit case file" in message


# --- new case -----------------------------------------------------------------------------


def test_new_case_wizard_prefills_hypotheses_and_creates_the_case(window, qtbot):
    wizard = window.case_files.new_case()
    assert wizard is not None and wizard.isVisible()
    assert wizard.hypotheses.hp.toPlainText() == DEFAULT_HP
    assert wizard.hypotheses.hd.toPlainText() == DEFAULT_HD
    page = wizard.identification
    assert not page.isComplete()  # title and reference are mandatory
    page.title_edit.setText("Halcyon Labs v Quillmark AI")
    page.reference.setText("DA-2025-001")
    page.parties.setPlainText("Halcyon Labs\nQuillmark AI")
    assert page.isComplete()
    wizard.next()
    assert wizard.currentId() == 1
    wizard.accept()

    assert wizard.case_id is not None
    assert [c.reference for c in window.case_list.model.records()] == ["DA-2025-001"]
    assert window.case_id == wizard.case_id
    assert window.overview.title.text() == "Halcyon Labs v Quillmark AI"
    assert window.overview.parties.text() == "Halcyon Labs; Quillmark AI"
    assert window.overview.hp.text() == DEFAULT_HP
    assert "case.created" in audit_actions(window)
    assert window.action("import_transcripts").isEnabled()


def test_new_case_with_a_used_reference_keeps_the_wizard_open(window, qtbot):
    new_case(window, reference="DA-DUP")
    wizard = window.case_files.new_case()
    wizard.identification.title_edit.setText("Another")
    wizard.identification.reference.setText("DA-DUP")
    wizard.next()
    wizard.accept()
    assert wizard.isVisible() and wizard.case_id is None
    assert "already exists" in wizard.hypotheses.error.text()
    assert window.case_list.model.rowCount() == 1
    wizard.reject()


# --- importing evidence -------------------------------------------------------------------


def test_importing_transcripts_runs_as_a_job_and_shows_the_hash(
    window, qtbot, tmp_path, monkeypatch
):
    new_case(window)
    path = write_jsonl(tmp_path / "answers.jsonl")
    monkeypatch.setattr(window, "ask_path", Recorder(path))
    monkeypatch.setattr(window, "ask_role", Recorder("protected-answers"))
    job = window.evidence.import_transcripts()
    assert job is not None
    with qtbot.waitSignal(job.finished, timeout=WAIT_MS):
        pass
    assert job.outcome == DONE, job.error
    assert window.errors.calls == []
    (item,) = window.evidence_view.model.records()
    assert item.kind == "transcripts" and item.role == "protected-answers"
    assert item.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    row_sha = window.evidence_view.model.index(0, 3)
    assert item.sha256 in window.evidence_view.model.data(row_sha, Qt.ItemDataRole.ToolTipRole)
    window.evidence_view.table.selectRow(0)
    assert window.evidence_view.copy_selected_hash() == item.sha256
    assert "evidence.transcripts_imported" in audit_actions(window)
    assert window.tabs.currentWidget() is window.evidence_view
    assert "1 transcript set" in window.overview.counts.text()
    row = window.jobs_panel.rows[job]
    assert not row.cancel_button.isVisible() and row.status.text().startswith("Done")


def test_a_malformed_transcript_shows_the_line_and_imports_nothing(window, qtbot, tmp_path):
    new_case(window)
    path = tmp_path / "bad.jsonl"
    good = json.dumps({"prompt": "Hi?", "response": "Hello."})
    path.write_text(f'{good}\n{good}\n{{"prompt": "oops", \n{good}\n', encoding="utf-8")
    job = window.evidence.start_transcript_import(path, "protected-answers")
    with qtbot.waitSignal(job.finished, timeout=WAIT_MS):
        pass
    assert job.outcome == FAILED
    ((title, message, details),) = window.errors.calls
    assert "line 3" in message and "bad.jsonl" in message
    assert "What to do" in details and "EvidenceError" not in details  # issue 18.10
    assert window.evidence_view.model.rowCount() == 0
    with window.case_file.read_session() as s:
        assert s.execute(select(func.count()).select_from(TranscriptSet)).scalar_one() == 0
        assert s.execute(select(func.count()).select_from(TranscriptItem)).scalar_one() == 0
    assert "Failed" in window.jobs_panel.rows[job].status.text()


def test_importing_a_tiny_model(window, qtbot, tiny_model):
    new_case(window)
    job = window.evidence.start_model_import(tiny_model, "suspect")
    with qtbot.waitSignal(job.finished, timeout=WAIT_MS):
        pass
    assert job.outcome == DONE, job.traceback_text
    (item,) = window.evidence_view.model.records()
    assert (item.kind, item.role, item.name) == ("model", "suspect", tiny_model.name)
    files = {e["path"]: e["sha256"] for e in item.details["manifest"]}
    config = tiny_model / "config.json"
    assert files["config.json"] == hashlib.sha256(config.read_bytes()).hexdigest()
    assert "evidence.model_imported" in audit_actions(window)


# --- the audit chain ----------------------------------------------------------------------


def verify(window, qtbot):
    with qtbot.waitSignal(window.audit_view.chain_checked, timeout=WAIT_MS) as blocker:
        window.audit_view.verify_button.click()
    return blocker.args[0]


def test_verify_chain_shows_intact_then_names_the_tampered_event(window, qtbot):
    case_id = new_case(window)
    report = verify(window, qtbot)
    assert report.ok
    assert "intact" in window.audit_view.result.text()

    con = sqlite3.connect(window.case_file.path)
    with con:
        con.execute("DROP TRIGGER audit_events_no_update")
        (first,) = con.execute(
            "SELECT min(id) FROM audit_events WHERE case_id = ?", (case_id,)
        ).fetchone()
        con.execute("UPDATE audit_events SET action = 'case.renamed' WHERE id = ?", (first,))
    con.close()
    window.refresh_case()

    report = verify(window, qtbot)
    assert not report.ok and report.first_broken_id == first
    text = window.audit_view.result.text()
    assert "BROKEN" in text and f"event {first}" in text
    assert "b00020" in window.audit_view.result.styleSheet()  # shown in red
    rows = window.audit_view.model.records()
    broken_row = next(i for i, r in enumerate(rows) if r.id == first)
    colour = window.audit_view.model.data(
        window.audit_view.model.index(broken_row, 0), Qt.ItemDataRole.ForegroundRole
    )
    assert colour is not None and colour.name() == "#b00020"


# --- cancelling and closing ---------------------------------------------------------------


def wait_for_cancel(state, started: threading.Event, limit_s: float = 20.0) -> str:
    """A job body that reports progress until it is cancelled (core's check_cancelled)."""
    deadline = time.monotonic() + limit_s
    i = 0
    while time.monotonic() < deadline:
        state.check_cancelled()
        state.set_progress(i % 100)
        started.set()
        i += 1
        time.sleep(0.005)
    return "never cancelled"


def test_cancel_button_stops_a_running_job(window, qtbot):
    started = threading.Event()
    job = window.runner.run(wait_for_cancel, started=started, label="Waits for cancel")
    with qtbot.waitSignal(job.progress_changed, timeout=WAIT_MS):
        pass
    assert job.is_running
    row = window.jobs_panel.rows[job]
    with qtbot.waitSignal(job.finished, timeout=WAIT_MS):
        qtbot.mouseClick(row.cancel_button, Qt.MouseButton.LeftButton)
    assert job.outcome == CANCELLED and job.error is None
    assert row.status.text() == "Cancelled"
    assert window.errors.calls == []


def test_cancelling_a_real_hashing_job(window, qtbot, tmp_path):
    from core.evidence.hashing import sha256_file

    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (8 << 20))
    job = window.runner.run(sha256_file, big, label="Hash big.bin")
    job.cancel()
    with qtbot.waitSignal(job.finished, timeout=WAIT_MS):
        pass
    assert job.outcome == CANCELLED
    done = window.runner.run(sha256_file, big, label="Hash big.bin again")
    with qtbot.waitSignal(done.finished, timeout=WAIT_MS):
        pass
    assert done.result == hashlib.sha256(big.read_bytes()).hexdigest()


def test_closing_with_a_running_job_asks_then_cancels_and_waits(window, qtbot, monkeypatch):
    started = threading.Event()
    job = window.runner.run(wait_for_cancel, started=started, label="Waits for cancel")
    assert started.wait(10)
    monkeypatch.setattr(window, "ask_cancel_running_jobs", Recorder(False))
    assert not window.close()
    assert window.isVisible() and job.is_running

    monkeypatch.setattr(window, "ask_cancel_running_jobs", Recorder(True))
    assert window.close()
    assert job.outcome == CANCELLED
    assert window.runner.active_jobs() == []


# --- accessibility and start-up -----------------------------------------------------------


def test_controls_have_accessible_names_and_shortcuts(window):
    new_case(window)
    for widget in window.findChildren(QAbstractButton):
        if widget.isVisibleTo(window):
            assert widget.accessibleName() or widget.text(), widget
    for cls in (QAbstractItemView, QLineEdit, QPlainTextEdit):
        for widget in window.findChildren(cls):
            if widget.isVisibleTo(window) and not widget.inherits("QHeaderView"):
                assert widget.accessibleName(), widget
    shortcuts = {
        a.text(): a.shortcut().toString()
        for a in (window.action("new_case"), window.action("open_case_file"), window.action("quit"))
    }
    assert shortcuts == {"&New case…": "Ctrl+N", "&Open case file…": "Ctrl+O", "&Quit": "Ctrl+Q"}
    for i in range(window.tabs.count()):
        window.tabs.setCurrentIndex(i)
        assert not window.grab().isNull()


def test_the_window_imports_nothing_heavy():
    code = (
        "import json, sys\n"
        "import app.main, app.main_window, app.jobs\n"
        "early = sorted(m for m in ('sqlalchemy', 'alembic') if m in sys.modules)\n"
        "import core.records, core.evidence.importer, core.evidence.inventory, "
        "core.evidence.verify, core.store.cases\n"
        f"heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)\n"
        "print(json.dumps({'early': early, 'heavy': heavy}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"early": [], "heavy": []}


def test_command_line_arguments(tmp_path):
    from app.main import build_parser, case_file_argument

    parser = build_parser()
    one = tmp_path / "one.dacase"
    assert case_file_argument(parser.parse_args(["--db", str(one)]), parser) == one
    assert case_file_argument(parser.parse_args([str(one)]), parser) == one
    assert case_file_argument(parser.parse_args([]), parser).name == "workspace.dacase"
    with pytest.raises(SystemExit):
        case_file_argument(parser.parse_args(["--db", str(one), str(tmp_path / "b")]), parser)


def test_the_exception_hook_logs_and_shows_instead_of_crashing(qapp, caplog):
    from app.crash import make_excepthook

    shown = Recorder()
    hook = make_excepthook(shown)
    try:
        raise ValueError("boom")
    except ValueError as exc:
        hook(ValueError, exc, exc.__traceback__)
    ((title, message, details),) = shown.calls
    assert "bug" in message and "boom" in message
    assert "Traceback" in details and "ValueError" in details
    assert any("Unhandled exception" in r.message for r in caplog.records)


def test_the_app_starts_and_reports_its_first_paint(tmp_path):
    """``python -m app.main`` shows the window on a new case file and quits when asked."""
    env = {
        **__import__("os").environ,
        "QT_QPA_PLATFORM": "offscreen",
        "DISTILL_AUDIT_EXIT_AFTER_SHOW": "1",
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CACHE_HOME": str(tmp_path / "c"),
    }
    db = tmp_path / "start.dacase"
    out = subprocess.run(
        [sys.executable, "-m", "app.main", "--db", str(db)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "first-paint-ms=" in out.stdout and "ready-ms=" in out.stdout
    assert db.is_file()
