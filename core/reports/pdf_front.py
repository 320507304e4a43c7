"""Contents and the evidence section of the PDF (inventory, re-verification, custody)."""

from __future__ import annotations

from reportlab.platypus import Flowable, TableStyle
from reportlab.platypus.tableofcontents import TableOfContents

from core.reports import wording
from core.reports.data import EvidenceRecord, ReportData
from core.reports.formatting import (
    format_size,
    format_time,
)
from core.reports.pdf_layout import (
    BASE_FONT,
    STYLES,
    box,
    data_table,
    gap,
    hash_cell,
    heading,
    keep,
    kv_table,
    mono,
    para,
)

_VERIFIED = {"ok": "unchanged", "changed": "CHANGED", "missing": "MISSING"}


def contents() -> list[Flowable]:
    toc = TableOfContents(
        dotsMinLevel=0,
        tableStyle=TableStyle(
            [BASE_FONT, ("TOPPADDING", (0, 0), (-1, -1), 0), ("BOTTOMPADDING", (0, 0), (-1, -1), 0)]
        ),
    )
    toc.levelStyles = [STYLES["toc0"], STYLES["toc1"]]
    return [para("Contents", "h1"), toc]


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
