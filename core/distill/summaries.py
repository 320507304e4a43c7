"""Typed views of the summaries that experiment and calibration Runs store.

The engines write ``Run.summary`` as JSON, piece by piece while they run (see
:mod:`core.distill.execution` and the shape in :mod:`core.distill.calibration`). The
GUI, the CLI and the report read it through :class:`ExperimentSummary` and
:class:`CalibrationSummary` instead of spelling out dict keys each. The stored format
does not change: ``from_dict`` reads any summary written so far (missing parts are
``None`` or empty, as for a run that stopped early) and keeps the keys it does not model
in ``extra``, so ``to_dict`` gives back the stored dict. This module imports no engine
(no torch): the GUI reads summaries on its own thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.store.stored import integer as _int
from core.store.stored import interval as _pair
from core.store.stored import number as _num


def _extra(data: Mapping[str, Any], known: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in known}


def _map(value: Any) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


# --- shared pieces -------------------------------------------------------------------------


@dataclass(frozen=True)
class CostRow:
    """The API cost of harvesting ``n`` answers: tokens and the price at each preset."""

    n: int | None
    tokens_in: int | None
    tokens_out: int | None
    prices: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    _KEYS = ("n", "tokens_in", "tokens_out", "prices")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CostRow:
        return cls(
            _int(data.get("n")),
            _int(data.get("tokens_in")),
            _int(data.get("tokens_out")),
            dict(_map(data.get("prices")) or {}),
            _extra(data, cls._KEYS),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            **self.extra,
            "prices": dict(self.prices),
        }


@dataclass(frozen=True)
class CostEstimate:
    """The ``cost`` block (core.distill.cost.cost_estimate): one row per sample count."""

    by_samples: list[CostRow] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CostEstimate:
        rows = [CostRow.from_dict(r) for r in data.get("by_samples") or [] if _map(r)]
        return cls(rows, _extra(data, ("by_samples",)))

    def to_dict(self) -> dict[str, Any]:
        return {**self.extra, "by_samples": [r.to_dict() for r in self.by_samples]}


def _cost(value: Any) -> CostEstimate | None:
    data = _map(value)
    return CostEstimate.from_dict(data) if data is not None else None


# --- one experiment ----------------------------------------------------------------------


@dataclass(frozen=True)
class ExperimentData:
    """The ``data`` block: how many records trained and how many were held out."""

    train_records: int | None
    eval_records: int | None
    extra: dict[str, Any] = field(default_factory=dict)

    _KEYS = ("train_records", "eval_records")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExperimentData:
        return cls(
            _int(data.get("train_records")),
            _int(data.get("eval_records")),
            _extra(data, cls._KEYS),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.extra,
            "train_records": self.train_records,
            "eval_records": self.eval_records,
        }


@dataclass(frozen=True)
class TrainingRecord:
    """The ``training`` block: steps done of planned and the teacher-agreement curve."""

    steps_done: int | None
    steps_planned: int | None
    evals: list[dict[str, Any]] = field(default_factory=list)  # {"step", "agreement", ...}
    extra: dict[str, Any] = field(default_factory=dict)

    _KEYS = ("steps_done", "steps_planned", "evals")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainingRecord:
        return cls(
            _int(data.get("steps_done")),
            _int(data.get("steps_planned")),
            [dict(e) for e in data.get("evals") or [] if _map(e)],
            _extra(data, cls._KEYS),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.extra,
            "steps_done": self.steps_done,
            "steps_planned": self.steps_planned,
            "evals": [dict(e) for e in self.evals],
        }


@dataclass(frozen=True)
class Agreement:
    """The ``teacher_agreement`` block: top-1 agreement before and after training."""

    initial: float | None
    final: float | None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Agreement:
        return cls(_num(data.get("initial")), _num(data.get("final")))

    def to_dict(self) -> dict[str, Any]:
        return {"initial": self.initial, "final": self.final}


@dataclass(frozen=True)
class Parity:
    """The ONNX export's parity check (``onnx.parity``)."""

    max_abs_diff: float | None
    passed: bool | None
    extra: dict[str, Any] = field(default_factory=dict)

    _KEYS = ("max_abs_diff", "passed")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Parity:
        passed = data.get("passed")
        return cls(
            _num(data.get("max_abs_diff")),
            passed if isinstance(passed, bool) else None,
            _extra(data, cls._KEYS),
        )

    def to_dict(self) -> dict[str, Any]:
        return {**self.extra, "max_abs_diff": self.max_abs_diff, "passed": self.passed}


@dataclass(frozen=True)
class OnnxExport:
    """The ``onnx`` block: where the export went and its parity check."""

    parity: Parity | None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OnnxExport:
        parity = _map(data.get("parity"))
        return cls(
            Parity.from_dict(parity) if parity is not None else None, _extra(data, ("parity",))
        )

    def to_dict(self) -> dict[str, Any]:
        return {**self.extra, "parity": self.parity.to_dict() if self.parity else None}


@dataclass(frozen=True)
class StudentRef:
    """The ``student`` block: the saved student and its artifact id in the case."""

    path: str | None
    artifact_id: int | None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StudentRef:
        path = data.get("path")
        return cls(str(path) if path else None, _int(data.get("artifact_id")))

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "artifact_id": self.artifact_id}


@dataclass(frozen=True)
class ExperimentSummary:
    """What an experiment Run (``experiment.distill``) has recorded so far.

    Every part is ``None`` until the run got there (a cancelled run has ``training``
    but no ``student``); ``onnx`` and ``cost`` are also ``None`` when there is nothing to
    record (no export asked for; a control twin harvested no answers).
    """

    data: ExperimentData | None = None
    training: TrainingRecord | None = None
    teacher_agreement: Agreement | None = None
    onnx: OnnxExport | None = None
    cost: CostEstimate | None = None
    student: StudentRef | None = None
    compute_seconds: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    _KEYS = (
        "data",
        "training",
        "teacher_agreement",
        "onnx",
        "cost",
        "student",
        "compute_seconds",
    )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExperimentSummary:
        parts = {k: _map(data.get(k)) for k in cls._KEYS}
        seconds = parts["compute_seconds"] or {}
        return cls(
            data=ExperimentData.from_dict(parts["data"]) if parts["data"] is not None else None,
            training=TrainingRecord.from_dict(parts["training"])
            if parts["training"] is not None
            else None,
            teacher_agreement=Agreement.from_dict(parts["teacher_agreement"])
            if parts["teacher_agreement"] is not None
            else None,
            onnx=OnnxExport.from_dict(parts["onnx"]) if parts["onnx"] is not None else None,
            cost=_cost(parts["cost"]),
            student=StudentRef.from_dict(parts["student"])
            if parts["student"] is not None
            else None,
            compute_seconds={str(k): float(v) for k, v in seconds.items() if _num(v) is not None},
            extra=_extra(data, cls._KEYS),
        )

    def to_dict(self) -> dict[str, Any]:
        """The summary as stored; parts the run has not reached are written as ``None``."""
        out: dict[str, Any] = dict(self.extra)
        for key in self._KEYS:
            value = getattr(self, key)
            if key == "compute_seconds":
                out[key] = dict(value)
            else:
                out[key] = value.to_dict() if value is not None else None
        return out

    @property
    def final_agreement(self) -> float | None:
        """Teacher agreement after training (the ``teacher_agreement`` block)."""
        return self.teacher_agreement.final if self.teacher_agreement else None

    @property
    def last_eval_agreement(self) -> float | None:
        """Teacher agreement at the last evaluation of the training curve."""
        evals = self.training.evals if self.training else []
        return _num(evals[-1].get("agreement")) if evals else None

    @property
    def parity(self) -> Parity | None:
        return self.onnx.parity if self.onnx else None


# --- a calibration sweep -------------------------------------------------------------------


@dataclass(frozen=True)
class RatePoint:
    """Detection at one sample count N: k of m distilled students flagged, with its CI."""

    n: int | None
    detected: int | None
    trials: int | None
    rate: float | None
    ci: tuple[float | None, float | None] = (None, None)
    agreement_distilled: float | None = None
    agreement_control: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _KEYS = ("n", "detected", "trials", "rate", "ci", "teacher_agreement")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RatePoint:
        agreement = _map(data.get("teacher_agreement")) or {}
        return cls(
            _int(data.get("n")),
            _int(data.get("detected")),
            _int(data.get("trials")),
            _num(data.get("rate")),
            _pair(data.get("ci")),
            _num(agreement.get("distilled")),
            _num(agreement.get("control")),
            _extra(data, cls._KEYS),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "detected": self.detected,
            "trials": self.trials,
            "rate": self.rate,
            "ci": list(self.ci),
            "teacher_agreement": {
                "distilled": self.agreement_distilled,
                "control": self.agreement_control,
            },
            **self.extra,
        }


@dataclass(frozen=True)
class FalsePositives:
    """The control twins flagged: k of m, the rate and its CI."""

    k: int | None
    m: int | None
    rate: float | None
    ci: tuple[float | None, float | None] = (None, None)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FalsePositives:
        return cls(
            _int(data.get("k")), _int(data.get("m")), _num(data.get("rate")), _pair(data.get("ci"))
        )

    def to_dict(self) -> dict[str, Any]:
        return {"k": self.k, "m": self.m, "rate": self.rate, "ci": list(self.ci)}


@dataclass(frozen=True)
class CalibrationSummary:
    """What a calibration sweep Run (``experiment.calibration``) has recorded so far.

    ``points`` and ``false_positive`` are the measured rates the report quotes; they are
    empty / ``None`` until the sweep finished. ``students`` is the per-student record the
    sweep keeps (and resumes from), as stored.
    """

    alpha: float | None = None
    checks: list[str] = field(default_factory=list)
    points: list[RatePoint] = field(default_factory=list)
    false_positive: FalsePositives | None = None
    students: list[dict[str, Any]] = field(default_factory=list)
    cost: CostEstimate | None = None
    warnings: list[str] = field(default_factory=list)
    timing: dict[str, Any] = field(default_factory=dict)  # {"seconds", "students"}
    extra: dict[str, Any] = field(default_factory=dict)

    _KEYS = (
        "alpha",
        "checks",
        "points",
        "false_positive",
        "students",
        "cost",
        "warnings",
        "timing",
    )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CalibrationSummary:
        fp = _map(data.get("false_positive"))
        return cls(
            alpha=_num(data.get("alpha")),
            checks=[str(c) for c in data.get("checks") or []],
            points=[RatePoint.from_dict(p) for p in data.get("points") or [] if _map(p)],
            false_positive=FalsePositives.from_dict(fp) if fp is not None else None,
            students=[dict(s) for s in data.get("students") or [] if _map(s)],
            cost=_cost(data.get("cost")),
            warnings=[str(w) for w in data.get("warnings") or []],
            timing=dict(_map(data.get("timing")) or {}),
            extra=_extra(data, cls._KEYS),
        )

    def to_dict(self) -> dict[str, Any]:
        """The summary as stored (parts the sweep has not reached are empty or ``None``)."""
        return {
            **self.extra,
            "alpha": self.alpha,
            "checks": list(self.checks),
            "points": [p.to_dict() for p in self.points],
            "false_positive": self.false_positive.to_dict() if self.false_positive else None,
            "students": [dict(s) for s in self.students],
            "cost": self.cost.to_dict() if self.cost else None,
            "warnings": list(self.warnings),
            "timing": dict(self.timing),
        }

    @property
    def timing_seconds(self) -> float | None:
        """Compute time of the sweep so far, over all its sessions."""
        return _num(self.timing.get("seconds"))

    @property
    def check(self) -> str | None:
        """The check the rates are for, when the summary names one (else: all, by Holm)."""
        value = self.extra.get("check")
        return str(value) if value else None
