"""The report's section on a calibration of the case's own procedure: rates and the LR.

Kept in its own function (:func:`lr_section`) so the report's structure can change
around it. It quotes the bundle's ``calibration_lr`` records: the detection and
false-positive rates per kind of student with exact intervals, the twins' one-sided
bound, and — only there — the measured likelihood ratio with its interval, Cllr and the
ENFSI verbal equivalent, with the Tippett plot of :func:`core.reports.charts.tippett_figure`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from reportlab.platypus import Flowable

from core.reports import charts
from core.reports.formatting import DASH, format_rate
from core.reports.pdf_layout import box, data_table, gap, para

NO_LR = (
    "No calibration of this case's own procedure was run, so no likelihood ratio was "
    "measured and no verbal scale of support is given: the p-values above say only how "
    "unusual the results would be for an independent model."
)


def _ci(row: dict[str, Any]) -> str:
    lo, hi = (row.get("ci") or [None, None])[:2]
    return DASH if lo is None or hi is None else f"[{format_rate(lo)}, {format_rate(hi)}]"


def groups_table(record: dict[str, Any]) -> Flowable:
    """Detection and false-positive rates per kind of student, overall and per check."""
    checks = list(record.get("procedure", {}).get("checks") or [])
    rows = []
    for g in record.get("groups") or []:
        by_check = g.get("by_check") or {}
        upper = g.get("upper_95_one_sided")
        rows.append(
            [
                para(g.get("description", g.get("group", "")), "cell_small"),
                "false positive" if g.get("quantity") == "false_positive" else "detection",
                f"{g.get('k')}/{g.get('m')}",
                _ci(g),
                DASH if upper is None else f"<= {format_rate(upper)}",
                para(
                    "; ".join(
                        f"{c}: {by_check[c]['k']}/{by_check[c]['m']}"
                        for c in checks
                        if c in by_check
                    ),
                    "cell_small",
                ),
            ]
        )
    return data_table(
        ["Students", "Rate of", "k / n", "95% CI (exact)", "One-sided 95%", "Per check"],
        rows,
        [30, 13, 9, 17, 13, 18],
    )


def lr_section(
    records: Sequence[dict[str, Any]], figure: Callable[[object, str], list[Flowable]]
) -> list[Flowable]:
    """The calibration-of-the-procedure section from the bundle's ``calibration_lr``
    records (``figure``: the document's figure counter)."""
    if not records:
        return [box(NO_LR)]
    out: list[Flowable] = []
    for rec in records:
        proc = rec.get("procedure") or {}
        out.append(
            para(
                f"Calibration run {rec['run_id']} replayed check run {proc.get('check_run_id')} "
                f"of this case on every student: checks {', '.join(proc.get('checks') or [])}, "
                f"Holm over {proc.get('n_tests')}, seed rule and settings as in the case. Null "
                f"twins trained on {rec.get('null_source') or 'answers from another source'}, "
                "not on the case's control answers."
            )
        )
        out += [gap(2), groups_table(rec), gap(2)]
        bound = rec.get("false_positive_bound")
        if bound:
            out.append(para(bound.get("statement", "")))
        lr = rec.get("likelihood_ratio")
        if lr and lr.get("lr") is not None:
            out += [gap(2), box([para(lr.get("statement", ""), "note_strong")])]
            fig = charts.tippett_figure(lr["lr_hp"], lr["lr_hd"], lr.get("lr"))
            out += figure(
                fig,
                "Tippett plot: share of distilled students (Hp, solid) and null twins (Hd, "
                "dashed) whose leave-one-out likelihood ratio is at least the value on the axis; "
                "dotted: this case's measured ratio.",
            )
        else:
            out.append(box(NO_LR))
    return out
