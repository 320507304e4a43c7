"""The distillation use case: one student and its control twin, or a calibration sweep.

The wizard and ``distill-audit experiment run`` both build a :class:`DistillationRequest`
from what the user chose and call :func:`run_distillation`; they only present the
:class:`DistillationOutcome`. Without ``sweep`` the request trains one student on the
teacher's answers and, when control answers are given, its control twin with the same
recipe (:func:`core.distill.experiment.run_experiment`, one Run each); with ``sweep`` it
runs the calibration sweep (:func:`core.distill.calibration.run_calibration`). Every input,
including the sample count against the records the source really has, is checked before
anything is trained or written. :func:`resume_distillation` continues either kind.

This module imports no engine at import time (no torch): the GUI builds requests on its
own thread and runs them as a job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from core.distill.spec import (
    CalibrationOutcome,
    CalibrationSpec,
    ExperimentOutcome,
    ExperimentSpec,
    GenerationSettings,
    LogitSettings,
    Method,
    TrainingSettings,
)
from core.distill.summaries import CalibrationSummary, ExperimentSummary
from core.errors import DistillAuditError
from core.jobs import JobState

if TYPE_CHECKING:
    from core.store.db import CaseFile


@dataclass(frozen=True)
class SweepRequest:
    """The sweep part of a request: sample counts, seeds, references and checks.

    ``samples=None`` and ``replicates=None`` take the budget's sizes (without a budget:
    the default sweep and three seeds); sizes given explicitly always win over a budget.
    """

    references: tuple[str, ...] = ()
    samples: tuple[int | None, ...] | None = None  # None in the tuple: the whole pool
    replicates: int | None = None
    checks: tuple[str, ...] = ("likelihood",)
    alpha: float = 0.05
    n_probes: int = 50
    protected_names: tuple[str, ...] = ()
    budget: str | None = None  # "quick" | "standard" (core.distill.budgets)
    procedure_run: int | None = None  # replay this check run of the case on every student
    null_source: str = ""  # where the twins' answers come from, in words
    epochs: tuple[int, ...] = (1,)  # distilled students for each number of epochs
    laundered: bool = False  # also students on paraphrased teacher answers
    other_answers: str | None = None  # the same teacher's other samples (reported apart)
    fpr_target: float = 0.05


@dataclass(frozen=True)
class DistillationRequest:
    """What to distil and how: the recipe every student shares, and a sweep or not."""

    teacher: str | None = None
    student: str | None = None  # a base model to fine-tune ...
    student_preset: str | None = None  # ... or a fresh preset ("tiny", "small")
    tokenizer: str = "teacher"
    prompts: str | None = None  # a prompt set the teacher answers ...
    transcripts: str | None = None  # ... or captured answers
    controls: str | None = None  # control answers: each student gets its twin
    method: Method = "sequence"
    samples: int | None = None  # one experiment: training samples (None: all)
    seed: int = 0
    training: TrainingSettings = field(default_factory=TrainingSettings)
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    logit: LogitSettings = field(default_factory=LogitSettings)
    out_dir: str | None = None
    onnx: bool = True
    price_file: str | None = None
    price_in: float | None = None
    price_out: float | None = None
    label: str = ""
    sweep: SweepRequest | None = None

    @property
    def kind(self) -> Literal["experiment", "calibration"]:
        return "calibration" if self.sweep is not None else "experiment"

    def experiment_specs(self) -> list[ExperimentSpec]:
        """The student's spec, then its control twin's when control answers are given."""
        if self.samples is not None and self.samples < 0:
            raise DistillAuditError("The number of training samples cannot be negative.")
        spec = ExperimentSpec(
            teacher=self.teacher,
            student=self.student,
            student_preset=self.student_preset,
            tokenizer=self.tokenizer,
            prompts=self.prompts,
            transcripts=self.transcripts,
            controls=self.controls,
            method=self.method,
            samples=self.samples,
            seed=self.seed,
            training=self.training,
            generation=self.generation,
            logit=self.logit,
            out_dir=self.out_dir,
            onnx=self.onnx,
            price_file=self.price_file,
            price_in=self.price_in,
            price_out=self.price_out,
            label=self.label,
        )
        return [spec, spec.twin()] if self.controls else [spec]

    def calibration_spec(self) -> CalibrationSpec:
        """The sweep's spec (a budget applied); DistillAuditError without control answers."""
        from core.distill.budgets import apply_budget

        sweep = self.sweep or SweepRequest()
        if not self.controls:
            raise DistillAuditError(
                "A calibration sweep needs control answers (--controls) to train "
                "each distilled student's control twin."
            )
        if sweep.samples is not None and any(n is not None and n < 0 for n in sweep.samples):
            raise DistillAuditError("Sample counts cannot be negative.")
        sizes: dict[str, Any] = {} if sweep.samples is None else {"samples": sweep.samples}
        spec = CalibrationSpec(
            references=tuple(sweep.references),
            controls=self.controls,
            teacher=self.teacher,
            student=self.student,
            student_preset=self.student_preset,
            tokenizer=self.tokenizer,
            prompts=self.prompts,
            transcripts=self.transcripts,
            replicates=sweep.replicates or 3,
            seed=self.seed,
            method=self.method,
            checks=tuple(sweep.checks),
            alpha=sweep.alpha,
            n_probes=sweep.n_probes,
            protected_names=tuple(sweep.protected_names),
            training=self.training,
            generation=self.generation,
            out_dir=self.out_dir,
            onnx=self.onnx,
            price_file=self.price_file,
            price_in=self.price_in,
            price_out=self.price_out,
            procedure_run=sweep.procedure_run,
            null_source=sweep.null_source,
            epochs=tuple(sweep.epochs),
            laundered=sweep.laundered,
            other_answers=sweep.other_answers,
            fpr_target=sweep.fpr_target,
            **sizes,
        )
        if sweep.budget:
            spec = apply_budget(
                spec,
                sweep.budget,
                keep_samples=sweep.samples is not None,
                keep_replicates=sweep.replicates is not None,
            )
            spec = replace(spec, n_probes=sweep.n_probes)
        return spec


@dataclass(frozen=True)
class DistillationOutcome:
    """What a request produced: the experiments (student, twin) or the sweep."""

    kind: Literal["experiment", "calibration"]
    experiments: tuple[ExperimentOutcome, ...] = ()
    calibration: CalibrationOutcome | None = None

    @classmethod
    def of(cls, outcome: ExperimentOutcome | CalibrationOutcome) -> DistillationOutcome:
        """Wrap one engine outcome (as a resume returns it)."""
        if isinstance(outcome, CalibrationOutcome):
            return cls("calibration", calibration=outcome)
        return cls("experiment", experiments=(outcome,))

    @property
    def run_ids(self) -> list[int]:
        if self.calibration is not None:
            return [self.calibration.run_id]
        return [e.run_id for e in self.experiments]

    @property
    def sweep_summary(self) -> CalibrationSummary | None:
        """The sweep's measured rates, or None for experiments."""
        if self.calibration is None:
            return None
        return CalibrationSummary.from_dict(self.calibration.summary)

    def summaries(self) -> list[ExperimentSummary]:
        """Each experiment's summary, in the order they ran."""
        return [ExperimentSummary.from_dict(e.summary) for e in self.experiments]

    def to_dict(self) -> dict[str, Any]:
        """The CLI's JSON (``--json``): the same shape for a run and for a resume."""
        if self.calibration is not None:
            return {
                "kind": "calibration",
                "run_id": self.calibration.run_id,
                **self.calibration.summary,
            }
        return {"kind": "experiment", "experiments": [e.to_dict() for e in self.experiments]}


def run_distillation(
    cf: CaseFile,
    case: int | str | None,
    request: DistillationRequest,
    state: JobState | None = None,
    *,
    new_case: Callable[[], int] | None = None,
) -> DistillationOutcome:
    """Run the request start to finish; every input is checked before any work starts.

    With ``case=None``, ``new_case()`` is called once the inputs are known to be good and
    creates the case the runs go into (a refused request leaves no case behind). Raises
    DistillAuditError (nothing written) for unusable inputs, among them a sample count
    the source cannot supply, and Cancelled when ``state`` is cancelled.
    """
    state = state or JobState()
    if request.sweep is not None:
        from core.distill.calibration import run_calibration

        spec = request.calibration_spec()
        return DistillationOutcome.of(run_calibration(cf, case, spec, state, new_case=new_case))
    return _experiments(cf, case, request, state, new_case)


def _experiments(
    cf: CaseFile,
    case: int | str | None,
    request: DistillationRequest,
    state: JobState,
    new_case: Callable[[], int] | None,
) -> DistillationOutcome:
    from core.distill.experiment import check_spec, prepare, run_experiment

    if case is None and new_case is None:
        raise DistillAuditError("An experiment needs a case to record its runs in.")
    specs = request.experiment_specs()
    for spec in specs:
        check_spec(spec)
    state.set_status("Checking the inputs")
    prepared = prepare(cf, case, specs[0], state=state)  # counts the records: samples checked
    if case is None and new_case is not None:
        prepared.case_id = new_case()
    outcomes: list[ExperimentOutcome] = []
    for number, spec in enumerate(specs):
        state.set_status(f"Student {number + 1} of {len(specs)} ({spec.answers} answers)")
        sub = state.sub(100 * number / len(specs), 100 * (number + 1) / len(specs))
        first = prepared if number == 0 else None
        outcomes.append(run_experiment(cf, prepared.case_id, spec, sub, prepared=first))
    return DistillationOutcome("experiment", experiments=tuple(outcomes))


def resume_distillation(
    cf: CaseFile, run_id: int, state: JobState | None = None
) -> DistillationOutcome:
    """Continue a stopped experiment or sweep, whichever ``run_id`` is."""
    from core.distill import resume

    return DistillationOutcome.of(resume(cf, run_id, state))
