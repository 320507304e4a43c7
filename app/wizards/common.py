"""What every wizard shares: a page that runs a job, an error line, keyboard-friendly forms.

:class:`JobPage` starts its work through the main window's one job runner when it is
entered, shows the job the way the jobs panel does (:class:`app.views.job_progress.JobProgress`:
progress, status, elapsed time and ETA, Cancel when the job can be cancelled), and is
complete only when the job succeeded. The job's outcome reaches the page through the
Job's signals (so a wizard closed early is simply disconnected), and a failure also
reaches the main window's error dialog through the runner's ``unhandled_failure``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget, QWizard, QWizardPage

from app.jobs import DONE, Job
from app.views.job_progress import JobProgress

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
        self.closing = False  # reject() is under way (its background jobs go on)
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
        self.closing = True  # QWizard's reject cleans the pages up: not a step back
        super().reject()


class JobPage(QWizardPage):
    """Runs ``start()`` (which returns a Job) on entry; complete once the job succeeded.

    The job is drawn by a :class:`JobProgress`, as in the jobs panel; what went wrong is
    said once, in the page's red :attr:`error` line. A page whose ``start()`` may rightly
    have nothing to do (no earlier version to compare with) sets ``complete_when_idle``.
    """

    complete_when_idle = False

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
        self._idle = False  # start() returned no job
        self.compact = compact  # hide the progress widgets once the job succeeded
        self.job: Job | None = None
        self.result: Any = None
        self.progress = JobProgress(title, self)
        self.error = error_label(self)
        self.body = QVBoxLayout()
        layout = QVBoxLayout(self)
        layout.addWidget(self.progress)
        layout.addWidget(self.error)
        layout.addLayout(self.body, 1)

    def initializePage(self) -> None:
        self._detach()
        self.result = None
        self.progress.setVisible(True)
        show_message(self.error, "")
        self.progress.show_idle("Starting…")
        self.job = self._start()
        self._idle = self.job is None
        if self.job is None:
            self.progress.show_idle("Nothing to do.")
            if self.complete_when_idle:  # nothing to do is an answer: Finish goes on
                self.progress.setVisible(False)
                self.idle()
            self.completeChanged.emit()
            return
        wizard = self.wizard()
        if isinstance(wizard, HostWizard):
            wizard.jobs.append(self.job)
        self.progress.attach(self.job)
        self.job.finished.connect(self._on_finished)
        self.completeChanged.emit()

    def cleanupPage(self) -> None:
        """Going back stops the job (imports and checks write nothing until they finish);
        closing the wizard does not stop a job that goes on in the jobs panel."""
        wizard = self.wizard()
        goes_on = (
            isinstance(wizard, HostWizard)
            and wizard.closing
            and self.job in wizard.background_jobs()
        )
        if self.job is not None and not self.job.is_finished and not goes_on:
            self.job.cancel()
        self._detach()
        self.job = None

    def _detach(self) -> None:
        self.progress.detach()
        if self.job is None:
            return
        try:
            self.job.finished.disconnect(self._on_finished)
        except (RuntimeError, TypeError):
            pass

    def isComplete(self) -> bool:
        if self.job is None:
            return self._idle and self.complete_when_idle
        return self.job.outcome == DONE

    def idle(self) -> None:
        """Hook: ``start()`` had nothing to do and the page is complete without a job."""

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    @Slot(object)
    def _on_finished(self, job: Job) -> None:
        if job.outcome == DONE:
            self.result = job.result
            if self.compact:
                self.progress.setVisible(False)
            self.succeeded(job.result)
        else:
            self.progress.status.setVisible(False)  # the red line below says what happened
            if job.error is not None:
                show_message(self.error, f"{job.label} failed: {job.error}")
            else:
                show_message(
                    self.error,
                    "Stopped. Nothing was changed; go back to change the "
                    "settings, or close the wizard.",
                )
        self.completeChanged.emit()

    def succeeded(self, result: Any) -> None:
        """Hook: the job finished; subclasses show what it produced."""
