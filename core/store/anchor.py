"""Anchors for the audit chain: an exported head that a later ``audit verify --head`` checks.

The hash chain (core.store.audit) proves that no event was edited in place, but someone
with the case file alone can still cut events off its end, recompute the whole chain
after editing it, or append an event with an earlier date: every link would verify.
What the case file cannot forge alone is a copy of its head kept elsewhere (sent to the
client, filed with a report). :func:`chain_head` takes that copy: the last event's id,
its hash and time, the number of events, when and from which case file it was taken.
:func:`check_against_head` compares the chain as it is now with such a copy and names:

* truncation: fewer events than the anchor counted, or the anchored event is missing;
* recomputation: the anchored event is there but its hash differs (the chain up to it
  was rewritten);
* backdated appends: events written after the anchored one whose timestamps are
  earlier than the anchored event's.

Signing the head (Ed25519, with the report's key) belongs to the report signing work:
:meth:`ChainHead.signed_payload` is the exact byte string to sign, and ``signature``
the field a signature goes in; nothing here signs or checks one yet.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import DistillAuditError
from core.store.models import AuditEvent
from core.store.types import iso, parse_iso, utcnow

HEAD_FORMAT = "distill-audit/audit-chain-head"
HEAD_VERSION = 1


@dataclass(frozen=True)
class ChainHead:
    """The audit chain's head at one moment, as exported by ``audit head --out FILE``."""

    event_id: int | None  # None: the chain was empty
    hash: str
    events: int
    at: str | None  # the head event's timestamp (ISO-8601 UTC)
    exported_at: str
    case_file: str  # the case file's absolute path when the head was taken
    case_file_name: str
    signature: dict[str, Any] | None = None  # the signing hook (see the module docstring)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": HEAD_FORMAT,
            "version": HEAD_VERSION,
            "head_event_id": self.event_id,
            "head_hash": self.hash,
            "events": self.events,
            "head_at": self.at,
            "exported_at": self.exported_at,
            "case_file": self.case_file,
            "case_file_name": self.case_file_name,
            "signature": self.signature,
        }

    def signed_payload(self) -> bytes:
        """Canonical bytes of everything but the signature: what a signature would cover."""
        fields = {k: v for k, v in self.to_dict().items() if k != "signature"}
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_dict(cls, data: Any, source: str = "the anchor file") -> ChainHead:
        """Parse an exported head; DistillAuditError naming ``source`` when it is not one."""
        if not isinstance(data, dict) or data.get("format") != HEAD_FORMAT:
            raise DistillAuditError(
                f"{source} is not an audit-chain head exported by `distill-audit audit head`."
            )
        if data.get("version") != HEAD_VERSION:
            raise DistillAuditError(
                f"{source} is an audit-chain head of format version {data.get('version')!r}; "
                f"this version of Distill Audit reads version {HEAD_VERSION}."
            )
        try:
            event_id = data["head_event_id"]
            head = cls(
                event_id=None if event_id is None else int(event_id),
                hash=str(data["head_hash"]),
                events=int(data["events"]),
                at=None if data["head_at"] is None else str(data["head_at"]),
                exported_at=str(data["exported_at"]),
                case_file=str(data.get("case_file") or ""),
                case_file_name=str(data.get("case_file_name") or ""),
                signature=data.get("signature"),
            )
            parse_iso(head.at)
        except (KeyError, TypeError, ValueError) as exc:
            raise DistillAuditError(
                f"{source} is damaged: a field of the audit-chain head is missing or invalid "
                f"({exc})."
            ) from exc
        return head


def read_head(path: Path) -> ChainHead:
    """An exported head from its JSON file (errors name the file)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeError, json.JSONDecodeError) as exc:
        raise DistillAuditError(
            f"{path} is not an audit-chain head exported by `distill-audit audit head` "
            "(it is not JSON)."
        ) from exc
    return ChainHead.from_dict(data, str(path))


def chain_head(session: Session, case_file: str | Path) -> ChainHead:
    """The chain's head now: last event, its hash and time, the event count."""
    last = session.execute(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).scalar()
    count = int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0)
    path = Path(case_file).resolve()
    return ChainHead(
        event_id=None if last is None else last.id,
        hash=last.hash if last is not None else "",
        events=count,
        at=None if last is None else iso(last.at),
        exported_at=iso(utcnow()) or "",
        case_file=str(path),
        case_file_name=path.name,
    )


@dataclass(frozen=True)
class AnchorProblem:
    kind: str  # truncated | recomputed | backdated
    event_id: int | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "event_id": self.event_id, "message": self.message}


def check_against_head(session: Session, head: ChainHead) -> list[AnchorProblem]:
    """What the chain as it stands contradicts in ``head`` (empty: consistent with it)."""
    count = int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0)
    taken = f"the anchor taken {head.exported_at}"
    problems: list[AnchorProblem] = []
    if head.event_id is None:
        return problems  # anchored an empty chain: anything since is an append
    anchored = session.get(AuditEvent, head.event_id)
    if count < head.events or anchored is None:
        last = session.scalar(select(func.max(AuditEvent.id)))
        problems.append(
            AnchorProblem(
                "truncated",
                head.event_id,
                f"the audit log now holds {count} event(s) (last id {last}), {taken} "
                f"recorded {head.events} ending with event {head.event_id}: events were "
                "removed from the end of the log",
            )
        )
        if anchored is None:
            return problems
    if anchored.hash != head.hash:
        problems.append(
            AnchorProblem(
                "recomputed",
                head.event_id,
                f"event {head.event_id} has hash {anchored.hash[:16]}…, {taken} recorded "
                f"{head.hash[:16]}…: the log up to that event was rewritten and its hashes "
                "recomputed",
            )
        )
    anchor_at = parse_iso(head.at)
    if anchor_at is None:
        return problems
    later = session.execute(
        select(AuditEvent).where(AuditEvent.id > head.event_id).order_by(AuditEvent.id)
    ).scalars()
    for ev in later:
        at = ev.at if ev.at.tzinfo else ev.at.replace(tzinfo=anchor_at.tzinfo)
        if at < anchor_at:
            problems.append(
                AnchorProblem(
                    "backdated",
                    ev.id,
                    f"event {ev.id} ({ev.action}) is dated {iso(ev.at)}, before the anchored "
                    f"event {head.event_id} ({head.at}), yet it was appended after it: "
                    "it was backdated",
                )
            )
    return problems
