"""Local distillation experiments, their ONNX export and the calibration of the checks.

The functions the GUI wizard, the CLI and ``distill-audit demo`` call (imported lazily,
so importing this package does not load torch):

* :func:`run_distillation` / :class:`DistillationRequest` — the use case the GUI and the
  CLI call: a student and its control twin, or the calibration sweep, inputs checked first;
* :func:`run_experiment` / :class:`ExperimentSpec` — one student (a Run);
* :func:`run_calibration` / :class:`CalibrationSpec` — the sweep of students and twins;
* :func:`resume` — continue any stopped experiment or sweep by run id;
* :func:`list_experiments` — the experiment and sweep runs of a case file;
* :func:`demo_calibration_spec` — the demonstration case's sweep;
* :class:`ExperimentSummary` / :class:`CalibrationSummary` — typed views of the stored
  run summaries (core.distill.summaries), which the GUI, the CLI and the report read.

The shared records live in :mod:`core.distill.spec`; the engine modules import them from
there, not from each other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.jobs import JobState
    from core.store.db import CaseFile

_EXPORTS = {
    "ExperimentSpec": "core.distill.spec",
    "TrainingSettings": "core.distill.spec",
    "GenerationSettings": "core.distill.spec",
    "LogitSettings": "core.distill.spec",
    "Prepared": "core.distill.spec",
    "ExperimentOutcome": "core.distill.spec",
    "CalibrationSpec": "core.distill.spec",
    "CalibrationOutcome": "core.distill.spec",
    "ExperimentSummary": "core.distill.summaries",
    "CalibrationSummary": "core.distill.summaries",
    "parse_sample_counts": "core.distill.samples",
    "DistillationRequest": "core.distill.usecase",
    "SweepRequest": "core.distill.usecase",
    "DistillationOutcome": "core.distill.usecase",
    "run_distillation": "core.distill.usecase",
    "resume_distillation": "core.distill.usecase",
    "run_experiment": "core.distill.experiment",
    "resume_experiment": "core.distill.experiment",
    "list_experiments": "core.distill.experiment",
    "run_calibration": "core.distill.calibration",
    "resume_calibration": "core.distill.calibration",
    "demo_calibration_spec": "core.distill.budgets",
    "apply_budget": "core.distill.budgets",
    "load_price_presets": "core.distill.cost",
    "PRESETS": "core.distill.presets",
}

__all__ = [*_EXPORTS, "resume"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'core.distill' has no attribute {name!r}")


def resume(cf: CaseFile, run_id: int, state: JobState | None = None) -> Any:
    """Resume an experiment or a calibration sweep, whichever ``run_id`` is."""
    from core.distill.calibration import KIND as CALIBRATION
    from core.distill.calibration import resume_calibration
    from core.distill.experiment import get_run, resume_experiment

    if get_run(cf, run_id).kind == CALIBRATION:
        return resume_calibration(cf, run_id, state)
    return resume_experiment(cf, run_id, state)
