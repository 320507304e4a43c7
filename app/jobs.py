"""The one job runner: core functions run off the UI thread, progress arrives as signals.

A core function has the shape ``fn(*args, state=JobState)`` (see :mod:`core.jobs`). The
runner calls it in a worker :class:`QThread` with a :class:`QtJobState` whose progress
and status hooks emit Qt signals, and hands the outcome back on the UI thread, in the
spirit of Anki's ``QueryOp``::

    job = runner.run(import_transcripts, cf, case_id, path, role,
                     label="Import answers.jsonl", on_success=refresh, on_failure=show)
    job.cancel()          # sets the JobState cancel flag; core raises Cancelled soon after

Rules: the function must not touch widgets (it runs in another thread) and must not
share ORM objects with the UI: it opens its own session through the CaseFile. Every
callback and every :class:`Job` signal is delivered on the UI thread.
"""

from __future__ import annotations

import logging
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from core.errors import Cancelled
from core.jobs import JobState

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"


class _StateSignals(QObject):
    """Signals of a QtJobState; created on the UI thread, emitted from the worker."""

    progress = Signal(int)
    status = Signal(str)
    partial_result = Signal(object)


class QtJobState(JobState):
    """A JobState whose hooks emit signals, only when the whole percent or the text changes."""

    def __init__(self) -> None:
        super().__init__()
        self.signals = _StateSignals()
        self._last_percent = -1
        self._last_text: str | None = None

    def on_progress(self, percent: float) -> None:
        whole = int(percent)
        if whole != self._last_percent:
            self._last_percent = whole
            self.signals.progress.emit(whole)

    def on_status(self, text: str) -> None:
        if text != self._last_text:
            self._last_text = text
            self.signals.status.emit(text)

    def on_partial_result(self, value: Any) -> None:
        self.signals.partial_result.emit(value)


class _WorkerThread(QThread):
    """Runs one function; the outcome is read by the UI thread after ``wait()``."""

    def __init__(self, fn: Callable[..., Any], args: tuple, kwargs: dict[str, Any]) -> None:
        super().__init__()
        self._call = (fn, args, kwargs)
        self.result: Any = None
        self.error: BaseException | None = None
        self.traceback_text = ""

    def run(self) -> None:  # worker thread: no widgets, no UI objects here
        fn, args, kwargs = self._call
        try:
            self.result = fn(*args, **kwargs)
        except BaseException as exc:
            self.error = exc
            self.traceback_text = traceback.format_exc()
        finally:
            self._call = (fn, (), {})  # drop references to the inputs


class Job(QObject):
    """Handle of one background job. All signals are emitted on the UI thread."""

    progress_changed = Signal(int)  # 0..100
    status_changed = Signal(str)
    partial_result = Signal(object)
    started = Signal()
    succeeded = Signal(object)  # the function's return value
    failed = Signal(object)  # the exception
    cancelled = Signal()
    finished = Signal(object)  # this job, whatever the outcome (see .outcome)

    def __init__(
        self,
        label: str,
        state: QtJobState,
        parent: QObject | None = None,
        quiet: bool = False,
        cancellable: bool = True,
    ) -> None:
        super().__init__(parent)
        self.label = label
        self.state = state
        self.quiet = quiet  # housekeeping (e.g. warming up modules): not listed in the panel
        # A function that takes no JobState never checks the cancel flag: once it runs it
        # runs to its end, so no Cancel button is offered (a queued one can still be dropped).
        self.cancellable = cancellable
        self.partial_results: list[Any] = []
        self.outcome = QUEUED
        self.progress = 0
        self.status = ""
        self.result: Any = None
        self.error: BaseException | None = None
        self.traceback_text = ""
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.cancel_requested = False
        self._thread: _WorkerThread | None = None
        self._runner: JobRunner | None = None
        state.signals.progress.connect(self._worker_progress)
        state.signals.status.connect(self._worker_status)
        state.signals.partial_result.connect(self._worker_partial)

    # --- for owners ---------------------------------------------------------------
    def cancel(self) -> None:
        """Ask the job to stop; the core function raises Cancelled at its next check.

        A job still queued is dropped at once; a running job that is not cancellable
        cannot be interrupted and runs to its end.
        """
        if self.is_finished:
            return
        if self.outcome == QUEUED and self._runner is not None:
            self.cancel_requested = True
            self.state.cancel()
            self._runner._drop_queued(self)
        elif self.cancellable:
            self.cancel_requested = True
            self.state.cancel()
            self._set_status("Cancelling…")

    @property
    def is_running(self) -> bool:
        return self.outcome == RUNNING

    @property
    def is_finished(self) -> bool:
        return self.outcome in (DONE, FAILED, CANCELLED)

    def elapsed(self) -> float:
        """Seconds the job has run (so far, or in total once finished)."""
        if self.started_at is None:
            return 0.0
        end = self.finished_at if self.finished_at is not None else time.monotonic()
        return end - self.started_at

    def eta(self) -> float | None:
        """Seconds left, linearly extrapolated from progress so far; None before any."""
        if not self.is_running or self.progress <= 0 or self.progress >= 100:
            return None
        return self.elapsed() * (100 - self.progress) / self.progress

    # --- relays from the worker (queued onto the UI thread) -------------------------
    # Reports still queued when the job was finished early (wait() after a cancel) are
    # dropped, so a stale "Hashing…" never overwrites "Cancelled".
    @Slot(int)
    def _worker_progress(self, percent: int) -> None:
        if not self.is_finished:
            self._set_progress(percent)

    @Slot(str)
    def _worker_status(self, text: str) -> None:
        if not self.is_finished and not self.cancel_requested:
            self._set_status(text)

    @Slot(object)
    def _worker_partial(self, value: object) -> None:
        if not self.is_finished:
            self.partial_results.append(value)
            self.partial_result.emit(value)

    def _set_progress(self, percent: int) -> None:
        self.progress = percent
        self.progress_changed.emit(percent)

    def _set_status(self, text: str) -> None:
        self.status = text
        self.status_changed.emit(text)

    @Slot()
    def _on_thread_finished(self) -> None:
        if self._runner is not None:
            self._runner._finish(self)


Callback = Callable[[Any], None]
# on_success, on_failure, on_cancelled
_Callbacks = tuple[Callback | None, Callback | None, Callable[[], None] | None]


class JobRunner(QObject):
    """Starts jobs in worker threads (at most ``max_parallel`` at once; the rest queue)."""

    job_added = Signal(object)  # a new Job, before it starts
    job_finished = Signal(object)  # a Job, after its callbacks ran
    unhandled_failure = Signal(object)  # a failed Job that had no on_failure callback

    def __init__(self, parent: QObject | None = None, max_parallel: int | None = None) -> None:
        super().__init__(parent)
        self.max_parallel = max_parallel or max(2, QThread.idealThreadCount())
        self._jobs: list[Job] = []
        self._queue: deque[tuple[Job, Callable[..., Any], tuple, dict[str, Any]]] = deque()
        self._callbacks: dict[Job, _Callbacks] = {}
        self._quiet = False  # while shutting down: no user callbacks

    def run(
        self,
        fn: Callable[..., Any],
        *args: Any,
        label: str,
        on_success: Callback | None = None,
        on_failure: Callback | None = None,
        on_cancelled: Callable[[], None] | None = None,
        pass_state: bool = True,
        quiet: bool = False,
        **kwargs: Any,
    ) -> Job:
        """Run ``fn(*args, state=<QtJobState>, **kwargs)`` off the UI thread; return its Job.

        ``on_success(result)``, ``on_failure(exception)`` and ``on_cancelled()`` are called
        on the UI thread. A failure without ``on_failure`` is announced by
        :attr:`unhandled_failure`. ``pass_state=False`` calls functions that take no state;
        such a job is not :attr:`Job.cancellable` (nothing would read the cancel flag).
        A ``quiet`` job is housekeeping: the jobs panel does not list it and closing the
        window cancels it without asking.
        """
        state = QtJobState()
        job = Job(label, state, self, quiet=quiet, cancellable=pass_state)
        job._runner = self
        if pass_state:
            kwargs = {**kwargs, "state": state}
        self._jobs.append(job)
        self._callbacks[job] = (on_success, on_failure, on_cancelled)
        self._queue.append((job, fn, args, kwargs))
        self.job_added.emit(job)
        self._start_queued()
        return job

    # --- queries --------------------------------------------------------------------
    def jobs(self) -> list[Job]:
        """Every job this runner has run, oldest first (finished ones too)."""
        return list(self._jobs)

    def active_jobs(self) -> list[Job]:
        """Jobs queued or running."""
        return [j for j in self._jobs if not j.is_finished]

    def user_jobs(self) -> list[Job]:
        """Active jobs the user started (not quiet housekeeping)."""
        return [j for j in self.active_jobs() if not j.quiet]

    def forget_finished(self) -> None:
        self._jobs = [j for j in self._jobs if not j.is_finished]

    # --- control --------------------------------------------------------------------
    def cancel_all(self) -> None:
        for job in self.active_jobs():
            job.cancel()
        while self._queue:  # never started: cancelled at once
            self._drop_queued(self._queue[0][0])

    def wait(self, timeout_ms: int | None = None) -> bool:
        """Block until every job has finished and its callbacks ran; False on timeout."""
        deadline = None if timeout_ms is None else time.monotonic() + timeout_ms / 1000
        while self.active_jobs():
            running = [j for j in self.active_jobs() if j._thread is not None]
            if not running:  # only queued jobs left: start them
                if not self._queue:
                    break
                self._start_queued()
                continue
            job = running[0]
            assert job._thread is not None
            if deadline is None:
                job._thread.wait()
            else:
                left = int((deadline - time.monotonic()) * 1000)
                if left <= 0 or not job._thread.wait(left):
                    return False
            self._finish(job)
        return True

    def cancel_and_wait(self) -> None:
        """Cancel every job and wait until all threads have stopped; no callbacks run.

        Called before the window closes or another case file is opened, so no worker
        thread outlives its owner or writes to a case file the window no longer shows.
        """
        self._quiet = True
        try:
            self.cancel_all()
            started = time.monotonic()
            self.wait()
            if time.monotonic() - started > 5:
                log.warning("Jobs took %.1f s to stop after cancel", time.monotonic() - started)
        finally:
            self._quiet = False

    # --- internals --------------------------------------------------------------------
    def _start_queued(self) -> None:
        while self._queue and sum(j.is_running for j in self._jobs) < self.max_parallel:
            job, fn, args, kwargs = self._queue.popleft()
            thread = _WorkerThread(fn, args, kwargs)
            thread.setObjectName(f"job: {job.label}")
            thread.finished.connect(job._on_thread_finished)  # queued: job lives on the UI thread
            job._thread = thread
            job.outcome = RUNNING
            job.started_at = time.monotonic()
            job.started.emit()
            thread.start()

    def _drop_queued(self, job: Job) -> None:
        """Cancel a job that never started."""
        self._queue = deque(entry for entry in self._queue if entry[0] is not job)
        self._finish(job)

    def _finish(self, job: Job) -> None:
        """Collect a job's outcome on the UI thread (idempotent), then run the next one."""
        if job.is_finished:
            return
        thread = job._thread
        if thread is not None:
            thread.wait()
            job.result, job.error = thread.result, thread.error
            job.traceback_text = thread.traceback_text
            thread.result = thread.error = None
            job._thread = None  # the finished, waited-for thread is freed with its wrapper
        job.finished_at = time.monotonic()
        if job.started_at is None:
            job.started_at = job.finished_at
        on_success, on_failure, on_cancelled = self._callbacks.pop(job, (None, None, None))
        if thread is None or isinstance(job.error, Cancelled):
            job.outcome, job.error = CANCELLED, None
            job._set_status("Cancelled")
            self._call(on_cancelled)
            job.cancelled.emit()
        elif job.error is not None:
            job.outcome = FAILED
            job._set_status(str(job.error) or type(job.error).__name__)
            if on_failure is not None:
                self._call(on_failure, job.error)
            elif not self._quiet:
                self.unhandled_failure.emit(job)
            job.failed.emit(job.error)
        else:
            job.outcome = DONE
            if job.progress != 100:
                job._set_progress(100)
            job._set_status(f"Done in {job.elapsed():.1f} s")
            self._call(on_success, job.result)
            job.succeeded.emit(job.result)
        job.finished.emit(job)
        self.job_finished.emit(job)
        self._start_queued()

    def _call(self, callback: Callable[..., None] | None, *args: Any) -> None:
        """Run a user callback; a bug in it is reported but never stalls the runner."""
        if callback is None or self._quiet:
            return
        try:
            callback(*args)
        except Exception:
            sys.excepthook(*sys.exc_info())
