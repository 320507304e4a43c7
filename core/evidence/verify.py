"""Re-hash a case's evidence and report every file changed or missing since import, and
every record of it (a manifest, a transcript item) altered in the case file since.

The records are checked against the import events that bound them into the audit chain
(core.evidence.custody); each difference is one more :class:`FileCheck`, with status
``altered`` and the file, item or field as its path, so every front end that lists the
files shows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from core.evidence.custody import HashCache, check_case_records, file_status
from core.jobs import JobState
from core.store import audit
from core.store.cases import get_case
from core.store.db import CaseFile
from core.store.models import LogImport, ModelArtifact, Policy, TranscriptSet


@dataclass
class FileCheck:
    path: str
    expected: str
    actual: str | None  # None when the file is missing
    status: str  # ok | changed | missing | altered (the case file's record of it was edited)
    what: str = ""  # for an altered record: what differs

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class EvidenceCheck:
    kind: str  # model | transcripts | policy | traffic log | log store
    id: int
    name: str
    files: list[FileCheck] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. imported before records were bound

    @property
    def ok(self) -> bool:
        return all(f.status == "ok" for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "name": self.name,
            "ok": self.ok,
            "files": [f.to_dict() for f in self.files],
            "notes": list(self.notes),
        }


def _check(path: Path, expected: str, state: JobState, label: str, cache: HashCache) -> FileCheck:
    state.set_status(f"Verifying {label}")
    status, actual = file_status(path, expected, cache, state)
    return FileCheck(str(path), expected, actual, status)


def _log_store_check(cf: CaseFile) -> EvidenceCheck:
    """The case file's log store against its record of the imports (core.traffic.store)."""
    from core.traffic.store import check_store

    store = check_store(cf)
    ec = EvidenceCheck("log store", 0, Path(store.store_path).name)
    ec.files += [FileCheck(store.store_path, "", None, "altered", p) for p in store.problems]
    return ec


def verify_case_evidence(
    cf: CaseFile, case_key: int | str, state: JobState | None = None, actor: str | None = None
) -> list[EvidenceCheck]:
    """Re-hash every model file, transcript and policy source of a case, check every model
    and transcript record against its import event; audit the outcome."""
    state = state or JobState()
    with cf.read_session() as s:
        case = get_case(s, case_key)
        case_id = case.id
        arts = (
            s.execute(
                select(ModelArtifact)
                .where(ModelArtifact.case_id == case_id)
                .order_by(ModelArtifact.id)
            )
            .scalars()
            .all()
        )
        sets = (
            s.execute(
                select(TranscriptSet)
                .where(TranscriptSet.case_id == case_id)
                .order_by(TranscriptSet.id)
            )
            .scalars()
            .all()
        )
        pols = (
            s.execute(select(Policy).where(Policy.case_id == case_id).order_by(Policy.id))
            .scalars()
            .all()
        )
        logs = (
            s.execute(
                select(LogImport)
                .where((LogImport.case_id == case_id) | LogImport.case_id.is_(None))
                .order_by(LogImport.id)
            )
            .scalars()
            .all()
        )
        state.set_status("Checking the evidence records against the audit log")
        records = {(r.kind, r.id): r for r in check_case_records(s, case_id, state.sub(0, 10))}
    jobs: list[tuple[EvidenceCheck, Path, str]] = []
    checks: list[EvidenceCheck] = []
    for a in arts:
        ec = EvidenceCheck("model", a.id, a.name)
        checks.append(ec)
        jobs += [(ec, Path(a.path) / e["path"], e["sha256"]) for e in a.manifest]
    for t in sets:
        ec = EvidenceCheck("transcripts", t.id, t.name)
        checks.append(ec)
        jobs.append((ec, Path(t.source_path), t.file_sha256))
    for p in pols:
        ec = EvidenceCheck("policy", p.id, f"{p.provider} {p.title} {p.version}")
        checks.append(ec)
        jobs.append((ec, Path(p.source_path), p.source_sha256))
    for log in logs:
        ec = EvidenceCheck("traffic log", log.id, Path(log.file_path).name)
        checks.append(ec)
        jobs.append((ec, Path(log.file_path), log.file_sha256))
    if logs:
        checks.append(_log_store_check(cf))
    cache = HashCache()
    for i, (ec, path, expected) in enumerate(jobs):
        state.check_cancelled()
        sub = state.sub(10 + 90 * i / len(jobs), 10 + 90 * (i + 1) / len(jobs))
        ec.files.append(_check(path, expected, sub, ec.name, cache))
    for ec in checks:
        record = records.get((ec.kind, ec.id))
        if record is not None:
            ec.notes += record.notes
            ec.files += [
                FileCheck(d.subject, d.expected or "", d.found, d.status, d.what)
                for d in record.differences
            ]
    with cf.session() as s:
        audit.record(
            s,
            "evidence.verified",
            "case",
            case_id,
            case_id=case_id,
            actor=actor,
            details={
                "items": len(checks),
                "files": len(jobs),
                "records": len(records),
                "problems": [f.to_dict() for c in checks for f in c.files if f.status != "ok"],
            },
        )
    state.set_progress(100)
    return checks
