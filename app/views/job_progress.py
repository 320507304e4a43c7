"""One job's progress, drawn the same way in the jobs panel and on the wizard pages.

A progress bar (busy until the job's first report), the job's status line, the elapsed
time with the one estimate of the time left (:func:`time_text`), and a Cancel button
when the job can be interrupted (:attr:`app.jobs.Job.cancellable`). While its job runs
the widget updates the time once a second.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from app.jobs import CANCELLED, DONE, FAILED, Job

ETA_AFTER_S = 2.0  # an estimate from the first seconds of work is mostly noise
CANCEL_TIP = "Stop the job; nothing half-done is kept"
OUTCOME_STYLE = {DONE: "color: #1b5e20;", FAILED: "color: #b00020;", CANCELLED: "color: #6d4c00;"}


def format_elapsed(seconds: float) -> str:
    """A duration for people: "42 s", "3 min 05 s", "2 h 07 min"."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def time_text(job: Job) -> str:
    """The job's elapsed time and, once it means something, the time left.

    The only place a job's ETA is written ("Elapsed 12 s, about 30 s left"): the panel and
    the wizard pages both show this text, so they never disagree.
    """
    if job.started_at is None:
        return ""
    elapsed = job.elapsed()
    text = f"Elapsed {format_elapsed(elapsed)}"
    eta = job.eta()
    if eta is not None and elapsed >= ETA_AFTER_S:
        text += f", about {format_elapsed(eta)} left"
    return text


class JobProgress(QWidget):
    """Progress bar and Cancel button, status line and time of one job (or of none yet)."""

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job: Job | None = None
        self.bar = QProgressBar(self)
        self.bar.setAccessibleName(f"Progress of {name}")
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setAccessibleName(f"Cancel {name}")
        self.cancel_button.setToolTip(CANCEL_TIP)
        self.cancel_button.clicked.connect(self.cancel)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status.setAccessibleName(f"Status of {name}")
        self.elapsed = QLabel(self)
        self.elapsed.setAccessibleName(f"Elapsed time of {name}")
        row = QHBoxLayout()
        row.addWidget(self.bar, 1)
        row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(self.elapsed)
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self.tick)
        self.show_idle("")

    # --- which job -------------------------------------------------------------------
    def attach(self, job: Job) -> None:
        """Follow ``job`` (replacing any other); a finished job is shown as finished."""
        self.detach()
        self.job = job
        self._set_parts_visible(True)
        self.status.setStyleSheet("")
        self.status.setText(job.status or "Waiting to start…")
        self.elapsed.setText("")
        self.cancel_button.setVisible(job.cancellable)
        self.cancel_button.setEnabled(job.cancellable)
        if job.progress > 0:
            self.bar.setRange(0, 100)
            self.bar.setValue(job.progress)
        else:
            self.bar.setRange(0, 0)  # busy until the first progress report
        job.progress_changed.connect(self._on_progress)
        job.status_changed.connect(self.status.setText)
        job.finished.connect(self._on_finished)
        if job.is_finished:
            self._on_finished(job)
        else:
            self._timer.start()

    def detach(self) -> None:
        """Stop following the current job (its later signals no longer reach this widget)."""
        self._timer.stop()
        job, self.job = self.job, None
        if job is None:
            return
        for signal, slot in (
            (job.progress_changed, self._on_progress),
            (job.status_changed, self.status.setText),
            (job.finished, self._on_finished),
        ):
            try:
                signal.disconnect(slot)
            except (RuntimeError, TypeError):
                pass

    def show_idle(self, text: str) -> None:
        """No job (yet): a busy bar, ``text`` as the status, and no Cancel button."""
        self.detach()
        self._set_parts_visible(True)
        self.bar.setRange(0, 0)
        self.cancel_button.setVisible(False)
        self.status.setStyleSheet("")
        self.status.setText(text)
        self.elapsed.setText("")

    @Slot()
    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    # --- updates ---------------------------------------------------------------------
    @Slot()
    def tick(self) -> None:
        if self.job is not None:
            self.elapsed.setText(time_text(self.job))

    @Slot(int)
    def _on_progress(self, percent: int) -> None:
        if self.bar.maximum() == 0:
            self.bar.setRange(0, 100)
        self.bar.setValue(percent)

    @Slot(object)
    def _on_finished(self, job: Job) -> None:
        self._timer.stop()
        self.tick()
        self.cancel_button.setEnabled(False)
        self.cancel_button.setVisible(False)
        self.bar.setRange(0, 100)
        self.bar.setValue(100 if job.outcome == DONE else job.progress)
        self.bar.setVisible(job.outcome != DONE)
        self.elapsed.setVisible(job.outcome != DONE)  # the status says "Done in … s"
        if job.outcome == FAILED and job.error is not None:
            self.status.setText(f"Failed: {job.error}")
        self.status.setStyleSheet(OUTCOME_STYLE.get(job.outcome, ""))

    def _set_parts_visible(self, visible: bool) -> None:
        for widget in (self.bar, self.status, self.elapsed):
            widget.setVisible(visible)
