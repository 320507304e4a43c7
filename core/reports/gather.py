"""Everything a report shows, read from the case file once: :func:`gather_report_data`.

Reading is side-effect free: the fresh re-verification of the evidence re-hashes the
files without writing to the case file, and the audit chain is verified as it stands.
:func:`core.reports.export.export_report` records the one audit event of an export
(with the verification outcome and the report's hashes) after the files are written.
So the GUI can gather for a preview as often as it likes, and two exports of the same
case-file state (with the same ``generated_at``) give the same bytes.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from core import __version__
from core.checks.verbal import definitions
from core.errors import NotFoundError
from core.evidence.custody import HashCache, check_case_records, file_status
from core.evidence.source_custody import custody_by_item
from core.jobs import JobState
from core.policy.persist import series_key
from core.policy.versions import VersionInfo, in_force
from core.reports import wording
from core.reports.analyses import (
    brief,
    calibration_rows,
    check_command,
    check_records,
    combined_info,
    evidence_root,
    run_category,
)
from core.reports.calibration_lr import calibration_lr_record
from core.reports.conduct import gather_conduct
from core.reports.data import (
    REPORT_FORMAT_VERSION,
    AuditRow,
    CaseInfo,
    ChainInfo,
    CheckRecord,
    ClauseLinkRecord,
    EvidenceRecord,
    ExaminerDetails,
    FileRecord,
    FindingRecord,
    ReportData,
    ReportMeta,
    ReproStep,
    TermsClause,
    TermsInForce,
    VerificationInfo,
)
from core.reports.opinion import build_opinion
from core.store.audit import verify_chain
from core.store.cases import get_case
from core.store.db import CaseFile
from core.store.models import (
    AuditEvent,
    Case,
    Clause,
    Finding,
    FindingClause,
    ModelArtifact,
    Policy,
    Run,
    TranscriptSet,
)
from core.store.runs import RERUN_ACTION, software_versions
from core.store.types import iso

QUOTE_WORDS = 60
EXPORT_ACTION = "report.exported"


def _utc(dt: datetime | None) -> datetime:
    if dt is None:
        return datetime.now(UTC)
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _day(d: Any) -> str | None:
    return d.isoformat() if d is not None else None


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def quotation(text: str, limit: int = QUOTE_WORDS) -> tuple[str, bool]:
    """The clause text, white space normalised, cut to ``limit`` words; (text, truncated)."""
    words = text.split()
    return " ".join(words[:limit]), len(words) > limit


def _model_record(a: ModelArtifact, label: str) -> EvidenceRecord:
    prov = a.provenance or {}
    params = f"{a.parameter_count:,} parameters" if a.parameter_count else "parameter count unknown"
    return EvidenceRecord(
        kind="model",
        id=a.id,
        label=label,
        name=a.name,
        role=a.role,
        format=a.format,
        source=str(prov.get("source") or ""),
        collector=str(prov.get("collector") or ""),
        collected_at=prov.get("collected_at"),
        imported_by=a.imported_by,
        imported_at=iso(a.imported_at) or "",
        sha256=a.manifest_sha256,
        size=a.total_size,
        path=a.path,
        description=f"{a.architecture or 'model'}, {params}, vocabulary "
        f"{a.vocab_size or 'unknown'}",
        files=[FileRecord(e["path"], e["sha256"], e.get("size"), "ok", None) for e in a.manifest],
        details={
            "architecture": a.architecture,
            "parameter_count": a.parameter_count,
            "vocab_size": a.vocab_size,
            "tokenizer_hash": a.tokenizer_hash,
            "licence_file": a.licence_file,
            "notes": prov.get("notes") or "",
            "produced_by_run_id": a.produced_by_run_id,
        },
    )


def _transcript_record(t: TranscriptSet, label: str) -> EvidenceRecord:
    desc = f"{t.item_count:,} prompt/response pairs"
    if t.model_name:
        desc += f" from {t.model_name}" + (f" ({t.provider})" if t.provider else "")
    if t.duplicate_prompts:
        desc += f"; {t.duplicate_prompts} duplicate prompt(s)"
    return EvidenceRecord(
        kind="transcripts",
        id=t.id,
        label=label,
        name=t.name,
        role=t.role,
        format="transcripts",
        source=t.source,
        collector=t.collector,
        collected_at=iso(t.collected_at),
        imported_by=t.imported_by,
        imported_at=iso(t.imported_at) or "",
        sha256=t.file_sha256,
        size=t.file_size,
        path=t.source_path,
        description=desc,
        files=[FileRecord(Path(t.source_path).name, t.file_sha256, t.file_size, "ok", None)],
        details={
            "items": t.item_count,
            "provider": t.provider,
            "model_name": t.model_name,
            "sampling": t.sampling,
            "duplicate_prompts": t.duplicate_prompts,
        },
    )


def _policy_record(p: Policy, label: str) -> EvidenceRecord:
    dates = f"effective {_day(p.effective_from) or '?'} to {_day(p.effective_to) or 'open'}"
    return EvidenceRecord(
        kind="policy",
        id=p.id,
        label=label,
        name=f"{p.provider}: {p.title}",
        role="terms",
        format=p.source_format,
        source=str((p.details or {}).get("source") or ""),
        collector=str((p.details or {}).get("collector") or ""),
        collected_at=None,
        imported_by=p.imported_by,
        imported_at=iso(p.imported_at) or "",
        sha256=p.source_sha256,
        size=_int_or_none((p.details or {}).get("size")),
        path=p.source_path,
        description=f"version {p.version}, {dates}, {len(p.clauses)} clauses",
        files=[FileRecord(Path(p.source_path).name, p.source_sha256, None, "ok", None)],
        details={
            "provider": p.provider,
            "title": p.title,
            "version": p.version,
            "effective_from": _day(p.effective_from),
            "effective_to": _day(p.effective_to),
            "taxonomy_version": p.taxonomy_version,
        },
    )


def _reverify(
    cf: CaseFile, case_id: int, evidence: list[EvidenceRecord], state: JobState
) -> list[dict[str, Any]]:
    """Re-hash every evidence file in place (status ok | changed | missing) and check each
    model and transcript record against its import event (core.evidence.custody, the
    verification a check run does before use); returns the records found altered, in the
    form of the verification's problems."""
    cache = HashCache()
    jobs = [(e, f) for e in evidence for f in e.files]
    for i, (e, f) in enumerate(jobs):
        state.check_cancelled()
        path = Path(e.path) / f.path if e.kind == "model" else Path(e.path)
        state.set_status(f"Re-verifying {e.label} {f.path}")
        sub = state.sub(10 + 90 * i / len(jobs), 10 + 90 * (i + 1) / len(jobs))
        f.status, f.actual_sha256 = file_status(path, f.sha256, cache, sub)
    with cf.read_session() as s:
        records = {(r.kind, r.id): r for r in check_case_records(s, case_id, state.sub(0, 10))}
    altered: list[dict[str, Any]] = []
    for e in evidence:
        statuses = {f.status for f in e.files}
        record = records.get((e.kind, e.id))
        for d in record.differences if record is not None else []:
            statuses.add("changed")
            altered.append(
                {
                    "label": e.label,
                    "name": e.name,
                    "file": d.subject,
                    "status": d.status,
                    "expected": d.expected,
                    "actual": d.found,
                    "what": d.what,
                }
            )
        e.verification = (
            "changed" if "changed" in statuses else "missing" if "missing" in statuses else "ok"
        )
    return altered


def _clause_link(
    fc: FindingClause,
    finding: Finding,
    policies: dict[int, Policy],
    labels: dict[int, str],
    case_conduct: Any,
) -> ClauseLinkRecord:
    clause: Clause = fc.clause
    quoted_from = clause.policy
    in_force = policies.get(fc.policy_in_force_id) if fc.policy_in_force_id else None
    shown = in_force or quoted_from
    conduct = fc.conduct_date or case_conduct
    notes = []
    if in_force is None:
        notes.append(
            "The version in force at the conduct date was not determined; the "
            "version the clause was quoted from is shown."
        )
    elif in_force.id != quoted_from.id:
        notes.append(
            f"The clause is quoted from version {quoted_from.version}; the version in "
            f"force at the conduct date is {in_force.version}."
        )
    if conduct is not None and shown is not None:
        starts, ends = shown.effective_from, shown.effective_to
        if (starts and conduct < starts) or (ends and conduct > ends):
            notes.append(
                f"The conduct date {conduct.isoformat()} lies outside this version's "
                "effective dates."
            )
    if conduct is None:
        notes.append("No conduct date was recorded.")
    tags = sorted(
        (t for t in clause.tags if t.status != "removed"), key=lambda t: (-t.score, t.category)
    )
    quote, cut = quotation(clause.text)
    return ClauseLinkRecord(
        id=fc.id,
        finding_id=finding.id,
        finding_status=finding.status,
        provider=shown.provider,
        document=shown.title,
        version=shown.version,
        effective_from=_day(shown.effective_from),
        effective_to=_day(shown.effective_to),
        policy_sha256=quoted_from.source_sha256,
        policy_label=labels.get(quoted_from.id, ""),
        conduct_date=_day(conduct),
        in_force_note=" ".join(notes),
        clause_number=clause.number,
        clause_heading=clause.heading or "",
        categories=list(dict.fromkeys(t.category for t in tags)),
        quotation=quote,
        quotation_truncated=cut,
        note=fc.note or "",
    )


def _resolver(evidence: list[EvidenceRecord]) -> Callable[[str, Any], EvidenceRecord | None]:
    """(kind, id) -> the case's evidence record, for reading ``Run.inputs``."""
    index = {(e.kind, e.id): e for e in evidence}

    def resolve(kind: str, value: Any) -> EvidenceRecord | None:
        try:
            return index.get((kind, int(value)))
        except (TypeError, ValueError):
            return None

    return resolve


def _questions(
    case: Case, evidence: list[EvidenceRecord], checks: list[CheckRecord], has_policies: bool
) -> list[str]:
    def names(role: str) -> str:
        found = [e.name for e in evidence if e.kind == "model" and e.role == role]
        return f" ({', '.join(found)})" if found else ""

    out = [
        f"Was the suspect model{names('suspect')} trained, in whole or in part, on "
        f"outputs of the protected model{names('protected')} (Hp), or independently of "
        "those outputs (Hd)?"
    ]
    seen: set[str] = set()
    for c in checks:
        if c.question and c.question not in seen and not c.question.startswith("not recorded"):
            seen.add(c.question)
            out.append(f"{c.title}: {c.question}")
    if has_policies:
        out.append(
            "Which clauses of the terms of service in force at the conduct date concern "
            "the conduct examined? (The legal assessment is left to counsel.)"
        )
    return out


def _limitations(
    data_checks: list[CheckRecord],
    calibrated: set[str],
    evidence_ok: bool,
    chain: ChainInfo,
    drafts: int,
) -> tuple[list[str], str]:
    specific: list[str] = []
    if not chain.ok:
        specific.append(
            f"The audit chain is broken at event {chain.first_broken_id}: "
            f"{chain.problem}. The record of custody after that point cannot be "
            "relied on without further inquiry."
        )
    if not evidence_ok:
        specific.append(
            "At least one evidence file no longer matches the hash recorded at "
            "import (Section 8); results based on it should not be relied on "
            "until the discrepancy is explained."
        )
    done = [c for c in data_checks if c.completed]
    if not done:
        specific.append(wording.NOTES["checks"])
    if not calibrated:
        specific.append(wording.NO_CALIBRATION)
    else:
        missing = sorted(
            {c.title for c in done if c.key not in calibrated and c.verdict != "declined"}
        )
        if missing and "all checks" not in calibrated:
            specific.append("Error rates were not measured for: " + ", ".join(missing) + ".")
    not_done = [c for c in data_checks if not c.completed or c.verdict == "declined"]
    if not_done:
        specific.append(
            "Checks that failed, were cancelled or declined produced no result: "
            + ", ".join(
                f"{c.title} (run {c.run_id}, {'declined' if c.verdict == 'declined' else c.status})"
                for c in not_done
            )
            + "."
        )
    if drafts:
        specific.append(
            f"{drafts} draft finding(s) have not been reviewed and are not part of "
            "this report's findings (Appendix F)."
        )
    general = list(wording.GENERAL_LIMITATIONS)
    main = (
        specific[0]
        if specific
        else (
            "Similarity between the suspect and the protected model can also arise from shared "
            "public data, a shared base model or the protected model's outputs published on the "
            "web; the reference panel controls for these only as far as it is representative."
        )
    )
    return specific + general, main


def gather_report_data(
    cf: CaseFile,
    case_key: int | str,
    *,
    generated_at: datetime | None = None,
    prepared_by: str = "",
    state: JobState | None = None,
    runs: Sequence[int] | None = None,
    examiner: ExaminerDetails | None = None,
) -> ReportData:
    """Read everything a report shows for a case, re-verify its evidence, verify the audit chain.

    ``generated_at`` fixes the report's date (tests, reproducible re-exports); by default
    it is now (UTC). ``runs`` names the check runs the report covers (default: every
    completed run that no later run of the same model supersedes). Writes nothing to the
    case file.
    """
    state = state or JobState()
    when = _utc(generated_at)
    state.set_status("Reading the case file")
    with cf.read_session() as s:
        data, left_out = _read(s, case_key, when, prepared_by, Path(cf.path).name, runs)
    data.examiner = examiner or ExaminerDetails()
    altered = _reverify(cf, data.case.id, data.evidence, state.sub(0, 95))
    problems = [
        {
            "label": e.label,
            "name": e.name,
            "file": f.path,
            "status": f.status,
            "expected": f.sha256,
            "actual": f.actual_sha256,
        }
        for e in data.evidence
        for f in e.files
        if f.status != "ok"
    ] + altered
    data.verification = VerificationInfo(
        iso(when) or "", sum(len(e.files) for e in data.evidence), not problems, problems
    )
    calibrated = {r.check for r in data.calibration}
    drafts = len(data.findings_with_status("draft"))
    data.limitations, data.main_limitation = _limitations(
        data.checks, calibrated, not problems, data.chain, drafts
    )
    data.opinion = build_opinion(data, left_out)
    state.set_progress(100)
    return data


def select_runs(
    check_runs: Sequence[Run], wanted: Sequence[int] | None
) -> tuple[list[Run], dict[str, str]]:
    """The check runs a report covers, and why each other one is left out.

    Default: completed runs only, and of several runs on the same model under test the
    latest (the earlier ones are superseded). ``wanted`` names runs explicitly; a run id
    that is not a check run of the case is refused.
    """
    by_id = {r.id: r for r in check_runs}
    if wanted is not None:
        unknown = [str(i) for i in wanted if i not in by_id]
        if unknown:
            raise NotFoundError(
                f"No check run {', '.join(unknown)} in this case; the check runs are "
                f"{', '.join(str(i) for i in by_id) or 'none'}."
            )
        keep = set(wanted)
        return [r for r in check_runs if r.id in keep], {
            str(r.id): "not selected for this report" for r in check_runs if r.id not in keep
        }
    left: dict[str, str] = {}
    latest: dict[Any, int] = {}
    for r in check_runs:
        if r.status != "done":
            left[str(r.id)] = f"{r.status}, no result"
            continue
        suspect = (r.inputs or {}).get("suspect") or {}
        key = (suspect.get("artifact_id") if isinstance(suspect, dict) else None) or f"run{r.id}"
        if key in latest:
            left[str(latest[key])] = f"superseded by run {r.id} on the same model"
        latest[key] = r.id
    keep_ids = set(latest.values())
    return [r for r in check_runs if r.id in keep_ids], left


def _terms_in_force(
    pols: Sequence[Policy],
    labels: dict[int, str],
    conduct: Any,
    links: list[ClauseLinkRecord],
) -> list[TermsInForce]:
    """Per provider and document: the version in force on the conduct date and its clauses
    on the conduct examined (core.policy's in-force lookup; clause text in full)."""
    if conduct is None:
        return []
    series: dict[tuple[str, str], list[Policy]] = {}
    for p in pols:
        series.setdefault((p.provider, series_key(p.title)), []).append(p)
    accepted = [c for c in links if c.finding_status == "accepted"]
    out: list[TermsInForce] = []
    for (provider, _key), versions in series.items():
        infos = [
            VersionInfo(p.version, p.effective_from, p.effective_to, p.title, p.source_sha256, p.id)
            for p in versions
        ]
        hit = in_force(infos, conduct)
        pol = next((p for p in versions if hit is not None and p.id == hit.policy_id), None)
        if pol is None:
            continue
        clauses = []
        for cl in pol.clauses:
            tags = sorted(
                (t for t in cl.tags if t.status != "removed"), key=lambda t: (-t.score, t.category)
            )
            cats = list(dict.fromkeys(t.category for t in tags))
            linked = sorted(
                {
                    c.finding_id
                    for c in accepted
                    if c.clause_number == cl.number and c.version == pol.version
                }
            )
            if not linked and not set(cats) & set(wording.CONDUCT_CATEGORIES):
                continue
            clauses.append(
                TermsClause(
                    cl.number,
                    cl.heading or "",
                    " ".join(cl.text.split()),
                    cats,
                    [wording.category_label(c) for c in cats],
                    linked,
                )
            )
        out.append(
            TermsInForce(
                provider=provider,
                document=pol.title,
                version=pol.version,
                effective_from=_day(pol.effective_from),
                effective_to=_day(pol.effective_to),
                conduct_date=_day(conduct) or "",
                policy_label=labels.get(pol.id, ""),
                policy_sha256=pol.source_sha256,
                versions_considered=[
                    f"{p.version} (from {_day(p.effective_from) or '?'})" for p in versions
                ],
                clauses=clauses,
            )
        )
    return out


def _read(
    s: Session,
    case_key: int | str,
    when: datetime,
    prepared_by: str,
    case_file: str,
    wanted: Sequence[int] | None = None,
) -> tuple[ReportData, dict[str, str]]:
    case = get_case(s, case_key)
    cid = case.id
    arts = s.scalars(
        select(ModelArtifact).where(ModelArtifact.case_id == cid).order_by(ModelArtifact.id)
    ).all()
    sets = s.scalars(
        select(TranscriptSet).where(TranscriptSet.case_id == cid).order_by(TranscriptSet.id)
    ).all()
    pols = s.scalars(
        select(Policy)
        .where(Policy.case_id == cid)
        .order_by(Policy.id)
        .options(selectinload(Policy.clauses))
    ).all()
    evidence = (
        [_model_record(a, f"M{i}") for i, a in enumerate(arts, 1)]
        + [_transcript_record(t, f"T{i}") for i, t in enumerate(sets, 1)]
        + [_policy_record(p, f"P{i}") for i, p in enumerate(pols, 1)]
    )
    custody = custody_by_item(s, cid)  # custody from the source: details["custody"], if any
    for e in evidence:
        if (e.kind, e.id) in custody:
            e.details["custody"] = custody[(e.kind, e.id)]
    policy_labels = {e.id: e.label for e in evidence if e.kind == "policy"}
    runs = s.scalars(
        select(Run).where(Run.case_id == cid).order_by(Run.id).options(selectinload(Run.results))
    ).all()
    resolve = _resolver(evidence)
    check_runs, left_out = select_runs([r for r in runs if run_category(r) == "check"], wanted)
    root = evidence_root(e.path for e in evidence if e.kind != "policy")
    commands = {
        r.id: check_command(r, resolve, case_file, case.reference, root) for r in check_runs
    }
    checks = [c for r in check_runs for c in check_records(r, resolve, commands[r.id])]
    combined = [c for c in (combined_info(r) for r in check_runs) if c is not None]
    cal_runs = [r for r in runs if run_category(r) == "calibration"]
    findings = s.scalars(
        select(Finding)
        .where(Finding.case_id == cid)
        .order_by(Finding.id)
        .options(
            selectinload(Finding.run_links),
            selectinload(Finding.clause_links)
            .selectinload(FindingClause.clause)
            .selectinload(Clause.tags),
            selectinload(Finding.clause_links)
            .selectinload(FindingClause.clause)
            .selectinload(Clause.policy),
        )
    ).all()
    policies = {p.id: p for p in pols}
    links = [
        _clause_link(fc, f, policies, policy_labels, case.conduct_date)
        for f in findings
        for fc in sorted(f.clause_links, key=lambda x: x.id)
    ]
    events = s.scalars(
        select(AuditEvent).where(AuditEvent.case_id == cid).order_by(AuditEvent.id)
    ).all()
    chain_report = verify_chain(s)
    head_id = s.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1))
    version = 1 + sum(1 for e in events if e.action == EXPORT_ACTION)
    meta = ReportMeta(
        report_id=f"{case.reference}-R{version:02d}",
        report_version=version,
        format_version=REPORT_FORMAT_VERSION,
        generated_at=iso(when) or "",
        tool_version=__version__,
        prepared_by=prepared_by,
        case_file=case_file,
        software=software_versions(),
    )
    info = CaseInfo(
        cid,
        case.reference,
        case.title,
        list(case.parties or []),
        case.commissioned_by,
        case.status,
        case.hypothesis_p,
        case.hypothesis_d,
        _day(case.conduct_date),
        iso(case.created_at) or "",
    )
    data = ReportData(
        meta=meta,
        case=info,
        questions=_questions(case, evidence, checks, bool(pols) or bool(links)),
        evidence=evidence,
        verification=VerificationInfo(iso(when) or "", 0, True, []),
        chain=ChainInfo(
            chain_report.ok,
            chain_report.events,
            chain_report.head_hash,
            head_id,
            chain_report.first_broken_id,
            chain_report.problem,
        ),
        checks=checks,
        combined=combined,
        calibration=[row for r in cal_runs for row in calibration_rows(r)],
        calibration_runs=[brief(r) for r in cal_runs],
        calibration_lr=[x for x in (calibration_lr_record(r) for r in cal_runs) if x],
        experiments=[brief(r) for r in runs if run_category(r) == "experiment"],
        findings=[
            FindingRecord(
                f.id,
                f.statement,
                f.strength,
                f.status,
                f.reviewer,
                f.reviewer_notes,
                sorted(link.run_id for link in f.run_links),
                sorted(link.id for link in f.clause_links),
                iso(f.created_at) or "",
                iso(f.updated_at) or "",
            )
            for f in findings
        ],
        clause_links=links,
        audit=[
            AuditRow(
                e.id,
                iso(e.at) or "",
                e.actor,
                e.action,
                e.entity,
                e.entity_id,
                e.details,
                e.prev_hash,
                e.hash,
            )
            for e in events
        ],
        reproduction=[],
        limitations=[],
        main_limitation="",
        verbal_scale=definitions(),
        glossary=wording.glossary(),
        notes={},
    )
    reruns = {  # the latest recorded re-run of each run (core.checks.rerun)
        e.entity_id: dict(e.details or {}, at=iso(e.at)) for e in events if e.action == RERUN_ACTION
    }
    data.terms_in_force = _terms_in_force(pols, policy_labels, case.conduct_date, links)
    data.conduct = gather_conduct(s, case.id, pols)
    data.reproduction = _reproduction(
        data,
        [r for r in runs if run_category(r) != "check" or r.id in commands],
        commands,
        reruns,
    )
    data.notes = _notes(data)
    return data, left_out


def _rerun_note(rerun: dict[str, Any]) -> str:
    """How the latest recorded re-run of a run came out, in one clause."""
    outcome, at = rerun.get("outcome"), rerun.get("at") or "?"
    if outcome == "match":
        return f"re-run {at}: reproduced, all {rerun.get('compared', '?')} numbers match"
    if outcome == "refused":
        return f"re-run {at}: not reproduced ({rerun.get('reason', '')})"
    return (
        f"re-run {at}: NOT reproduced, {len(rerun.get('differences') or [])} of "
        f"{rerun.get('compared', '?')} values differ"
    )


def _reproduction(
    data: ReportData,
    runs: list[Run],
    commands: dict[int, str | None],
    reruns: dict[str | None, dict[str, Any]] | None = None,
) -> list[ReproStep]:
    db = shlex.quote(data.meta.case_file)
    ref = shlex.quote(data.case.reference)
    root = evidence_root(e.path for e in data.evidence if e.kind != "policy")
    steps = [
        ReproStep(
            "Work in the evidence folder: the paths below are relative to the folder that held "
            f"the evidence at import ({Path(root).name if root else 'not recorded'}), so the "
            "calls run wherever verified copies of it lie",
            "cd EVIDENCE_FOLDER",
            "command",
        ),
        ReproStep(
            "Re-verify the evidence hashes",
            f"distill-audit --db {db} evidence verify --case {ref}",
            "command",
        ),
        ReproStep("Verify the audit chain", f"distill-audit --db {db} audit verify", "command"),
    ]
    for r in runs:
        b = brief(r, commands.get(r.id))
        label = f"Run {r.id} ({r.kind}), seed {r.seed if r.seed is not None else 'none'}"
        rerun = (reruns or {}).get(str(r.id))
        if rerun:
            label += "; " + _rerun_note(rerun)
        if (r.parameters or {}).get("cli"):
            steps.append(ReproStep(label, b.command or "", "recorded"))
        elif b.command:
            steps.append(
                ReproStep(
                    label + "; rebuilt from the run's recorded settings and "
                    "inputs (the transcripts are imported again as new sets)",
                    b.command,
                    "reconstructed",
                )
            )
        else:
            params = json.dumps(b.parameters, sort_keys=True, ensure_ascii=False, default=str)
            steps.append(
                ReproStep(
                    label + "; the run did not record its command line. Parameters as recorded",
                    params,
                    "parameters",
                )
            )
    steps.append(
        ReproStep(
            "Re-export this report (identical content requires the same case-file state, i.e. the "
            f"audit log up to event {data.chain.head_event_id or 0})",
            f"distill-audit --db {db} report --case {ref} --out report.pdf "
            f"--generated-at {data.meta.generated_at} --prepared-by "
            f"{shlex.quote(data.meta.prepared_by or 'NAME')}",
            "command",
        )
    )
    return steps


def _notes(data: ReportData) -> dict[str, str]:
    notes: dict[str, str] = {}
    if not data.evidence:
        notes["evidence"] = wording.NOTES["evidence"]
    if not any(c.completed for c in data.checks):
        notes["checks"] = wording.NOTES["checks"]
    if not data.calibration:
        notes["calibration"] = wording.NOTES["calibration"]
    if not any(c.series for c in data.checks):
        notes["figures_probes"] = wording.NOTES["figures_probes"]
    if len({r.samples for r in data.calibration if r.samples}) < 2:
        notes["figures_calibration"] = wording.NOTES["figures_calibration"]
    if not [c for c in data.clause_links if c.finding_status == "accepted"]:
        notes["clauses"] = wording.NOTES["clauses"]
    if not data.findings_with_status("accepted"):
        notes["findings"] = wording.NOTES["findings"]
    if not data.experiments:
        notes["experiments"] = wording.NOTES["experiments"]
    return notes
