"""The job runner: core's JobState contract turned into Qt signals, off the UI thread."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QThread

from app.jobs import CANCELLED, DONE, FAILED, QUEUED, JobRunner, QtJobState
from app.views.job_progress import format_elapsed
from app.views.jobs_panel import JobsPanel
from core.errors import EvidenceError
from tests.gui import fixtures as gui_fixtures
from tests.gui.fixtures import Recorder

no_dangling_threads = gui_fixtures.no_dangling_threads  # autouse fixture

WAIT_MS = 10_000


@pytest.fixture
def runner(qapp):
    r = JobRunner(max_parallel=2)
    yield r
    r.cancel_and_wait()


def thread_name(state=None) -> str:
    return QThread.currentThread().objectName()


def count_to(n: int, state) -> int:
    for i in range(n):
        state.check_cancelled()
        state.set_progress(i + 1, n)
        if i % 1000 == 0:
            state.set_status(f"{i} of {n}")
    state.set_partial_result("half-way")
    return n


def refuse(state) -> None:
    state.set_status("Reading")
    raise EvidenceError("answers.jsonl, line 3: not valid JSON.")


def blocked(gate: threading.Event, state) -> str:
    while not gate.wait(0.01):
        state.check_cancelled()
    return "released"


def test_success_runs_off_the_ui_thread_with_throttled_progress(runner, qtbot):
    main = QThread.currentThread()
    seen_threads: list[QThread] = []
    progress: list[int] = []
    ok = Recorder()
    job = runner.run(count_to, 20_000, label="Count", on_success=ok)
    job.progress_changed.connect(progress.append)
    job.progress_changed.connect(lambda _p: seen_threads.append(QThread.currentThread()))
    partial = []
    job.partial_result.connect(partial.append)
    with qtbot.waitSignal(job.finished, timeout=WAIT_MS):
        pass
    assert job.outcome == DONE and job.result == 20_000
    assert ok.calls == [(20_000,)]
    assert partial == ["half-way"]
    # 20 000 updates arrive as at most one signal per whole percent, on the UI thread.
    assert progress == sorted(set(progress)) and len(progress) <= 101 and progress[-1] == 100
    assert seen_threads and all(t is main for t in seen_threads)
    assert job.status.startswith("Done in")


def test_the_function_runs_in_a_named_worker_thread(runner, qtbot):
    job = runner.run(thread_name, label="Where am I")
    with qtbot.waitSignal(job.finished, timeout=WAIT_MS):
        pass
    assert job.result == "job: Where am I"


def test_a_user_error_goes_to_on_failure(runner, qtbot):
    failed = Recorder()
    job = runner.run(refuse, label="Import", on_failure=failed)
    with qtbot.waitSignal(job.finished, timeout=WAIT_MS):
        pass
    assert job.outcome == FAILED
    ((error,),) = failed.calls
    assert isinstance(error, EvidenceError) and "line 3" in str(error)
    assert "Traceback" in job.traceback_text
    assert job.status == str(error)


def test_a_failure_without_handler_is_announced(runner, qtbot):
    with qtbot.waitSignal(runner.unhandled_failure, timeout=WAIT_MS) as blocker:
        job = runner.run(refuse, label="Import")
    assert blocker.args == [job]


def test_queued_jobs_wait_their_turn_and_can_be_cancelled_before_starting(qapp, qtbot):
    runner = JobRunner(max_parallel=1)
    gate = threading.Event()
    first = runner.run(blocked, gate, label="First")
    second = runner.run(blocked, gate, label="Second")
    third = runner.run(blocked, gate, label="Third")
    assert first.is_running and second.outcome == QUEUED and third.outcome == QUEUED
    cancelled = Recorder()
    third.cancelled.connect(cancelled)
    third.cancel()
    assert third.outcome == CANCELLED and cancelled.calls == [()]
    gate.set()
    assert runner.wait(WAIT_MS)
    assert (first.outcome, second.outcome) == (DONE, DONE)
    assert second.result == "released"


def test_cancel_and_wait_leaves_no_thread_and_calls_no_callbacks(qapp):
    runner = JobRunner(max_parallel=4)
    gate = threading.Event()
    called = Recorder()
    jobs = [
        runner.run(blocked, gate, label=f"Job {i}", on_cancelled=called, on_success=called)
        for i in range(3)
    ]
    runner.cancel_and_wait()
    assert [j.outcome for j in jobs] == [CANCELLED] * 3
    assert called.calls == []
    assert runner.active_jobs() == []


def test_qt_job_state_emits_only_on_change(qapp):
    state = QtJobState()
    got_p, got_s = Recorder(), Recorder()
    state.signals.progress.connect(got_p)
    state.signals.status.connect(got_s)
    for i in range(1000):
        state.set_progress(i, 1000)
        state.set_status("same")
    sub = state.sub(50, 100)
    sub.set_progress(50)  # → 75 % of the whole
    assert [c[0] for c in got_p.calls] == [*range(100), 75]
    assert got_s.calls == [("same",)]
    state.cancel()
    assert sub.is_interruption_requested()


def test_jobs_panel_lists_jobs_and_clears_finished(runner, qtbot):
    panel = JobsPanel(runner)
    qtbot.addWidget(panel)
    job = runner.run(count_to, 10, label="Small count")
    assert panel.rows[job].title.text() == "Small count"
    with qtbot.waitSignal(job.finished, timeout=WAIT_MS):
        pass
    assert panel.rows[job].status.text().startswith("Done")
    panel.clear_finished()
    assert panel.rows == {} and runner.jobs() == []
    assert format_elapsed(75) == "1 min 15 s" and format_elapsed(3 * 3600 + 60) == "3 h 01 min"


def test_many_emits_keep_true_alive(qapp):
    """PySide6 6.12.0 lost a reference to True on every emit (excluded in pyproject)."""
    import sys

    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        fired = Signal()

    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(20_000):
        probe.fired.emit()
    assert abs(sys.getrefcount(True) - before) < 50


def test_a_broken_callback_is_reported_and_the_runner_goes_on(runner, qtbot, monkeypatch):
    hook = Recorder()
    monkeypatch.setattr("sys.excepthook", hook)

    def broken(_result: object) -> None:
        raise RuntimeError("bug in a callback")

    job = runner.run(count_to, 10, label="First", on_success=broken)
    with qtbot.waitSignal(job.finished, timeout=WAIT_MS):
        pass
    ((exc_type, exc, _tb),) = hook.calls
    assert exc_type is RuntimeError and "bug in a callback" in str(exc)
    after = runner.run(count_to, 5, label="Second")
    with qtbot.waitSignal(after.finished, timeout=WAIT_MS):
        pass
    assert (job.outcome, after.outcome) == (DONE, DONE)
