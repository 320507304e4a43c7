"""Creating, finding and listing cases. Every change is recorded in the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import DistillAuditError, NotFoundError
from core.store import audit
from core.store.db import CaseFile
from core.store.models import (
    DEFAULT_HD,
    DEFAULT_HP,
    Case,
    Finding,
    ModelArtifact,
    Policy,
    Run,
    TranscriptSet,
)


@dataclass(frozen=True)
class CaseSummary:
    id: int
    reference: str
    title: str
    status: str
    created_at: str
    artifacts: int
    transcript_sets: int
    policies: int
    runs: int
    findings: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def create_case(
    cf: CaseFile,
    title: str,
    reference: str,
    *,
    parties: list[str] | None = None,
    commissioned_by: str = "",
    hypothesis_p: str = DEFAULT_HP,
    hypothesis_d: str = DEFAULT_HD,
    conduct_date: date | None = None,
    actor: str | None = None,
) -> int:
    """Create a case and return its id; the reference must be unique in the file."""
    title, reference = title.strip(), reference.strip()
    if not title or not reference:
        raise DistillAuditError("A case needs a title and a reference.")
    try:
        with cf.session() as s:
            case = Case(
                title=title,
                reference=reference,
                parties=list(parties or []),
                commissioned_by=commissioned_by,
                hypothesis_p=hypothesis_p,
                hypothesis_d=hypothesis_d,
                conduct_date=conduct_date,
            )
            s.add(case)
            s.flush()
            audit.record(
                s,
                "case.created",
                "case",
                case.id,
                case_id=case.id,
                actor=actor,
                details={
                    "title": title,
                    "reference": reference,
                    "parties": list(parties or []),
                    "hypothesis_p": hypothesis_p,
                    "hypothesis_d": hypothesis_d,
                },
            )
            return case.id
    except IntegrityError as exc:
        raise DistillAuditError(
            f"A case with reference {reference!r} already exists in {cf.path}."
        ) from exc


def get_case(session: Session, key: int | str) -> Case:
    """A case by id or by reference."""
    case: Case | None
    if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
        case = session.get(Case, int(key))
    else:
        case = None
    if case is None:
        case = session.execute(select(Case).where(Case.reference == str(key))).scalar_one_or_none()
    if case is None:
        raise NotFoundError(f"No case {key!r} in this case file (see 'case list').")
    return case


def _count(session: Session, model: Any, case_id: int) -> int:
    return session.execute(
        select(func.count()).select_from(model).where(model.case_id == case_id)
    ).scalar_one()


def summarise(session: Session, case: Case) -> CaseSummary:
    return CaseSummary(
        id=case.id,
        reference=case.reference,
        title=case.title,
        status=case.status,
        created_at=case.created_at.isoformat(timespec="seconds"),
        artifacts=_count(session, ModelArtifact, case.id),
        transcript_sets=_count(session, TranscriptSet, case.id),
        policies=_count(session, Policy, case.id),
        runs=_count(session, Run, case.id),
        findings=_count(session, Finding, case.id),
    )


def list_cases(cf: CaseFile) -> list[CaseSummary]:
    with cf.read_session() as s:
        cases = s.execute(select(Case).order_by(Case.id)).scalars().all()
        return [summarise(s, c) for c in cases]


_EDITABLE = (
    "title",
    "commissioned_by",
    "status",
    "hypothesis_p",
    "hypothesis_d",
    "conduct_date",
    "parties",
)


def update_case(cf: CaseFile, key: int | str, actor: str | None = None, **changes: Any) -> None:
    """Change editable fields of a case; the audit event records old and new values."""
    unknown = set(changes) - set(_EDITABLE)
    if unknown:
        raise DistillAuditError(f"Cannot edit {', '.join(sorted(unknown))} of a case.")
    with cf.session() as s:
        case = get_case(s, key)
        diff = {}
        for name, value in changes.items():
            old = getattr(case, name)
            if old != value:
                diff[name] = {"old": old, "new": value}
                setattr(case, name, value)
        if diff:
            audit.record(
                s, "case.updated", "case", case.id, case_id=case.id, actor=actor, details=diff
            )
