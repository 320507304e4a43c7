"""The Jobs panel: every background job with its progress (see :mod:`app.views.job_progress`).

A job that hands over partial results (a check reports each model it has measured) gets a
"Partial results" button; the panel emits :attr:`JobsPanel.partial_requested` and the
main window shows them. Quiet housekeeping jobs are not listed.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.jobs import Job, JobRunner
from app.views.job_progress import JobProgress


class JobRow(QFrame):
    """One job: its label, its :class:`JobProgress` and, once it has some, partial results."""

    partial_requested = Signal(object)  # the Job

    def __init__(self, job: Job, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job = job
        self.setAccessibleName(f"Job {job.label}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel(job.label, self)
        self.title.setStyleSheet("font-weight: bold;")
        self.progress = JobProgress(job.label, self)
        # The parts tests and readers reach for most, named as before.
        self.status = self.progress.status
        self.cancel_button = self.progress.cancel_button
        self.partial_button = QPushButton("Partial results", self)
        self.partial_button.setAccessibleName(f"Show partial results of {job.label}")
        self.partial_button.setToolTip("What the job has produced so far")
        self.partial_button.setVisible(bool(job.partial_results))
        self.partial_button.clicked.connect(lambda: self.partial_requested.emit(self.job))
        job.partial_result.connect(self._on_partial)

        grid = QGridLayout(self)
        grid.addWidget(self.title, 0, 0)
        grid.addWidget(self.progress, 1, 0, 1, 2)
        grid.addWidget(self.partial_button, 0, 1, Qt.AlignmentFlag.AlignRight)
        grid.setColumnStretch(0, 1)
        self.progress.attach(job)

    @Slot(object)
    def _on_partial(self, _value: object) -> None:
        self.partial_button.setVisible(True)
        self.partial_button.setText(f"Partial results ({len(self.job.partial_results)})")


class JobsPanel(QWidget):
    """Lists the runner's jobs, newest first (each row keeps its own time up to date)."""

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

    @Slot(object)
    def _on_job_finished(self, job: Job) -> None:
        self._update_summary()

    def _update_summary(self) -> None:
        running = sum(not j.is_finished for j in self.rows)
        finished = len(self.rows) - running
        self.summary.setText(f"{running} running, {finished} finished" if self.rows else "")

    def clear_finished(self) -> None:
        for job in [j for j in self.rows if j.is_finished]:
            row = self.rows.pop(job)
            self._list.removeWidget(row)
            row.progress.detach()
            row.deleteLater()
        self.runner.forget_finished()
        self.empty.setVisible(not self.rows)
        self._update_summary()
