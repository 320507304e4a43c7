"""The records of core.distill: settings fixed before a run, and what a run hands back.

An :class:`ExperimentSpec` holds every choice that can change the student: teacher,
student (imported base or fresh preset, and its tokenizer), the data (prompt set or
captured transcripts, which answers, how many), the method, the seed and the training,
generation and logit settings. It is stored as the Run's parameters and rebuilt from
them by ``experiment resume``, so a resumed run continues with exactly the same recipe.
A :class:`CalibrationSpec` does the same for a sweep. The other modules of the package
import these records from here rather than from each other, and this module imports no
engine (no torch), so the GUI can build a spec on its own thread.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from core.checks.probes import DEFAULT_RESPONSE_PREFIX, DEFAULT_TEMPLATE
from core.errors import DeclinedError

if TYPE_CHECKING:
    from core.distill.data import Selection

Method = Literal["sequence", "logit"]
AnswerSource = Literal["teacher", "control"]
KIND = "experiment.distill"
CALIBRATION_KIND = "experiment.calibration"


@dataclass(frozen=True)
class GenerationSettings:
    """How the teacher answers (an API's usual defaults: sampled, T=0.8, top-p 0.95)."""

    max_new_tokens: int = 128
    greedy: bool = False
    temperature: float = 0.8
    top_p: float = 0.95
    chunk: int = 32  # prompts per generate call; part of the seeding, so it is recorded

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LogitSettings:
    """Temperature and KL weight of logit-level distillation (see core.distill.logit)."""

    temperature: float = 2.0
    alpha: float = 0.5  # weight of the KL term; 1 - alpha goes to the hard-label loss

    def __post_init__(self) -> None:
        if not self.temperature > 0:
            raise DeclinedError("The distillation temperature must be greater than 0.")
        if not 0.0 <= self.alpha <= 1.0:
            raise DeclinedError("The KL weight alpha must be between 0 and 1.")


@dataclass(frozen=True)
class TrainingSettings:
    """Optimiser, schedule and how many steps; ``steps=None`` derives them from the data.

    Derived steps are ``ceil(epochs * examples / batch_size)`` clamped to
    ``[min_steps, max_steps]`` (a few epochs over the harvested answers, as chat
    fine-tuning usually does); zero examples mean zero steps (the student is its
    starting point). ``warmup_steps=None`` warms up over the first 10% of the steps.
    The default learning rate is the usual one for continued fine-tuning of an existing
    model (1e-4), or for training a fresh small model (1e-3).
    """

    steps: int | None = None
    epochs: float = 4.0
    min_steps: int = 1
    max_steps: int = 2000
    batch_size: int = 16
    lr: float | None = None  # None: 1e-4 to fine-tune an imported base, 1e-3 for a fresh preset
    warmup_steps: int | None = None
    weight_decay: float = 0.01
    max_len: int = 256  # tokens per example (capped by the student's context window)
    checkpoint_every: int = 25
    eval_every: int = 10
    threads: int | None = 2

    def lr_for(self, fresh: bool) -> float:
        if self.lr is not None:
            return float(self.lr)
        return 1e-3 if fresh else 1e-4

    def warmup_for(self, steps: int) -> int:
        return int(self.warmup_steps) if self.warmup_steps is not None else round(0.1 * steps)

    def steps_for(self, examples: int) -> int:
        if examples <= 0:
            return 0
        if self.steps is not None:
            return int(self.steps)
        wanted = math.ceil(self.epochs * examples / self.batch_size)
        return int(min(self.max_steps, max(self.min_steps, wanted)))


@dataclass(frozen=True)
class ExperimentSpec:
    """One experiment: a student distilled from a teacher (or its control twin)."""

    teacher: str | None = None  # model folder / .onnx; needed for a prompt set and for logit KD
    student: str | None = None  # an imported base (HF folder) ...
    student_preset: str | None = None  # ... or a fresh preset ("tiny", "small")
    tokenizer: str = "teacher"  # for a preset: "teacher", "fresh" or a tokenizer folder
    prompts: str | None = None  # a prompt set the teacher answers ...
    transcripts: str | None = None  # ... or captured answers used directly
    controls: str | None = None  # control answers to the same prompts (human or another model)
    answers: AnswerSource = "teacher"  # "control": this student is the control twin
    method: Method = "sequence"
    samples: int | None = None  # training samples; None: every usable record
    sample: Literal["first", "random"] = "first"
    eval_count: int = 32  # held-out records for teacher agreement and ONNX parity
    train_indices: tuple[int, ...] | None = None  # explicit selection (calibration)
    eval_indices: tuple[int, ...] | None = None
    seed: int = 0
    training: TrainingSettings = field(default_factory=TrainingSettings)
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    logit: LogitSettings = field(default_factory=LogitSettings)
    template: str = DEFAULT_TEMPLATE
    response_prefix: str = DEFAULT_RESPONSE_PREFIX
    out_dir: str | None = None  # where run folders go (default: beside the case file)
    onnx: bool = True
    parity_texts: int = 16
    price_file: str | None = None
    price_in: float | None = None  # a user-entered rate per million tokens
    price_out: float | None = None
    calibration_run_id: int | None = None
    label: str = ""

    @property
    def source(self) -> str:
        return self.transcripts or self.prompts or ""

    @property
    def source_kind(self) -> Literal["prompts", "transcripts"]:
        return "transcripts" if self.transcripts else "prompts"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("train_indices", "eval_indices"):
            if data[key] is not None:
                data[key] = list(data[key])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExperimentSpec:
        """Rebuild a spec from a Run's parameters (unknown keys are ignored)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["training"] = _sub(TrainingSettings, values.get("training"))
        values["generation"] = _sub(GenerationSettings, values.get("generation"))
        values["logit"] = _sub(LogitSettings, values.get("logit"))
        for key in ("train_indices", "eval_indices"):
            if values.get(key) is not None:
                values[key] = tuple(int(i) for i in values[key])
        return cls(**values)

    def twin(self) -> ExperimentSpec:
        """The same recipe on the control answers (same seed, same records)."""
        return replace(self, answers="control", label=(self.label + " control").strip())


def _sub(kind: Any, data: dict[str, Any] | None) -> Any:
    if not data:
        return kind()
    known = {f.name for f in fields(kind)}
    return kind(**{k: v for k, v in data.items() if k in known})


@dataclass
class Prepared:
    """Checked inputs of an experiment: nothing in the case file has been written yet."""

    spec: ExperimentSpec
    case_id: int
    selection: Selection
    out_dir: Path
    teacher: Any = None  # a loaded LanguageModel, or None
    inputs: dict[str, Any] | None = None


@dataclass(frozen=True)
class ExperimentOutcome:
    """What a finished experiment produced (``summary``: see core.distill.summaries)."""

    run_id: int
    artifact_id: int | None
    student_path: str
    summary: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "artifact_id": self.artifact_id,
            "student_path": self.student_path,
            **self.summary,
        }


@dataclass(frozen=True)
class CalibrationSpec:
    """Everything that defines a sweep (stored as the calibration Run's parameters)."""

    references: tuple[str, ...]  # independent reference models (folders / .onnx)
    controls: str  # control answers to the same prompts
    teacher: str | None = None
    student: str | None = None
    student_preset: str | None = None
    tokenizer: str = "teacher"
    prompts: str | None = None
    transcripts: str | None = None
    samples: tuple[int | None, ...] = (0, 10, 25, 50, None)  # None: the whole training pool
    replicates: int = 3
    seed: int = 0
    method: str = "sequence"
    checks: tuple[str, ...] = ("likelihood",)
    alpha: float = 0.05
    n_probes: int = 50
    n_resamples: int = 10_000
    protected_names: tuple[str, ...] = ()
    training: TrainingSettings = field(default_factory=TrainingSettings)
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    template: str = "User: {prompt}\nAssistant:"
    response_prefix: str = " "
    out_dir: str | None = None
    onnx: bool = True
    price_file: str | None = None
    price_in: float | None = None
    price_out: float | None = None
    # The case's procedure (core.distill.calibration_procedure): with a finished check run,
    # every student goes through that run's checks, panel, settings, seed rule and Holm n
    # (``checks``, ``references``, ``alpha``, ``n_resamples`` above are then not used).
    procedure_run: int | None = None
    null_source: str = ""  # where the twins' answers (``controls``) come from, in words
    epochs: tuple[int, ...] = (1,)  # distilled students for each number of epochs
    laundered: bool = False  # also students on paraphrased teacher answers (reported apart)
    other_answers: str | None = None  # same teacher, other samples (reported apart)
    fpr_target: float = 0.05  # the false-positive bound the twins' count is sized for

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CalibrationSpec:
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        values["training"] = TrainingSettings(**values.get("training", {}))
        values["generation"] = GenerationSettings(**values.get("generation", {}))
        for key in ("references", "samples", "checks", "protected_names"):
            values[key] = tuple(values.get(key) or ())
        values["epochs"] = tuple(values.get("epochs") or (1,))
        return cls(**values)


@dataclass(frozen=True)
class CalibrationOutcome:
    """What a finished sweep produced (``summary``: see core.distill.summaries)."""

    run_id: int
    summary: dict[str, Any]
