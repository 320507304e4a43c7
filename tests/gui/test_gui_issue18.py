"""Issue 18 (first half): the bugs a non-technical reviewer met in the workbench.

Each test reproduces one bug on real parts (the demo case file copied per test, real
widgets offscreen, core's own use cases) and holds its fix.
"""

from __future__ import annotations

from typing import Any

from core.records import evidence_choices
from core.store.models import Finding, FindingRun
from core.store.runs import create_run
from tests.gui import fixtures as gui_fixtures
from tests.gui.fixtures import needs_demo

demo_case_master = gui_fixtures.demo_case_master
demo_window = gui_fixtures.demo_window
window = gui_fixtures.window

pytestmark = needs_demo


def _model(win: Any, name: str) -> Any:
    (choice,) = [c for c in evidence_choices(win.case_file, win.case_id) if c.name == name]
    return choice


def _check_run(win: Any, suspect: str) -> int:
    m = _model(win, suspect)
    inputs = {"suspect": {"artifact_id": m.id, "name": m.name, "role": m.role}}
    return create_run(win.case_file, win.case_id, "check", {"checks": ["likelihood"]}, inputs, 1)


def test_every_screen_names_the_model_a_run_tested(demo_window: Any) -> None:
    """18.1: runs of the distilled suspect and of its clean twin looked alike."""
    win = demo_window
    first, second = _check_run(win, "suspect-osprey"), _check_run(win, "clean-osprey")
    with win.case_file.session() as s:
        finding = Finding(case_id=win.case_id, statement="Draft", strength="moderate")
        s.add(finding)
        s.flush()
        s.add(FindingRun(finding_id=finding.id, run_id=second))
    win.refresh_case()

    assert f"Run {first} — suspect-osprey (suspect)" in win.overview.latest.text()
    assert f"Run {second} — clean-osprey (suspect)" in win.overview.latest.text()

    view = win.analyses_view
    win.tabs.setCurrentWidget(view)
    shown = {view.runs.data(view.runs.index(r, 1)) for r in range(view.runs.rowCount())}
    assert {"suspect-osprey (suspect)", "clean-osprey (suspect)"} <= shown
    view.run_table.selectRow([r.id for r in view.runs.records()].index(second))
    assert view.headline.text().startswith(f"Run {second} — clean-osprey (suspect)")

    findings = win.findings_view
    win.tabs.setCurrentWidget(findings)
    (row,) = findings.model.records()
    assert findings.model.data(findings.model.index(0, 4)) == (
        f"Run {second} — clean-osprey (suspect)"
    )
    findings.table.selectRow(0)
    assert f"Run {second} — clean-osprey (suspect)" in findings.status.text()


def _second_record_of(win: Any, name: str, role: str) -> int:
    """A second record of a model's files, as a case file made before 18.7 may hold."""
    from sqlalchemy import inspect, select

    from core.store.models import ModelArtifact

    with win.case_file.session() as s:
        a = s.execute(select(ModelArtifact).where(ModelArtifact.name == name)).scalar_one()
        cols = {c.key: getattr(a, c.key) for c in inspect(ModelArtifact).mapper.column_attrs}
        cols.pop("id")
        copy = ModelArtifact(**{**cols, "role": role, "name": f"{name}-again"})
        s.add(copy)
        s.flush()
        return int(copy.id)


def test_the_suspect_cannot_be_ticked_as_its_own_reference(demo_window: Any, qtbot: Any) -> None:
    """18.8: a second record of the suspect's files was offered (and ticked) as a reference;
    core refuses it and the wizard does not offer it."""
    import pytest

    from core.checks.evidence import load_case_evidence
    from core.checks.settings import CheckInputs
    from core.errors import DistillAuditError
    from tests.gui.fixtures import wait_page

    win = demo_window
    twin = _second_record_of(win, "suspect-osprey", "reference")
    suspect = _model(win, "suspect-osprey")
    protected = _model_set(win, "protected-answers")
    with pytest.raises(DistillAuditError, match="cannot be its own reference"):
        load_case_evidence(win.case_file, win.case_id, CheckInputs(suspect.id, (twin,), protected))

    wizard = win.analysis.run_check()
    wait_page(wizard, wizard.question_page, qtbot)
    wizard.next()
    ev = wizard.evidence
    assert ev.suspect.currentData() == suspect.id
    offered = [ev.references.item(i).text() for i in range(ev.references.count())]
    assert offered and not [t for t in offered if t.startswith("suspect-osprey")]
    assert twin not in ev.reference_ids()
    wizard.reject()


def _model_set(win: Any, role: str) -> int:
    return next(
        c.id
        for c in evidence_choices(win.case_file, win.case_id)
        if c.kind == "transcripts" and c.role == role
    )


def test_importing_a_first_terms_version_can_finish(window: Any, qtbot: Any) -> None:
    """18.5: the first version of a document ended on "Nothing to do" with Finish disabled."""
    from datetime import date

    from PySide6.QtWidgets import QWizard

    from tests.gui.fixtures import demo_world, new_case, wait_page

    win = window
    new_case(win)
    wizard = win.evidence.import_policy(demo_world() / "policies" / "terms_v1.md")
    wait_page(wizard, wizard.found_page, qtbot)
    wizard.next()
    wizard.details.widget("provider").setText("Halcyon Labs")
    wizard.details.widget("version").setText("v1")
    wizard.details.widget("effective_from").set_value(date(2025, 1, 1))
    wizard.next()
    wait_page(wizard, wizard.importing, qtbot)
    wizard.next()
    changes = wizard.changes
    assert wizard.currentPage() is changes and changes.job is None
    assert changes.isComplete()
    assert wizard.button(QWizard.WizardButton.FinishButton).isEnabled()
    assert "nothing to compare" in changes.summary.text()
    assert not changes.table.isVisibleTo(changes)
    wizard.button(QWizard.WizardButton.FinishButton).click()
    assert [r.version for r in win.policies_view.policies.records()] == ["v1"]
    assert win.errors.calls == []


def test_experiment_samples_default_to_what_the_answers_allow(demo_window: Any, qtbot: Any) -> None:
    """18.4: 200 samples were asked of a 150-record source, refused only after Start."""
    from core.distill.data import training_limit

    win = demo_window
    wizard = win.analysis.run_experiment()
    wizard.next()
    d = wizard.data_page
    qtbot.waitUntil(lambda: d.limit is not None, timeout=30_000)
    expected = training_limit(d.answers.currentData(), d.controls.currentData())
    assert expected.available == 150 and expected.most == 120  # a fifth (30) held out
    assert d.limit == expected
    assert d.samples.value() == 120 and d.samples.maximum() == 120
    assert "At most 120 training samples" in d.limit_label.text()
    d.samples.setValue(500)
    assert d.samples.value() == 120  # what does not fit cannot be typed
    assert d.isComplete()
    wizard.reject()
    qtbot.waitUntil(lambda: not win.runner.active_jobs(), timeout=30_000)


def test_closing_a_running_wizard_leaves_the_job_in_the_jobs_panel(
    demo_window: Any, qtbot: Any
) -> None:
    """18.3: the wizard was modal and closing it (Cancel, or the window's X) killed the run
    although the page said "you can close the wizard: the run goes on"."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QWizard

    from app.jobs import DONE
    from tests.gui.fixtures import Recorder, wait_jobs
    from tests.gui.test_gui_wizards import start_check

    win = demo_window
    wizard = start_check(win, qtbot)
    assert wizard.windowModality() == Qt.WindowModality.NonModal and not wizard.isModal()
    job = wizard.run_page.job
    assert job is not None and not job.is_finished
    wizard.button(QWizard.WizardButton.CancelButton).click()  # closes the wizard only
    assert not wizard.isVisible()
    row = win.jobs_panel.rows[job]
    assert row.cancel_button.isEnabled()
    wait_jobs(win, qtbot, 180_000)
    assert job.outcome == DONE

    # closing the main window while a job runs asks first; "no" keeps window and job
    wizard = start_check(win, qtbot)
    job = wizard.run_page.job
    wizard.close()  # the window's X
    assert not job.is_finished
    asked = Recorder(False)
    win.ask_cancel_running_jobs = asked
    assert not win.close()
    assert asked.calls and not job.is_finished
    wait_jobs(win, qtbot, 180_000)
    assert job.outcome == DONE


def test_importing_the_same_model_again_points_to_the_existing_record(
    demo_window: Any, qtbot: Any
) -> None:
    """18.7: Back, then Import again, made a second identical model record without a word."""
    from sqlalchemy import func, select

    from core.errors import DuplicateEvidenceError
    from core.store.models import ModelArtifact
    from tests.gui.fixtures import demo_world, wait_page

    win = demo_window
    existing = _model(win, "suspect-osprey")
    with win.case_file.read_session() as s:
        before = s.execute(select(func.count()).select_from(ModelArtifact)).scalar_one()
    wizard = win.evidence.add_evidence(demo_world() / "models" / "suspect-osprey")
    wait_page(wizard, wizard.found_page, qtbot)
    wizard.next()
    role = wizard.details.widget("role")
    role.setCurrentIndex(role.findData("suspect"))
    wizard.next()
    page = wizard.importing
    qtbot.waitUntil(lambda: page.job is not None and page.job.is_finished, timeout=60_000)
    assert isinstance(page.job.error, DuplicateEvidenceError)
    assert page.job.error.existing_id == existing.id
    assert f"model record {existing.id} ('suspect-osprey'" in page.error.text()
    assert not page.isComplete()
    with win.case_file.read_session() as s:
        after = s.execute(select(func.count()).select_from(ModelArtifact)).scalar_one()
    assert after == before
    wizard.reject()


def test_rerunning_a_check_does_not_propose_the_same_draft_twice(
    demo_window: Any, qtbot: Any
) -> None:
    """18.7: re-running a check re-proposed the same draft finding; one per (check, suspect)."""
    from sqlalchemy import select

    from core.store.models import AuditEvent
    from tests.gui.fixtures import wait_page
    from tests.gui.test_gui_wizards import start_check

    win = demo_window
    runs = []
    for _ in range(2):
        wizard = start_check(win, qtbot)
        wait_page(wizard, wizard.run_page, qtbot, 180_000)
        qtbot.waitUntil(lambda w=wizard: w.currentPage() is w.results, timeout=5000)
        runs.append(wizard.run_id)
        wizard.accept()
    win.tabs.setCurrentWidget(win.findings_view)
    (finding,) = win.findings_view.model.records()
    assert finding.status == "draft" and set(finding.run_ids) == set(runs)
    assert f"Run {runs[1]}," in finding.statement  # the wording of the newest run
    with win.case_file.read_session() as s:
        acts = [e.action for e in s.execute(select(AuditEvent)).scalars()]
    assert acts.count("finding.proposed") == 1 and acts.count("finding.reproposed") == 1
    assert win.errors.calls == []


def test_error_details_are_the_plain_message_and_what_to_do() -> None:
    """18.10: "Show Details" on an error showed a Python traceback."""
    import errno

    from app.dialogs.messages import describe_error
    from core.errors import EvidenceError

    try:
        raise EvidenceError("answers.jsonl line 3 is not JSON.\n  Fix the line.")
    except EvidenceError as exc:
        message, details = describe_error(exc)
    assert message == "answers.jsonl line 3 is not JSON. Fix the line."
    assert "Traceback" not in details and "What to do" in details and message in details
    full = OSError(errno.ENOSPC, "No space left on device", "/cases/x.dacase")
    message, details = describe_error(full)
    assert "disk is full" in message and "Traceback" not in details
    message, details = describe_error(ZeroDivisionError("bug"), "Traceback (most recent…)")
    assert "bug" in message and "Traceback" in details  # a bug: support needs it


def test_experiment_text_names_its_answers_and_the_cost_currency() -> None:
    """18.10: "on the None answers"; the cost had no currency."""
    from app.views.analyses_view import _cost_lines, _experiment_text
    from core.distill.summaries import CostEstimate
    from core.records import RunDetails, RunRow

    row = RunRow(4, "experiment", "experiment", "done", "2025-01-01", None, [], {}, None, 1.0)
    text = _experiment_text(
        RunDetails(row, {"method": "sequence", "seed": 1}, {}, {}, [], None, [])
    )
    assert "None" not in text and "on the captured answers" in text
    cost = CostEstimate.from_dict(
        {
            "presets": [{"key": "lumen", "currency": "USD"}],
            "by_samples": [{"n": 10, "tokens_in": 5, "tokens_out": 7, "prices": {"lumen": 0.5}}],
        }
    )
    assert _cost_lines(cost) == ["API cost of 10 samples (5 tokens in, 7 out): lumen 0.5 USD."]


def test_effect_and_interval_are_labelled_with_one_quantity() -> None:
    """18.2: the CI column's label named another quantity than the Effect beside it."""
    from types import SimpleNamespace

    from app.views.analyses_view import CHECK_COLUMNS

    effect_col, ci_col = (
        next(c for c in CHECK_COLUMNS if c.header == t) for t in ("Effect", "95% CI")
    )
    effect, ci = effect_col.tooltip, ci_col.tooltip
    assert effect is not None and ci is not None
    model_level = SimpleNamespace(test_used="predictive", test="sign-flip")
    legacy = SimpleNamespace(test_used="", test="exact rank-sum test")
    for c in (model_level, legacy):
        assert ci(c).endswith(effect(c))
    assert "model-level difference" in effect(model_level)
    assert "rank-sum" in effect(legacy) and "model-level" not in effect(legacy)


def test_a_taken_case_reference_is_reported_on_the_field(window: Any) -> None:
    """18.10: a duplicate case reference was reported only on the new-case dialog's last page."""
    from tests.gui.fixtures import new_case

    win = window
    new_case(win, reference="DA-GUI-1")
    wizard = win.case_files.new_case()
    page = wizard.identification
    page.title_edit.setText("Second matter")
    page.reference.setText("DA-GUI-1")
    assert not page.isComplete()
    assert page.reference_error.isVisibleTo(page)
    assert "reference 'DA-GUI-1' already exists" in page.reference_error.text()
    page.reference.setText("DA-GUI-2")
    assert page.isComplete() and not page.reference_error.isVisibleTo(page)
    wizard.reject()
