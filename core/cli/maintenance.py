"""``audit verify|log`` and ``db upgrade``."""

from __future__ import annotations

import argparse
from typing import Any

from core.records import audit_rows
from core.store.audit import verify_case_file_chain
from core.store.db import head_revision
from core.store.types import parse_iso

from .common import emit, open_db, table


def add_parser(sub: argparse._SubParsersAction) -> None:
    au = sub.add_parser("audit", help="the tamper-evident audit log")
    asub = au.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    v = asub.add_parser("verify", help="walk the hash chain and name the first broken event")
    v.set_defaults(func=cmd_verify)
    lg = asub.add_parser("log", help="print the audit events (of one case with --case)")
    lg.add_argument("--case")
    lg.set_defaults(func=cmd_log)
    db = sub.add_parser("db", help="case-file maintenance")
    dsub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = dsub.add_parser("upgrade", help="upgrade the case file to this version's schema")
    up.set_defaults(func=cmd_upgrade)


def cmd_verify(args: argparse.Namespace) -> int:
    with open_db(args) as cf:
        report = verify_case_file_chain(cf)
    text = (
        f"Audit chain intact: {report.events} event(s), head {report.head_hash}."
        if report.ok
        else f"AUDIT CHAIN BROKEN at event {report.first_broken_id}: {report.problem}."
    )
    emit(args, report.to_dict(), text)
    return 0 if report.ok else 1


def _at(text: str) -> str:
    """The event time as ``audit log`` has always printed it (ISO with +00:00)."""
    dt = parse_iso(text)
    return dt.isoformat() if dt else text


def cmd_log(args: argparse.Namespace) -> int:
    with open_db(args) as cf:
        events = audit_rows(cf, args.case or None)
    rows: list[dict[str, Any]] = [
        {
            "id": e.id,
            "at": _at(e.at),
            "actor": e.actor,
            "case_id": e.case_id,
            "action": e.action,
            "entity": e.entity,
            "entity_id": e.entity_id,
            "hash": e.hash,
        }
        for e in events
    ]
    emit(
        args,
        rows,
        table(
            [
                [
                    r["id"],
                    r["at"][:19],
                    r["actor"],
                    r["action"],
                    f"{r['entity']} {r['entity_id'] or ''}",
                    r["hash"][:12],
                ]
                for r in rows
            ],
            ["#", "at (UTC)", "actor", "action", "entity", "hash"],
        ),
    )
    return 0


def cmd_upgrade(args: argparse.Namespace) -> int:
    with open_db(args) as cf:
        backup = cf.backup_path
        rev = cf.revision()
    text = f"{cf.path} is at schema {rev} (latest {head_revision()})."
    if backup:
        text += f" The previous version was backed up to {backup}."
    emit(
        args,
        {"path": str(cf.path), "revision": rev, "backup": str(backup) if backup else None},
        text,
    )
    return 0
