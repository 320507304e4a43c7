"""``audit verify|head|log`` and ``db upgrade``.

``audit verify`` walks the hash chain, checks every evidence record (model manifests,
transcript items) against the import event that bound it, and with ``--head FILE``
compares the chain with an anchor exported earlier by ``audit head --out FILE``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from core.errors import OutputExistsError
from core.evidence.custody import check_case_records
from core.records import audit_rows
from core.store.anchor import chain_head, check_against_head, read_head
from core.store.audit import verify_case_file_chain
from core.store.db import head_revision
from core.store.types import parse_iso

from . import signing
from .common import emit, open_db, table


def add_parser(sub: argparse._SubParsersAction) -> None:
    au = sub.add_parser("audit", help="the tamper-evident audit log")
    asub = au.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    v = asub.add_parser(
        "verify",
        help="walk the hash chain, name the first broken event, check the evidence records "
        "against their import events",
    )
    v.add_argument(
        "--head",
        metavar="FILE",
        help="an anchor exported by `audit head`: also detect truncation, recomputation "
        "and backdated events since",
    )
    v.add_argument(
        "--signed",
        metavar="HEAD.sig.json",
        help="a head signed by `audit sign`: check its signature (and time-stamp) without "
        "the case file, and the chain against it when --db is given",
    )
    v.add_argument(
        "--tsa-cert",
        metavar="CERT.pem",
        help="the time-stamping authority's (or its CA's) certificate to trust for the "
        "signed head's RFC 3161 token",
    )
    v.set_defaults(func=cmd_verify)
    signing.add_parsers(asub)
    hd = asub.add_parser(
        "head", help="export the chain's head (an anchor to keep outside the case file)"
    )
    hd.add_argument("--out", required=True, metavar="FILE", help="where to write the JSON")
    hd.add_argument("--force", action="store_true", help="replace FILE if it exists")
    hd.set_defaults(func=cmd_head)
    lg = asub.add_parser("log", help="print the audit events (of one case with --case)")
    lg.add_argument("--case")
    lg.set_defaults(func=cmd_log)
    db = sub.add_parser("db", help="case-file maintenance")
    dsub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = dsub.add_parser("upgrade", help="upgrade the case file to this version's schema")
    up.set_defaults(func=cmd_upgrade)


def cmd_verify(args: argparse.Namespace) -> int:
    if getattr(args, "signed", None):
        return signing.cmd_verify_signed(args)
    head = read_head(Path(args.head)) if getattr(args, "head", None) else None
    with open_db(args) as cf:
        report = verify_case_file_chain(cf)
        with cf.read_session() as s:
            records = check_case_records(s)
            anchored = check_against_head(s, head) if head is not None else []
    altered = [r for r in records if not r.ok]
    ok = report.ok and not altered and not anchored
    lines = [
        f"Audit chain intact: {report.events} event(s), head {report.head_hash}."
        if report.ok
        else f"AUDIT CHAIN BROKEN at event {report.first_broken_id}: {report.problem}."
    ]
    lines += [
        f"RECORD ALTERED: {r.label()}: {d.subject}: {d.what}"
        for r in altered
        for d in r.differences
    ]
    if not altered:
        lines.append(
            f"All {len(records)} evidence record(s) match the import events that bound them."
        )
    lines += [f"NOTE: {n}" for r in records for n in r.notes]
    if head is not None:
        lines += [f"ANCHOR {p.kind.upper()}: {p.message}." for p in anchored]
        if not anchored:
            lines.append(
                f"Consistent with the anchor {args.head} (event {head.event_id}, "
                f"{head.events} event(s), taken {head.exported_at})."
            )
    data = {
        **report.to_dict(),
        "ok": ok,
        "chain_ok": report.ok,
        "records_ok": not altered,
        "records": [r.to_dict() for r in records if not r.ok or r.notes],
        "anchor": None
        if head is None
        else {
            "file": str(args.head),
            **head.to_dict(),
            "problems": [p.to_dict() for p in anchored],
        },
    }
    emit(args, data, "\n".join(lines))
    return 0 if ok else 1


def cmd_head(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.exists() and not args.force:
        raise OutputExistsError(f"{out} already exists; give --force to replace it.")
    with open_db(args) as cf, cf.read_session() as s:
        head = chain_head(s, cf.path)
    out.write_text(json.dumps(head.to_dict(), indent=2) + "\n", encoding="utf-8")
    emit(
        args,
        {"file": str(out), **head.to_dict()},
        f"Wrote the audit chain's head to {out}: event {head.event_id}, {head.events} "
        f"event(s), hash {head.hash}. Keep it outside the case file; "
        f"`audit verify --head {out}` checks the chain against it.",
    )
    return 0


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
