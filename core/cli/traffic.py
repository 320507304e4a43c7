"""``traffic import|show``: provider request logs in the case file's log store.

Each subcommand is one ``_add_<name>`` function registered in :data:`SUBCOMMANDS`; a new
one (``traffic campaigns``, ``traffic export-harvest``) is one more function and one
more entry there.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from core.traffic.import_logs import ImportReport, import_logs
from core.traffic.store import StoreSummary, describe_store

from .common import emit, open_db, progress, table


def _json_flag(p: argparse.ArgumentParser) -> None:
    # SUPPRESS: without the flag here, the top-level --json (before the group) still counts.
    p.add_argument(
        "--json",
        dest="json_output",
        action="store_true",
        default=argparse.SUPPRESS,
        help="machine-readable JSON on stdout",
    )


def _add_import(ts: argparse._SubParsersAction) -> None:
    p = ts.add_parser(
        "import",
        help="import API request logs (JSONL, CSV, Parquet; .gz too) into the log store",
    )
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument(
        "--mapping", metavar="FILE", help="column mapping (YAML; default: OpenAI-style logs)"
    )
    p.add_argument("--case", help="file the import under this case (id or reference)")
    _json_flag(p)
    p.set_defaults(func=cmd_import)


def _add_show(ts: argparse._SubParsersAction) -> None:
    p = ts.add_parser("show", help="what the log store holds, and whether it is intact")
    _json_flag(p)
    p.set_defaults(func=cmd_show)


SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_add_import, _add_show]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("traffic", help="provider API request logs: import and inspect")
    ts = p.add_subparsers(dest="traffic_command", required=True, metavar="ACTION")
    for add in SUBCOMMANDS:
        add(ts)


def cmd_import(args: argparse.Namespace) -> int:
    with open_db(args) as cf, progress(args, "Importing logs") as state:
        report = import_logs(cf, args.files, args.mapping, state, case=args.case)
    emit(args, report.to_dict(), import_text(report))
    return 0


def import_text(report: ImportReport) -> str:
    lines = [
        f"Imported {report.rows_accepted:,} request(s) from {len(report.files)} file(s) into "
        f"{report.store_path} (mapping {report.mapping_name}); "
        f"{report.rows_rejected:,} line(s) rejected."
    ]
    for f in report.files:
        lines.append(
            f"  {f.path} ({f.format}, sha256 {f.sha256[:16]}…): {f.rows_accepted:,} accepted, "
            f"{f.rows_rejected:,} rejected of {f.rows_read:,}"
        )
        lines += [f"    {n:,} × {reason}" for reason, n in f.rejects_by_reason.items()]
        lines += [f"    line {r.line}: {r.detail}" for r in f.sample_rejects[:5]]
    lines += [f"  NOTE: {w}" for w in report.warnings]
    return "\n".join(lines)


def cmd_show(args: argparse.Namespace) -> int:
    with open_db(args) as cf:
        summary = describe_store(cf)
    emit(args, summary.to_dict(), show_text(summary))
    return 0 if summary.ok else 1


def show_text(s: StoreSummary) -> str:
    if not s.files and not s.exists:
        return "No logs imported yet (distill-audit traffic import FILE…)."
    lines = [
        f"Log store {s.store_path}: {s.rows:,} request(s) from {s.accounts:,} account(s), "
        f"{s.first_request or '–'} to {s.last_request or '–'}.",
        table(
            [
                [f.path, f.sha256[:16] + "…", f"{f.rows_accepted:,}", f"{f.rows_rejected:,}"]
                for f in s.files
            ],
            ["file", "sha256", "accepted", "rejected"],
        ),
        "Fields present: " + (", ".join(s.fields_present) or "none"),
        "Fields missing: " + (", ".join(s.fields_missing) or "none"),
    ]
    if s.rejects_by_reason:
        lines.append(
            "Rejected lines: " + "; ".join(f"{r}: {n:,}" for r, n in s.rejects_by_reason.items())
        )
    lines += [f"  PROBLEM: {p}" for p in s.problems]
    if s.problems:
        lines.append("The log store does not match what the case file recorded at import.")
    return "\n".join(lines)
