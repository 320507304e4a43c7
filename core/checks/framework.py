"""Plain records every check uses: what it asks, what it found, and how to read it.

A check is described by a :class:`CheckSpec` (its question, access level, hypotheses and
test, fixed before any run) and returns a :class:`CheckResult`. A panel-based check
compares the suspect with the models of a reference panel in two ways, and
:func:`build_result` keeps them apart:

* **The verdict** comes from the model-level test of Hd
  (:func:`core.checks.model_level.model_level_test`): is the suspect outside the spread of
  independent models, with the reference panel as a sample of them? Its null is Hd itself
  ("the suspect is one more independent model like the references"). ``p_value`` is its p,
  ``effect_size`` the suspect's model-level difference from the references' mean and
  ``ci`` that difference's own interval; the full result is ``model_level``.
* **Per reference** (:class:`ReferenceComparison`): a paired sign-flip test on the probes,
  Cohen's d_z and a bootstrap CI of d_z. Their null ("this suspect and this reference score
  the same on each probe") is not Hd, since independent models always differ, so they are
  descriptive ("how consistently, probe by probe") and decide nothing. ``p_per_probe`` is the
  largest of their p-values (the old intersection-union p), ``p_value_any`` the smallest
  Holm-adjusted one, and each comparison carries its Holm p (``p_holm``).

Across checks, :func:`core.checks.stats.combine_holm` corrects the checks' ``p_value`` into
the family-wise p that the verbal scale and the draft findings read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from core.checks.available import INPUT_NAMES
from core.checks.pformat import at_most, p_clause
from core.checks.stats import (
    PairedComparison,
    format_p,
    holm,
    jsonable,
    p_floor,
    panel_adequacy,
)
from core.checks.verbal import DEFAULT_MIN_EFFECT, INCONCLUSIVE, NOT_ASSESSED, strength

if TYPE_CHECKING:
    from core.checks.model_level import ModelLevelResult

AccessLevel = Literal["text", "log-probs", "weights"]
# The weight-lineage check answers "derived from the base?" on its own scale, never Hp/Hd.
Verdict = Literal[
    "supports Hp",
    "inconclusive",
    "declined",
    "consistent with derivation",
    "no evidence of derivation",
]
ACCESS_LEVELS: tuple[str, ...] = ("text", "log-probs", "weights")
# The user's questions a check can help answer (the check wizard words them): trained on the
# protected model's outputs; derived from a base model's weights; the protected model itself.
QUESTION_KEYS: tuple[str, ...] = ("outputs", "weights", "same")
# The passes a check can need: the protected model's own pass (before the others), one pass
# per model of the suspect and the reference panel, and reading weights after those passes.
PROTECTED_PASS, PANEL_PASS, WEIGHTS_PASS = "protected", "suspect+references", "weights"
PASSES: tuple[str, ...] = (PROTECTED_PASS, PANEL_PASS, WEIGHTS_PASS)


@dataclass(frozen=True)
class CheckSpec:
    """What a check asks and how it tests it; fixed before the run and printed in reports."""

    key: str
    title: str
    question: str
    access: AccessLevel  # "text" (answers only), "log-probs" (scores), "weights" (white-box)
    null_hypothesis: str
    alternative: str
    test: str
    minimum_inputs: str  # e.g. "20 probes and 3 reference models scored on the same probes"
    min_effect: float = (
        DEFAULT_MIN_EFFECT  # smallest effect size the verbal scale calls more than "limited"
    )
    can_show: str = ""  # one sentence: what the check can show and what it cannot
    answers: tuple[str, ...] = ("outputs",)  # the QUESTION_KEYS it helps answer
    addresses_hp: bool = True  # takes part in the Holm combination of the Hp-vs-Hd checks
    not_hp_reason: str = ""  # why not (said in the combined summary) when addresses_hp is False
    uses_probes: bool = False  # measured on the matched probes (their warnings apply to it)
    passes: tuple[str, ...] = (PANEL_PASS,)  # the PASSES it needs, see above
    inputs: tuple[str, ...] = ()  # the evidence it uses (core.checks.available.INPUT_NAMES)
    effect_name: str = ""  # what its per-reference effect size is, for the stored comparisons
    # What drives the check's statistic (e.g. "persona phrases"): checks sharing a signal are
    # not independent lines of evidence, and the combined statement names the overlaps.
    signals: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.access not in ACCESS_LEVELS:
            raise ValueError(f"access must be one of {ACCESS_LEVELS}, not {self.access!r}")
        for name, values, allowed in (
            ("answers", self.answers, QUESTION_KEYS),
            ("passes", self.passes, PASSES),
            ("inputs", self.inputs, INPUT_NAMES),
        ):
            unknown = [v for v in values if v not in allowed]
            if unknown:
                raise ValueError(f"{name} must be among {allowed}, not {unknown}")
        if not self.addresses_hp and not self.not_hp_reason:
            raise ValueError("a check that does not address Hp must say why (not_hp_reason)")


@dataclass(frozen=True)
class ProbeDetail:
    """Per-probe values (scores, differences, hit flags) kept for the appendix and charts."""

    probe_id: str
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReferenceComparison:
    """The suspect against one reference model: statistic, raw and Holm p, N, effect, CI."""

    reference: str
    statistic: float
    p_value: float
    n: int
    effect_size: float | None = None
    ci: tuple[float, float] | None = None
    p_holm: float | None = None  # filled by build_result (Holm over this check's references)
    n_resamples: int | str | None = None
    method: str = ""

    def p_text(self) -> str:
        """The per-probe p as printed ("≤ 1e-4" at the Monte-Carlo floor 1/(N+1))."""
        return format_p(self.p_value, floor=p_floor(self.n_resamples))

    @classmethod
    def from_paired(cls, reference: str, comparison: PairedComparison) -> ReferenceComparison:
        """From :func:`core.checks.stats.paired_comparison` (sign-flip test, d_z, CI of d_z)."""
        t = comparison.test
        return cls(
            reference=reference,
            statistic=t.statistic,
            p_value=t.p_value,
            n=t.n,
            effect_size=comparison.effect_size,
            ci=(comparison.ci.low, comparison.ci.high),
            n_resamples=t.n_resamples,
            method=t.method,
        )


@dataclass(frozen=True)
class CheckResult:
    """Everything a check found, ready for the case file (``to_dict``) and the report."""

    spec_key: str
    verdict: Verdict
    reason: str
    strength: str
    null_hypothesis: str
    test: str
    statistic: float | None = None
    effect_size: float | None = None
    ci: tuple[float, float] | None = None
    p_value: float | None = None  # the verdict's p: the model-level test's (module docstring)
    p_value_any: float | None = None  # smallest Holm-adjusted per-probe p (descriptive)
    alpha: float = 0.05
    n_probes: int = 0
    n_references: int = 0
    comparisons: tuple[ReferenceComparison, ...] = ()
    probe_details: tuple[ProbeDetail, ...] = ()
    seed: int | None = None
    details: Mapping[str, Any] = field(
        default_factory=dict
    )  # check-specific extras (secondary statistics, learned markers)
    warnings: tuple[str, ...] = ()  # limits the reader must know (small panel, dropped probes, ...)
    model_level: Mapping[str, Any] | None = None  # ModelLevelResult.to_dict() of the verdict's test
    p_per_probe: float | None = None  # largest per-reference sign-flip p (descriptive, no verdict)
    p_floor: float | None = None  # smallest p the verdict's test can give (a rank test's 1/(R+1))
    p_family: float | None = None  # Holm-adjusted over the run's Hp checks (set by the runner)

    def p_text(self) -> str:
        """The verdict's p as printed everywhere ("≤ 0.25" at a rank test's floor)."""
        return format_p(self.p_value, floor=self.p_floor)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable: tuples become lists, numpy numbers become floats, NaN and
        infinities become None (JSON has no such numbers)."""
        return jsonable(self)


def declined(
    spec: CheckSpec,
    reason: str,
    *,
    seed: int | None = None,
    n_probes: int = 0,
    n_references: int = 0,
    alpha: float = 0.05,
    warnings: Sequence[str] = (),
) -> CheckResult:
    """A result for a check that did not run because its inputs do not fit; says why."""
    return CheckResult(
        spec_key=spec.key,
        verdict="declined",
        reason=reason,
        strength=NOT_ASSESSED.label,
        null_hypothesis=spec.null_hypothesis,
        test=spec.test,
        alpha=alpha,
        n_probes=n_probes,
        n_references=n_references,
        seed=seed,
        warnings=tuple(warnings),
    )


Declined = declined  # the name used in the design brief


def build_result(
    spec: CheckSpec,
    comparisons: Sequence[ReferenceComparison],
    *,
    n_probes: int,
    seed: int | None,
    model_level: ModelLevelResult | None = None,
    n_tests: int = 1,
    statistic: float | None = None,
    effect_size: float | None = None,
    ci: tuple[float, float] | None = None,
    probe_details: Sequence[ProbeDetail] = (),
    alpha: float = 0.05,
) -> CheckResult:
    """One result from the model-level test (the verdict) and the per-reference comparisons.

    "supports Hp" only when the model-level p <= alpha *and* the suspect lies above the
    references' mean (the effect points towards Hp). ``statistic``, ``effect_size`` and
    ``ci`` default to the model-level value, difference and the difference's interval.

    Without ``model_level`` there is no verdict: the result is declined (:data:`NO_MODEL_LEVEL`)
    and the per-reference comparisons are kept as descriptions only.
    """
    if not comparisons:
        return declined(
            spec,
            "No reference models were compared; a check needs a control "
            "panel of independent reference models.",
            seed=seed,
            n_probes=n_probes,
            alpha=alpha,
        )
    adjusted = holm([c.p_value for c in comparisons])
    comps = tuple(replace(c, p_holm=float(a)) for c, a in zip(comparisons, adjusted, strict=True))
    worst = max(comps, key=lambda c: c.p_value)
    p_iut, p_any = worst.p_value, float(adjusted.min())
    n = len(comps)
    beaten = sum(c.p_value <= alpha for c in comps)
    consistency = (
        f"Probe by probe (descriptive, not a test of Hd), the suspect scored above {beaten} of "
        f"the {n} references at alpha = {alpha:g} (largest per-probe {p_clause(worst.p_text())}, "
        f"against {worst.reference!r})."
    )
    if model_level is None:
        return _no_model_level(spec, comps, p_any, n_probes, seed, probe_details, alpha)
    ml = model_level
    if statistic is None:
        statistic = ml.statistic
    if effect_size is None:
        effect_size = ml.difference
    if ci is None:
        ci = ml.difference_ci
    standardised = ml.difference / ml.reference_sd if ml.reference_sd > 0 else ml.difference
    floor = ml.min_rank_p if ml.test_used == "rank" else None
    p = ml.p_value
    level = strength(p, standardised, min_effect=spec.min_effect)
    supports = p <= alpha and ml.difference > 0 and level.supports_hp
    p_txt = format_p(p, floor=floor)
    found = (
        f"The model-level test ({ml.test_used}) put the suspect's value {ml.statistic:.4g} "
        f"{'above' if ml.difference > 0 else 'at or below'} the {ml.n_references} references' "
        f"mean {ml.reference_mean:.4g} (difference {ml.difference:.3g}, 95% interval "
        f"{ml.difference_ci[0]:.3g} to {ml.difference_ci[1]:.3g}): if the suspect were an "
        f"independent model like the references, a result at least this extreme would occur "
        f"with probability ≤ {at_most(p_txt)} ({ml.test_used} test, {ml.n_references} references, "
        f"{n_probes} probes)."
    )
    if supports:
        verdict: Verdict = "supports Hp"
        reason = f"{found} That is at or below alpha = {alpha:g}. {consistency}"
    else:
        verdict = "inconclusive"
        if p > alpha:
            why = f"p = {p_txt} is above alpha = {alpha:g}"
        elif ml.difference <= 0:
            why = "the suspect does not lie above the references (no effect towards Hp)"
        else:
            why = f"p = {p_txt} is above the verbal scale's limit of 0.05"
        reason = f"{found} The suspect is not distinguishable from the references: {why}. "
        reason += consistency
        level = INCONCLUSIVE  # p <= 0.05 yet above a stricter alpha: keep the words consistent
    warns: list[str] = list(ml.warnings)
    adequacy = panel_adequacy(ml.n_references, alpha, n_tests=n_tests)
    if not adequacy.adequate:
        warns.append("How far this result goes: " + adequacy.message)
    return CheckResult(
        spec_key=spec.key,
        verdict=verdict,
        reason=reason,
        strength=level.label,
        null_hypothesis=ml.null,
        test=spec.test,
        statistic=statistic,
        effect_size=effect_size,
        ci=ci,
        p_value=p,
        p_value_any=p_any,
        alpha=alpha,
        n_probes=n_probes,
        n_references=n,
        comparisons=comps,
        probe_details=tuple(probe_details),
        seed=seed,
        warnings=tuple(warns),
        model_level=ml.to_dict(),
        p_per_probe=p_iut,
        p_floor=floor,
    )


NO_MODEL_LEVEL = (
    "No model-level test of Hd was made, so there is no verdict: the per-probe tests "
    "against each reference (below, descriptive only) have as their null that the two "
    "models score the same on each probe, which is not Hd, and independent models differ "
    "systematically, so they would flag an independent suspect far more often than alpha."
)


def _no_model_level(
    spec: CheckSpec,
    comps: tuple[ReferenceComparison, ...],
    p_any: float,
    n_probes: int,
    seed: int | None,
    probe_details: Sequence[ProbeDetail],
    alpha: float,
) -> CheckResult:
    """Declined: without the model-level test the per-probe comparisons stay descriptive.

    The legacy intersection-union verdict is gone: its null is not Hd, so it could not carry
    a verdict. The comparisons are kept for the reader, and no p-value enters Holm.
    """
    worst = max(comps, key=lambda c: c.p_value)
    return replace(
        declined(spec, NO_MODEL_LEVEL, seed=seed, n_probes=n_probes, alpha=alpha),
        n_references=len(comps),
        comparisons=comps,
        probe_details=tuple(probe_details),
        p_value_any=p_any,
        p_per_probe=worst.p_value,
    )


def with_family_p(result: CheckResult, p_family: float | None, spec: CheckSpec) -> CheckResult:
    """The result with its family-wise (Holm) p and the verbal level read from that p.

    The level never exceeds what the family of tests supports: a check that reached alpha
    on its own but not after Holm reads "not distinguishable from the independent references".
    """
    if result.verdict == "declined" or p_family is None:
        return replace(result, p_family=p_family)
    ml = result.model_level or {}
    sd, diff = ml.get("reference_sd"), ml.get("difference")
    if isinstance(diff, (int, float)):
        effect: float | None = diff / sd if isinstance(sd, (int, float)) and sd > 0 else diff
    else:
        effect = result.effect_size
    level = strength(p_family, effect, min_effect=spec.min_effect)
    if result.verdict != "supports Hp":
        level = INCONCLUSIVE
    return replace(result, p_family=p_family, strength=level.label)
