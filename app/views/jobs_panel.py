"""The Jobs panel: every background job with progress, status, elapsed time, ETA and Cancel.

A job that hands over partial results (a check reports each model it has measured) gets a
"Partial results" button; the panel emits :attr:`JobsPanel.partial_requested` and the
main window shows them. Quiet housekeeping jobs are not listed.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.jobs import CANCELLED, DONE, FAILED, Job, JobRunner

_OUTCOME_STYLE = {DONE: "color: #1b5e20;", FAILED: "color: #b00020;", CANCELLED: "color: #6d4c00;"}


def format_elapsed(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class JobRow(QFrame):
    """One job: label, progress bar, status text, elapsed time / ETA and a Cancel button."""

    partial_requested = Signal(object)  # the Job

    def __init__(self, job: Job, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job = job
        self.setAccessibleName(f"Job {job.label}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel(job.label, self)
        self.title.setStyleSheet("font-weight: bold;")
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 0)  # busy until the first progress report
        self.bar.setAccessibleName(f"Progress of {job.label}")
        self.status = QLabel(job.status or "Waiting to start…", self)
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status.setAccessibleName(f"Status of {job.label}")
        self.elapsed = QLabel("", self)
        self.elapsed.setAccessibleName(f"Elapsed time of {job.label}")
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setAccessibleName(f"Cancel {job.label}")
        self.cancel_button.clicked.connect(job.cancel)
        self.partial_button = QPushButton("Partial results", self)
        self.partial_button.setAccessibleName(f"Show partial results of {job.label}")
        self.partial_button.setToolTip("What the job has produced so far")
        self.partial_button.setVisible(bool(job.partial_results))
        self.partial_button.clicked.connect(lambda: self.partial_requested.emit(self.job))
        job.partial_result.connect(self._on_partial)

        grid = QGridLayout(self)
        grid.addWidget(self.title, 0, 0, 1, 2)
        grid.addWidget(self.elapsed, 0, 2, Qt.AlignmentFlag.AlignRight)
        grid.addWidget(self.bar, 1, 0, 1, 2)
        grid.addWidget(self.cancel_button, 1, 2)
        grid.addWidget(self.status, 2, 0, 1, 2)
        grid.addWidget(self.partial_button, 2, 2)
        grid.setColumnStretch(0, 1)

        job.progress_changed.connect(self._on_progress)
        job.status_changed.connect(self.status.setText)
        job.finished.connect(self._on_finished)
        if job.is_finished:
            self._on_finished(job)

    @Slot(int)
    def _on_progress(self, percent: int) -> None:
        if self.bar.maximum() == 0:
            self.bar.setRange(0, 100)
        self.bar.setValue(percent)

    @Slot(object)
    def _on_partial(self, _value: object) -> None:
        self.partial_button.setVisible(True)
        self.partial_button.setText(f"Partial results ({len(self.job.partial_results)})")

    def tick(self) -> None:
        if self.job.started_at is None:
            return
        text = format_elapsed(self.job.elapsed())
        eta = self.job.eta()
        if eta is not None and self.job.elapsed() >= 2:
            text += f", about {format_elapsed(eta)} left"
        self.elapsed.setText(text)

    @Slot(object)
    def _on_finished(self, job: Job) -> None:
        self.tick()
        self.cancel_button.setEnabled(False)
        self.cancel_button.setVisible(False)
        self.bar.setRange(0, 100)
        self.bar.setValue(100 if job.outcome == DONE else job.progress)
        self.bar.setVisible(job.outcome != DONE)
        self.elapsed.setVisible(job.outcome != DONE)  # "Done in … s" says it already
        if job.outcome == FAILED and job.error is not None:
            self.status.setText(f"Failed: {job.error}")
        self.status.setStyleSheet(_OUTCOME_STYLE.get(job.outcome, ""))


class JobsPanel(QWidget):
    """Lists the runner's jobs, newest first; updates elapsed times once a second."""

    partial_requested = Signal(object)  # a Job whose partial results the user wants to see

    def __init__(self, runner: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.rows: dict[Job, JobRow] = {}
        self.empty = QLabel("No jobs yet. Imports and checks run here, off the main window.", self)
        self.empty.setWordWrap(True)
        self.clear_button = QPushButton("C&lear finished", self)
        self.clear_button.setAccessibleName("Clear finished jobs")
        self.clear_button.clicked.connect(self.clear_finished)

        inner = QWidget(self)
        self._list = QVBoxLayout(inner)
        self._list.setContentsMargins(0, 0, 0, 0)
        self._list.addWidget(self.empty)
        self._list.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(inner)

        self.summary = QLabel(self)
        self.summary.setObjectName("JobsSummary")
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(scroll)

        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._tick)
        runner.job_added.connect(self.add_job)
        runner.job_finished.connect(self._on_job_finished)

    def sizeHint(self) -> QSize:
        # Room for the summary line and one running job with its status text.
        return QSize(480, 8 * self.fontMetrics().height() + 40)

    @Slot(object)
    def add_job(self, job: Job) -> None:
        if job.quiet:
            return
        row = JobRow(job, self)
        row.partial_requested.connect(self.partial_requested)
        self.rows[job] = row
        self._list.insertWidget(0, row)
        self.empty.setVisible(False)
        self._update_summary()
        if not self._timer.isActive():
            self._timer.start()

    @Slot(object)
    def _on_job_finished(self, job: Job) -> None:
        self._update_summary()
        if not self.runner.active_jobs():
            self._timer.stop()

    def _update_summary(self) -> None:
        running = sum(not j.is_finished for j in self.rows)
        finished = len(self.rows) - running
        self.summary.setText(f"{running} running, {finished} finished" if self.rows else "")

    def _tick(self) -> None:
        for job, row in self.rows.items():
            if job.is_running:
                row.tick()

    def clear_finished(self) -> None:
        for job in [j for j in self.rows if j.is_finished]:
            row = self.rows.pop(job)
            self._list.removeWidget(row)
            row.deleteLater()
        self.runner.forget_finished()
        self.empty.setVisible(not self.rows)
        self._update_summary()
