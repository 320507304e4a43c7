"""Custody from the source: where an evidence item came from before it reached the case.

Per item (a model artifact, a transcript set or a policy): who produced it, when and how
it was collected (production by a party, download, capture, forensic image, other), its
production (Bates) number, the SHA-256 the producer stated ("hash at source") against
the hash computed on import ("hash on receipt"), and a transfer log ({from, to, at, how}).

A stated hash that differs from the hash on receipt means the item received is not the
item the producer described. That is refused at import (:class:`SourceHashMismatchError`,
nothing written), because a silent import would put an item of unknown origin under the
case's custody. When the examiner must work with what was received anyway (the producer
hashed an archive, say, not the files inside), ``accept_mismatch`` records the difference
as a ``discrepancy`` that the evidence list and the report show, instead of refusing.

The record is written in the import's own transaction (:func:`record_at_import`) and
completed later by a reviewer (:func:`update_custody`); every change is an audit event
(``custody.recorded``, ``custody.updated``, ``custody.transfer_added``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import DistillAuditError, EvidenceError, NotFoundError
from core.store import audit
from core.store.db import CaseFile
from core.store.models import CustodyRecord, ModelArtifact, Policy, TranscriptSet

COLLECTION_METHODS = ("production", "download", "capture", "forensic_image", "other")
ITEM_KINDS = ("model", "transcripts", "policy")
FIELDS = ("produced_by", "collected_at", "collection_method", "production_no", "source_sha256")
_SHA = re.compile(r"^[0-9a-f]{64}$")


class SourceHashMismatchError(EvidenceError):
    """The hash the producer stated is not the hash of what was received."""


@dataclass
class SourceCustody:
    """What the examiner knows of an item's custody before import (all optional)."""

    produced_by: str = ""
    collected_at: str = ""
    collection_method: str = ""
    production_no: str = ""
    source_sha256: str = ""
    transfers: list[dict[str, str]] = field(default_factory=list)
    accept_mismatch: bool = False

    def is_empty(self) -> bool:
        return not any(getattr(self, f) for f in FIELDS) and not self.transfers

    def normalised(self) -> SourceCustody:
        """Validated copy; DistillAuditError naming the field that is not acceptable."""
        values = {f: normalise_field(f, getattr(self, f)) for f in FIELDS}
        return SourceCustody(
            **values,
            transfers=[normalise_transfer(t) for t in self.transfers],
            accept_mismatch=self.accept_mismatch,
        )


def normalise_field(name: str, value: str) -> str:
    """One field's value, checked: a method from the list, an ISO date, a SHA-256."""
    value = (value or "").strip()
    if name not in FIELDS:
        raise DistillAuditError(
            f"{name!r} is not a custody field; choose one of {', '.join(FIELDS)}."
        )
    if not value:
        return ""
    if name == "collection_method":
        value = value.lower().replace(" ", "_").replace("-", "_")
        if value not in COLLECTION_METHODS:
            raise DistillAuditError(
                f"Collection method {value!r} is not one of {', '.join(COLLECTION_METHODS)}."
            )
    elif name == "collected_at":
        _iso_date(value, "collected_at")
    elif name == "source_sha256":
        value = value.lower()
        if not _SHA.match(value):
            raise DistillAuditError(
                f"The hash at source {value[:20]!r} is not a SHA-256 (64 hex digits)."
            )
    return value


def _iso_date(value: str, what: str) -> None:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise DistillAuditError(
            f"{what} {value!r} is not an ISO-8601 date or time (e.g. 2025-03-14 or "
            "2025-03-14T09:30:00Z)."
        ) from exc


def normalise_transfer(t: dict[str, str]) -> dict[str, str]:
    """A transfer {from, to, at, how}: from, to and at are required, at is ISO-8601."""
    out = {k: str(t.get(k, "")).strip() for k in ("from", "to", "at", "how")}
    missing = [k for k in ("from", "to", "at") if not out[k]]
    if missing:
        raise DistillAuditError(
            f"A transfer needs from, to and at (missing: {', '.join(missing)})."
        )
    _iso_date(out["at"], "The transfer's date")
    return out


def parse_transfer(text: str) -> dict[str, str]:
    """``from=A;to=B;at=2025-03-14;how=courier`` as a transfer."""
    parts = dict(p.split("=", 1) for p in text.split(";") if "=" in p)
    return normalise_transfer({k.strip(): v for k, v in parts.items()})


def discrepancy(source_sha256: str, receipt: list[str]) -> str:
    """'' when the stated hash is one of the hashes on receipt, else what differs."""
    if not source_sha256 or source_sha256 in receipt:
        return ""
    return (
        f"the hash stated at source {source_sha256[:16]}… is not the hash on receipt "
        f"{receipt[0][:16]}…"
    )


def check_source_hash(custody: SourceCustody | None, receipt: list[str], what: str) -> None:
    """Refuse an import whose stated hash differs (before anything is written)."""
    if custody is None or custody.accept_mismatch:
        return
    if discrepancy(custody.source_sha256, receipt):
        raise SourceHashMismatchError(
            f"{what}: the SHA-256 stated at source ({custody.source_sha256}) is not the hash "
            f"of the item received ({receipt[0]}); nothing was imported. Ask the producer "
            "which item they hashed, or add --accept-hash-mismatch to import it with the "
            "discrepancy recorded."
        )


def record_at_import(
    s: Session,
    case_id: int,
    kind: str,
    item_id: int,
    custody: SourceCustody | None,
    receipt: list[str],
    actor: str | None = None,
) -> CustodyRecord | None:
    """Write the item's custody record in the import's transaction, with its audit event."""
    if custody is None or custody.is_empty():
        return None
    c = custody.normalised()
    row = CustodyRecord(
        case_id=case_id,
        item_kind=kind,
        item_id=item_id,
        produced_by=c.produced_by,
        collected_at=c.collected_at,
        collection_method=c.collection_method,
        production_no=c.production_no,
        source_sha256=c.source_sha256,
        receipt_sha256=receipt[0] if receipt else "",
        discrepancy=discrepancy(c.source_sha256, receipt),
        transfers=list(c.transfers),
    )
    s.add(row)
    s.flush()
    audit.record(
        s,
        "custody.recorded",
        "custody_record",
        row.id,
        case_id=case_id,
        actor=actor,
        details={"item_kind": kind, "item_id": item_id, **custody_dict(row)},
    )
    return row


def custody_dict(row: CustodyRecord) -> dict[str, Any]:
    """The record as plain data (the audit events, core.records and the report bundle)."""
    return {
        "produced_by": row.produced_by,
        "collected_at": row.collected_at,
        "collection_method": row.collection_method,
        "production_no": row.production_no,
        "source_sha256": row.source_sha256,
        "receipt_sha256": row.receipt_sha256,
        "discrepancy": row.discrepancy,
        "transfers": list(row.transfers or []),
    }


def _item(s: Session, kind: str, item_id: int) -> tuple[int, list[str]]:
    """(case id, hashes on receipt) of an evidence item; NotFoundError when it is not one."""
    if kind == "model":
        art = s.get(ModelArtifact, item_id)
        if art is not None:
            files = [str(f.get("sha256", "")) for f in art.manifest or []]
            return art.case_id, [art.manifest_sha256] + (files if len(files) == 1 else [])
    elif kind == "transcripts":
        ts = s.get(TranscriptSet, item_id)
        if ts is not None:
            return ts.case_id, [ts.file_sha256]
    elif kind == "policy":
        pol = s.get(Policy, item_id)
        if pol is not None:
            return pol.case_id, [pol.source_sha256]
    else:
        raise DistillAuditError(f"Evidence kind {kind!r} is not one of {', '.join(ITEM_KINDS)}.")
    raise NotFoundError(f"There is no {kind} {item_id} in this case file.")


def receipt_hashes(s: Session, kind: str, item_id: int) -> list[str]:
    """The hashes an item's stated source hash may equal (a model: its manifest digest, or
    its one file's hash)."""
    return _item(s, kind, item_id)[1]


def parse_item(text: str) -> tuple[str, int]:
    """``model:3``, ``transcripts:2`` or ``policy:1`` as (kind, id)."""
    kind, _, num = text.partition(":")
    if kind not in ITEM_KINDS or not num.isdigit():
        raise DistillAuditError(
            f"{text!r} does not name an evidence item; write KIND:ID with KIND one of "
            f"{', '.join(ITEM_KINDS)} (e.g. model:3, as `evidence list` shows)."
        )
    return kind, int(num)


def update_custody(
    cf: CaseFile,
    kind: str,
    item_id: int,
    changes: dict[str, str],
    *,
    add_transfers: list[dict[str, str]] | None = None,
    accept_mismatch: bool = False,
    actor: str | None = None,
) -> dict[str, Any]:
    """Complete or correct an item's custody record; one audit event per changed field."""
    values = {k: normalise_field(k, v) for k, v in changes.items()}
    transfers = [normalise_transfer(t) for t in add_transfers or []]
    cf.require_writable()
    with cf.session() as s:
        case_id, receipt = _item(s, kind, item_id)
        row = s.scalars(
            select(CustodyRecord).where(
                CustodyRecord.item_kind == kind, CustodyRecord.item_id == item_id
            )
        ).first()
        if row is None:
            row = CustodyRecord(
                case_id=case_id,
                item_kind=kind,
                item_id=item_id,
                produced_by="",
                collected_at="",
                collection_method="",
                production_no="",
                source_sha256="",
                receipt_sha256=receipt[0],
                discrepancy="",
                transfers=[],
            )
            s.add(row)
            s.flush()
        if "source_sha256" in values:
            found = discrepancy(values["source_sha256"], receipt)
            if found and not accept_mismatch:
                raise SourceHashMismatchError(
                    f"{kind} {item_id}: {found}; nothing was changed. Add "
                    "--accept-hash-mismatch to record it as a discrepancy."
                )
            if found != row.discrepancy:
                values["discrepancy"] = found
        for name, value in values.items():
            before = getattr(row, name)
            if before == value:
                continue
            setattr(row, name, value)
            audit.record(
                s,
                "custody.updated",
                "custody_record",
                row.id,
                case_id=case_id,
                actor=actor,
                details={
                    "item_kind": kind,
                    "item_id": item_id,
                    "field": name,
                    "before": before,
                    "after": value,
                },
            )
        for t in transfers:
            row.transfers = [*(row.transfers or []), t]
            audit.record(
                s,
                "custody.transfer_added",
                "custody_record",
                row.id,
                case_id=case_id,
                actor=actor,
                details={"item_kind": kind, "item_id": item_id, "transfer": t},
            )
        s.flush()
        return custody_dict(row)


def custody_by_item(s: Session, case_id: int) -> dict[tuple[str, int], dict[str, Any]]:
    """Every custody record of a case, keyed by (kind, item id)."""
    rows = s.scalars(select(CustodyRecord).where(CustodyRecord.case_id == case_id))
    return {(r.item_kind, r.item_id): custody_dict(r) for r in rows}
