"""Plain records every check uses: what it asks, what it found, and how to read it.

A check is described by a :class:`CheckSpec` (its question, access level, hypotheses and
test, fixed before any run) and returns a :class:`CheckResult`. A check compares the
suspect with each model of a reference panel (:class:`ReferenceComparison`) and
:func:`build_result` turns those comparisons into one p-value and verdict:

* ``p_value`` is the **intersection-union test (IUT)** p-value: the largest raw p over
  the references. Hp is supported only if the suspect beats *every* independent
  reference. The IUT null ("the suspect is not above at least one reference") is a
  union, and rejecting it when each single test rejects at alpha has size <= alpha with
  no multiplicity correction (Berger 1982); Holm-adjusting before taking the maximum
  would only make it more conservative.
* ``p_value_any`` is the alternative, weaker claim "the suspect is above *some*
  reference": the smallest Holm-adjusted p over the references. It is reported, not
  used for the verdict.
* Each comparison also carries its Holm-adjusted p (``p_holm``) so a report can say
  which references are individually beaten with family-wise error control.

Across checks, :func:`core.checks.stats.combine_holm` corrects the checks' ``p_value``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from core.checks.available import INPUT_NAMES
from core.checks.stats import PairedComparison, holm, jsonable
from core.checks.verbal import DEFAULT_MIN_EFFECT, INCONCLUSIVE, NOT_ASSESSED, strength

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
    effect_name: str = ""  # what its effect size is, for the stored comparisons

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

    @classmethod
    def from_paired(cls, reference: str, comparison: PairedComparison) -> ReferenceComparison:
        """From :func:`core.checks.stats.paired_comparison` (sign-flip test, d_z, bootstrap CI)."""
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
    p_value: float | None = None  # IUT: largest raw p over references (see module docstring)
    p_value_any: float | None = None  # smallest Holm-adjusted p over references
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
    statistic: float | None = None,
    effect_size: float | None = None,
    ci: tuple[float, float] | None = None,
    probe_details: Sequence[ProbeDetail] = (),
    alpha: float = 0.05,
) -> CheckResult:
    """Combine per-reference comparisons into one result (IUT p-value, Holm per reference).

    ``statistic``, ``effect_size`` and ``ci`` summarise the check as a whole; when left out
    they are taken from the reference the suspect beats least clearly (the one with the
    largest p), i.e. the comparison that decides the IUT. The verdict is "supports Hp" only
    when the IUT p <= alpha *and* the verbal scale gives a supporting level (so an effect
    in the wrong direction is never reported as support).
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
    p_all, p_any = worst.p_value, float(adjusted.min())
    if statistic is None:
        statistic = worst.statistic
    if effect_size is None:
        effect_size = worst.effect_size
    if ci is None:
        ci = worst.ci
    level = strength(p_all, effect_size, min_effect=spec.min_effect)
    supports = p_all <= alpha and level.supports_hp
    beaten = sum(c.p_value <= alpha for c in comps)
    n = len(comps)
    if supports:
        verdict: Verdict = "supports Hp"
        reason = (
            f"The suspect scored above each of the {n} reference models at alpha = {alpha:g} "
            f"(largest p = {p_all:.3g}, against {worst.reference!r}; "
            f"intersection-union test over {n_probes} probes)."
        )
    else:
        verdict = "inconclusive"
        if p_all > alpha:
            why = f"it was not clearly above {worst.reference!r} (p = {p_all:.3g} > {alpha:g})"
        elif effect_size is not None and effect_size <= 0:
            why = f"the effect size ({effect_size:.3g}) does not point towards Hp"
        else:
            why = f"p = {p_all:.3g} is above the verbal scale's limit of 0.05"
        reason = (
            f"The suspect scored above {beaten} of the {n} reference models at alpha = "
            f"{alpha:g}, but Hp is supported only if it is above all of them; here {why}."
        )
        level = INCONCLUSIVE  # p <= 0.05 yet above a stricter alpha: keep the words consistent
    return CheckResult(
        spec_key=spec.key,
        verdict=verdict,
        reason=reason,
        strength=level.label,
        null_hypothesis=spec.null_hypothesis,
        test=spec.test,
        statistic=statistic,
        effect_size=effect_size,
        ci=ci,
        p_value=p_all,
        p_value_any=p_any,
        alpha=alpha,
        n_probes=n_probes,
        n_references=n,
        comparisons=comps,
        probe_details=tuple(probe_details),
        seed=seed,
    )
