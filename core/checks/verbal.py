"""A fixed verbal scale for how unusual a result is for an independent model, keyed on a p-value.

The scale reads the **family-wise** p-value of a run (Holm over the checks that address
Hp; :func:`core.checks.stats.combine_holm`), so its words never claim more than the
whole family of tests supports. A p-value says how unusual the data would be *if the
suspect were an independent model like the references*; it is not a likelihood ratio,
so the words speak of how unusual the result is, never of "support for Hp over Hd".
(That scale, ENFSI's, belongs to a measured likelihood ratio: it is applied only by
:func:`core.checks.likelihood_ratio.enfsi_level`, to a ratio measured on a calibration of the
case's own procedure.)

The mapping, applied in order:

====================================  ==============================================
condition                             level
====================================  ==============================================
no p-value (the check declined)       not assessed
p > 0.05                              not distinguishable from the independent references
effect <= 0 (wrong direction)         not distinguishable from the independent references
0 < effect < ``min_effect``           unusual for an independent model, but the difference
                                      is small
p <= 0.001                            very unusual for an independent model
p <= 0.01                             unusual for an independent model
p <= 0.05                             somewhat unusual for an independent model
====================================  ==============================================

``min_effect`` is set by each check's specification before the run; the effect given is
oriented so that positive values point towards Hp (for the model-level test: how many
between-model standard deviations the suspect lies above the references' mean). With no
effect the level follows the p-value alone. The wording never claims certainty and never
states a chance that distillation happened.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

_MEANING = (
    " A p-value says how unusual the observed data would be if the suspect were an "
    "independent model like the references; it is not the chance that Hp or Hd is true, "
    "and it should be weighed with the other evidence and the limitations stated in this report."
)


@dataclass(frozen=True)
class StrengthLevel:
    """One step of the scale: a stable key, the label shown, and its definition for the report.

    ``supports_hp`` marks the levels at which the result is unusual for an independent model
    (the p-value reached 0.05 in the direction of Hp).
    """

    key: str
    label: str
    definition: str
    supports_hp: bool

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


STRONG = StrengthLevel(
    "very_unusual",
    "very unusual for an independent model",
    "The family-wise p-value is at most 0.001: if the suspect were an independent model like "
    "the references, a result at least this extreme would occur with probability at most "
    "1 in 1,000, and the effect is at least the minimum fixed before the run." + _MEANING,
    True,
)
MODERATELY_STRONG = StrengthLevel(
    "unusual",
    "unusual for an independent model",
    "The family-wise p-value is above 0.001 and at most 0.01: if the suspect were an "
    "independent model like the references, a result at least this extreme would occur with "
    "probability at most 1 in 100, and the effect is at least the minimum fixed before the run."
    + _MEANING,
    True,
)
MODERATE = StrengthLevel(
    "somewhat_unusual",
    "somewhat unusual for an independent model",
    "The family-wise p-value is above 0.01 and at most 0.05: if the suspect were an "
    "independent model like the references, a result at least this extreme would occur with "
    "probability at most 1 in 20, and the effect is at least the minimum fixed before the run."
    + _MEANING,
    True,
)
LIMITED = StrengthLevel(
    "unusual_small_effect",
    "unusual for an independent model, but the difference is small",
    "The family-wise p-value is at most 0.05, but the effect is below the minimum fixed before "
    "the run: the difference is detectable yet small, and could stem from causes other than "
    "training on the protected model's outputs." + _MEANING,
    True,
)
INCONCLUSIVE = StrengthLevel(
    "not_distinguishable",
    "not distinguishable from the independent references",
    "The family-wise p-value is above 0.05, or the effect points away from Hp: the suspect "
    "looks like one more independent model (Hd). This is not evidence that the suspect was "
    "trained independently; the tests may lack the power to detect the conduct alleged.",
    False,
)
NOT_ASSESSED = StrengthLevel(
    "not_assessed",
    "not assessed: the check declined to run",
    "The check's inputs did not meet its stated minimum (for example too few probes or "
    "reference models), so no test was made and no level is given.",
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
    p_value: float | None,
    effect_size: float | None = None,
    *,
    min_effect: float = DEFAULT_MIN_EFFECT,
) -> StrengthLevel:
    """The scale level for a p-value and an effect (see the module table).

    Give it the family-wise p (:func:`family_level` for the run as a whole); a single
    check's own p gives that check's level only when it is the run's only check.
    ``effect_size`` must be oriented so that positive values point towards Hp.
    """
    if p_value is None or not math.isfinite(p_value):
        return NOT_ASSESSED
    if not 0.0 <= p_value <= 1.0:
        raise ValueError(f"p-value must lie in [0, 1], not {p_value}")
    if p_value > 0.05:
        return INCONCLUSIVE
    if effect_size is not None and not math.isnan(effect_size):
        if effect_size <= 0:
            return INCONCLUSIVE
        if effect_size < min_effect:
            return LIMITED
    if p_value <= 0.001:
        return STRONG
    if p_value <= 0.01:
        return MODERATELY_STRONG
    return MODERATE


def family_level(p_family: float | None) -> StrengthLevel:
    """The level of a run as a whole, from its family-wise (Holm) p-value alone."""
    if p_family is None:
        return NOT_ASSESSED
    return strength(p_family)


def definitions() -> list[dict[str, object]]:
    """Every level with its definition, strongest first, for the report's glossary."""
    return [level.to_dict() for level in LEVELS]
