"""``report``: export a case's forensic report (PDF, optional JSON bundle and CSV tables)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from core.errors import DistillAuditError
from core.reports.data import ExaminerDetails

from .common import emit, open_db, progress


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="export the forensic report of a case",
        description="Export the report (PDF) of a case, optionally with the "
        "machine-readable JSON bundle and CSV tables. The export is recorded "
        "in the audit log with the SHA-256 of every file written.",
    )
    # Also accepted after the command name: distill-audit report --db CASEFILE ...
    p.add_argument(
        "--db",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="case file (as the global --db option)",
    )
    p.add_argument("--case", required=True, help="case id or reference")
    p.add_argument("--out", required=True, metavar="REPORT.pdf", help="the PDF to write")
    p.add_argument(
        "--json",
        dest="bundle",
        metavar="BUNDLE.json",
        help="also write the JSON bundle (validates against "
        "resources/schemas/report_bundle.schema.json)",
    )
    p.add_argument(
        "--csv", dest="csv_dir", metavar="FOLDER", help="also write the CSV tables into this folder"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace the PDF, JSON bundle or CSV tables if they already exist "
        "(default: refuse and write nothing)",
    )
    p.add_argument(
        "--prepared-by",
        default=None,
        help="name printed as the report's author (default: your user name)",
    )
    p.add_argument(
        "--generated-at",
        default=None,
        metavar="ISO-8601",
        help="fix the report's date (UTC), e.g. 2025-11-03T12:00:00Z, to re-export "
        "a byte-identical report from the same case-file state",
    )
    p.add_argument(
        "--runs",
        default=None,
        metavar="1,3",
        help="the check runs the report covers, by id (default: every completed run that no "
        "later run on the same model supersedes)",
    )
    p.add_argument("--examiner", default="", help="the examiner's name (page one, signature)")
    p.add_argument("--qualifications", default="", help="the examiner's qualifications, one line")
    p.add_argument("--organisation", default="", help="the examiner's organisation")
    p.add_argument("--instructions", default="", help="the instructions received, in brief")
    p.add_argument(
        "--examiner-file",
        default=None,
        metavar="EXAMINER.yaml",
        help="YAML with name, qualifications, organisation, instructions, independence "
        "(flags given as well take precedence)",
    )
    p.set_defaults(func=cmd_report)


def _runs(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        return [int(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError as exc:
        raise DistillAuditError(
            f"--runs {text!r} is not a list of run ids (e.g. --runs 1,3)."
        ) from exc


def _examiner(args: argparse.Namespace) -> ExaminerDetails:
    from core.reports.examiner import load_examiner

    base = load_examiner(args.examiner_file) if args.examiner_file else ExaminerDetails()
    for name in ("examiner", "qualifications", "organisation", "instructions"):
        value = getattr(args, name, "") or ""
        if value:
            setattr(base, "name" if name == "examiner" else name, value)
    return base


def _parse_when(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise DistillAuditError(
            f"--generated-at {text!r} is not an ISO-8601 date and time (e.g. 2025-11-03T12:00:00Z)."
        ) from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def cmd_report(args: argparse.Namespace) -> int:
    from core.reports.export import export_report

    when = _parse_when(args.generated_at)
    with open_db(args) as cf, progress(args, "Exporting report") as state:
        result = export_report(
            cf,
            args.case,
            args.out,
            json_path=args.bundle,
            csv_dir=args.csv_dir,
            generated_at=when,
            prepared_by=args.prepared_by,
            state=state,
            overwrite=args.force,
            runs=_runs(args.runs),
            examiner=_examiner(args),
        )
    lines = [
        f"Wrote report {result.report_id} ({result.pages} pages) to {result.pdf_path}",
        f"  PDF SHA-256:            {result.pdf_sha256}",
        f"  Report content SHA-256: {result.content_sha256}",
    ]
    if result.json_path:
        lines.append(f"  JSON bundle:            {result.json_path} ({result.json_sha256})")
    if result.csv_files:
        lines.append(f"  CSV tables:             {len(result.csv_files)} file(s) in {args.csv_dir}")
    lines.append(f"  Recorded as audit event #{result.audit_event_id} (report.exported).")
    emit(args, result.to_dict(), "\n".join(lines))
    if not result.evidence_ok:
        print(
            "distill-audit: warning: some evidence files no longer match their recorded "
            "hashes; the report says which (Section 2).",
            file=sys.stderr,
        )
    if not result.chain_ok:
        print(
            "distill-audit: warning: the audit chain is broken; the report says where.",
            file=sys.stderr,
        )
    return 0
