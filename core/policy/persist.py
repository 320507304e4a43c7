"""Policies as evidence in a case: import, clause rows, tag corrections, versions, links.

Builds on the pure functions of this package: a file is extracted, segmented and tagged
before anything touches the case file, then written in one transaction with its audit
event, so a bad document leaves nothing behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import DistillAuditError, DocumentLimitError, EvidenceError, NotFoundError
from core.evidence.source_custody import SourceCustody, check_source_hash, record_at_import
from core.jobs import JobState
from core.policy.extract import extract_text, with_file_name
from core.policy.segment import Clause as SegClause
from core.policy.segment import segment
from core.policy.tagging import tag_clauses
from core.policy.taxonomy import load_taxonomy
from core.policy.versions import (
    ClauseChange,
    VersionInfo,
    closings,
    diff_clauses,
    in_force,
    not_in_force_reason,
    series_key,
    title_date,
)
from core.store import audit
from core.store.cases import get_case
from core.store.db import CaseFile
from core.store.models import Clause, ClauseTag, Finding, FindingClause, Policy


def import_policy(
    cf: CaseFile,
    case_key: int | str,
    path: str | Path,
    *,
    provider: str,
    title: str | None = None,
    version: str | None = None,
    effective_from: date | None = None,
    effective_to: date | None = None,
    actor: str | None = None,
    state: JobState | None = None,
    custody: SourceCustody | None = None,
) -> int:
    """Extract, segment and tag a terms document and store it with its clauses.

    ``custody`` (custody from the source) is checked against the document's SHA-256
    before anything is written (core.evidence.source_custody).
    """
    state = state or JobState()
    if not provider.strip():
        raise DistillAuditError("Name the provider whose terms these are.")
    with cf.read_session() as s:
        case_id = get_case(s, case_key).id
    doc = extract_text(Path(path), state.sub(0, 70))
    state.set_status("Finding clauses")
    try:
        clauses = segment(doc.text)
    except DocumentLimitError as exc:
        raise with_file_name(exc, Path(path).name) from exc
    if not clauses:
        raise EvidenceError(f"No clauses found in {Path(path).name}.")
    taxonomy = load_taxonomy()
    state.set_status("Tagging clauses")
    tags = tag_clauses(clauses, taxonomy, provider_names=[provider])
    stored_title = (title or doc.title_guess or Path(path).stem).strip()
    eff_from = (
        effective_from
        or doc.detected_effective_from
        or title_date(stored_title)
        or title_date(doc.title_guess or "")
    )
    eff_to = effective_to or doc.detected_effective_to
    # A document dated but not numbered ("Last updated: June 17, 2025") is cited by date.
    version = version or doc.detected_version or (eff_from.isoformat() if eff_from else None)
    if not version:
        raise DistillAuditError(
            f"No version or date is stated in {Path(path).name}; give one (e.g. --version 2025-06)."
        )
    custody = custody.normalised() if custody is not None else None
    check_source_hash(custody, [doc.sha256], Path(path).name)
    with cf.session() as s:
        pol = Policy(
            case_id=case_id,
            provider=provider.strip(),
            title=stored_title,
            version=version,
            effective_from=eff_from,
            effective_to=eff_to,
            source_path=str(Path(path).resolve()),
            source_format=doc.source_format,
            source_sha256=doc.sha256,
            text=doc.text,
            taxonomy_version=taxonomy.version,
            details={
                "warnings": doc.warnings,
                "size_bytes": doc.size_bytes,
                "pages": doc.pages,
                "encoding": doc.encoding,
                "detected": {
                    "version": doc.detected_version,
                    "effective_from": _iso(doc.detected_effective_from),
                    "effective_to": _iso(doc.detected_effective_to),
                },
            },
            imported_by=actor or audit.current_actor(),
        )
        s.add(pol)
        s.flush()
        row_ids: dict[int, int] = {}
        for c in clauses:
            row = Clause(
                policy_id=pol.id,
                ordinal=c.index,
                number=c.number,
                heading=c.heading or "",
                text=c.text,
                span_start=c.start,
                span_end=c.end,
                depth=c.depth,
                parent_id=row_ids.get(c.parent_index) if c.parent_index is not None else None,
                body_end=c.body_end,
                number_path=list(c.number_path),
                style=c.style,
            )
            s.add(row)
            s.flush()
            row_ids[c.index] = row.id
            for t in tags.get(c.index, []):
                s.add(
                    ClauseTag(
                        clause_id=row.id,
                        category=t.category,
                        score=t.score,
                        cues=list(t.cues_fired),
                        source="rule",
                        status="auto",
                    )
                )
        audit.record(
            s,
            "policy.imported",
            "policy",
            pol.id,
            case_id=case_id,
            actor=actor,
            details={
                "provider": pol.provider,
                "title": pol.title,
                "version": version,
                "sha256": doc.sha256,
                "path": pol.source_path,
                "clauses": len(clauses),
                "effective_from": _iso(eff_from),
                "effective_to": _iso(eff_to),
                "taxonomy_version": taxonomy.version,
            },
        )
        record_at_import(s, case_id, "policy", pol.id, custody, [doc.sha256], actor)
        close_superseded(s, case_id, pol.provider, pol.title, actor=actor)
        state.set_progress(100)
        return pol.id


def close_superseded(
    s: Session, case_id: int, provider: str, title: str, *, actor: str | None = None
) -> list[int]:
    """Close every open version of a series that a later version supersedes.

    Run when a version joins its series (at import): the earlier version's
    effective_to becomes the day before the later one takes effect, so "in force on"
    finds exactly one version. Each closing changes the case, so each is audited.
    Returns the ids of the policies closed.
    """
    closed: list[int] = []
    for old, last_day, by in closings(_versions(s, case_id, provider, title)):
        if old.policy_id is None:
            continue
        pol = _policy(s, old.policy_id)
        pol.effective_to = last_day
        closed.append(pol.id)
        audit.record(
            s,
            "policy.version_closed",
            "policy",
            pol.id,
            case_id=case_id,
            actor=actor,
            details={
                "provider": provider,
                "title": pol.title,
                "version": pol.version,
                "effective_to": last_day.isoformat(),
                "superseded_by_policy_id": by.policy_id,
                "superseded_by_version": by.version,
                "superseded_from": _iso(by.effective_from),
                "rule": "a later version closes the earlier one on the day before it takes effect",
            },
        )
    s.flush()
    return closed


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None


def _policy(s: Session, policy_id: int) -> Policy:
    pol = s.get(Policy, int(policy_id))
    if pol is None:
        raise NotFoundError(f"No policy {policy_id} in this case file (see 'policy list').")
    return pol


def as_segments(pol: Policy) -> list[SegClause]:
    """Rebuild the segmentation dataclasses from stored rows (for diffs)."""
    ordinal_of = {c.id: c.ordinal for c in pol.clauses}
    out = []
    for c in pol.clauses:
        body_end = c.body_end if c.body_end is not None else c.span_end
        out.append(
            SegClause(
                number=c.number,
                number_path=list(c.number_path or [c.number]),
                heading=c.heading or None,
                text=c.text,
                start=c.span_start,
                end=c.span_end,
                depth=c.depth,
                index=c.ordinal,
                parent_index=ordinal_of.get(c.parent_id) if c.parent_id else None,
                body_end=body_end,
                own_text=pol.text[c.span_start : body_end],
                style=c.style,
            )
        )
    return out


@dataclass(frozen=True)
class ClauseView:
    """A clause with its live tags (reviewer corrections applied)."""

    id: int
    policy_id: int
    number: str
    heading: str
    text: str
    depth: int
    span: tuple[int, int]
    tags: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "span": list(self.span)}


def live_tags(clause: Clause) -> list[dict[str, Any]]:
    """Tags in force: automatic ones not removed, plus reviewer additions."""
    return [
        {
            "category": t.category,
            "score": t.score,
            "cues": t.cues,
            "source": t.source,
            "status": t.status,
        }
        for t in clause.tags
        if t.status != "removed"
    ]


def list_clauses(cf: CaseFile, policy_id: int, category: str | None = None) -> list[ClauseView]:
    with cf.read_session() as s:
        pol = _policy(s, policy_id)
        views = []
        for c in pol.clauses:
            tags = live_tags(c)
            if category and category not in {t["category"] for t in tags}:
                continue
            views.append(
                ClauseView(
                    c.id,
                    pol.id,
                    c.number,
                    c.heading,
                    c.text,
                    c.depth,
                    (c.span_start, c.span_end),
                    tags,
                )
            )
        return views


def correct_tag(
    cf: CaseFile,
    clause_id: int,
    category: str,
    *,
    add: bool,
    note: str = "",
    actor: str | None = None,
) -> None:
    """A reviewer adds or removes a category on a clause; the automatic tag is kept, marked."""
    taxonomy = load_taxonomy()
    if category not in {c.id for c in taxonomy.categories}:
        raise DistillAuditError(f"Unknown category {category!r}.")
    reviewer = actor or audit.current_actor()
    with cf.session() as s:
        clause = s.get(Clause, int(clause_id))
        if clause is None:
            raise NotFoundError(f"No clause {clause_id}.")
        existing = [t for t in clause.tags if t.category == category]
        if add:
            live = [t for t in existing if t.status != "removed"]
            if live:
                for t in live:
                    t.status, t.reviewer, t.note = "confirmed", reviewer, note
            else:
                s.add(
                    ClauseTag(
                        clause_id=clause.id,
                        category=category,
                        score=1.0,
                        cues=[],
                        source="reviewer",
                        status="confirmed",
                        reviewer=reviewer,
                        note=note,
                    )
                )
        else:
            if not any(t.status != "removed" for t in existing):
                raise DistillAuditError(f"Clause {clause.number} is not tagged {category}.")
            for t in existing:
                t.status, t.reviewer, t.note = "removed", reviewer, note
        audit.record(
            s,
            "policy.tag_corrected",
            "clause",
            clause.id,
            case_id=clause.policy.case_id,
            actor=actor,
            details={
                "category": category,
                "action": "add" if add else "remove",
                "note": note,
                "clause": clause.number,
                "policy_id": clause.policy_id,
            },
        )


def _versions(s: Session, case_id: int, provider: str, title: str | None) -> list[VersionInfo]:
    q = select(Policy).where(Policy.case_id == case_id, Policy.provider == provider)
    rows = s.execute(q).scalars().all()
    if title:
        rows = [p for p in rows if series_key(p.title) == series_key(title)]
    return [
        VersionInfo(p.version, p.effective_from, p.effective_to, p.title, p.source_sha256, p.id)
        for p in rows
    ]


def policy_in_force(
    cf: CaseFile, case_key: int | str, provider: str, when: date, title: str | None = None
) -> Policy | None:
    """The provider's document version in force on ``when`` (None if none was)."""
    with cf.read_session() as s:
        case_id = get_case(s, case_key).id
        versions = _versions(s, case_id, provider, title)
        if not versions:
            raise NotFoundError(f"No terms of {provider!r} in this case.")
        titles = {series_key(v.title or "") for v in versions}
        if len(titles) > 1 and title is None:
            raise DistillAuditError(
                f"{provider} has several documents ({', '.join(sorted(titles))}); name one."
            )
        hit = in_force(versions, when)
        return _policy(s, hit.policy_id) if hit and hit.policy_id is not None else None


def why_not_in_force(
    cf: CaseFile, case_key: int | str, provider: str, when: date, title: str | None = None
) -> str:
    """One sentence saying why :func:`policy_in_force` found no version on ``when``
    (before the first version, after the last one ended, or undated versions)."""
    with cf.read_session() as s:
        case_id = get_case(s, case_key).id
        versions = _versions(s, case_id, provider, title)
        name = f"{provider} {title}" if title else f"{provider}'s terms"
        return f"No version of {name} was in force: {not_in_force_reason(versions, when)}"


def diff_policies(cf: CaseFile, old_id: int, new_id: int) -> list[ClauseChange]:
    with cf.read_session() as s:
        return diff_clauses(as_segments(_policy(s, old_id)), as_segments(_policy(s, new_id)))


def link_finding_to_clause(
    cf: CaseFile,
    finding_id: int,
    clause_id: int,
    conduct_date: date,
    note: str = "",
    actor: str | None = None,
) -> int:
    """Link a finding to a clause as worded in the version in force on the conduct date.

    If the reviewer picked the clause in another version, the link goes to the clause
    with the same number in the version in force, and says so in its note.
    """
    with cf.session() as s:
        finding = s.get(Finding, int(finding_id))
        clause = s.get(Clause, int(clause_id))
        if finding is None or clause is None:
            raise NotFoundError(f"No finding {finding_id} or no clause {clause_id}.")
        pol = clause.policy
        versions = _versions(s, pol.case_id, pol.provider, pol.title)
        hit = in_force(versions, conduct_date)
        if hit is None:
            raise DistillAuditError(
                f"No version of {pol.provider} {pol.title} in this case was in force on "
                f"{conduct_date.isoformat()}."
            )
        target = clause
        if hit.policy_id is not None and hit.policy_id != pol.id:
            in_force_pol = _policy(s, hit.policy_id)
            same = [c for c in in_force_pol.clauses if c.number == clause.number]
            if not same:
                raise DistillAuditError(
                    f"Clause {clause.number} does not exist in version {hit.version}, which "
                    f"was in force on {conduct_date.isoformat()}; pick a clause of that version."
                )
            target = same[0]
            note = (note + " " if note else "") + (
                f"Selected in version {pol.version}; linked to the same clause in version "
                f"{hit.version}, in force on {conduct_date.isoformat()}."
            )
        link = FindingClause(
            finding_id=finding.id,
            clause_id=target.id,
            conduct_date=conduct_date,
            policy_in_force_id=hit.policy_id,
            note=note,
        )
        s.add(link)
        s.flush()
        audit.record(
            s,
            "finding.clause_linked",
            "finding",
            finding.id,
            case_id=finding.case_id,
            actor=actor,
            details={
                "clause_id": target.id,
                "clause": target.number,
                "policy_id": hit.policy_id,
                "version": hit.version,
                "conduct_date": conduct_date.isoformat(),
                "note": note,
            },
        )
        return link.id
