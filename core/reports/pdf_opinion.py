"""Page one of the PDF (the opinion), the examiner's declarations and the terms in force.

Everything here is read from ``ReportData.opinion``, ``examiner`` and ``terms_in_force``,
which the JSON bundle holds too; a blank the examiner must complete is printed as such.
"""

from __future__ import annotations

from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable, Paragraph, Table, TableStyle

from core.reports import wording
from core.reports.data import ModelOpinion, ReportData, TermsInForce
from core.reports.formatting import DASH, format_time
from core.reports.pdf_layout import (
    BASE_FONT,
    INK,
    SANS,
    STYLES,
    WIDTH,
    box,
    data_table,
    gap,
    hash_cell,
    heading,
    kv_table,
    lines,
    para,
    text,
)


def _blank(value: str) -> str:
    return value.strip() or wording.TO_COMPLETE


def _model_block(m: ModelOpinion) -> list[Flowable]:
    title = f"{m.model} ({m.label}, run {m.run_id}): {m.role_text}"
    return [
        para(title, "h3"),
        Paragraph(
            f"<b>Tested:</b> {text(', '.join(m.checks) or 'no check produced a result')}.",
            STYLES["body"],
        ),
        Paragraph(f"<b>What the results show:</b> {text(m.shows)}", STYLES["body"]),
        Paragraph(f"<b>What they do not show:</b> {text(m.does_not_show)}", STYLES["body"]),
    ]


def _terms_sentence(t: TermsInForce) -> str:
    cited = "; ".join(
        f"clause {c.number} ({', '.join(c.category_labels) or 'no category'})" for c in t.clauses
    )
    return (
        f"{t.provider}, {t.document}, version {t.version} (in force from "
        f"{t.effective_from or '?'}{' to ' + t.effective_to if t.effective_to else ''}) was in "
        f"force on the conduct date {t.conduct_date}. Clauses on the conduct examined: "
        f"{cited or 'none tagged'} (quoted in full in Section 3)."
    )


def opinion(data: ReportData) -> list[Flowable]:
    """Section 1: the opinion, in plain words, one block per model under test."""
    op = data.opinion
    m, c = data.meta, data.case
    out: list[Flowable] = [
        para("DISTILL AUDIT  ·  EXPERT REPORT", "cover_kicker"),
        para(f"{wording.REPORT_TITLE}: {c.title}", "cover_title"),
        para(
            f"Report {m.report_id}  ·  case {c.reference}  ·  {format_time(m.generated_at)}  ·  "
            f"examiner: {_blank(data.examiner.name)}  ·  prepared by: "
            f"{m.prepared_by or 'not recorded'}",
            "small",
        ),
        gap(2),
        *heading("1", "Opinion", 0),
    ]
    if op is None or not op.models:
        out.append(box(wording.NOTES["checks"], "warn"))
        return out
    out.append(
        para(
            f"Question: was the suspect model trained on outputs of the protected model"
            f"{_protected(data)} (Hp), or independently of them (Hd)? Each model below was "
            f"tested against {_panel(data)} independent reference models, which serve as "
            "controls."
        )
    )
    for mo in op.models:
        out += _model_block(mo)
    out.append(para("Error rates", "h3"))
    out.append(
        para(
            "Each p-value states how often a result at least this extreme would occur if the "
            "model were an independent model like the references (null hypothesis Hd). "
            + op.error_rates
        )
    )
    if data.terms_in_force:
        out.append(para("Terms in force on the conduct date", "h3"))
        out += [para(_terms_sentence(t)) for t in data.terms_in_force]
        out.append(para(wording.LEGAL_CONCLUSIONS, "small"))
    left = []
    if op.drafts_left_out:
        left.append(f"{op.drafts_left_out} draft finding(s) not yet reviewed")
    if op.rejected_left_out:
        left.append(f"{op.rejected_left_out} rejected finding(s)")
    left += [f"run {r} ({why})" for r, why in op.runs_left_out.items()]
    out.append(
        para(
            f"Reviewed findings: {op.accepted_findings} accepted (Section 7). Left out of this "
            "opinion: " + ("; ".join(left) if left else "nothing") + ".",
            "small",
        )
    )
    return out


def _protected(data: ReportData) -> str:
    names = [e.name for e in data.evidence if e.kind == "model" and e.role == "protected"]
    return f" {', '.join(names)}" if names else ""


def _panel(data: ReportData) -> int:
    return sum(1 for e in data.evidence if e.kind == "model" and e.role == "reference")


def declarations(data: ReportData) -> list[Flowable]:
    """Section 2: examiner, instructions, materials, independence, signature block."""
    ex = data.examiner
    out = heading("2", "The examiner, instructions and materials", 0)
    out.append(
        kv_table(
            [
                ("Examiner", _blank(ex.name)),
                ("Qualifications", _blank(ex.qualifications)),
                ("Organisation", _blank(ex.organisation)),
                ("Instructed by", data.case.commissioned_by or wording.TO_COMPLETE),
                ("Instructions received", _blank(ex.instructions)),
                ("Parties", ", ".join(data.case.parties) or DASH),
                ("Conduct date examined", data.case.conduct_date or "not recorded"),
            ]
        )
    )
    out.append(para("Materials considered", "h3"))
    out.append(
        data_table(
            ["Item", "Material", "Role", "SHA-256 (Appendix A)"],
            [[e.label, e.name, e.role, hash_cell(e.sha256)] for e in data.evidence],
            [8, 38, 16, 38],
            mono=(3,),
        )
        if data.evidence
        else box(wording.NOTES["evidence"])
    )
    out.append(gap(2))
    out.append(para("Statement of independence", "h3"))
    out.append(para(ex.independence.strip() or wording.INDEPENDENCE))
    out.append(para("Statement of truth and signature", "h3"))
    out.append(
        para(
            "I confirm that I have made clear which facts and matters referred to in this report "
            "are within my own knowledge and which are not. Those within my own knowledge I "
            "confirm to be true; the opinions I have expressed represent my true and complete "
            "professional opinions on the matters to which they refer."
        )
    )
    blank = [
        [para(label, "cell_bold"), value]
        for label, value in (
            ("Name", ex.name),
            ("Signature", ""),
            ("Date", ""),
            ("Place", ""),
        )
    ]
    t = Table(
        blank,
        colWidths=[WIDTH * 0.22, WIDTH * 0.6],
        rowHeights=[11 * mm] * len(blank),
        hAlign="LEFT",
    )
    t.setStyle(
        TableStyle(
            [
                BASE_FONT,
                ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                ("LINEBELOW", (1, 0), (1, -1), 0.6, INK),
                ("FONT", (1, 0), (1, -1), SANS, 9),
            ]
        )
    )
    out.append(t)
    return out


def terms(data: ReportData) -> list[Flowable]:
    """Section 3: per conduct date, the version in force and its clauses quoted in full."""
    out = heading("3", "Terms of service in force and the clauses concerned", 0)
    out.append(para(wording.LEGAL_NOTE))
    if not data.terms_in_force:
        out.append(
            box(
                "No conduct date is recorded or no terms of service were imported, so no version "
                "in force can be named. " + wording.NOTES["clauses"]
            )
        )
        return out
    for t in data.terms_in_force:
        out.append(CondPageBreak(45 * mm))
        out.append(
            para(
                f"{t.provider}: {t.document}, version {t.version} ({t.policy_label}), in force "
                f"on {t.conduct_date}; versions in the case: {', '.join(t.versions_considered)}.",
                "h3_flow",
            )
        )
        rows = [
            [
                lines((c.number, "bold"), (c.heading, "plain")),
                Paragraph(text(f"“{c.text}”"), STYLES["cell"]),
                lines((", ".join(c.category_labels) or "none tagged", "plain")),
                ", ".join(str(i) for i in c.finding_ids) or "none accepted",
            ]
            for c in t.clauses
        ]
        out.append(
            data_table(
                ["Clause", "Verbatim text (version in force)", "Category", "Linked finding"],
                rows,
                [13, 57, 18, 12],
            )
            if rows
            else box("No clause of this version is tagged with a category of the conduct.")
        )
    if not [c for c in data.clause_links if c.finding_status == "accepted"]:
        out.append(box(wording.NOTES["clauses"]))
    out.append(gap(2))
    out.append(para(wording.LEGAL_CONCLUSIONS, "small"))
    return out
