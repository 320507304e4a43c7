"""Reviewing findings: list them, accept or reject them, edit their wording and notes.

A check run proposes findings in *draft* status (core.checks.findings); a reviewer then
accepts or rejects each, may reword it and keeps notes. Every change is one transaction
with its audit event, which records the old and the new value, so the report's audit
appendix shows who changed what. Rewording an accepted finding returns it to draft: the
new wording has not been accepted by anyone yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from core.errors import DistillAuditError, NotFoundError
from core.store import audit
from core.store.cases import get_case
from core.store.db import CaseFile
from core.store.models import FINDING_STATUSES, Clause, Finding, FindingClause, Policy
from core.store.types import iso, utcnow


@dataclass(frozen=True)
class ClauseLinkView:
    """A finding's link to a terms clause, as worded in the version in force."""

    id: int
    clause_id: int
    clause_number: str
    clause_heading: str
    policy_id: int
    provider: str
    document: str
    version: str
    conduct_date: str | None
    note: str


@dataclass(frozen=True)
class FindingView:
    """A finding as a plain record (no ORM object), for the GUI, the CLI and tests."""

    id: int
    case_id: int
    statement: str
    strength: str
    status: str
    reviewer: str
    reviewer_notes: str
    run_ids: tuple[int, ...]
    clause_links: tuple[ClauseLinkView, ...]
    created_at: str
    updated_at: str

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["run_ids"] = list(self.run_ids)
        data["clause_links"] = [dict(link.__dict__) for link in self.clause_links]
        return data


def _link_view(s: Session, link: FindingClause) -> ClauseLinkView:
    clause: Clause = link.clause
    policy = s.get(Policy, link.policy_in_force_id) if link.policy_in_force_id else clause.policy
    assert policy is not None
    return ClauseLinkView(
        link.id,
        clause.id,
        clause.number,
        clause.heading or "",
        policy.id,
        policy.provider,
        policy.title,
        policy.version,
        link.conduct_date.isoformat() if link.conduct_date else None,
        link.note,
    )


def _view(s: Session, f: Finding) -> FindingView:
    return FindingView(
        id=f.id,
        case_id=f.case_id,
        statement=f.statement,
        strength=f.strength,
        status=f.status,
        reviewer=f.reviewer,
        reviewer_notes=f.reviewer_notes,
        run_ids=tuple(sorted(link.run_id for link in f.run_links)),
        clause_links=tuple(
            _link_view(s, link) for link in sorted(f.clause_links, key=lambda x: x.id)
        ),
        created_at=iso(f.created_at) or "",
        updated_at=iso(f.updated_at) or "",
    )


def list_findings(cf: CaseFile, case_key: int | str) -> list[FindingView]:
    """The findings of a case, oldest first, with their runs and clause links."""
    with cf.read_session() as s:
        case_id = get_case(s, case_key).id
        rows = (
            s.execute(
                select(Finding)
                .where(Finding.case_id == case_id)
                .order_by(Finding.id)
                .options(selectinload(Finding.run_links), selectinload(Finding.clause_links))
            )
            .scalars()
            .all()
        )
        return [_view(s, f) for f in rows]


def get_finding(cf: CaseFile, finding_id: int) -> FindingView:
    with cf.read_session() as s:
        return _view(s, _finding(s, finding_id))


def _finding(s: Session, finding_id: int) -> Finding:
    finding = s.get(Finding, int(finding_id))
    if finding is None:
        raise NotFoundError(f"No finding {finding_id} in this case file.")
    return finding


def _reviewer(reviewer: str) -> str:
    name = (reviewer or "").strip()
    if not name:
        raise DistillAuditError("Name the reviewer: every review step is signed in the audit log.")
    return name


def _append_note(existing: str, reviewer: str, note: str) -> str:
    stamp = (iso(utcnow()) or "")[:16].replace("T", " ")
    entry = f"[{stamp} UTC, {reviewer}] {note.strip()}"
    return f"{existing.rstrip()}\n{entry}" if existing.strip() else entry


def set_status(
    cf: CaseFile,
    finding_id: int,
    status: str,
    reviewer: str,
    note: str = "",
    actor: str | None = None,
) -> None:
    """Accept, reject or return a finding to draft; ``note`` (the reason) is kept and audited."""
    if status not in FINDING_STATUSES:
        raise DistillAuditError(
            f"Unknown finding status {status!r}; choose one of {', '.join(FINDING_STATUSES)}."
        )
    name = _reviewer(reviewer)
    with cf.session() as s:
        finding = _finding(s, finding_id)
        old = finding.status
        if old == status and not note.strip():
            return
        finding.status = status
        finding.reviewer = name
        if note.strip():
            finding.reviewer_notes = _append_note(finding.reviewer_notes, name, f"{status}: {note}")
        audit.record(
            s,
            "finding.status_changed",
            "finding",
            finding.id,
            case_id=finding.case_id,
            actor=actor or name,
            details={"old": old, "new": status, "reviewer": name, "note": note.strip()},
        )


def edit_statement(
    cf: CaseFile,
    finding_id: int,
    statement: str,
    reviewer: str,
    note: str = "",
    actor: str | None = None,
) -> None:
    """Reword a finding; an accepted finding returns to draft (the new words are unreviewed)."""
    text = statement.strip()
    if not text:
        raise DistillAuditError("A finding's statement cannot be empty.")
    name = _reviewer(reviewer)
    with cf.session() as s:
        finding = _finding(s, finding_id)
        if finding.statement == text:
            return
        old_text, old_status = finding.statement, finding.status
        finding.statement = text
        finding.reviewer = name
        if old_status == "accepted":
            finding.status = "draft"
        if note.strip():
            finding.reviewer_notes = _append_note(finding.reviewer_notes, name, f"reworded: {note}")
        audit.record(
            s,
            "finding.edited",
            "finding",
            finding.id,
            case_id=finding.case_id,
            actor=actor or name,
            details={
                "old": old_text,
                "new": text,
                "reviewer": name,
                "note": note.strip(),
                "status": {"old": old_status, "new": finding.status},
            },
        )


def set_notes(
    cf: CaseFile, finding_id: int, notes: str, reviewer: str, actor: str | None = None
) -> None:
    """Replace the reviewer notes of a finding (old and new text go to the audit log)."""
    name = _reviewer(reviewer)
    with cf.session() as s:
        finding = _finding(s, finding_id)
        if finding.reviewer_notes == notes:
            return
        old = finding.reviewer_notes
        finding.reviewer_notes = notes
        audit.record(
            s,
            "finding.notes_updated",
            "finding",
            finding.id,
            case_id=finding.case_id,
            actor=actor or name,
            details={"old": old, "new": notes, "reviewer": name},
        )
