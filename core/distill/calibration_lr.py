"""What a sweep of the case's procedure measured: rates per group, the FPR bound, and the LR.

From the students of a sweep that replayed the case's check run
(:mod:`core.distill.calibration_procedure`):

* ``groups``: for every kind of student (distilled for 1, 2, 3 … epochs; null twins;
  paraphrased "laundered" students; students on other samples of the same model; the
  untrained start), how many the procedure flagged, with the exact two-sided 95%
  Clopper–Pearson interval, and per check (e.g. the harvest test alone) the same count;
  for the groups that should not be flagged, the exact one-sided 95% upper bound too.
  This is the power / false-positive table the report quotes.
* ``false_positive_bound``: the twins' record as a rate bound, and the number of twins
  that 0 false positives would need to bound the rate at the spec's target.
* ``likelihood_ratio``: the score-based LR of the case's observed family-wise
  ``-log10 p`` (:func:`core.checks.likelihood_ratio.measure_lr`), with Hp = the distilled
  students and Hd = the null twins, its interval, Cllr and Cllr_min and the leave-one-out
  ratios for the Tippett plot; ``None`` (with a warning) when the sweep has fewer than
  three of either, so no verbal scale of support is given.

Laundered and other-sample students are in neither Hp nor Hd: they did learn from the
protected model (through a rewrite, or from other samples), so counting them as
independent would be wrong, and counting them as plain distillation would blur the ratio.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from core.checks.likelihood_ratio import fpr_upper_bound, measure_lr, rate_bound
from core.checks.stats import clopper_pearson

if TYPE_CHECKING:
    from core.distill.calibration_procedure import CaseProcedure
    from core.distill.spec import CalibrationSpec

NEGATIVE = ("control", "other")  # groups the procedure should not flag (other: harvest test)
GROUP_WORDS = {
    "distilled": "distilled on the protected model's answers",
    "control": "null twins (answers from another source)",
    "laundered": "distilled on paraphrased answers",
    "other": "distilled on other samples of the same model",
    "start": "the untrained starting model",
}


def _rate(k: int, m: int) -> dict[str, Any]:
    return {
        "k": k,
        "m": m,
        "rate": k / m if m else None,
        "ci": list(clopper_pearson(k, m)) if m else [None, None],
    }


def _flagged(student: dict[str, Any], check: str, alpha: float) -> bool:
    c = (student.get("checks") or {}).get(check) or {}
    p = c.get("p_family")
    return c.get("verdict") == "supports Hp" and p is not None and p <= alpha


def groups(
    students: Sequence[dict[str, Any]], checks: Sequence[str], alpha: float
) -> list[dict[str, Any]]:
    """Detection (or false-positive) counts per kind of student, overall and per check."""
    keys: list[tuple[str, int]] = []
    for s in students:  # one group per role (and, for distilled students, per epochs)
        key = (str(s["role"]), int(s.get("epochs") or 1))
        if key not in keys and s.get("detected") is not None:
            keys.append(key)
    order = list(GROUP_WORDS)
    keys.sort(key=lambda k: (order.index(k[0]) if k[0] in order else len(order), k[1]))
    out = []
    for role, epochs in keys:
        mine = [
            s
            for s in students
            if s["role"] == role
            and int(s.get("epochs") or 1) == epochs
            and s.get("detected") is not None
        ]
        k = sum(bool(s["detected"]) for s in mine)
        row: dict[str, Any] = {
            "group": role,
            "epochs": epochs if role == "distilled" else None,
            "description": GROUP_WORDS.get(role, role)
            + (f", {epochs} epoch{'s' if epochs > 1 else ''}" if role != "start" else ""),
            "quantity": "false_positive" if role in NEGATIVE else "detection",
            "samples": sorted({int(s["n"]) for s in mine}),
            **_rate(k, len(mine)),
            "by_check": {
                c: _rate(sum(_flagged(s, c, alpha) for s in mine), len(mine)) for c in checks
            },
        }
        if role in NEGATIVE and mine:
            row["upper_95_one_sided"] = fpr_upper_bound(k, len(mine))
        out.append(row)
    return out


def procedure_summary(
    spec: CalibrationSpec,
    proc: CaseProcedure,
    students: Sequence[dict[str, Any]],
    run_id: int,
) -> dict[str, Any]:
    """The ``groups``, ``false_positive_bound`` and ``likelihood_ratio`` parts of a sweep."""
    warnings: list[str] = []
    done = [s for s in students if s.get("detected") is not None]
    hp = [
        s["statistic"] for s in done if s["role"] == "distilled" and s.get("statistic") is not None
    ]
    hd = [s["statistic"] for s in done if s["role"] == "control" and s.get("statistic") is not None]
    twins = [s for s in done if s["role"] == "control"]
    bound = (
        rate_bound(sum(bool(s["detected"]) for s in twins), len(twins), target=spec.fpr_target)
        if twins
        else None
    )
    if bound is not None and bound.upper > spec.fpr_target:
        warnings.append(
            f"{bound.statement}: this sweep cannot bound the false-positive rate at "
            f"{spec.fpr_target:g}."
        )
    lr: dict[str, Any] | None = None
    if len(hp) >= 3 and len(hd) >= 3:
        observed = proc.observed_statistic
        measured = measure_lr(
            hp,
            hd,
            observed if observed is not None else 0.0,
            seed=spec.seed,
            calibration_run_id=run_id,
        )
        lr = measured.to_dict()
        if observed is None:  # the case's run produced no p: only the calibration's quality
            for key in ("lr", "log10_lr", "interval", "verbal", "statement", "observed"):
                lr[key] = None
            warnings.append("The case's check run has no family-wise p: no likelihood ratio.")
        else:
            warnings.extend(measured.warnings)
    else:
        warnings.append(
            f"A likelihood ratio needs at least three distilled students and three null twins "
            f"(this sweep: {len(hp)} and {len(hd)}); no ratio and no verbal scale of support."
        )
    return {
        "groups": groups(done, proc.checks, proc.alpha),
        "false_positive_bound": bound.to_dict() if bound else None,
        "likelihood_ratio": lr,
        "lr_warnings": warnings,
    }
