"""The back of the PDF: reviewed findings and the appendices (hashes, runs, audit log, ...)."""

from __future__ import annotations

from reportlab.platypus import Flowable, Paragraph

from core.reports import wording
from core.reports.data import ClauseLinkRecord, FindingRecord, ReportData
from core.reports.formatting import DASH, compact, format_time
from core.reports.pdf_layout import (
    STYLES,
    box,
    data_table,
    heading,
    lines,
    mono,
    para,
    text,
)


def _finding_cell(f: FindingRecord) -> Flowable:
    return lines(
        (f.statement, "plain"),
        (f"Reviewer's note: {f.reviewer_notes}" if f.reviewer_notes else "", "small"),
    )


def _clause_refs(f: FindingRecord, links: dict[int, ClauseLinkRecord]) -> str:
    refs = [
        f"{links[i].provider} {links[i].clause_number}" for i in f.clause_link_ids if i in links
    ]
    return "; ".join(refs) or DASH


def findings(data: ReportData, number: str = "7") -> list[Flowable]:
    out = heading(number, "Findings as reviewed", 0)
    accepted = data.findings_with_status("accepted")
    out.append(
        para(
            "Findings are statements drafted from the results and reviewed by a person; only those "
            "a reviewer accepted are listed here. Rejected findings and drafts not yet reviewed "
            "are listed in Appendix F with the reviewer's notes."
        )
    )
    if not accepted:
        out.append(box(wording.NOTES["findings"]))
        return out
    links = {c.id: c for c in data.clause_links}
    rows = [
        [
            str(f.id),
            _finding_cell(f),
            para(f.strength or DASH, "cell"),
            f.reviewer or DASH,
            ", ".join(str(r) for r in f.run_ids) or DASH,
            _clause_refs(f, links),
        ]
        for f in accepted
    ]
    out.append(
        data_table(
            ["#", "Finding", "Strength", "Reviewer", "Runs", "Clauses"],
            rows,
            [5, 47, 17, 11, 7, 13],
        )
    )
    return out


def hash_list(data: ReportData, content_hash: str) -> list[Flowable]:
    out = heading("A.2", "Hash list")
    out.append(
        para(
            "SHA-256 of every evidence file as recorded at import (Section 8 gives the "
            "re-verification at export)."
        )
    )
    rows = [[e.label, f.path, f.sha256] for e in data.evidence for f in e.files]
    if rows:
        out.append(data_table(["Item", "File", "SHA-256"], rows, [7, 33, 60], mono=(1, 2)))
    else:
        out.append(box(wording.NOTES["evidence"]))
    out += heading("A.3", "Report content hash")
    out += [para(wording.CONTENT_HASH_NOTE), mono(content_hash, "mono")]
    return out


def audit_log(data: ReportData) -> list[Flowable]:
    out = heading("C", "Audit log of the case", 0)
    out.append(
        para(
            f"All {len(data.audit)} audit events recorded for this case, oldest first. The chain "
            f"over the whole case file ({data.chain.events} events) was verified at export; its "
            f"head is event #{data.chain.head_event_id or 0}."
        )
    )
    # One entry per event, details in full: a paragraph (unlike a table cell) can run on
    # over pages, so a long event (a run's probe list) is printed whole, never cut.
    for e in data.audit:
        entity = f"{e.entity} {e.entity_id or ''}".strip()
        out.append(
            Paragraph(
                f"<b>#{e.id}</b>  {text(format_time(e.at))}  ·  {text(e.actor)}  ·  "
                f"<b>{text(e.action)}</b>  {text(entity)}",
                STYLES["audit_head"],
            )
        )
        out.append(mono(f"event hash {e.hash}  ·  previous {e.prev_hash}", "mono"))
        if e.details:
            out.append(mono(compact(e.details, None), "mono"))
    return out


def reproduction(data: ReportData) -> list[Flowable]:
    out = heading("D", "Reproduction commands", 0)
    out.append(
        para(
            "The calls below repeat the verification and the analyses with the same seeds and "
            "settings. 'recorded': the call stored with the run; 'reconstructed': the call rebuilt "
            "from the settings and inputs the run recorded; 'parameters': the run's recorded "
            "parameters where no command line applies. Paths are those recorded at import."
        )
    )
    rows = [[s.label, s.command, s.source] for s in data.reproduction]
    out.append(data_table(["Step", "Command", "Kind"], rows, [31, 54, 15], mono=(1,)))
    return out


def glossary(data: ReportData) -> list[Flowable]:
    out = heading("E", "Glossary", 0)
    out.append(
        data_table(
            ["Term", "Meaning"],
            [[para(g["term"], "cell_bold"), g["definition"]] for g in data.glossary],
            [22, 78],
        )
    )
    return out


def not_adopted(data: ReportData) -> list[Flowable]:
    out = heading("F", "Findings not adopted", 0)
    rest = [f for f in data.findings if f.status != "accepted"]
    if not rest:
        out.append(box("Every finding of this case was accepted by a reviewer."))
        return out
    out.append(
        para(
            "Rejected findings, with the reviewer's note, and drafts not yet reviewed. "
            "They are not part of the report's findings."
        )
    )
    rows = [
        [
            str(f.id),
            lines((f.status, "bold")),
            f.statement,
            f.reviewer or DASH,
            f.reviewer_notes or DASH,
        ]
        for f in rest
    ]
    out.append(
        data_table(
            ["#", "Status", "Finding", "Reviewer", "Reviewer's note"], rows, [5, 10, 45, 12, 28]
        )
    )
    return out


def evidence_items(data: ReportData, content_hash: str) -> list[Flowable]:
    """Appendix A: every item of evidence with its files and hashes, in full."""
    from core.reports.pdf_front import evidence_detail

    out = heading("A", "Evidence items and file hashes", 0)
    out += heading("A.1", "Items of evidence")
    if not data.evidence:
        out.append(box(wording.NOTES["evidence"]))
    for e in data.evidence:
        out += evidence_detail(e)
    return out + hash_list(data, content_hash)


def _full(value: object) -> str:
    return compact(value, None)


def run_parameters(data: ReportData) -> list[Flowable]:
    """Appendix B: seed, parameters, software and timing of every run in the report, in full."""
    out = heading("B", "Runs: parameters, software and per-reference comparisons", 0)
    out += heading("B.1", "Parameters and software of each run")
    out.append(
        para(
            "Every setting each run recorded, unabridged (JSON, keys sorted); the probe lists are "
            "in the JSON bundle."
        )
    )
    # One entry per run, its parameters in full paragraphs: a table row never splits, and a
    # run with a long probe list is taller than a page (the demo's runs are).
    seen: set[int] = set()
    entries: list[tuple[str, str, object, object]] = []
    for c in data.checks:
        if c.run_id in seen:
            continue
        seen.add(c.run_id)
        when = f"; started {format_time(c.started_at)}; finished {format_time(c.finished_at)}"
        head = f"{c.kind}, {c.status}; seed {c.seed if c.seed is not None else 'none'}{when}"
        entries.append((str(c.run_id), head, c.parameters, c.software))
    for r in data.calibration_runs + data.experiments:
        entries.append(
            (str(r.run_id), f"{r.kind}, {r.status}; seed {r.seed}", r.parameters, r.software)
        )
    for run_id, head, params, software in entries:
        out.append(Paragraph(f"<b>Run {run_id}</b>  {text(head)}", STYLES["audit_head"]))
        out.append(mono("Parameters: " + (_full(params) if params else "none recorded"), "mono"))
        out.append(mono("Software: " + (_full(software) if software else "not recorded"), "mono"))
    if not entries:
        out.append(box("No run is part of this report."))
    return out
