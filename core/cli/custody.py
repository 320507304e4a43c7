"""Custody-from-the-source flags of the import commands, and ``evidence custody ITEM``."""

from __future__ import annotations

import argparse

from core.errors import DistillAuditError
from core.evidence.source_custody import (
    COLLECTION_METHODS,
    FIELDS,
    SourceCustody,
    parse_item,
    parse_transfer,
    update_custody,
)

from .common import emit, open_db


def add_custody_args(p: argparse.ArgumentParser) -> None:
    """The optional custody fields every import command takes."""
    g = p.add_argument_group("custody from the source (optional; completable later)")
    g.add_argument("--produced-by", default="", help="who produced the item (party, person)")
    g.add_argument("--collected-at", default="", metavar="ISO-8601", help="when it was collected")
    g.add_argument("--collection-method", default="", choices=("", *COLLECTION_METHODS))
    g.add_argument("--production-no", default="", help="production (Bates) number")
    g.add_argument(
        "--source-sha256", default="", help="the SHA-256 the producer stated for the item"
    )
    g.add_argument(
        "--transfer",
        action="append",
        default=[],
        metavar="from=A;to=B;at=DATE;how=H",
        help="a transfer of the item before import (repeatable)",
    )
    g.add_argument(
        "--accept-hash-mismatch",
        action="store_true",
        help="import even when --source-sha256 differs from the hash on receipt, "
        "recording the discrepancy (default: refuse and import nothing)",
    )


def custody_from_args(args: argparse.Namespace) -> SourceCustody:
    return SourceCustody(
        produced_by=args.produced_by,
        collected_at=args.collected_at,
        collection_method=args.collection_method,
        production_no=args.production_no,
        source_sha256=args.source_sha256,
        transfers=[parse_transfer(t) for t in args.transfer],
        accept_mismatch=args.accept_hash_mismatch,
    )


def add_custody_command(esub: argparse._SubParsersAction) -> None:
    c = esub.add_parser(
        "custody",
        help="complete or correct an item's custody from the source (each change audited)",
    )
    c.add_argument("item", metavar="KIND:ID", help="model:3, transcripts:2 or policy:1")
    c.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help=f"set a field ({', '.join(FIELDS)}); repeatable",
    )
    c.add_argument(
        "--add-transfer", action="append", default=[], metavar="from=A;to=B;at=DATE;how=H"
    )
    c.add_argument("--accept-hash-mismatch", action="store_true")
    c.set_defaults(func=cmd_custody)


def cmd_custody(args: argparse.Namespace) -> int:
    kind, item_id = parse_item(args.item)
    changes: dict[str, str] = {}
    for pair in args.set:
        name, sep, value = pair.partition("=")
        if not sep:
            raise DistillAuditError(f"--set {pair!r}: write FIELD=VALUE.")
        changes[name.strip()] = value
    transfers = [parse_transfer(t) for t in args.add_transfer]
    with open_db(args) as cf:
        record = update_custody(
            cf,
            kind,
            item_id,
            changes,
            add_transfers=transfers,
            accept_mismatch=args.accept_hash_mismatch,
        )
    lines = [f"Custody of {kind} {item_id}:"]
    lines += [f"  {k}: {record[k] or '—'}" for k in (*FIELDS, "receipt_sha256")]
    if record["discrepancy"]:
        lines.append(f"  DISCREPANCY: {record['discrepancy']}")
    lines += [
        f"  transfer: {t['from']} → {t['to']} at {t['at']}" + (f" ({t['how']})" if t["how"] else "")
        for t in record["transfers"]
    ]
    emit(args, {"item_kind": kind, "item_id": item_id, **record}, "\n".join(lines))
    return 0
