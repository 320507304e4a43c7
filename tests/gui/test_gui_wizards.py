"""Each wizard driven end to end (offscreen) on the demonstration case, with real core calls.

The demo case file is built once per session (core.demo.build_demo_case) and copied per
test with SQLite's backup API. Checks run on the demo's tiny GPT-2 models with a few
probes and resamples, to keep each test to seconds.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select

from app.jobs import CANCELLED, DONE
from core.store.models import AuditEvent, ModelArtifact, Policy, Run, TranscriptSet
from tests.gui import fixtures as gui_fixtures
from tests.gui.fixtures import (
    Recorder,
    demo_world,
    mnemonic_clashes,
    needs_demo,
    unnamed_controls,
    wait_jobs,
    wait_page,
)

demo_case_master = gui_fixtures.demo_case_master
demo_window = gui_fixtures.demo_window
window = gui_fixtures.window

pytestmark = needs_demo
WAIT_MS = 180_000


def actions(win) -> list[str]:
    with win.case_file.read_session() as s:
        return [e.action for e in s.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars()]


def check_pages(wizard) -> None:
    """Every control on the current page is named for assistive technology, no Alt+key is
    used twice on it (issue 18.9: Alt+N went to a field, not Next); it renders."""
    page = wizard.currentPage()
    assert unnamed_controls(page) == [], page.title()
    assert mnemonic_clashes(wizard) == {}, page.title()
    assert not wizard.grab().isNull()


# --- 1. new case, 2. add evidence (each kind), 5. terms import and comparison ------------------


def import_through_wizard(win, qtbot, path: Path, **fields) -> object:
    wizard = win.evidence.add_evidence(path)
    assert wizard is not None
    assert wizard.currentPage() is wizard.found_page  # the path was given: detection started
    wait_page(wizard, wizard.found_page, qtbot)
    check_pages(wizard)
    wizard.next()
    assert wizard.currentPage() is wizard.details
    for key, value in fields.items():
        widget = wizard.details.widget(key)
        if hasattr(widget, "setText"):
            widget.setText(value)
        elif hasattr(widget, "findData"):
            widget.setCurrentIndex(widget.findData(value))
        else:
            widget.set_value(value)
    assert wizard.details.isComplete()
    check_pages(wizard)
    wizard.next()
    wait_page(wizard, wizard.importing, qtbot)
    wizard.accept()
    return wizard


def test_new_case_then_every_kind_of_evidence(demo_window, qtbot):
    win, world = demo_window, demo_world()
    wizard = win.case_files.new_case()
    wizard.identification.title_edit.setText("Wizard case")
    wizard.identification.reference.setText("DA-WIZ-1")
    wizard.next()
    wizard.accept()
    assert win.case_id == wizard.case_id

    model = import_through_wizard(
        win,
        qtbot,
        world / "models" / "ref-a-wren",
        role="reference",
        collector="J. Doe",
        method="downloaded from the vendor",
        produced_by="Wren Labs (public release)",
        collection_method="download",
        production_no="WREN-0001",
    )
    facts = dict(model.found().facts)
    assert "GPT2" in facts["Architecture"] and facts["Parameters"] != "not stated"
    onnx = import_through_wizard(
        win, qtbot, world / "models" / "suspect-osprey-onnx", role="suspect"
    )
    assert dict(onnx.found().facts)["Format"] == "ONNX export"
    answers = import_through_wizard(
        win, qtbot, world / "transcripts" / "protected_probe_answers.jsonl", collector="A. Analyst"
    )
    assert dict(answers.found().facts)["Records"].startswith("150")
    assert answers.details.widget("role").currentData() == "protected-answers"

    with win.case_file.read_session() as s:
        arts = (
            s.execute(select(ModelArtifact).where(ModelArtifact.case_id == win.case_id))
            .scalars()
            .all()
        )
        assert {(a.format, a.role) for a in arts} == {
            ("hf-folder", "reference"),
            ("onnx", "suspect"),
        }
        wren = next(a for a in arts if a.format == "hf-folder")
        assert wren.provenance["collector"] == "J. Doe"
        (tset,) = (
            s.execute(select(TranscriptSet).where(TranscriptSet.case_id == win.case_id))
            .scalars()
            .all()
        )
        assert tset.collector == "A. Analyst" and tset.item_count == 150
    from core.records import custody_sources

    [custody] = custody_sources(win.case_file, win.case_id)  # custody from the source
    assert (custody.item_kind, custody.production_no, custody.collection_method) == (
        "model",
        "WREN-0001",
        "download",
    )
    records = win.evidence_view.model.records()
    assert custody.receipt_sha256 == next(e.sha256 for e in records if e.custody)
    column = win.evidence_view.model.columnCount() - 1  # the Custody column
    row = next(i for i, e in enumerate(records) if e.custody)
    shown = win.evidence_view.model.index(row, column).data()
    assert shown == "WREN-0001 · download"
    kinds = [e.kind for e in win.evidence_view.model.records()]
    assert sorted(kinds) == ["model", "model", "transcripts"]
    assert win.errors.calls == []


def test_terms_import_shows_detected_dates_then_the_changes(demo_window, qtbot):
    win, world = demo_window, demo_world()
    wizard = win.evidence.import_policy(world / "policies" / "terms_v2.md")
    wait_page(wizard, wizard.found_page, qtbot)
    facts = dict(wizard.found().facts)
    assert int(facts["Clauses found"]) > 5
    wizard.next()
    details = wizard.details
    assert details.widget("title").text()
    details.widget("provider").setText("Halcyon Labs")
    details.widget("version").setText("v2-md")
    from datetime import date

    details.widget("effective_from").set_value(date(2025, 7, 1))
    wizard.next()
    wait_page(wizard, wizard.importing, qtbot)
    wizard.next()  # what changed since the previous version (the demo's v2 PDF)
    wait_page(wizard, wizard.changes, qtbot)
    assert wizard.old_id is not None
    check_pages(wizard)
    wizard.accept()
    assert win.tabs.currentWidget() is win.policies_view
    assert any(r.version == "v2-md" for r in win.policies_view.policies.records())
    assert "policy.imported" in actions(win)


def test_compare_versions_and_the_policies_tab(demo_window, qtbot):
    win = demo_window
    win.tabs.setCurrentWidget(win.policies_view)
    view = win.policies_view
    versions = [r.version for r in view.policies.records()]
    assert versions == ["v1", "v2"]
    assert view.clauses.rowCount() > 0
    view.set_category("competing-model-ban")
    tagged = view.clauses.records()
    assert tagged and all(
        any(t["category"] == "competing-model-ban" for t in c.tags) for c in tagged
    )
    view.clause_table.selectRow(0)
    assert view.chips.chips and view.text.toPlainText()
    wizard = win.evidence.compare_policies()
    assert wizard.choose.isComplete()
    wizard.next()
    wait_page(wizard, wizard.changes, qtbot)
    assert wizard.changes.model.rowCount() > 0
    assert "changed" in wizard.changes.summary.text()
    check_pages(wizard)
    wizard.accept()


# --- 3. run a check, then review its finding ---------------------------------------------------


def start_check(win, qtbot, references: int = 3, probes: int = 24):
    wizard = win.analysis.run_check()
    wait_page(wizard, wizard.question_page, qtbot)
    check_pages(wizard)
    wizard.next()
    ev = wizard.evidence
    assert ev.suspect.currentText().startswith("suspect-osprey")
    ids = ev.reference_ids()
    assert len(ids) == 3  # the demo's three independent references, ticked by default
    ev.set_references(list(ids[:references]))
    check_pages(wizard)
    wizard.next()
    boxes = wizard.checks_page.boxes
    assert set(boxes) == {"likelihood", "identity", "similarity", "distribution", "harvest"}
    for key, box in boxes.items():
        box.setChecked(key == "likelihood")
    check_pages(wizard)
    wizard.next()
    s = wizard.settings_page
    # the one panel number (panel_needed over the chosen Hp checks), as the report gives it
    assert "at least 19 independent reference models" in s.adequacy.text()
    assert s.seed.text() == "Derived from the evidence"
    s.max_probes.setValue(probes)
    s.resamples.setValue(999)
    check_pages(wizard)
    wizard.next()
    assert wizard.currentPage() is wizard.run_page
    return wizard


def test_run_a_check_see_results_analyses_and_the_finding(demo_window, qtbot):
    win = demo_window
    wizard = start_check(win, qtbot)
    wait_page(wizard, wizard.run_page, qtbot, WAIT_MS)
    qtbot.waitUntil(lambda: wizard.currentPage() is wizard.results, timeout=5000)
    results = wizard.results
    (record,) = results.model.records()
    assert record.key == "likelihood" and record.verdict == "supports Hp"
    assert results.chart.canvas is not None  # the report's own figure
    assert "draft finding" in results.findings.text()
    check_pages(wizard)
    wizard.accept()

    assert win.tabs.currentWidget() is win.analyses_view
    view = win.analyses_view
    assert view.selected_run_id() == wizard.run_id
    with win.case_file.read_session() as s:  # the run records the action that started it
        run = s.get(Run, wizard.run_id)
        assert run is not None and run.parameters["gui_action"].startswith("GUI: Analysis")
    (row,) = view.checks.records()
    assert row.verdict == "supports Hp" and view.chart.canvas is not None
    assert "Combined" in view.headline.text()

    win.tabs.setCurrentWidget(win.findings_view)
    findings = win.findings_view
    (finding,) = findings.model.records()
    assert finding.status == "draft" and finding.run_ids == (wizard.run_id,)
    findings.reason.setText("Checked against the run's chart")
    findings.accept_button.click()
    wait_jobs(win, qtbot)
    assert findings.model.records()[0].status == "accepted"
    findings.clause.setCurrentIndex(findings.clause.count() - 1)
    findings.link_button.click()
    wait_jobs(win, qtbot)
    assert findings.model.records()[0].clause_links
    assert {"finding.proposed", "finding.status_changed", "finding.clause_linked"} <= set(
        actions(win)
    )
    assert win.errors.calls == []


def test_cancelling_a_running_check_marks_it_cancelled(demo_window, qtbot):
    win = demo_window
    win.warm_up()  # as a second after the case file opened: torch is loaded, not mid-import
    wait_jobs(win, qtbot)
    # 149 probes: a setting no other test uses, so no measurement comes from the process cache
    wizard = start_check(win, qtbot, references=3, probes=149)
    job = wizard.run_page.job
    qtbot.waitUntil(lambda: bool(job.partial_results), timeout=WAIT_MS)  # one model measured
    row = win.jobs_panel.rows[job]
    clicked = time.monotonic()
    with qtbot.waitSignal(job.finished, timeout=10_000):
        row.cancel_button.click()  # takes effect at the core function's next check
    assert time.monotonic() - clicked < 1.0  # Cancel takes effect within a second
    assert job.outcome == CANCELLED and row.status.text() == "Cancelled"
    assert "Stopped" in wizard.run_page.error.text()
    wizard.reject()
    with win.case_file.read_session() as s:
        (run,) = s.execute(select(Run).where(Run.kind == "check")).scalars().all()
        assert run.status == "cancelled"
    win.tabs.setCurrentWidget(win.analyses_view)
    assert win.analyses_view.runs.records()[0].status == "cancelled"
    assert "Saved so far" in win.analyses_view.headline.text()  # the partial results
    assert row.partial_button.isVisibleTo(row)
    assert win.errors.calls == []


# --- 4. experiment, 6. report ------------------------------------------------------------------


def test_run_a_small_distillation_experiment(demo_window, qtbot):
    win = demo_window
    wizard = win.analysis.run_experiment()
    m = wizard.models_page
    assert m.teacher.currentText().startswith("protected-lumen")
    assert m.use_base.isChecked() and m.base.currentText().startswith("osprey-base")
    check_pages(wizard)
    wizard.next()
    d = wizard.data_page
    assert d.answers.currentText().startswith("protected_probe_answers")
    d.controls.setCurrentIndex(0)  # no twin, to keep it short
    d.samples.setValue(12)
    check_pages(wizard)
    wizard.next()
    t = wizard.training_page
    t.steps.setValue(2)
    t.batch.setValue(4)
    t.threads.setValue(1)
    t.onnx.setChecked(False)
    check_pages(wizard)
    wizard.next()
    wait_page(wizard, wizard.run_page, qtbot, WAIT_MS)
    assert "Steps: 2 of 2" in wizard.run_page.done.text()
    wizard.accept()
    assert win.tabs.currentWidget() is win.analyses_view
    assert win.analyses_view.runs.records()[0].category == "experiment"
    assert any(e.role == "experiment-student" for e in win.evidence_view.model.records())


def test_export_the_report(demo_window, qtbot, tmp_path):
    win = demo_window
    wizard = win.analysis.export_report()
    wait_page(wizard, wizard.preview, qtbot, WAIT_MS)
    check_pages(wizard)
    wizard.next()
    files = wizard.files
    files.pdf.setText(str(tmp_path / "report.pdf"))
    files.with_csv.setChecked(True)
    check_pages(wizard)
    wizard.next()
    wait_page(wizard, wizard.exporting, qtbot, WAIT_MS)
    result = wizard.export
    assert result.pdf_path.read_bytes()[:5] == b"%PDF-" and result.pages >= 2
    assert (tmp_path / "report.json").is_file() and result.csv_files
    opened = Recorder()
    win.open_file = opened
    wizard.exporting.open_button.click()
    assert opened.calls == [(result.pdf_path,)]
    wizard.accept()
    assert "report.exported" in actions(win)


# --- the demo case, drag and drop ------------------------------------------------------------


def test_help_open_demo_case_builds_it_once_then_opens_it(window, qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("DISTILL_AUDIT_DEMO", str(demo_world()))
    target = tmp_path / "demo-built.dacase"
    job = window.case_files.open_demo_case(target)
    with qtbot.waitSignal(job.finished, timeout=WAIT_MS):
        pass
    assert job.outcome == DONE, job.traceback_text
    assert window.case_file.path == target
    assert [c.reference for c in window.case_list.model.records()] == ["DEMO-2025-001"]
    again = window.case_files.open_demo_case(target)  # exists: opened without rebuilding
    with qtbot.waitSignal(again.finished, timeout=WAIT_MS):
        pass
    assert window.case_list.model.rowCount() == 1


def test_dropping_files_starts_the_matching_wizard(demo_window, qtbot, tmp_path):
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    win, world = demo_window, demo_world()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(world / "transcripts" / "human_probe_answers.jsonl"))])
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    win.dropEvent(event)
    (wizard,) = win.wizards
    assert type(wizard).__name__ == "AddEvidenceWizard"
    wait_page(wizard, wizard.found_page, qtbot)
    wizard.reject()
    policy = win.evidence.open_dropped(world / "policies" / "terms_v1.html")
    assert type(policy).__name__ == "ImportPolicyWizard"
    wait_jobs(win, qtbot)
    policy.reject()
    assert win.evidence.open_dropped(tmp_path / "notes.xyz") is None
    ((title, message, *_details),) = win.errors.calls
    assert "not a model" in message
    with win.case_file.read_session() as s:
        assert s.execute(select(Policy)).scalars().all()  # the demo's own two only


@pytest.mark.slow
def test_a_small_calibration_sweep_reports_measured_rates(demo_window, qtbot):
    win = demo_window
    wizard = win.analysis.run_experiment()
    wizard.next()
    d = wizard.data_page
    assert d.controls.currentText().startswith("human_probe_answers")
    d.sweep.setChecked(True)
    d.sweep_samples.setText("0, 4")
    d.replicates.setValue(1)
    d.probes.setValue(10)
    assert d.isComplete()
    wizard.next()
    t = wizard.training_page
    t.steps.setValue(1)
    t.batch.setValue(4)
    t.threads.setValue(1)
    t.onnx.setChecked(False)
    wizard.next()
    wait_page(wizard, wizard.run_page, qtbot, 600_000)
    assert "detected" in wizard.run_page.done.text()
    wizard.accept()
    view = win.analyses_view
    assert view.selected_run_id() == wizard.run_ids[0]
    assert view.details.row.category == "calibration"
    assert "N = 4: detected" in view.text.toPlainText()  # the sweep's measured points
