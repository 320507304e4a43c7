"""One job-progress widget for the jobs panel and the wizard pages: one ETA, Cancel if possible."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtWidgets import QWizard

from app.jobs import DONE, JobRunner
from app.views.job_progress import JobProgress, format_elapsed, time_text
from app.views.jobs_panel import JobsPanel
from app.wizards.common import JobPage

WAIT_MS = 10_000


@pytest.fixture
def runner(qapp):
    r = JobRunner(max_parallel=2)
    yield r
    r.cancel_and_wait()


def half_way(gate: threading.Event, state) -> str:
    """Reports 50 % and waits (checking for cancel) until the gate opens."""
    state.set_progress(50)
    while not gate.wait(0.01):
        state.check_cancelled()
    return "released"


def no_state(gate: threading.Event) -> str:
    """A job body that takes no JobState: nothing can interrupt it."""
    gate.wait(10)
    return "ran to its end"


def panel_and_page(runner, qtbot, start):
    """The jobs panel, its row and a wizard page, all showing the job ``start()`` returns."""
    panel = JobsPanel(runner)
    qtbot.addWidget(panel)
    wizard = QWizard()
    qtbot.addWidget(wizard)
    page = JobPage("Work", "A page that runs a job", start)
    wizard.addPage(page)
    wizard.show()  # enters the page: starts its job
    assert page.job is not None
    return panel, wizard, panel.rows[page.job], page  # the caller keeps panel and wizard alive


def test_panel_and_page_show_one_widget_with_one_eta_text(runner, qtbot):
    gate = threading.Event()
    _panel, _wizard, row, page = panel_and_page(
        runner, qtbot, lambda: runner.run(half_way, gate, label="Half")
    )
    job = page.job
    assert isinstance(row.progress, JobProgress) and isinstance(page.progress, JobProgress)
    qtbot.waitUntil(lambda: job.progress == 50, timeout=WAIT_MS)
    job.started_at = time.monotonic() - 10  # as if it had run for ten seconds
    row.progress.tick()
    page.progress.tick()
    assert row.progress.elapsed.text() == page.progress.elapsed.text() == time_text(job)
    assert time_text(job) == "Elapsed 10 s, about 10 s left"
    assert "ETA" not in row.status.text() + page.progress.status.text()
    for progress in (row.progress, page.progress):
        assert progress.cancel_button.text() == "Cancel"
        assert progress.cancel_button.isVisibleTo(progress)
    gate.set()
    with qtbot.waitSignal(job.finished, timeout=WAIT_MS):
        pass
    assert job.outcome == DONE and page.isComplete()
    assert not row.cancel_button.isVisibleTo(row) and row.status.text().startswith("Done")


def test_the_time_left_is_shown_only_once_it_means_something(runner, qtbot):
    gate = threading.Event()
    job = runner.run(half_way, gate, label="Young")
    qtbot.waitUntil(lambda: job.progress == 50, timeout=WAIT_MS)
    job.started_at = time.monotonic() - 1  # one second: too early for an estimate
    assert time_text(job) == "Elapsed 1 s"
    gate.set()
    with qtbot.waitSignal(job.finished, timeout=WAIT_MS):
        pass
    assert job.eta() is None and time_text(job).startswith("Elapsed")
    assert format_elapsed(125) == "2 min 05 s"


def test_no_cancel_button_for_a_job_that_cannot_be_cancelled(runner, qtbot):
    gate = threading.Event()
    _panel, _wizard, row, page = panel_and_page(
        runner,
        qtbot,
        lambda: runner.run(no_state, gate, label="Uninterruptible", pass_state=False),
    )
    job = page.job
    assert not job.cancellable
    qtbot.waitUntil(lambda: job.is_running, timeout=WAIT_MS)
    assert not row.cancel_button.isVisibleTo(row)
    assert not page.progress.cancel_button.isVisibleTo(page)
    job.cancel()  # asking does not pretend: the job runs on, and its status says nothing new
    assert job.is_running and not job.cancel_requested and job.status != "Cancelling…"
    gate.set()
    with qtbot.waitSignal(job.finished, timeout=WAIT_MS):
        pass
    assert job.outcome == DONE and job.result == "ran to its end"


def test_a_queued_job_that_cannot_be_cancelled_can_still_be_dropped(qapp, qtbot):
    runner = JobRunner(max_parallel=1)
    gate = threading.Event()
    first = runner.run(half_way, gate, label="First")
    second = runner.run(no_state, gate, label="Second", pass_state=False)
    assert first.cancellable and not second.cancellable
    second.cancel()
    assert second.is_finished and second.status == "Cancelled"
    gate.set()
    assert runner.wait(WAIT_MS)
    assert first.outcome == DONE


def test_a_page_with_nothing_to_do_shows_no_cancel_button(qtbot):
    wizard = QWizard()
    qtbot.addWidget(wizard)
    page = JobPage("Nothing", "No job to run", lambda: None)
    wizard.addPage(page)
    wizard.show()
    assert page.progress.status.text() == "Nothing to do."
    assert not page.progress.cancel_button.isVisibleTo(page)
    assert not page.isComplete()
