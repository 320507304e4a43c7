"""The front of the PDF: cover and identification, contents, executive summary, evidence."""

from __future__ import annotations

from reportlab.platypus import Flowable, KeepInFrame, PageBreak, Paragraph, TableStyle
from reportlab.platypus.tableofcontents import TableOfContents

from core.reports import wording
from core.reports.data import CheckRecord, EvidenceRecord, ReportData
from core.reports.formatting import (
    DASH,
    format_lineage_p,
    format_p,
    format_p_n,
    format_size,
    format_time,
    le,
)
from core.reports.pdf_layout import (
    BASE_FONT,
    MARGIN_BOTTOM,
    MARGIN_TOP,
    PAGE,
    STYLES,
    WIDTH,
    box,
    data_table,
    gap,
    hash_cell,
    heading,
    keep,
    kv_table,
    mono,
    para,
    text,
)

_VERIFIED = {"ok": "unchanged", "changed": "CHANGED", "missing": "MISSING"}


def cover(data: ReportData, content_hash: str) -> list[Flowable]:
    m, c = data.meta, data.case
    ident = kv_table(
        [
            ("Report", f"{m.report_id} (version {m.report_version} of the report on this case)"),
            ("Date (UTC)", format_time(m.generated_at)),
            ("Case reference", c.reference),
            ("Case", c.title),
            ("Parties", ", ".join(c.parties) or DASH),
            ("Commissioned by", c.commissioned_by or "not recorded"),
            ("Prepared by", m.prepared_by or "not recorded"),
            ("Conduct date", c.conduct_date or "not recorded"),
            ("Tool", f"Distill Audit {m.tool_version} (report format {m.format_version})"),
            ("Case file", m.case_file),
            ("Report content SHA-256", mono(content_hash)),
        ],
        label_width=0.26,
    )
    out: list[Flowable] = [
        para("DISTILL AUDIT  ·  FORENSIC REPORT", "cover_kicker"),
        gap(2),
        para(wording.REPORT_TITLE, "cover_title"),
        para(c.title, "cover_sub"),
        ident,
        gap(6),
        para("Questions addressed", "h3"),
    ]
    out += [
        Paragraph(text(q), STYLES["numbered"], bulletText=f"{i}.")
        for i, q in enumerate(data.questions, 1)
    ]
    sw = data.meta.software
    out += [
        para("Statement of the tool", "h3"),
        para(
            f"This report was produced by Distill Audit {m.tool_version}, an offline forensic "
            f"workbench, from the case file {m.case_file} on {format_time(m.generated_at)}. Every "
            "number, hash and quotation in it was read from that case file or recomputed from the "
            "evidence files at export; none was entered by hand. The software behind each analysis "
            "is listed in Section 3. This report was rendered with Python "
            f"{sw.get('python', '?')} and ReportLab {sw.get('reportlab', '?')} on "
            f"{sw.get('platform', '?')}."
        ),
        para(wording.CONTENT_HASH_NOTE, "small"),
    ]
    # The cover is one page whatever the number of questions: shrink to fit rather than
    # spill a last line onto an otherwise empty page 2 (frame padding is 6 pt each side).
    frame_height = PAGE[1] - MARGIN_TOP - MARGIN_BOTTOM - 12
    return [KeepInFrame(WIDTH - 12, frame_height, out, mode="shrink"), PageBreak()]


def contents() -> list[Flowable]:
    toc = TableOfContents(
        dotsMinLevel=0,
        tableStyle=TableStyle(
            [BASE_FONT, ("TOPPADDING", (0, 0), (-1, -1), 0), ("BOTTOMPADDING", (0, 0), (-1, -1), 0)]
        ),
    )
    toc.levelStyles = [STYLES["toc0"], STYLES["toc1"]]
    return [para("Contents", "h1"), toc]


def _model_names(data: ReportData, role: str) -> str:
    names = [f"{e.name} ({e.label})" for e in data.evidence if e.kind == "model" and e.role == role]
    return " " + ", ".join(names) if names else ""


def _summary_row(c: CheckRecord, with_run: bool) -> list[object]:
    title = f"{c.title} (run {c.run_id})" if with_run else c.title
    if not c.completed:
        return [title, f"not completed ({c.status})", "not assessed", DASH, DASH]
    return [
        title,
        c.verdict,
        c.strength,
        (
            format_lineage_p(c.p_value, c.results)
            if c.key == "lineage"
            else format_p_n(c.p_value, c.n_probes, c.p_floor)
        ),
        format_p(c.p_family) if c.p_family is not None else "not combined",
    ]


def executive_summary(data: ReportData) -> list[Flowable]:
    refs = [e for e in data.evidence if e.kind == "model" and e.role == "reference"]
    out = heading("1", "Executive summary", 0)
    out.append(
        para(
            f"This report examines whether the suspect model{_model_names(data, 'suspect')} was "
            f"trained on outputs of the protected model{_model_names(data, 'protected')}. "
            + (
                f"{len(refs)} reference model(s) known to be independent serve as controls. "
                if refs
                else "No reference model has been imported, so there is no control panel yet. "
            )
            + "The analysis weighs two competing hypotheses:"
        )
    )
    out.append(
        kv_table([("Hp", data.case.hypothesis_p), ("Hd", data.case.hypothesis_d)], label_width=0.08)
    )
    out.append(gap(3))
    out.append(para("What the checks found", "h3"))
    if data.checks:
        out.append(
            data_table(
                [
                    "Check",
                    "Verdict",
                    "Strength (verbal scale, Section 6)",
                    "p (N probes)",
                    "Holm across checks",
                ],
                [_summary_row(c, len({x.run_id for x in data.checks}) > 1) for c in data.checks],
                [27, 14, 29, 17, 13],
            )
        )
    else:
        out.append(box(wording.NOTES["checks"]))
    for cb in data.combined:
        out.append(gap(2))
        out.append(
            para(
                f"Combined over the {cb.tested} check(s) of run {cb.run_id} that produced "
                f"a p-value (Holm correction): {le(cb.statement)}."
                + "".join(f" {v}" for v in cb.excluded.values())
            )
        )
    if data.combined:
        out.append(para(data.combined[0].limit))
    out.append(para("Evidence, findings and contract mapping", "h3"))
    v = data.verification
    integrity = (
        "No evidence file has been imported, so none could be re-verified."
        if not v.files_checked
        else f"All {v.files_checked} evidence files were re-hashed at export and match the "
        "values recorded at import."
        if v.ok
        else f"{len(v.problems)} of {v.files_checked} evidence files no longer match the "
        "values recorded at import (Section 2)."
    )
    events = f"{data.chain.events} event" + ("s" if data.chain.events != 1 else "")
    chain = (
        f"The audit log's hash chain ({events}) is intact."
        if data.chain.ok
        else f"The audit log's hash chain is BROKEN at event {data.chain.first_broken_id}."
    )
    accepted = data.findings_with_status("accepted")
    links = [c for c in data.clause_links if c.finding_status == "accepted"]
    out.append(
        para(
            f"{integrity} {chain} Reviewers accepted {len(accepted)} finding(s) "
            f"(Section 8), linked to {len(links)} terms-of-service clause(s) (Section 7)."
        )
    )
    out.append(gap(2))
    out.append(
        box([para("Main limitation", "note_strong"), para(data.main_limitation, "note")], "warn")
    )
    out.append(gap(2))
    out.append(para(wording.P_VALUE_CAUTION, "small"))
    return out


def evidence_detail(e: EvidenceRecord) -> list[Flowable]:
    pairs: list[tuple[str, object]] = [
        ("Role", e.role),
        ("Description", f"{e.format}; {e.description}"),
        ("Source", e.source or "not recorded"),
        ("Collected by", e.collector or "not recorded"),
        ("Collected at", format_time(e.collected_at) if e.collected_at else "not recorded"),
        ("Imported", f"{format_time(e.imported_at)} by {e.imported_by}"),
        ("Location at import", mono(e.path)),
        ("SHA-256" if e.kind != "model" else "Manifest SHA-256", mono(e.sha256)),
    ]
    if e.kind == "model" and e.details.get("tokenizer_hash"):
        pairs.append(("Tokenizer hash", mono(str(e.details["tokenizer_hash"]))))
    if e.details.get("notes"):
        pairs.append(("Notes", e.details["notes"]))
    out: list[Flowable] = [*heading("", f"{e.label}  {e.name}", 2), kv_table(pairs)]
    rows = [
        [
            f.path,
            format_size(f.size),
            hash_cell(f.sha256),
            para(_VERIFIED.get(f.status, f.status), "cell_bold")
            if f.status != "ok"
            else _VERIFIED["ok"],
        ]
        for f in e.files
    ]
    out += [
        gap(1.5),
        data_table(
            ["File", "Size", "SHA-256 recorded at import", "Re-verified at export"],
            rows,
            [38, 14, 34, 14],
            mono=(0, 2),
        ),
        gap(3),
    ]
    return out


def evidence(data: ReportData, n: str = "8") -> list[Flowable]:
    out = heading(n, "Evidence and chain of custody", 0)
    out += heading(f"{n}.1", "Re-verification at export")
    v = data.verification
    if not data.evidence:
        out.append(box(wording.NOTES["evidence"]))
    elif v.ok:
        out.append(
            box(
                f"All {v.files_checked} evidence files were re-hashed on "
                f"{format_time(v.performed_at)} and match the SHA-256 values recorded "
                "when they were imported.",
                "good",
            )
        )
    else:
        rows = [
            [
                p["label"],
                p["file"],
                p["status"].upper(),
                hash_cell(p["expected"]),
                hash_cell(p["actual"]),
            ]
            for p in v.problems
        ]
        out.append(
            box(
                f"{len(v.problems)} of {v.files_checked} evidence files do not match "
                f"the values recorded at import (re-hashed {format_time(v.performed_at)}).",
                "bad",
            )
        )
        out += [
            gap(2),
            data_table(
                ["Item", "File", "Status", "Recorded", "Found"],
                rows,
                [8, 30, 12, 25, 25],
                mono=(1, 3, 4),
            ),
        ]
    if data.evidence:
        out += heading(f"{n}.2", "Inventory")
        out.append(
            data_table(
                ["Item", "Name", "Kind", "Role", "Files", "Imported (UTC)", "Re-verified"],
                [
                    [
                        e.label,
                        e.name,
                        e.kind,
                        e.role,
                        str(len(e.files)),
                        format_time(e.imported_at),
                        para(
                            _VERIFIED.get(e.verification, e.verification),
                            "cell_bold" if e.verification != "ok" else "cell",
                        ),
                    ]
                    for e in data.evidence
                ],
                [7, 27, 11, 12, 7, 21, 13],
            )
        )
    out += heading(f"{n}.3" if data.evidence else f"{n}.2", "Chain of custody: the audit log")
    ch = data.chain
    status = (
        "intact: every event links to its predecessor and its content hash matches"
        if ch.ok
        else f"BROKEN at event {ch.first_broken_id}: {ch.problem}"
    )
    out.append(
        para(
            f"Every import, analysis, review and export is recorded in the case file's append-only "
            f"audit log, in which each event stores the SHA-256 of its predecessor. At export the "
            f"chain of {ch.events} events was verified: {status}. The {len(data.audit)} events of "
            "this case are listed in Appendix C."
        )
    )
    out.append(
        keep(
            kv_table(
                [
                    (
                        "Verified chain head",
                        f"event #{ch.head_event_id}" if ch.head_event_id else "no events",
                    ),
                    ("Chain head hash", mono(ch.head_hash)),
                ]
            ),
            gap(2),
            para(
                "Exporting this report appended one further event (report.exported) recording the "
                "SHA-256 of this PDF, of the JSON bundle and the outcome of the re-verification "
                "above; it is therefore not part of the chain shown here.",
                "small",
            ),
        )
    )
    return out
