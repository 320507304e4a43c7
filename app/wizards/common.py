"""What every wizard shares: a page that runs a job, an error line, keyboard-friendly forms.

:class:`JobPage` starts its work through the main window's one job runner when it is
entered, shows the job's progress, status text, elapsed time and a Cancel button, and is
complete only when the job succeeded. The job's outcome reaches the page through the
Job's signals (so a wizard closed early is simply disconnected), and a failure also
reaches the main window's error dialog through the runner's ``unhandled_failure``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from app.jobs import DONE, Job
from app.views.jobs_panel import format_elapsed

if TYPE_CHECKING:
    from app.host import Host

ERROR_STYLE = "color: #b00020;"
WARNING_STYLE = "color: #8a4b00;"


def error_label(parent: QWidget, name: str = "Problem") -> QLabel:
    """A hidden, word-wrapped red label for what went wrong on a page."""
    label = QLabel(parent)
    label.setObjectName("WizardError")
    label.setAccessibleName(name)
    label.setWordWrap(True)
    label.setStyleSheet(ERROR_STYLE)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setVisible(False)
    return label


def show_message(label: QLabel, text: str) -> None:
    label.setText(text)
    label.setVisible(bool(text))


def explanation(text: str, parent: QWidget) -> QLabel:
    """A plain-language paragraph at the top of a page."""
    label = QLabel(text, parent)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


class HostWizard(QWizard):
    """A wizard run on behalf of the main window (its case file, runner and dialogs)."""

    def __init__(self, host: Host, title: str, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.setWindowTitle(title)
        self.setObjectName(name)
        self.setAccessibleName(title)
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.setOption(QWizard.WizardOption.HaveHelpButton, False)
        self.resize(760, 560)
        self.jobs: list[Job] = []  # jobs started by this wizard's pages
        for which, name_ in (
            (QWizard.WizardButton.NextButton, "Next page"),
            (QWizard.WizardButton.BackButton, "Previous page"),
            (QWizard.WizardButton.FinishButton, "Finish"),
            (QWizard.WizardButton.CancelButton, "Cancel the wizard"),
            (QWizard.WizardButton.CommitButton, "Start"),
        ):
            self.button(which).setAccessibleName(name_)

    def background_jobs(self) -> list[Job]:
        """Jobs that keep running if the wizard is closed (they live in the jobs panel)."""
        return []

    def reject(self) -> None:
        """Closing the wizard cancels its preparatory jobs (never half-written evidence)."""
        keep = set(self.background_jobs())
        for job in self.jobs:
            if job not in keep:
                job.cancel()
        super().reject()


class JobPage(QWizardPage):
    """Runs ``start()`` (which returns a Job) on entry; complete once the job succeeded."""

    def __init__(
        self,
        title: str,
        subtitle: str,
        start: Callable[[], Job | None],
        parent: QWidget | None = None,
        compact: bool = False,
    ) -> None:
        super().__init__(parent)
        self.setTitle(title)
        self.setSubTitle(subtitle)
        self._start = start
        self.compact = compact  # hide the progress widgets once the job succeeded
        self.job: Job | None = None
        self.result: Any = None
        self.bar = QProgressBar(self)
        self.bar.setAccessibleName(f"Progress: {title}")
        self.status = QLabel(self)
        self.status.setAccessibleName(f"Status: {title}")
        self.status.setWordWrap(True)
        self.elapsed = QLabel(self)
        self.elapsed.setAccessibleName(f"Elapsed time: {title}")
        self.cancel_button = QPushButton("&Stop", self)
        self.cancel_button.setAccessibleName(f"Stop: {title}")
        self.cancel_button.setToolTip("Stop the job; nothing half-done is kept")
        self.cancel_button.clicked.connect(self.cancel)
        self.error = error_label(self)
        self.body = QVBoxLayout()
        row = QHBoxLayout()
        row.addWidget(self.bar, 1)
        row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(self.elapsed)
        layout.addWidget(self.error)
        layout.addLayout(self.body, 1)
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._tick)

    def initializePage(self) -> None:
        self._detach()
        self.result = None
        self._progress_visible(True)
        show_message(self.error, "")
        self.bar.setRange(0, 0)
        self.status.setText("Starting…")
        self.cancel_button.setEnabled(True)
        self.job = self._start()
        if self.job is None:
            self.status.setText("Nothing to do.")
            self.cancel_button.setEnabled(False)
            return
        wizard = self.wizard()
        if isinstance(wizard, HostWizard):
            wizard.jobs.append(self.job)
        self.job.progress_changed.connect(self._on_progress)
        self.job.status_changed.connect(self.status.setText)
        self.job.finished.connect(self._on_finished)
        self._timer.start()
        self.completeChanged.emit()

    def cleanupPage(self) -> None:
        """Going back stops the job (imports and checks write nothing until they finish)."""
        if self.job is not None and not self.job.is_finished:
            self.job.cancel()
        self._detach()
        self.job = None
        self._timer.stop()

    def _detach(self) -> None:
        if self.job is None:
            return
        for signal, slot in (
            (self.job.progress_changed, self._on_progress),
            (self.job.status_changed, self.status.setText),
            (self.job.finished, self._on_finished),
        ):
            try:
                signal.disconnect(slot)
            except (RuntimeError, TypeError):
                pass

    def isComplete(self) -> bool:
        return self.job is not None and self.job.outcome == DONE

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    @Slot(int)
    def _on_progress(self, percent: int) -> None:
        if self.bar.maximum() == 0:
            self.bar.setRange(0, 100)
        self.bar.setValue(percent)

    def _tick(self) -> None:
        if self.job is not None:
            text = f"Elapsed {format_elapsed(self.job.elapsed())}"
            eta = self.job.eta()
            if eta is not None and self.job.elapsed() >= 2:
                text += f", about {format_elapsed(eta)} left"
            self.elapsed.setText(text)

    @Slot(object)
    def _on_finished(self, job: Job) -> None:
        self._timer.stop()
        self._tick()
        self.cancel_button.setEnabled(False)
        self.bar.setRange(0, 100)
        if job.outcome == DONE:
            self.bar.setValue(100)
            self.elapsed.setVisible(False)  # the status says "Done in … s"
            self.result = job.result
            if self.compact:
                self._progress_visible(False)
            self.succeeded(job.result)
        elif job.error is not None:
            show_message(self.error, f"{job.label} failed: {job.error}")
        else:
            show_message(
                self.error,
                "Stopped. Nothing was changed; go back to change the "
                "settings, or close the wizard.",
            )
        self.completeChanged.emit()

    def _progress_visible(self, visible: bool) -> None:
        for widget in (self.bar, self.cancel_button, self.status, self.elapsed):
            widget.setVisible(visible)

    def succeeded(self, result: Any) -> None:
        """Hook: the job finished; subclasses show what it produced."""
