"""What a check plugs into the runner: its SPEC and the functions the runner calls, in order.

A check module builds one :class:`Check` (``CHECK``) and the registry
(:mod:`core.checks.registry`) lists it. For one run the runner, for each chosen check:

1. ``fits(available)`` (through :meth:`Check.problem`, which also declines a check that needs
   a model when the suspect is known only by its answers): why it cannot run with the
   evidence at hand (the wizard asks the same function), then ``prepare(ctx)`` (e.g. load
   a question suite, recorded with the run) and ``preflight(ctx, data)`` (a late "cannot
   run", e.g. a tokenizer comparison);
2. for each pass its SPEC names (:data:`core.checks.framework.PASSES`):
   ``measure_protected`` on the protected model; on each model of the suspect and the
   reference panel ``admit`` (None, or why this model cannot be compared: the check then
   declines for the suspect and leaves out a reference) and ``measure``, reused from the
   process cache when ``cache_parts`` says what determines the measurement; a model known
   only by its answers (an API-only suspect or reference) is not loaded: a check with
   ``measure_answers`` reads its answers, any other check leaves it out (or declines);
3. ``evaluate(ctx, data, state)``: the statistics (a "weights" check reads weights here).

Checks never see each other; what they share (probes, learned markers, settings) is in
:class:`RunContext`, what one check gathered during the run in its :class:`CheckData`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from core.checks.available import AvailableInputs, for_answers, needs_suspect_model
from core.checks.framework import PANEL_PASS, PROTECTED_PASS, CheckResult, CheckSpec
from core.jobs import JobState

if TYPE_CHECKING:
    from core.backends.base import LanguageModel
    from core.checks.evidence import CaseEvidence, ModelRef
    from core.checks.probes import ChatTemplate, Probe
    from core.checks.settings import CheckSettings


class Measurement(Protocol):
    """One model's per-probe values for a check (kept in the run as they come)."""

    def to_dict(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class RunContext:
    """What every check of one run sees, fixed before any model is run."""

    evidence: CaseEvidence
    probes: tuple[Probe, ...]
    template: ChatTemplate
    settings: CheckSettings
    phrases: tuple[str, ...] = ()  # the protected model's habitual phrases (learned)
    style: tuple[str, ...] = ()  # its habits of layout and wording (learned)
    n_tests: int = 1  # the Hp checks the run combines by Holm (the model-level test's n_tests)

    @property
    def suspect(self) -> str:
        return self.evidence.suspect.label

    @property
    def references(self) -> tuple[str, ...]:
        return tuple(r.label for r in self.evidence.references)

    @property
    def seed(self) -> int:
        """The run's seed (the runner resolves a derived seed before any check sees it)."""
        if self.settings.seed is None:
            raise ValueError("the run's seed was not resolved (core.checks.runner.derive_seed)")
        return self.settings.seed

    def common(self) -> dict[str, Any]:
        """The settings every test takes: seed, alpha and the number of resamples."""
        s = self.settings
        return {"seed": self.seed, "alpha": s.alpha, "n_resamples": s.n_resamples}

    @property
    def clusters(self) -> tuple[str | None, ...] | None:
        """Each probe's cluster (topic, conversation, source), None when no probe has one."""
        labels = tuple(p.cluster for p in self.probes)
        return labels if any(c is not None for c in labels) else None

    def panel(self) -> dict[str, Any]:
        """What a panel-based check's statistics take: :meth:`common`, ``n_tests``, clusters."""
        return {**self.common(), "n_tests": self.n_tests, "clusters": self.clusters}


@dataclass
class CheckData:
    """What one check gathered during a run."""

    key: str
    prepared: Any = None  # what ``prepare`` returned (Prepared.value)
    protected: Any = None  # what ``measure_protected`` returned
    measured: dict[str, Any] = field(default_factory=dict)  # model label -> measurement
    dropped: dict[str, str] = field(default_factory=dict)  # reference label -> why left out

    def suspect(self, ctx: RunContext) -> Any:
        return self.measured[ctx.suspect]

    def references(self, ctx: RunContext) -> dict[str, Any]:
        """The references' measurements, in panel order, without the dropped ones."""
        return {r: self.measured[r] for r in ctx.references if r not in self.dropped}


@dataclass(frozen=True)
class Prepared:
    """What a check fixes before the run (``value``) and what the Run records of it."""

    value: Any
    record: Mapping[str, Any] = field(default_factory=dict)  # added to parameters and inputs


Keep = Callable[[Any], None]  # saves a partial per-probe value into the run (survives a cancel)
Fits = Callable[[AvailableInputs], "str | None"]
Prepare = Callable[[RunContext], Prepared]
Preflight = Callable[[RunContext, CheckData], "str | None"]
MeasureProtected = Callable[[RunContext, CheckData, "LanguageModel", "ModelRef", JobState], Any]
Admit = Callable[[RunContext, CheckData, "LanguageModel", "ModelRef", str], "str | None"]
Measure = Callable[
    [RunContext, CheckData, "LanguageModel", "ModelRef", JobState, Keep], Measurement
]
# One answers-only model's measurement from its recorded answers (no model is loaded);
# DeclinedError when its answers do not cover what the check asks (e.g. a probe unanswered).
MeasureAnswers = Callable[[RunContext, CheckData, "ModelRef", JobState], Measurement]
CacheParts = Callable[[RunContext, CheckData], "dict[str, Any] | None"]
Evaluate = Callable[[RunContext, CheckData, JobState], CheckResult]


@dataclass(frozen=True)
class Check:
    """One check: its specification and the functions the runner calls (module docstring)."""

    spec: CheckSpec
    fits: Fits
    evaluate: Evaluate
    measure: Measure | None = None
    cache_parts: CacheParts | None = None  # None (or returning None): never reused
    prepare: Prepare | None = None
    preflight: Preflight | None = None
    measure_protected: MeasureProtected | None = None
    admit: Admit | None = None
    measure_answers: MeasureAnswers | None = None  # None: needs a model, not only its answers

    def __post_init__(self) -> None:
        if PANEL_PASS in self.spec.passes and self.measure is None:
            raise ValueError(f"check {self.key!r} needs model passes but has no measure function")
        if PROTECTED_PASS in self.spec.passes and self.measure_protected is None:
            raise ValueError(
                f"check {self.key!r} needs the protected model's pass but cannot use it"
            )

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def reads_answers(self) -> bool:
        """The check can measure a model from its answers alone (a text-only check)."""
        return self.measure_answers is not None

    def problem(self, available: AvailableInputs) -> str | None:
        """Why the check cannot run with ``available`` (None: it can): the runner's and the
        wizard's one judgement. A check that needs a model declines for an answers-only
        suspect and does not count answers-only references; then its own ``fits``."""
        if available.suspect_answers_only and not self.reads_answers:
            return needs_suspect_model(self.spec.access)
        return self.fits(for_answers(available, self.reads_answers))
