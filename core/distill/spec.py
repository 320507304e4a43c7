"""The settings of one distillation experiment, fixed before it runs and stored in its Run.

An :class:`ExperimentSpec` holds every choice that can change the student: teacher,
student (imported base or fresh preset, and its tokenizer), the data (prompt set or
captured transcripts, which answers, how many), the method, the seed and the training,
generation and logit settings. It is stored as the Run's parameters and rebuilt from
them by ``experiment resume``, so a resumed run continues with exactly the same recipe.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

from core.checks.probes import DEFAULT_RESPONSE_PREFIX, DEFAULT_TEMPLATE
from core.distill.logit import LogitSettings
from core.distill.sequence import GenerationSettings

Method = Literal["sequence", "logit"]
AnswerSource = Literal["teacher", "control"]
KIND = "experiment.distill"


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
