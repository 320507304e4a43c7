"""A realistic case file for the report tests and benchmark, and tests of what is gathered.

The case is built through the store API (create_case, import_model, import_transcripts)
and the checks' own storage: runs.create_run / runs.running and
core.checks.findings.store_results with real CheckResults from
core.checks.paired.compare_with_panel, so the Result rows and draft findings are exactly
what core.checks.runner writes. What has no writer yet (calibration runs, policies and
clause links, reviews) is inserted as ORM rows in one session with audit events.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from core.checks import identity, likelihood, similarity
from core.checks.findings import store_results
from core.checks.framework import declined
from core.checks.paired import compare_with_panel
from core.checks.runner import SPECS, CheckSettings
from core.checks.stats import clopper_pearson, combine_holm
from core.errors import DeclinedError
from core.evidence.importer import import_model, import_transcripts
from core.store import audit, runs
from core.store.cases import create_case
from core.store.db import CaseFile
from core.store.models import (
    Clause,
    ClauseTag,
    Finding,
    FindingClause,
    FindingRun,
    ModelArtifact,
    Policy,
    Result,
    Run,
    TranscriptSet,
)
from core.store.runs import software_versions

T0 = datetime(2025, 10, 6, 9, 30, tzinfo=UTC)
GENERATED_AT = datetime(2025, 11, 3, 12, 0, tzinfo=UTC)

CLAUSE_TEXT = (
    "You may not use the Services or any Output to develop, train or improve any artificial "
    "intelligence model that competes with our products or services, including by means of "
    "distillation, model extraction or any other technique that uses Output as training data, "
    "and you may not assist any third party in doing so, whether directly or indirectly, and "
    "this restriction survives termination of these Terms for any reason whatsoever."
)


@dataclass
class BuiltCase:
    reference: str
    case_id: int
    artifacts: list[int] = field(default_factory=list)
    transcripts: list[int] = field(default_factory=list)
    check_runs: list[int] = field(default_factory=list)
    policy_id: int = 0
    clause_id: int = 0
    findings: dict[str, list[int]] = field(default_factory=dict)


def _describe_model(a: ModelArtifact) -> dict[str, Any]:
    return {
        "artifact_id": a.id,
        "name": a.name,
        "label": a.name,
        "role": a.role,
        "format": a.format,
        "manifest_sha256": a.manifest_sha256,
    }


def _check_run(
    cf: CaseFile,
    case_id: int,
    suspect: int,
    refs: list[int],
    answers: int,
    n_probes: int,
    seed: int,
) -> int:
    """A finished check run stored as core.checks.runner stores it (likelihood, similarity
    from real paired tests; identity declined), with the draft findings it proposes."""
    with cf.read_session() as s:
        sus = s.get(ModelArtifact, suspect)
        ref_rows = [s.get(ModelArtifact, r) for r in refs]
        tset = s.get(TranscriptSet, answers)
        inputs = {
            "suspect": _describe_model(sus),
            "references": [_describe_model(r) for r in ref_rows],
            "protected_model": None,
            "base_model": None,
            "protected_answers": {
                "transcript_set_id": tset.id,
                "name": tset.name,
                "role": tset.role,
                "file_sha256": tset.file_sha256,
                "items": tset.item_count,
            },
            "control_answers": None,
            "artifact_ids": [suspect, *refs],
            "transcript_set_ids": [answers],
        }
        names = [r.name for r in ref_rows]
        sus_name = sus.name
    probe_ids = [f"p{i:03d}" for i in range(n_probes)]
    settings = CheckSettings(
        checks=("likelihood", "identity", "similarity"),
        seed=seed,
        n_resamples=2000,
        protected_names=("Lumen", "Halcyon"),
    )
    params = {
        **asdict(settings),
        "checks": list(settings.checks),
        "probe_ids": probe_ids,
        "probes_matched_by": "none",
        "probe_warnings": [],
        "learned_phrases": [],
        "learned_style_markers": [],
        "identity_suite": None,
    }
    run_id = runs.create_run(cf, case_id, "check", params, inputs, seed)
    rng = np.random.default_rng(seed)
    with runs.running(cf, run_id) as handle:
        results = {}
        for spec, shift, value_name in (
            (likelihood.SPEC, 0.45, "affinity_bits_per_byte"),
            (similarity.SPEC, 0.02, "similarity"),
        ):
            sv = rng.normal(0.1 + shift, 0.3, n_probes)
            rv = {n: rng.normal(0.1, 0.3, n_probes) for n in names}
            details = {
                "unit": "bits per UTF-8 byte" if spec is likelihood.SPEC else "score in [0, 1]"
            }
            results[spec.key] = compare_with_panel(
                spec,
                sv,
                rv,
                probe_ids=probe_ids,
                seed=seed,
                n_resamples=2000,
                value_name=value_name,
                details=details,
            )
        results = {
            "likelihood": results["likelihood"],
            "identity": declined(
                identity.SPEC,
                "Nothing to look for: no habitual phrases "
                "could be learned (that needs control answers).",
                seed=seed,
                n_probes=12,
                n_references=len(names),
            ),
            "similarity": results["similarity"],
        }
        combined = combine_holm({k: r.p_value for k, r in results.items()})
        findings = store_results(
            cf,
            run_id,
            case_id,
            SPECS,
            results,
            combined,
            suspect=sus_name,
            base=None,
            reference_ids=dict(zip(names, refs, strict=True)),
            excluded={},
        )
        handle.save_summary(
            verdicts={k: r.verdict for k, r in results.items()},
            p_values={k: r.p_value for k, r in results.items()},
            combined=combined.to_dict(),
            findings=findings,
        )
    return run_id


def _failed_run(cf: CaseFile, case_id: int, suspect: int, seed: int) -> int:
    run_id = runs.create_run(
        cf,
        case_id,
        "check",
        {"checks": ["identity"], "seed": seed},
        {"suspect": {"artifact_id": suspect}},
        seed,
    )
    try:
        with runs.running(cf, run_id):
            raise DeclinedError("Only 2 identity questions were answered.")
    except DeclinedError:
        pass
    return run_id


def _calibration_run(s: Any, case_id: int) -> Run:
    run = Run(
        case_id=case_id,
        kind="calibration",
        seed=99,
        status="done",
        parameters={"check": "likelihood", "teacher": "tiny-teacher"},
        software=software_versions(),
        summary={"check": "likelihood"},
        started_at=T0,
        finished_at=T0 + timedelta(hours=1),
    )
    s.add(run)
    s.flush()
    for samples, k in ((100, 3), (1000, 7), (10000, 10)):
        lo, hi = clopper_pearson(k, 10)
        s.add(
            Result(
                run_id=run.id,
                metric="detection_rate",
                value=k / 10,
                ci_low=lo,
                ci_high=hi,
                n=10,
                details={"check": "likelihood", "k": k, "samples": samples},
            )
        )
    lo, hi = clopper_pearson(1, 20)
    s.add(
        Result(
            run_id=run.id,
            metric="false_positive_rate",
            value=0.05,
            ci_low=lo,
            ci_high=hi,
            n=20,
            details={"check": "likelihood", "k": 1},
        )
    )
    audit.record(s, "run.done", "run", run.id, case_id=case_id)
    return run


def build_report_case(
    cf: CaseFile,
    model_dir: Path,
    tmp_path: Path,
    transcript: Path,
    *,
    reference: str = "DA-TEST-7",
    n_references: int = 3,
    n_findings: int = 6,
    n_probes: int = 30,
    calibration: bool = True,
    policies: bool = True,
    checks: bool = True,
) -> BuiltCase:
    """A case with evidence, a finished check run (likelihood supports Hp, identity declined,
    similarity inconclusive), a failed run, calibration, a policy and reviewed findings.

    Findings: the draft the check run proposed is accepted; ``n_findings`` more cycle
    through accepted, accepted, rejected, draft; each is linked to clause 4.2.
    """
    cid = create_case(
        cf,
        "Halcyon Labs v Quillmark AI",
        reference,
        parties=["Halcyon Labs", "Quillmark AI"],
        commissioned_by="Morrow & Vance LLP for Halcyon Labs",
        conduct_date=date(2025, 3, 14),
    )
    built = BuiltCase(reference, cid)
    prov = {
        "source": "model hub snapshot, seized laptop image",
        "collector": "J. Okafor",
        "collected_at": "2025-09-01T10:00:00Z",
        "notes": "",
    }
    built.artifacts.append(
        import_model(cf, cid, model_dir, "protected", name="Lumen-7B", provenance=prov)
    )
    built.artifacts.append(
        import_model(cf, cid, model_dir, "suspect", name="Quill-3", provenance=prov)
    )
    for i in range(n_references):
        built.artifacts.append(
            import_model(cf, cid, model_dir, "reference", name=f"OpenRef-{i + 1}", provenance=prov)
        )
    built.transcripts.append(
        import_transcripts(
            cf,
            cid,
            transcript,
            "protected-answers",
            provider="Halcyon Labs",
            model_name="Lumen",
            collector="J. Okafor",
            source="Halcyon API export",
            collected_at=datetime(2025, 9, 2, 14, 3, 11, tzinfo=UTC),
        )
    )
    if checks:
        built.check_runs.append(
            _check_run(
                cf,
                cid,
                built.artifacts[1],
                built.artifacts[2:],
                built.transcripts[0],
                n_probes,
                1234,
            )
        )
        built.check_runs.append(_failed_run(cf, cid, built.artifacts[1], 7))
    tos = tmp_path / "halcyon_terms_2025-01.txt"
    tos.write_text("4. Restrictions\n4.2 " + CLAUSE_TEXT + "\n", encoding="utf-8")
    built.findings = {"accepted": [], "rejected": [], "draft": []}
    with cf.session() as s:
        if calibration:
            _calibration_run(s, cid)
        if policies:
            pol = Policy(
                case_id=cid,
                provider="Halcyon Labs",
                title="Terms of Use",
                version="2025-01",
                effective_from=date(2025, 1, 1),
                effective_to=None,
                source_path=str(tos),
                source_format="txt",
                source_sha256=hashlib.sha256(tos.read_bytes()).hexdigest(),
                text=tos.read_text(encoding="utf-8"),
                imported_by="tester",
            )
            s.add(pol)
            s.flush()
            clause = Clause(
                policy_id=pol.id,
                ordinal=1,
                number="4.2",
                heading="Restrictions",
                text=CLAUSE_TEXT,
                span_start=0,
                span_end=len(CLAUSE_TEXT),
            )
            s.add(clause)
            s.flush()
            s.add(
                ClauseTag(
                    clause_id=clause.id,
                    category="competing-model training",
                    score=0.93,
                    cues=["develop", "competes", "distillation"],
                )
            )
            s.add(
                ClauseTag(
                    clause_id=clause.id,
                    category="reverse engineering / extraction",
                    score=0.61,
                    cues=["model extraction"],
                )
            )
            audit.record(
                s,
                "policy.imported",
                "policy",
                pol.id,
                case_id=cid,
                details={"sha256": pol.source_sha256},
            )
            built.policy_id, built.clause_id = pol.id, clause.id
        proposed = list(s.query(Finding).filter(Finding.case_id == cid).order_by(Finding.id))
        statuses = ("accepted", "accepted", "rejected", "draft")
        for i in range(len(proposed) + n_findings):
            if i < len(proposed):
                f, status = proposed[i], "accepted"
            else:
                status = statuses[(i - len(proposed)) % len(statuses)]
                f = Finding(
                    case_id=cid,
                    status="draft",
                    statement=f"Finding {i + 1}: across {n_probes} probe prompts the "
                    "suspect assigned the protected model's answers a higher "
                    f"likelihood than each of the {n_references} reference "
                    "models (see the check run).",
                )
                s.add(f)
                s.flush()
                if built.check_runs:
                    s.add(FindingRun(finding_id=f.id, run_id=built.check_runs[0]))
            if status != "draft":
                f.status, f.reviewer = status, "A. Reviewer"
                f.reviewer_notes = (
                    "Rejected: duplicates the proposed finding."
                    if status == "rejected"
                    else "Checked against the run log."
                )
                audit.record(
                    s,
                    f"finding.{status}",
                    "finding",
                    f.id,
                    case_id=cid,
                    details={"reviewer": f.reviewer, "note": f.reviewer_notes},
                )
            if policies:
                s.add(
                    FindingClause(
                        finding_id=f.id,
                        clause_id=built.clause_id,
                        conduct_date=date(2025, 3, 14),
                        policy_in_force_id=built.policy_id,
                    )
                )
            built.findings[status].append(f.id)
    return built


# --- tests of the gathered data ---------------------------------------------------------


def test_gather_reads_checks_calibration_and_clauses(
    case_file, tiny_model, tmp_path, transcript_file
):
    from core.reports.gather import gather_report_data

    built = build_report_case(case_file, tiny_model, tmp_path, transcript_file)
    data = gather_report_data(
        case_file, built.reference, generated_at=GENERATED_AT, prepared_by="Dr. E. Example"
    )
    assert data.meta.report_id == "DA-TEST-7-R01"
    assert data.meta.generated_at == "2025-11-03T12:00:00.000000Z"
    assert [e.label for e in data.evidence] == ["M1", "M2", "M3", "M4", "M5", "T1", "P1"]
    assert data.verification.ok and data.verification.files_checked > 7
    assert data.chain.ok and len(data.chain.head_hash) == 64
    # By default a failed run is left out, and page one says so.
    assert [(c.run_id, c.key) for c in data.checks] == [
        (1, "likelihood"),
        (1, "identity"),
        (1, "similarity"),
    ]
    assert data.opinion is not None and data.opinion.runs_left_out == {"2": "failed, no result"}
    chosen = gather_report_data(case_file, built.reference, generated_at=GENERATED_AT, runs=[1, 2])
    assert [(c.run_id, c.key) for c in chosen.checks][-1] == (2, "identity")
    lik, ident, sim, failed = chosen.checks
    assert lik.completed and lik.verdict == "supports Hp" and lik.title.startswith("Teacher")
    assert lik.references == ["M3 OpenRef-1", "M4 OpenRef-2", "M5 OpenRef-3"]
    assert [s.role for s in lik.series] == ["suspect", "reference", "reference", "reference"]
    assert lik.series[0].name == "Quill-3" and len(lik.series[0].values) == 30
    assert lik.probe_suite and lik.probe_suite.count == 30 and lik.probe_suite.sha256
    assert lik.p_family is not None and lik.p_family >= lik.p_value
    assert len(lik.results) == 3 and all(r.p_adjusted is not None for r in lik.results)
    assert ident.verdict == "declined" and sim.verdict == "inconclusive"
    assert failed.status == "failed" and not failed.completed and "identity" in failed.reason
    assert data.combined and data.combined[0].run_id == 1
    assert "--seed 1234" in (lik.command or "")
    assert {r.quantity for r in data.calibration} == {"detection", "false_positive"}
    link = data.clause_links[0]
    assert link.version == "2025-01" and link.categories[0] == "competing-model training"
    assert link.quotation_truncated and len(link.quotation.split()) == 60
    assert [f.status for f in data.findings].count("accepted") == 5  # proposed + 4 of 6
    assert "calibration" not in data.notes and "checks" not in data.notes


def test_gather_writes_nothing(case_file, tiny_model, tmp_path, transcript_file):
    from sqlalchemy import func, select

    from core.reports.gather import gather_report_data
    from core.store.models import AuditEvent

    built = build_report_case(case_file, tiny_model, tmp_path, transcript_file, n_findings=2)
    with case_file.read_session() as s:
        before = s.scalar(select(func.count()).select_from(AuditEvent))
    gather_report_data(case_file, built.case_id)
    with case_file.read_session() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == before


def test_gather_flags_changed_evidence(case_file, tiny_model, tmp_path, transcript_file):
    from core.reports.gather import gather_report_data

    built = build_report_case(case_file, tiny_model, tmp_path, transcript_file, n_findings=0)
    transcript_file.write_text(transcript_file.read_text() + "\n", encoding="utf-8")
    data = gather_report_data(case_file, built.reference)
    assert not data.verification.ok
    t1 = next(e for e in data.evidence if e.label == "T1")
    assert t1.verification == "changed" and t1.files[0].actual_sha256 != t1.sha256
    assert "no longer matches" in data.main_limitation
