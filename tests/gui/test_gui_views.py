"""The case tabs (Evidence, Policies, Analyses, Findings), the jobs panel, errors, keyboard.

Real case files, real core calls; dialogs are answered through the window's patchable
``ask_…`` / ``show_…`` methods, never with exec().
"""

from __future__ import annotations

import threading
import time
from datetime import date

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget
from sqlalchemy import select

from app.jobs import CANCELLED, DONE, FAILED
from core.store.models import AuditEvent, Finding, TranscriptSet
from tests.gui import fixtures as gui_fixtures
from tests.gui.fixtures import (
    Recorder,
    demo_world,
    needs_demo,
    new_case,
    unnamed_controls,
    wait_jobs,
    wait_page,
    write_jsonl,
)

window = gui_fixtures.window
demo_case_master = gui_fixtures.demo_case_master
demo_window = gui_fixtures.demo_window
WAIT_MS = 60_000


def actions(win) -> list[str]:
    with win.case_file.read_session() as s:
        return [e.action for e in s.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars()]


# --- evidence: verification state ---------------------------------------------------------------


def test_verify_evidence_marks_a_changed_file(window, qtbot, tmp_path):
    new_case(window)
    path = write_jsonl(tmp_path / "answers.jsonl")
    job = window.evidence.start_transcript_import(path, "protected-answers")
    with qtbot.waitSignal(job.finished, timeout=WAIT_MS):
        pass
    job = window.evidence.verify_evidence()
    with qtbot.waitSignal(job.finished, timeout=WAIT_MS):
        pass
    view = window.evidence_view
    assert view.model.data(view.model.index(0, 7)) == "ok"
    path.write_text(path.read_text() + "\n", encoding="utf-8")  # altered after import
    job = window.evidence.verify_evidence()
    with qtbot.waitSignal(job.finished, timeout=WAIT_MS):
        pass
    assert view.model.data(view.model.index(0, 7)) == "changed"
    colour = view.model.data(view.model.index(0, 0), Qt.ItemDataRole.ForegroundRole)
    assert colour.name() == "#b00020"
    assert actions(window).count("evidence.verified") == 2


# --- errors from core: a dialog with Details, an inline message, nothing half-written --------


def test_a_failing_wizard_import_shows_the_error_and_imports_nothing(window, qtbot, tmp_path):
    new_case(window)
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"prompt": "Hi?", "response": "Hello."}\n{"prompt": "oops",\n', encoding="utf-8"
    )
    wizard = window.evidence.add_evidence(path)
    qtbot.waitUntil(
        lambda: wizard.found_page.job is not None and wizard.found_page.job.is_finished,
        timeout=WAIT_MS,
    )
    assert wizard.found_page.job.outcome == FAILED and not wizard.found_page.isComplete()
    ((title, message, details),) = window.errors.calls
    # issue 18.10: the details are the plain message and what to do, never Python
    assert "line 2" in message and message in details and "What to do" in details
    assert "Traceback" not in details and "EvidenceError" not in details
    assert "line 2" in wizard.found_page.error.text()
    wizard.reject()
    with window.case_file.read_session() as s:
        assert s.execute(select(TranscriptSet)).scalars().all() == []


# --- policies: filter, chips, corrections, version in force --------------------------------------


@needs_demo
def test_policies_tab_corrects_a_tag_and_names_the_version_in_force(demo_window, qtbot):
    win = demo_window
    win.tabs.setCurrentWidget(win.policies_view)
    view = win.policies_view
    view.clause_table.selectRow(0)
    clause = view.selected_clause()
    view.tag_category.setCurrentIndex(view.tag_category.findData("governing-law"))
    view.add_tag.click()
    wait_jobs(win, qtbot)
    assert any(t["category"] == "governing-law" for t in view.selected_clause().tags)
    assert any(
        c.accessibleName() == "Category Governing law and jurisdiction" or "Governing" in c.text()
        for c in view.chips.chips
    )
    view.remove_tag.click()
    wait_jobs(win, qtbot)
    assert not any(t["category"] == "governing-law" for t in view.selected_clause().tags)
    assert view.selected_clause().id == clause.id
    assert actions(win).count("policy.tag_corrected") == 2
    view.in_force_date.setDate(date(2025, 1, 15))
    view.in_force_button.click()
    assert "version v1 was in force" in view.in_force.text()
    assert view.selected_policy().version == "v1"


# --- findings: reject with a reason, reword, notes ------------------------------------------------


def test_findings_tab_rejects_rewords_and_keeps_notes(window, qtbot):
    case_id = new_case(window)
    with window.case_file.session() as s:
        s.add(
            Finding(
                case_id=case_id,
                statement="Draft statement.",
                strength="limited support",
                status="draft",
            )
        )
    window.settings.reviewer_name = "A. Reviewer"
    window.tabs.setCurrentWidget(window.findings_view)
    view = window.findings_view
    assert view.selected().statement == "Draft statement."
    view.statement.setPlainText("Reworded statement.")
    view.save_wording.click()
    wait_jobs(window, qtbot)
    view.reason.setText("The panel is too small")
    view.reject_button.click()
    wait_jobs(window, qtbot)
    view.notes.setPlainText(view.notes.toPlainText() + "\nAsk for more references.")
    view.save_notes_button.click()
    wait_jobs(window, qtbot)
    f = view.selected()
    assert (f.status, f.statement, f.reviewer) == ("rejected", "Reworded statement.", "A. Reviewer")
    assert "rejected: The panel is too small" in f.reviewer_notes
    assert "Ask for more references." in f.reviewer_notes
    assert not view.reject_button.isEnabled() and view.accept_button.isEnabled()
    assert {"finding.edited", "finding.status_changed", "finding.notes_updated"} <= set(
        actions(window)
    )
    assert "1 rejected" in view.summary.text()
    window.tabs.setCurrentWidget(window.overview)
    assert window.overview.findings.text() == "1 rejected"


# --- the jobs panel: ETA, partial results, quiet jobs ------------------------------------------


def steps(gate: threading.Event, state) -> str:
    for i in range(1, 5):
        state.set_progress(i * 20)
        state.set_partial_result({"step": i})
        time.sleep(0.02)
    while not gate.wait(0.01):
        state.check_cancelled()
    return "done"


def test_jobs_panel_shows_eta_and_partial_results(window, qtbot, monkeypatch):
    gate = threading.Event()
    job = window.runner.run(steps, gate, label="Stepwise")
    qtbot.waitUntil(lambda: len(job.partial_results) == 4, timeout=WAIT_MS)
    assert job.eta() is not None and job.eta() >= 0
    row = window.jobs_panel.rows[job]
    assert row.partial_button.isVisibleTo(row)
    assert row.partial_button.text() == "Partial results (4)"
    shown = Recorder()
    monkeypatch.setattr(window, "show_text", shown)
    row.partial_button.click()
    ((title, text),) = shown.calls
    assert "Stepwise" in title and '{"step": 4}' in text
    gate.set()
    with qtbot.waitSignal(job.finished, timeout=WAIT_MS):
        pass
    assert job.outcome == DONE


def test_quiet_jobs_are_not_listed_and_do_not_stop_closing(window, qtbot, monkeypatch):
    gate = threading.Event()
    job = window.runner.run(steps, gate, label="Housekeeping", quiet=True)
    assert job not in window.jobs_panel.rows
    assert window.runner.user_jobs() == []
    monkeypatch.setattr(window, "ask_cancel_running_jobs", gui_fixtures._unexpected("ask"))
    assert window.close()
    assert job.outcome == CANCELLED


@needs_demo
def test_closing_during_a_wizard_job_asks_then_cancels(demo_window, qtbot, monkeypatch):
    win = demo_window
    wizard = win.analysis.export_report()
    job = wizard.preview.job
    asked = Recorder(True)
    monkeypatch.setattr(win, "ask_cancel_running_jobs", asked)
    started = time.monotonic()
    assert win.close()
    assert time.monotonic() - started < 10
    assert job.is_finished and win.runner.active_jobs() == []
    assert asked.calls and asked.calls[0][0] >= 1


# --- accessibility, keyboard, fonts -------------------------------------------------------------


@needs_demo
def test_every_tab_names_its_controls_and_renders(demo_window, qtbot):
    win = demo_window
    win.tabs.setCurrentWidget(win.findings_view)
    for i in range(win.tabs.count()):
        win.tabs.setCurrentIndex(i)
        qtbot.wait(10)
        assert unnamed_controls(win) == [], win.tabs.tabText(i)
        assert not win.grab().isNull()
    wait_jobs(win, qtbot)


def test_the_new_case_wizard_works_with_the_keyboard_alone(window, qtbot):
    wizard = window.case_files.new_case()
    qtbot.waitExposed(wizard)
    page = wizard.identification
    page.title_edit.setFocus()
    QTest.keyClicks(page.title_edit, "Keyboard case")
    QTest.keyClick(page.title_edit, Qt.Key.Key_Tab)
    assert wizard.focusWidget() is page.reference
    QTest.keyClicks(page.reference, "DA-KEY-1")
    QTest.keyClick(page.reference, Qt.Key.Key_Return)  # the default button: Next
    assert wizard.currentPage() is wizard.hypotheses
    hp = wizard.hypotheses.hp
    hp.setFocus()
    QTest.keyClick(hp, Qt.Key.Key_Tab)  # the text boxes pass Tab on (no tab characters)
    assert wizard.focusWidget() is wizard.hypotheses.hd
    finish = wizard.button(wizard.WizardButton.FinishButton)
    while wizard.focusWidget() is not finish:
        QTest.keyClick(wizard.focusWidget(), Qt.Key.Key_Tab)
    QTest.keyClick(finish, Qt.Key.Key_Space)
    assert wizard.case_id is not None
    assert [c.reference for c in window.case_list.model.records()] == ["DA-KEY-1"]


@needs_demo
def test_wizard_inputs_are_reachable_with_tab(demo_window, qtbot):
    win = demo_window
    wizard = win.analysis.run_check()
    wait_page(wizard, wizard.question_page, qtbot)
    for _ in range(3):
        wizard.next()
        page = wizard.currentPage()
        for w in page.findChildren(QWidget):
            if w.isVisibleTo(page) and w.inherits("QAbstractButton") or w.inherits("QComboBox"):
                if w.isVisibleTo(page):
                    assert w.focusPolicy() & Qt.FocusPolicy.TabFocus, w
    wizard.reject()
    wait_jobs(win, qtbot)


def test_fonts_follow_the_system_setting(window, qtbot):
    app = QApplication.instance()
    before = app.font()
    bigger = QFont(before)
    bigger.setPointSizeF(before.pointSizeF() * 1.5)
    try:
        app.setFont(bigger)
        qtbot.wait(10)
        assert window.case_list.table.font().pointSizeF() == bigger.pointSizeF()
        assert window.overview.title.font().pointSizeF() == bigger.pointSizeF()
    finally:
        app.setFont(before)
    sheets = [w.styleSheet() for w in window.findChildren(QWidget) if w.styleSheet()]
    assert not any("px" in s and "font" in s for s in sheets)


@needs_demo
def test_the_dropped_case_file_opens(demo_window, tmp_path):
    copy = gui_fixtures.copy_case_file(demo_window.case_file.path, tmp_path / "dropped.dacase")
    assert demo_window.evidence.open_dropped(copy) is True
    assert demo_window.case_file.path == copy
    assert str(demo_world())
