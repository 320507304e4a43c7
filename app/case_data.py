"""Plain records the views show, read from the case file through core.

Views never hold ORM objects: each read opens a short session, copies what is shown into
frozen dataclasses and closes the session, so nothing crosses threads or outlives it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from core.store.cases import CaseSummary, get_case, summarise
from core.store.db import CaseFile
from core.store.models import AuditEvent, Clause, Policy, Run
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


def run_category(kind: str) -> str:
    """check | calibration | experiment, as core.reports.analyses.run_category files runs.

    Repeated here (three lines) because that module loads scipy, which the Overview must
    not wait for at start-up.
    """
    k = kind.lower()
    if "calibration" in k:
        return "calibration"
    return "check" if k == "check" or k.startswith(("check.", "check:")) else "experiment"


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
            from core.errors import NotFoundError

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


# --- policies (Policies tab) ---------------------------------------------------------------


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


def policy_rows(cf: CaseFile, case_id: int) -> list[PolicyRow]:
    """The case's policies, grouped by provider and document series, oldest version first."""
    from core.policy.persist import series_key

    with cf.read_session() as s:
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


@dataclass(frozen=True)
class EvidenceChoice:
    """A model or transcript set offered in a wizard's list."""

    kind: str  # model | transcripts
    id: int
    name: str
    role: str
    path: str
    detail: str

    @property
    def label(self) -> str:
        return (
            f"{self.name} ({self.role}) — {self.detail}"
            if self.detail
            else f"{self.name} ({self.role})"
        )


def evidence_choices(cf: CaseFile, case_id: int) -> list[EvidenceChoice]:
    """The case's models and transcript sets, for the check and experiment wizards."""
    from core.evidence.inventory import list_evidence

    return [
        EvidenceChoice(e.kind, e.id, e.name, e.role, e.path, e.description)
        for e in list_evidence(cf, case_id)
    ]


def transcript_names(cf: CaseFile, set_id: int) -> list[str]:
    """The model and provider names a transcript set records (for the identity check)."""
    from core.store.models import TranscriptSet

    with cf.read_session() as s:
        t = s.get(TranscriptSet, set_id)
        return [n for n in ((t.model_name, t.provider) if t else ()) if n]
