"""``case new|list|show``."""

from __future__ import annotations

import argparse
from typing import Any

from core.records import case_details
from core.store.cases import create_case, list_cases
from core.store.db import CaseFile
from core.traffic.store import check_store

from .common import emit, open_db, table


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("case", help="create, list and show cases")
    cs = p.add_subparsers(dest="case_command", required=True, metavar="ACTION")
    new = cs.add_parser("new", help="create a case")
    new.add_argument("--title", required=True)
    new.add_argument("--reference", required=True, help="unique case reference, e.g. DA-2025-001")
    new.add_argument("--party", action="append", default=[], help="a party (repeatable)")
    new.add_argument("--commissioned-by", default="")
    new.add_argument("--hp", help="wording of Hp (default: the standard wording)")
    new.add_argument("--hd", help="wording of Hd (default: the standard wording)")
    new.set_defaults(func=cmd_new)
    ls = cs.add_parser("list", help="list the cases in the case file")
    ls.set_defaults(func=cmd_list)
    show = cs.add_parser("show", help="show one case")
    show.add_argument("case", help="case id or reference")
    show.set_defaults(func=cmd_show)


def cmd_new(args: argparse.Namespace) -> int:
    with open_db(args) as cf:
        extra = {k: v for k, v in (("hypothesis_p", args.hp), ("hypothesis_d", args.hd)) if v}
        case_id = create_case(
            cf,
            args.title,
            args.reference,
            parties=args.party,
            commissioned_by=args.commissioned_by,
            **extra,
        )
        emit(
            args,
            {"id": case_id, "reference": args.reference, "case_file": str(cf.path)},
            f"Created case {case_id} ({args.reference}) in {cf.path}",
        )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    with open_db(args) as cf:
        rows = list_cases(cf)
        emit(
            args,
            [r.to_dict() for r in rows],
            table(
                [
                    [
                        r.id,
                        r.reference,
                        r.title,
                        r.status,
                        r.artifacts,
                        r.transcript_sets,
                        r.runs,
                        r.findings,
                    ]
                    for r in rows
                ],
                ["id", "reference", "title", "status", "models", "transcripts", "runs", "findings"],
            )
            if rows
            else f"No cases in {cf.path}.",
        )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    with open_db(args) as cf:
        case = case_details(cf, args.case)
        logs = log_store_line(cf)
    summary = case.summary
    data = {
        **summary.to_dict(),
        "parties": case.parties,
        "commissioned_by": case.commissioned_by,
        "hypothesis_p": case.hypothesis_p,
        "hypothesis_d": case.hypothesis_d,
    }
    text = "\n".join(
        [
            f"Case {summary.id}: {summary.title} [{summary.reference}] ({summary.status})",
            f"  Parties:        {', '.join(case.parties) or '-'}",
            f"  Commissioned by: {case.commissioned_by or '-'}",
            f"  Hp: {case.hypothesis_p}",
            f"  Hd: {case.hypothesis_d}",
            f"  Evidence: {summary.artifacts} model(s), {summary.transcript_sets} transcript "
            f"set(s), {summary.policies} polic(ies); {summary.runs} run(s), "
            f"{summary.findings} finding(s)",
        ]
    )
    if logs is not None:
        data["log_store"] = logs[0]
        text += "\n" + logs[1]
    emit(args, data, text)
    return 0


def log_store_line(cf: CaseFile) -> tuple[dict[str, Any], str] | None:
    """The case file's log store, checked on opening: missing or changed is said plainly."""
    check = check_store(cf)
    if not check.exists and check.ok:
        return None
    data = {"path": check.store_path, "ok": check.ok, "problems": check.problems}
    if check.ok:
        return data, f"  Logs: {check.store_path} (matches the case file's record of its imports)"
    return data, "\n".join(f"  Logs: PROBLEM: {p}" for p in check.problems)
