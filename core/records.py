"""The read model: plain frozen records of a case file, for the GUI's tabs and the CLI's lists.

Every read opens a short session, copies what is shown into frozen dataclasses and closes
the session, so no ORM object crosses threads or outlives its session, and neither the GUI
nor the CLI runs queries of its own. Heavier engine modules (core.reports, core.policy,
core.evidence) are imported inside the functions that need them: the GUI's start-up
imports this module and must not wait for scipy. The standard hypotheses (DEFAULT_HP,
DEFAULT_HD) are re-exported so the GUI never imports the ORM module itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from core.errors import NotFoundError
from core.store.cases import CaseSummary, get_case, summarise
from core.store.db import CaseFile
from core.store.models import (
    DEFAULT_HD,
    DEFAULT_HP,
    AuditEvent,
    Case,
    Clause,
    Policy,
    Run,
    TranscriptSet,
)
from core.store.runs import run_category as run_category
from core.store.types import iso

if TYPE_CHECKING:
    from core.evidence.inventory import EvidenceItem

__all__ = [
    "DEFAULT_HD",
    "DEFAULT_HP",
    "AuditRow",
    "CaseDetails",
    "EvidenceChoice",
    "PolicyRow",
    "RunDetails",
    "RunRow",
    "audit_rows",
    "case_details",
    "evidence_choices",
    "evidence_items",
    "next_reference",
    "reference_problem",
    "policy_rows",
    "run_category",
    "run_details",
    "run_rows",
    "run_subject",
    "transcript_names",
]


# --- cases (Overview tab, ``case show``) ---------------------------------------------------


@dataclass(frozen=True)
class CaseDetails:
    """What the Overview tab and ``case show`` say about one case."""

    summary: CaseSummary
    parties: list[str]
    commissioned_by: str
    hypothesis_p: str
    hypothesis_d: str
    conduct_date: str | None
    updated_at: str


def case_details(cf: CaseFile, case: int | str) -> CaseDetails:
    """One case (by id or reference) with its counts; NotFoundError names a missing one."""
    with cf.read_session() as s:
        c = get_case(s, case)
        return CaseDetails(
            summary=summarise(s, c),
            parties=[str(p) for p in (c.parties or [])],
            commissioned_by=c.commissioned_by,
            hypothesis_p=c.hypothesis_p,
            hypothesis_d=c.hypothesis_d,
            conduct_date=c.conduct_date.isoformat() if c.conduct_date else None,
            updated_at=c.updated_at.isoformat(timespec="seconds"),
        )


def reference_problem(cf: CaseFile, reference: str) -> str | None:
    """Why ``reference`` cannot name a new case (the same words create_case refuses with),
    or None; the New case dialog checks the field as it is typed."""
    reference = reference.strip()
    if not reference:
        return None
    with cf.read_session() as s:
        taken = s.execute(select(Case.id).where(Case.reference == reference)).first()
    return f"A case with reference {reference!r} already exists in {cf.path}." if taken else None


def next_reference(cf: CaseFile, prefix: str) -> str:
    """The first free ``PREFIX-n`` reference (n = 1, 2, …) for a case created on the fly.

    Used when a check or experiment is run without naming a case (``CHECK-n``, ``EXP-n``).
    """
    with cf.read_session() as s:
        taken = set(s.execute(select(Case.reference)).scalars())
    n = 1
    while f"{prefix}-{n}" in taken:
        n += 1
    return f"{prefix}-{n}"


# --- audit log (Audit tab, ``audit log``) --------------------------------------------------


@dataclass(frozen=True)
class AuditRow:
    """One audit event as shown in the Audit tab and by ``audit log``."""

    id: int
    at: str  # canonical ISO-8601 UTC ('…Z'), the form the chain hashes
    actor: str
    case_id: int | None
    action: str
    entity: str
    entity_id: str | None
    hash: str
    prev_hash: str


def audit_rows(cf: CaseFile, case: int | str | None = None) -> list[AuditRow]:
    """Audit events in chain order: all of them, or those about one case (id or reference)."""
    with cf.read_session() as s:
        q = select(AuditEvent).order_by(AuditEvent.id)
        if case is not None:
            q = q.where(AuditEvent.case_id == get_case(s, case).id)
        return [
            AuditRow(
                e.id,
                iso(e.at) or "",
                e.actor,
                e.case_id,
                e.action,
                e.entity,
                e.entity_id,
                e.hash,
                e.prev_hash,
            )
            for e in s.execute(q).scalars()
        ]


# --- runs (Analyses tab, Overview) ---------------------------------------------------------


@dataclass(frozen=True)
class RunRow:
    """One run of the case: a check, an experiment or a calibration sweep."""

    id: int
    kind: str
    category: str  # check | experiment | calibration
    status: str
    created_at: str
    finished_at: str | None
    checks: list[str]
    verdicts: dict[str, str]
    error: str | None
    progress: float
    subject: str = ""  # which model the run tested: "suspect-osprey (suspect)"

    @property
    def label(self) -> str:
        """How every screen names the run: "Run 3 — suspect-osprey (suspect)"."""
        return f"Run {self.id} — {self.subject}" if self.subject else f"Run {self.id}"


def run_subject(category: str, inputs: dict[str, Any]) -> str:
    """Which model a run tested, from its recorded inputs (its name and case role).

    A check names its suspect; an experiment or a sweep the teacher it distilled. Runs of
    the distilled suspect and of its clean twin differ only here, so every list names it.
    """
    if category == "check":
        suspect = inputs.get("suspect") or {}
        name = str(suspect.get("name") or suspect.get("label") or "")
        role = str(suspect.get("role") or "")
        return f"{name} ({role})" if name and role else name
    teacher = inputs.get("teacher") or {}
    path = str(teacher.get("path") or "")
    return f"teacher {PurePath(path).name}" if path else ""


@dataclass(frozen=True)
class RunDetails:
    """Everything the Analyses tab shows about one run (records from core.reports)."""

    row: RunRow
    parameters: dict[str, Any]
    inputs: dict[str, Any]
    summary: dict[str, Any]
    checks: list[Any]  # core.reports.data.CheckRecord
    combined: Any  # core.reports.data.CombinedInfo | None
    calibration: list[Any]  # core.reports.data.CalibrationRow


def _run_row(run: Run) -> RunRow:
    params, summary = run.parameters or {}, run.summary or {}
    return RunRow(
        id=run.id,
        kind=run.kind,
        category=run_category(run.kind),
        status=run.status,
        created_at=iso(run.created_at) or "",
        finished_at=iso(run.finished_at),
        checks=[str(c) for c in params.get("checks") or []],
        verdicts={str(k): str(v) for k, v in (summary.get("verdicts") or {}).items()},
        error=run.error,
        progress=float(run.progress or 0.0),
        subject=run_subject(run_category(run.kind), dict(run.inputs or {})),
    )


def run_rows(cf: CaseFile, case_id: int) -> list[RunRow]:
    """The case's runs, newest first."""
    with cf.read_session() as s:
        runs = (
            s.execute(select(Run).where(Run.case_id == case_id).order_by(Run.id.desc()))
            .scalars()
            .all()
        )
        return [_run_row(r) for r in runs]


def run_details(cf: CaseFile, run_id: int) -> RunDetails:
    """One run with its check records (verdicts, results, per-probe series) or rates."""
    from core.reports.analyses import calibration_rows, check_records, combined_info

    with cf.read_session() as s:
        run = s.get(Run, run_id)
        if run is None:
            raise NotFoundError(f"No run {run_id} in this case file.")
        row = _run_row(run)
        checks = check_records(run, lambda _kind, _id: None) if row.category == "check" else []
        return RunDetails(
            row,
            dict(run.parameters or {}),
            dict(run.inputs or {}),
            dict(run.summary or {}),
            checks,
            combined_info(run) if row.category == "check" else None,
            calibration_rows(run) if row.category == "calibration" else [],
        )


# --- policies (Policies tab, ``policy list``) ----------------------------------------------


@dataclass(frozen=True)
class PolicyRow:
    """One imported terms document version."""

    id: int
    provider: str
    title: str
    version: str
    effective_from: str | None
    effective_to: str | None
    series: str
    clauses: int
    source_format: str
    sha256: str


def policy_rows(cf: CaseFile, case: int | str) -> list[PolicyRow]:
    """The case's policies, grouped by provider and document series, oldest version first."""
    from core.policy.persist import series_key

    with cf.read_session() as s:
        case_id = get_case(s, case).id
        counts = dict(
            s.execute(select(Clause.policy_id, func.count()).group_by(Clause.policy_id)).all()
        )
        rows = [
            PolicyRow(
                p.id,
                p.provider,
                p.title,
                p.version,
                p.effective_from.isoformat() if p.effective_from else None,
                p.effective_to.isoformat() if p.effective_to else None,
                series_key(p.title),
                int(counts.get(p.id, 0)),
                p.source_format,
                p.source_sha256,
            )
            for p in s.execute(select(Policy).where(Policy.case_id == case_id)).scalars()
        ]
    return sorted(rows, key=lambda r: (r.provider, r.series, r.effective_from or "", r.id))


# --- evidence (Evidence tab, wizards, ``evidence list``) -----------------------------------


@dataclass(frozen=True)
class EvidenceChoice:
    """A model or transcript set offered in a wizard's list."""

    kind: str  # model | transcripts
    id: int
    name: str
    role: str
    path: str
    detail: str
    sha256: str = ""  # manifest digest (models) or file hash (transcripts): same files, same hash

    @property
    def label(self) -> str:
        return (
            f"{self.name} ({self.role}) — {self.detail}"
            if self.detail
            else f"{self.name} ({self.role})"
        )


def evidence_items(cf: CaseFile, case: int | str) -> list[EvidenceItem]:
    """Every model and transcript set of the case with hashes and details (for listings)."""
    from core.evidence.inventory import list_evidence

    return list_evidence(cf, case)


def evidence_choices(cf: CaseFile, case_id: int) -> list[EvidenceChoice]:
    """The case's models and transcript sets, for the check and experiment wizards."""
    return [
        EvidenceChoice(e.kind, e.id, e.name, e.role, e.path, e.description, e.sha256)
        for e in evidence_items(cf, case_id)
    ]


def transcript_names(cf: CaseFile, set_id: int) -> list[str]:
    """The model and provider names a transcript set records (for the identity check)."""
    with cf.read_session() as s:
        t = s.get(TranscriptSet, set_id)
        return [n for n in ((t.model_name, t.provider) if t else ()) if n]


@dataclass(frozen=True)
class CustodySource:
    """Custody from the source of one evidence item, as the GUI and CLI show it."""

    item_kind: str  # model | transcripts | policy
    item_id: int
    produced_by: str
    collected_at: str
    collection_method: str  # production | download | capture | forensic_image | other
    production_no: str
    source_sha256: str
    receipt_sha256: str
    discrepancy: str  # '' when the hash at source is the hash on receipt (or not stated)
    transfers: tuple[dict[str, str], ...]

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "transfers": list(self.transfers)}


def custody_sources(cf: CaseFile, case: int | str) -> list[CustodySource]:
    """Every custody-from-the-source record of a case, by (kind, item id)."""
    from core.evidence.source_custody import custody_by_item

    with cf.read_session() as s:
        rows = custody_by_item(s, get_case(s, case).id)
    return [
        CustodySource(kind, item_id, **{**d, "transfers": tuple(d["transfers"])})
        for (kind, item_id), d in sorted(rows.items())
    ]
