"""A fixed verbal scale for the strength of a check's evidence, for findings and reports.

The scale is keyed on two numbers fixed in meaning before any run: the check's
(multiplicity-adjusted) p-value and its effect size. The mapping, applied in order:

====================================  ==============================================
condition                             level
====================================  ==============================================
no p-value (the check declined)       not assessed
p > 0.05                              inconclusive
effect size <= 0 (wrong direction)    inconclusive
0 < effect size < ``min_effect``      limited support for Hp over Hd
p <= 0.001                            strong support for Hp over Hd
p <= 0.01                             moderately strong support for Hp over Hd
p <= 0.05                             moderate support for Hp over Hd
====================================  ==============================================

``min_effect`` is set by each check's specification before the run (default 0.2, the
conventional "small" standardised effect, Cohen's d_z); with no effect size the level
follows the p-value alone. The effect rule stops a large sample from turning a trivial
difference into "strong support".

What the words mean: a p-value measures how unusual the data would be if Hd were true.
It is not the chance that either hypothesis is true, so no level may be read as one.
The wording never claims certainty and never states a chance that distillation happened.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

_MEANING = (
    " This describes how unusual the observed data would be if Hd were true; it is "
    "not the chance that Hp or Hd is true, and it should be weighed with the other "
    "evidence and the limitations stated in this report."
)


@dataclass(frozen=True)
class StrengthLevel:
    """One step of the scale: a stable key, the label shown, and its definition for the report."""

    key: str
    label: str
    definition: str
    supports_hp: bool

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


STRONG = StrengthLevel(
    "strong",
    "strong support for Hp over Hd",
    "The adjusted p-value is at most 0.001: if Hd were true, a result at least this extreme "
    "would arise in no more than 1 in 1,000 repetitions of the test, and the effect size is "
    "at least the minimum fixed before the run." + _MEANING,
    True,
)
MODERATELY_STRONG = StrengthLevel(
    "moderately_strong",
    "moderately strong support for Hp over Hd",
    "The adjusted p-value is above 0.001 and at most 0.01: if Hd were true, a result at least "
    "this extreme would arise in no more than 1 in 100 repetitions of the test, and the effect "
    "size is at least the minimum fixed before the run." + _MEANING,
    True,
)
MODERATE = StrengthLevel(
    "moderate",
    "moderate support for Hp over Hd",
    "The adjusted p-value is above 0.01 and at most 0.05: if Hd were true, a result at least "
    "this extreme would arise in no more than 1 in 20 repetitions of the test, and the effect "
    "size is at least the minimum fixed before the run." + _MEANING,
    True,
)
LIMITED = StrengthLevel(
    "limited",
    "limited support for Hp over Hd",
    "The adjusted p-value is at most 0.05, but the effect size is below the minimum fixed "
    "before the run: the difference is statistically detectable yet small, and could stem "
    "from causes other than training on the protected model's outputs." + _MEANING,
    True,
)
INCONCLUSIVE = StrengthLevel(
    "inconclusive",
    "inconclusive: the test does not distinguish Hp from Hd",
    "The adjusted p-value is above 0.05, or the effect points away from Hp: the data are "
    "compatible with Hd. This is not evidence that the suspect was trained independently; "
    "the test may lack the power to detect the conduct alleged.",
    False,
)
NOT_ASSESSED = StrengthLevel(
    "not_assessed",
    "not assessed: the check declined to run",
    "The check's inputs did not meet its stated minimum (for example too few probes or "
    "reference models), so no test was made and no strength is given.",
    False,
)

LEVELS: tuple[StrengthLevel, ...] = (
    STRONG,
    MODERATELY_STRONG,
    MODERATE,
    LIMITED,
    INCONCLUSIVE,
    NOT_ASSESSED,
)
DEFAULT_MIN_EFFECT = 0.2


def strength(
    p_adjusted: float | None,
    effect_size: float | None = None,
    *,
    min_effect: float = DEFAULT_MIN_EFFECT,
) -> StrengthLevel:
    """The scale level for an adjusted p-value and an effect size (see the module table).

    ``effect_size`` must be oriented so that positive values point towards Hp (the suspect
    resembles the protected model more than the references do).
    """
    if p_adjusted is None or not math.isfinite(p_adjusted):
        return NOT_ASSESSED
    if not 0.0 <= p_adjusted <= 1.0:
        raise ValueError(f"p-value must lie in [0, 1], not {p_adjusted}")
    if p_adjusted > 0.05:
        return INCONCLUSIVE
    if effect_size is not None and not math.isnan(effect_size):
        if effect_size <= 0:
            return INCONCLUSIVE
        if effect_size < min_effect:
            return LIMITED
    if p_adjusted <= 0.001:
        return STRONG
    if p_adjusted <= 0.01:
        return MODERATELY_STRONG
    return MODERATE


def definitions() -> list[dict[str, object]]:
    """Every level with its definition, strongest first, for the report's glossary."""
    return [level.to_dict() for level in LEVELS]
