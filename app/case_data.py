"""Plain records the views show, read from the case file through core.

Views never hold ORM objects: each read opens a short session, copies what is shown into
frozen dataclasses and closes the session, so nothing crosses threads or outlives it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from core.store.cases import CaseSummary, get_case, summarise
from core.store.db import CaseFile
from core.store.models import AuditEvent
from core.store.types import iso


@dataclass(frozen=True)
class CaseDetails:
    """What the Overview tab shows about one case."""

    summary: CaseSummary
    parties: list[str]
    commissioned_by: str
    hypothesis_p: str
    hypothesis_d: str
    conduct_date: str | None
    updated_at: str


@dataclass(frozen=True)
class AuditRow:
    """One audit event as shown in the Audit tab."""

    id: int
    at: str
    actor: str
    case_id: int | None
    action: str
    entity: str
    entity_id: str | None
    hash: str
    prev_hash: str


def case_details(cf: CaseFile, case_id: int) -> CaseDetails:
    with cf.read_session() as s:
        case = get_case(s, case_id)
        return CaseDetails(
            summary=summarise(s, case),
            parties=[str(p) for p in (case.parties or [])],
            commissioned_by=case.commissioned_by,
            hypothesis_p=case.hypothesis_p,
            hypothesis_d=case.hypothesis_d,
            conduct_date=case.conduct_date.isoformat() if case.conduct_date else None,
            updated_at=case.updated_at.isoformat(timespec="seconds"),
        )


def audit_rows(cf: CaseFile, case_id: int | None = None) -> list[AuditRow]:
    """Audit events in chain order: all of them, or those about one case."""
    with cf.read_session() as s:
        q = select(AuditEvent).order_by(AuditEvent.id)
        if case_id is not None:
            q = q.where(AuditEvent.case_id == case_id)
        return [
            AuditRow(e.id, iso(e.at) or "", e.actor, e.case_id, e.action, e.entity,
                     e.entity_id, e.hash, e.prev_hash)
            for e in s.execute(q).scalars()
        ]
