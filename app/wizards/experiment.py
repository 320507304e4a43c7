"""The Run a distillation experiment wizard: teacher and student → data → training → run.

Distils a student from a local teacher the way a competitor could have: on the teacher's
captured answers (sequence level) or its token distributions (logit level), optionally
with a control twin trained the same way on control answers. The pages only build a
core.distill.usecase.DistillationRequest; the job runs core.distill.usecase.
run_distillation, as ``distill-audit experiment run`` does. Each student is one Run:
checkpointed and cancellable, with learning curves, an ONNX export with a parity check,
an API-cost estimate, and the student imported into the case as an experiment-student.
With "Calibrate the checks" the request asks for the sweep instead (as ``experiment run
--samples 0,10,…``): students at several sample counts with their twins, checked against
the case's reference models, giving the measured detection and false-positive rates the
report quotes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QSpinBox,
    QWidget,
    QWizardPage,
)

from app.jobs import Job
from app.wizards.common import HostWizard, JobPage

if TYPE_CHECKING:
    from app.host import Host
    from core.distill.usecase import DistillationOutcome, DistillationRequest
    from core.records import EvidenceChoice

NONE = "(none)"


def _combo(
    name: str,
    parent: QWidget,
    items: list[EvidenceChoice],
    optional: bool = False,
    prefer: tuple[str, ...] = (),
) -> QComboBox:
    box = QComboBox(parent)
    box.setAccessibleName(name)
    box.setMinimumContentsLength(30)
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    if optional:
        box.addItem(NONE, None)
    first = [e for e in items if e.role in prefer]
    for e in first + [e for e in items if e not in first]:
        box.addItem(e.label, e.path)
    if optional and first:
        box.setCurrentIndex(1)
    return box


class ModelsPage(QWizardPage):
    """Step 1: the teacher, and a student to start from (a base model or a fresh preset)."""

    def __init__(self, wizard: ExperimentWizard) -> None:
        super().__init__(wizard)
        self.setTitle("Teacher and student")
        self.setSubTitle(
            "The teacher plays the protected model; the student plays the suspect's starting point."
        )
        models = wizard.models
        self.teacher = _combo("Teacher model", self, models, optional=True, prefer=("protected",))
        self.base = _combo("Base model to fine-tune", self, models, prefer=("base",))
        self.use_base = QRadioButton("Fine-tune a &base model", self)
        self.use_base.setAccessibleName("Fine-tune a base model")
        self.use_preset = QRadioButton("Train a &fresh small model", self)
        self.use_preset.setAccessibleName("Train a fresh small model")
        group = QButtonGroup(self)
        group.addButton(self.use_base)
        group.addButton(self.use_preset)
        (self.use_base if self.base.count() else self.use_preset).setChecked(True)
        self.preset = QComboBox(self)
        self.preset.setAccessibleName("Size of the fresh model")
        self.preset.addItems(["tiny", "small"])
        self.tokenizer = QComboBox(self)
        self.tokenizer.setAccessibleName("Tokenizer of the fresh model")
        self.tokenizer.addItem("the teacher's", "teacher")
        self.tokenizer.addItem("a fresh one trained on the data", "fresh")
        form = QFormLayout(self)
        form.addRow("&Teacher:", self.teacher)
        form.addRow(self.use_base)
        form.addRow("Base &model:", self.base)
        form.addRow(self.use_preset)
        form.addRow("&Size:", self.preset)
        form.addRow("To&kenizer:", self.tokenizer)
        self.use_base.toggled.connect(self._enable)
        self._enable()

    def _enable(self) -> None:
        base = self.use_base.isChecked()
        self.base.setEnabled(base)
        self.preset.setEnabled(not base)
        self.tokenizer.setEnabled(not base)
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return not self.use_base.isChecked() or self.base.currentData() is not None


class DataPage(QWizardPage):
    """Step 2: which answers the student learns from, how many, and the method."""

    def __init__(self, wizard: ExperimentWizard) -> None:
        super().__init__(wizard)
        self.setTitle("Training data")
        self.setSubTitle(
            "Captured answers are used as they are; the control answers train a "
            "twin the same way, to measure false positives."
        )
        sets = wizard.transcripts
        self.answers = _combo("Teacher's answers", self, sets, prefer=("protected-answers",))
        self.controls = _combo(
            "Control answers for the twin", self, sets, optional=True, prefer=("control-answers",)
        )
        self.samples = QSpinBox(self)
        self.samples.setAccessibleName("Training samples (0: all)")
        self.samples.setRange(0, 10_000_000)
        self.samples.setSpecialValueText("all")
        self.samples.setValue(200)
        self.limit_label = QLabel(self)  # what core says fits (core.distill.data.training_limit)
        self.limit_label.setAccessibleName("How many training samples fit")
        self.limit_label.setWordWrap(True)
        self.limit: Any = None  # core.distill.data.TrainingLimit of the chosen answers
        self._limit_job: Any = None
        self.method = QComboBox(self)
        self.method.setAccessibleName("Distillation method")
        self.method.addItem("sequence level (fine-tune on the answers)", "sequence")
        self.method.addItem("logit level (match the teacher's distributions)", "logit")
        self.sweep = QCheckBox(
            "Calibrate the checks: a s&weep of students at several sample "
            "counts, each with its control twin",
            self,
        )
        self.sweep.setAccessibleName("Run a calibration sweep")
        self.sweep.setToolTip(
            "Measures how often the checks detect a distilled student (and "
            "flag an innocent twin) against the case's reference models; the "
            "report quotes these rates."
        )
        self.sweep_samples = QLineEdit("0, 2, 5, 10, 25, 50, all", self)
        self.sweep_samples.setAccessibleName("Sample counts of the sweep")
        self.replicates = QSpinBox(self)
        self.replicates.setAccessibleName("Seeds per sample count")
        self.replicates.setRange(1, 100)
        self.replicates.setValue(3)
        self.probes = QSpinBox(self)
        self.probes.setAccessibleName("Held-out probes for the checks")
        self.probes.setRange(10, 100_000)
        self.probes.setValue(50)
        refs = [e.name for e in wizard.models if e.role == "reference"]
        self.references = [e.path for e in wizard.models if e.role == "reference"]
        self.panel = QLabel(
            f"Reference panel: {', '.join(refs)}"
            if refs
            else "No reference models in the case: a sweep needs them.",
            self,
        )
        self.panel.setAccessibleName("Reference panel of the sweep")
        self.panel.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow("&Answers:", self.answers)
        form.addRow("&Control twin:", self.controls)
        form.addRow("&Samples:", self.samples)
        form.addRow(self.limit_label)
        form.addRow("&Method:", self.method)
        form.addRow(self.sweep)
        form.addRow("Sample co&unts:", self.sweep_samples)
        form.addRow("See&ds per count:", self.replicates)
        form.addRow("Held-out &probes:", self.probes)
        form.addRow(self.panel)
        for signal in (
            self.answers.currentIndexChanged,
            self.controls.currentIndexChanged,
            self.sweep.toggled,
            self.sweep_samples.textChanged,
        ):
            signal.connect(lambda *_: self._changed())
        for signal in (self.answers.currentIndexChanged, self.controls.currentIndexChanged):
            signal.connect(lambda *_: self._count())
        self._changed()

    def initializePage(self) -> None:
        self._count()

    def _count(self) -> None:
        """Ask core how many training samples the chosen answers allow (off the UI thread)."""
        from core.distill.data import training_limit

        host, answers = self.wizard_host(), self.answers.currentData()
        self.limit = None
        self.limit_label.setText("Counting the usable records…" if answers else "")
        self.completeChanged.emit()
        if host is None or answers is None:
            return
        job = host.runner.run(
            training_limit,
            answers,
            self.controls.currentData(),
            pass_state=False,
            quiet=True,
            label="Count the usable training records",
        )
        self._limit_job = job
        job.finished.connect(self._counted)

    def wizard_host(self) -> Any:
        return getattr(self.wizard(), "host", None)

    def _counted(self, job: Any) -> None:
        if job is not self._limit_job:
            return  # an earlier choice's count
        if job.error is not None or job.result is None:
            self.limit_label.setText(f"Could not count the records: {job.error or 'stopped'}")
            return
        self.limit = job.result
        most = self.limit.most
        self.samples.setMaximum(max(0, most))  # the default (200) comes down to what fits
        self.limit_label.setText(self.limit.text)
        self.completeChanged.emit()

    def _changed(self) -> None:
        on = self.sweep.isChecked()
        for widget in (self.sweep_samples, self.replicates, self.probes, self.panel):
            widget.setEnabled(on)
        self.samples.setEnabled(not on)
        self.completeChanged.emit()

    def sample_counts(self) -> tuple[int | None, ...] | None:
        """The sweep's sample counts ('all' is the whole pool); None if unreadable."""
        from core.distill.samples import parse_sample_counts
        from core.errors import DistillAuditError

        try:
            return parse_sample_counts(self.sweep_samples.text())
        except DistillAuditError:
            return None

    def isComplete(self) -> bool:
        if self.answers.currentData() is None:
            return False
        if self.limit is not None and self.limit.most <= 0:
            return False
        if self.sweep.isChecked():
            return (
                self.controls.currentData() is not None
                and bool(self.references)
                and self.sample_counts() is not None
            )
        return True


class TrainingPage(QWizardPage):
    """Step 3: how long to train, on how many threads, and where the students go."""

    def __init__(self, wizard: ExperimentWizard) -> None:
        super().__init__(wizard)
        self.setTitle("Training")
        self.setSubTitle(
            "Checkpoints are written as it goes: a stopped experiment can be "
            "resumed from the command line (experiment resume)."
        )
        self.steps = QSpinBox(self)
        self.steps.setAccessibleName("Training steps (0: from the epochs)")
        self.steps.setRange(0, 1_000_000)
        self.steps.setSpecialValueText("from the epochs")
        self.epochs = QDoubleSpinBox(self)
        self.epochs.setAccessibleName("Epochs")
        self.epochs.setRange(0.1, 100)
        self.epochs.setValue(4.0)
        self.batch = QSpinBox(self)
        self.batch.setAccessibleName("Batch size")
        self.batch.setRange(1, 1024)
        self.batch.setValue(16)
        self.threads = QSpinBox(self)
        self.threads.setAccessibleName("CPU threads")
        self.threads.setRange(1, 256)
        self.threads.setValue(wizard.host.settings.cpu_threads)
        self.seed = QSpinBox(self)
        self.seed.setAccessibleName("Random seed")
        self.seed.setRange(0, 2**31 - 1)
        self.onnx = QCheckBox("Export each student to &ONNX and check parity", self)
        self.onnx.setAccessibleName("Export to ONNX with a parity check")
        self.onnx.setChecked(True)
        self.out = QLabel(self)
        self.out.setAccessibleName("Where the students are saved")
        self.out.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow("S&teps:", self.steps)
        form.addRow("&Epochs:", self.epochs)
        form.addRow("Batch si&ze:", self.batch)
        form.addRow("T&hreads:", self.threads)
        form.addRow("See&d:", self.seed)
        form.addRow(self.onnx)
        form.addRow("Saved in:", self.out)

    def initializePage(self) -> None:
        wizard = self.wizard()
        if isinstance(wizard, ExperimentWizard) and wizard.host.case_file is not None:
            cf = wizard.host.case_file
            self.out.setText(str(cf.path.parent / f"{cf.path.stem}-experiments"))


class RunExperimentPage(JobPage):
    def __init__(self, wizard: ExperimentWizard) -> None:
        super().__init__(
            "Distilling",
            "Training runs on this machine; you can close the wizard "
            "and follow it in the jobs panel.",
            wizard.start,
            wizard,
        )
        self.done = QLabel(self)
        self.done.setAccessibleName("Experiment result")
        self.done.setWordWrap(True)
        self.body.addWidget(self.done)
        self.body.addStretch(1)

    def initializePage(self) -> None:
        self.done.setText("")
        super().initializePage()

    def succeeded(self, result: DistillationOutcome) -> None:
        from app.views.analyses_view import _experiment_text
        from core.records import run_details

        wizard = self.wizard()
        cf = wizard.host.case_file if isinstance(wizard, HostWizard) else None
        if cf is None:
            return
        texts = [_experiment_text(run_details(cf, run_id)) for run_id in result.run_ids]
        sweep = result.sweep_summary
        if sweep is not None and sweep.points:
            texts.append(
                "The measured rates are in the Analyses tab (chart) and the report's "
                "validation section."
            )
        if isinstance(wizard, ExperimentWizard):
            wizard.run_ids = result.run_ids
        self.done.setText(
            "\n\n".join(texts) + "\n\nThe students are in the Evidence tab (role "
            "experiment-student); run a check on them to measure the checks."
        )


class ExperimentWizard(HostWizard):
    """Models → Data → Training → Run; ``run_ids`` are set when it finished."""

    def __init__(self, host: Host, parent: QWidget | None = None) -> None:
        super().__init__(host, "Run a distillation experiment", "ExperimentWizard", parent)
        from core.records import evidence_choices

        self.case_id = host.case_id
        choices = (
            evidence_choices(host.case_file, host.case_id)
            if host.case_file is not None and host.case_id is not None
            else []
        )
        self.models = [c for c in choices if c.kind == "model" and c.role != "experiment-student"]
        self.transcripts = [c for c in choices if c.kind == "transcripts"]
        self.run_ids: list[int] = []
        self.models_page = ModelsPage(self)
        self.data_page = DataPage(self)
        self.training_page = TrainingPage(self)
        self.run_page = RunExperimentPage(self)
        for page in (self.models_page, self.data_page, self.training_page, self.run_page):
            self.addPage(page)
        self.training_page.setButtonText(self.WizardButton.NextButton, "&Start")

    def request(self) -> DistillationRequest:
        """What the pages set, as the request core.distill.usecase.run_distillation runs."""
        from core.distill.spec import TrainingSettings
        from core.distill.usecase import DistillationRequest, SweepRequest

        m, d, t = self.models_page, self.data_page, self.training_page
        use_base = m.use_base.isChecked()
        counts = d.sample_counts() if d.sweep.isChecked() else None
        return DistillationRequest(
            teacher=m.teacher.currentData(),
            student=m.base.currentData() if use_base else None,
            student_preset=None if use_base else m.preset.currentText(),
            tokenizer=m.tokenizer.currentData() or "teacher",
            transcripts=d.answers.currentData(),
            controls=d.controls.currentData(),
            method=d.method.currentData(),
            samples=d.samples.value() or None,
            seed=t.seed.value(),
            onnx=t.onnx.isChecked(),
            label="GUI experiment",
            training=TrainingSettings(
                steps=t.steps.value() or None,
                epochs=t.epochs.value(),
                batch_size=t.batch.value(),
                threads=t.threads.value(),
            ),
            sweep=SweepRequest(
                references=tuple(d.references),
                samples=counts,
                replicates=d.replicates.value(),
                n_probes=d.probes.value(),
            )
            if counts
            else None,
        )

    def start(self) -> Job | None:
        if self.host.case_file is None or self.case_id is None:
            return None
        from core.distill.usecase import run_distillation

        request = self.request()
        name = Path(request.transcripts or "answers").name
        what = "Calibrate the checks on" if request.sweep else "Distil a student from"
        return self.host.runner.run(
            run_distillation, self.host.case_file, self.case_id, request, label=f"{what} {name}"
        )

    def background_jobs(self) -> list[Job]:
        return [j for j in (self.run_page.job,) if j is not None]
