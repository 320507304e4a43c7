"""The hash-chained, append-only audit log.

Each event stores the SHA-256 of its predecessor and its own hash over a canonical JSON
form of its fields, so editing, inserting or deleting any row breaks the chain at that
point. ``verify_chain`` walks the chain and names the first broken event. Database
triggers additionally refuse UPDATE and DELETE on the table.
"""

from __future__ import annotations

import getpass
import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.store.models import AuditEvent
from core.store.types import iso, utcnow

if TYPE_CHECKING:
    from core.store.db import CaseFile

GENESIS = "0" * 64


def current_actor() -> str:
    """Who is acting: the operating-system user (the GUI may pass a reviewer name)."""
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def event_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """SHA-256 over the predecessor's hash and the canonical JSON of the event's fields."""
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev_hash + "\n" + canonical).encode("utf-8")).hexdigest()


def _fields(ev: AuditEvent) -> dict[str, Any]:
    return {
        "id": ev.id,
        "at": iso(ev.at),
        "actor": ev.actor,
        "case_id": ev.case_id,
        "action": ev.action,
        "entity": ev.entity,
        "entity_id": ev.entity_id,
        "details": ev.details,
    }


def record(
    session: Session,
    action: str,
    entity: str,
    entity_id: object | None = None,
    *,
    case_id: int | None = None,
    details: dict[str, Any] | None = None,
    actor: str | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction, chained to the current head."""
    last = session.execute(
        select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).first()
    prev_hash = last.hash if last else GENESIS
    next_id = (last.id + 1) if last else 1
    # Round-trip the details through JSON so the hashed form equals the stored form.
    details = json.loads(json.dumps(details or {}, sort_keys=True, default=str))
    ev = AuditEvent(
        id=next_id,
        at=utcnow(),
        actor=actor or current_actor(),
        case_id=case_id,
        action=action,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        details=details,
        prev_hash=prev_hash,
        hash="",
    )
    # The stored timestamp is the ISO text; hash exactly that.
    ev.hash = event_hash(prev_hash, _fields(ev))
    session.add(ev)
    session.flush()
    return ev


def event_intact(ev: AuditEvent) -> bool:
    """Whether one event's stored hash still matches its content (not its place in the chain).

    Cheap enough to run before every use of the evidence an event binds; the full walk
    (:func:`verify_chain`) and an exported anchor (core.store.anchor) catch the rest.
    """
    return event_hash(ev.prev_hash, _fields(ev)) == ev.hash


@dataclass(frozen=True)
class ChainReport:
    """Outcome of walking the audit chain."""

    ok: bool
    events: int
    head_hash: str
    first_broken_id: int | None = None
    problem: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "head_hash": self.head_hash,
            "first_broken_id": self.first_broken_id,
            "problem": self.problem,
        }


def verify_chain(session: Session) -> ChainReport:
    """Walk every event in order; report the first whose link or content hash is wrong."""
    prev = GENESIS
    expected_id = 1
    count = 0
    for ev in session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars():
        count += 1
        if ev.id != expected_id:
            return ChainReport(
                False,
                count,
                prev,
                ev.id,
                f"event {expected_id} is missing (next present event is {ev.id}): "
                "a row was deleted",
            )
        if ev.prev_hash != prev:
            return ChainReport(
                False,
                count,
                prev,
                ev.id,
                f"event {ev.id} does not link to its predecessor: a row before it was "
                "edited, inserted or deleted",
            )
        if not event_intact(ev):
            return ChainReport(
                False,
                count,
                prev,
                ev.id,
                f"event {ev.id} ({ev.action} {ev.entity} {ev.entity_id}) was altered "
                "after it was written",
            )
        prev = ev.hash
        expected_id += 1
    return ChainReport(True, count, prev)


def verify_case_file_chain(cf: CaseFile) -> ChainReport:
    """Walk the case file's audit chain in a read session of the calling thread's own.

    What ``audit verify`` and the GUI's Verify audit chain job both run.
    """
    with cf.read_session() as s:
        return verify_chain(s)
