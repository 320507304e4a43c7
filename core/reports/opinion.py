"""The report's opinion (page one), derived from the report data alone.

One :class:`ModelOpinion` per check run: the model under test, its role in the case, the
family-wise p of its checks and the harvest test's exact p with N, and plain sentences
saying what the results show and what they do not. It is computed from the same
:class:`ReportData` the PDF, JSON and CSV are rendered from and stored in the bundle, so
page one can never quote a number the bundle does not hold. Findings a reviewer has not
accepted take no part; page one says how many were left out.
"""

from __future__ import annotations

from core.checks.pformat import at_most
from core.reports.data import (
    CheckRecord,
    EvidenceRecord,
    ModelOpinion,
    Opinion,
    ReportData,
)
from core.reports.formatting import format_p, format_rate

_CONTROL_MARKS = ("clean", "control", "twin")
_OTHER_MARKS = ("other-party", "other party", "another party", "other_party")


def model_role(e: EvidenceRecord | None, name: str) -> tuple[str, str]:
    """(role, wording) of a model under test, from its evidence role, name and notes."""
    words = f"{name} {e.details.get('notes', '') if e else ''}".lower()
    role = e.role if e else "suspect"
    if role == "suspect" and any(m in words for m in _OTHER_MARKS):
        return "other party", "another party's model, examined for comparison"
    if role == "suspect" and any(m in name.lower() for m in _CONTROL_MARKS):
        return "control", "clean control (twin trained without the protected model's outputs)"
    if role == "suspect":
        return "suspect", "the suspect model"
    return role, role.replace("-", " ")


def _suspect_of_run(data: ReportData, run_id: int) -> tuple[str, EvidenceRecord | None]:
    for c in data.checks:
        if c.run_id != run_id:
            continue
        for i in c.inputs:
            if i.role == "suspect":
                ev = next(
                    (e for e in data.evidence if e.kind == "model" and e.label == i.label), None
                )
                return (ev.name if ev else i.name), ev
    return "the model under test", None


def _family(checks: list[CheckRecord]) -> tuple[float | None, int]:
    fam = [c for c in checks if c.p_family is not None]
    return (min(c.p_family for c in fam) if fam else None), len(fam)  # type: ignore[type-var]


def _model_opinion(data: ReportData, run_id: int, checks: list[CheckRecord]) -> ModelOpinion:
    name, ev = _suspect_of_run(data, run_id)
    role, role_text = model_role(ev, name)
    done = [c for c in checks if c.completed and c.verdict != "declined" and c.p_value is not None]
    alpha = done[0].alpha if done else 0.05
    family_p, family_n = _family(done)
    supporting = [c.title for c in done if c.p_family is not None and c.p_family <= alpha]
    harvest = next((c for c in done if c.key == "harvest"), None)
    fam_text = format_p(family_p) if family_p is not None else "not computed"
    harvest_text = (
        format_p(harvest.p_value, harvest.p_floor)
        if harvest is not None and harvest.p_value is not None
        else "not run"
    )
    if family_p is None:
        shows = f"No check produced a p-value for {name}; the results show nothing about it."
    elif family_p <= alpha:
        shows = (
            f"{name} differs from the independent reference models in {len(supporting)} of "
            f"{family_n} checks ({', '.join(supporting)}). Family-wise p ≤ "
            f"{at_most(fam_text)} (Holm over {family_n} checks): if {name} were an independent "
            "model like the references, a result at least this extreme would occur with "
            f"probability ≤ {at_most(fam_text)}."
        )
    else:
        shows = (
            f"The checks do not distinguish {name} from the independent reference models: "
            f"family-wise p = {fam_text} (Holm over {family_n} checks), above the "
            f"significance level {alpha:g}."
        )
    if harvest is not None and harvest.p_value is not None:
        tie = harvest.p_value <= alpha
        shows += (
            f" Harvest test (exact rank-sum, N = {harvest.n_probes} logged prompts): p = "
            f"{harvest_text}; "
            + (
                f"{name} favours the very answers the protected model sent to the logged accounts."
                if tie
                else f"{name} does not favour the answers sent to the logged accounts over "
                "their regenerations."
            )
        )
    does_not = (
        "This is not a probability that distillation happened. The results do not show who "
        "trained the model, when, or from which accounts; similarity can also come from "
        "shared public data, a shared base model or the protected model's outputs published "
        "on the web (limitations, Section 6)."
        if family_p is not None and family_p <= alpha
        else "An inconclusive result does not show that the model was trained independently; "
        "the checks may lack the power to detect distillation at this scale."
    )
    return ModelOpinion(
        run_id=run_id,
        model=name,
        label=ev.label if ev else "",
        role=role,
        role_text=role_text,
        checks=[c.title for c in done],
        supporting=supporting,
        family_p=family_p,
        family_p_text=fam_text,
        family_n=family_n,
        harvest_p=harvest.p_value if harvest is not None else None,
        harvest_p_text=harvest_text,
        harvest_n=harvest.n_probes if harvest is not None else None,
        alpha=alpha,
        shows=shows,
        does_not_show=does_not,
    )


def _error_rates(data: ReportData) -> str:
    if not data.calibration:
        return (
            "No calibration was run for this case: the checks' detection and false-positive "
            "rates on models like these are not measured; the p-values rest on the tests' "
            "stated assumptions."
        )
    fp = [r for r in data.calibration if r.quantity == "false_positive"]
    parts = [
        f"{r.check}: {r.k}/{r.n} independent controls flagged ({format_rate(r.rate)})"
        for r in fp
        if r.k is not None and r.n
    ]
    return "Measured false-positive rates: " + "; ".join(parts) + "." if parts else ""


def build_opinion(data: ReportData, runs_left_out: dict[str, str]) -> Opinion:
    """The opinion of a report's data (call after checks and findings are gathered)."""
    run_ids = list(dict.fromkeys(c.run_id for c in data.checks))
    models = [_model_opinion(data, r, [c for c in data.checks if c.run_id == r]) for r in run_ids]
    order = {"suspect": 0, "other party": 1, "control": 2}
    models.sort(key=lambda m: (order.get(m.role, 3), m.run_id))
    return Opinion(
        models=models,
        accepted_findings=len(data.findings_with_status("accepted")),
        drafts_left_out=len(data.findings_with_status("draft")),
        rejected_left_out=len(data.findings_with_status("rejected")),
        runs_included=run_ids,
        runs_left_out=runs_left_out,
        error_rates=_error_rates(data),
    )
