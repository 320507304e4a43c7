"""Re-running a recorded check run and comparing every number it recorded.

``distill-audit rerun RUN`` copies the case file to a scratch copy (SQLite backup API, in
a temporary folder), runs the run's checks there on the case's hashed evidence with the
recorded inputs, settings and seed (measurements made fresh, never reused), and compares
every stored result of the original run (value, CI, p, adjusted p, N, per metric) and its
verdicts with the re-run's. Integers must be equal; floats equal within a relative
1e-9 (the same software on the same evidence gives the same bits; the tolerance only
absorbs a last-digit difference between CPU kernels). The original case file is changed
in one way only: a ``run.rerun`` audit event records the outcome, so a report can quote
it. Evidence that changed since the run is refused by custody (verify before use) before
anything runs: the re-run then does not reproduce, and says why.
"""

from __future__ import annotations

import math
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sqlalchemy import select

from core.checks.runner import CheckInputs, CheckSettings, run_checks
from core.errors import DistillAuditError, EvidenceChangedError, NotFoundError
from core.jobs import JobState
from core.store import audit
from core.store.db import CaseFile, open_case_file
from core.store.models import Result, Run
from core.store.runs import RERUN_ACTION, software_versions

__all__ = ["RERUN_ACTION", "RerunReport", "compare", "rerun_check_run"]
REL_TOL = 1e-9
_COMPARED = ("value", "ci_low", "ci_high", "p_value", "p_adjusted", "n")


@dataclass
class RerunReport:
    """The outcome of a re-run: matched, differed (with the fields) or refused (why)."""

    run_id: int
    outcome: str  # match | mismatch | refused
    compared: int = 0  # numbers compared
    differences: list[dict[str, Any]] = field(default_factory=list)
    reason: str = ""
    audit_event_id: int = 0

    @property
    def matched(self) -> bool:
        return self.outcome == "match"

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "outcome": self.outcome,
            "compared": self.compared,
            "differences": self.differences,
            "reason": self.reason,
            "audit_event_id": self.audit_event_id,
            "tolerance": f"integers equal; floats within relative {REL_TOL:g}",
        }


def _id(item: Any, key: str) -> int | None:
    return int(item[key]) if isinstance(item, dict) and item.get(key) is not None else None


def inputs_of(run: Run) -> CheckInputs:
    """The run's inputs (ids within its case) as the runner takes them."""
    i = run.inputs or {}
    suspect = _id(i.get("suspect"), "artifact_id")
    if suspect is None:
        raise DistillAuditError(f"Run {run.id} records no suspect model; it cannot be re-run.")
    return CheckInputs(
        suspect_id=suspect,
        reference_ids=tuple(
            x for x in (_id(r, "artifact_id") for r in i.get("references") or []) if x is not None
        ),
        protected_answers_id=_id(i.get("protected_answers"), "transcript_set_id"),
        control_answers_id=_id(i.get("control_answers"), "transcript_set_id"),
        protected_model_id=_id(i.get("protected_model"), "artifact_id"),
        base_model_id=_id(i.get("base_model"), "artifact_id"),
        harvested_id=_id(i.get("harvested_exchanges"), "transcript_set_id"),
        regenerations_id=_id(i.get("regenerations"), "transcript_set_id"),
    )


def settings_of(run: Run) -> CheckSettings:
    """The recorded settings and seed; measurements are made fresh."""
    p = run.parameters or {}
    values: dict[str, Any] = {}
    for f in fields(CheckSettings):
        if f.name in p:
            v = p[f.name]
            values[f.name] = tuple(v) if isinstance(v, list) else v
    values["seed"] = run.seed if run.seed is not None else p.get("seed")
    values["reuse_measurements"] = False
    return CheckSettings(**values)


def _rows(cf: CaseFile, run_id: int) -> dict[str, dict[str, Any]]:
    with cf.read_session() as s:
        rows = s.scalars(select(Result).where(Result.run_id == run_id).order_by(Result.id))
        return {r.metric: {k: getattr(r, k) for k in _COMPARED} for r in rows}


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    fa, fb = float(a), float(b)
    if math.isnan(fa) or math.isnan(fb):
        return math.isnan(fa) and math.isnan(fb)
    return math.isclose(fa, fb, rel_tol=REL_TOL, abs_tol=0.0) or fa == fb


def compare(
    before: dict[str, dict[str, Any]],
    after: dict[str, dict[str, Any]],
    verdicts: tuple[dict[str, Any], dict[str, Any]],
) -> tuple[int, list[dict[str, Any]]]:
    """(numbers compared, differences) between two runs' results and verdicts."""
    diffs: list[dict[str, Any]] = []
    compared = 0
    for metric in sorted(set(before) | set(after)):
        old, new = before.get(metric), after.get(metric)
        if old is None or new is None:
            diffs.append({"metric": metric, "field": "present", "recorded": old is not None})
            continue
        for k in _COMPARED:
            compared += 1
            if not _same(old[k], new[k]):
                diffs.append({"metric": metric, "field": k, "recorded": old[k], "rerun": new[k]})
    old_v, new_v = verdicts
    for check in sorted(set(old_v) | set(new_v)):
        compared += 1
        if old_v.get(check) != new_v.get(check):
            diffs.append(
                {
                    "metric": check,
                    "field": "verdict",
                    "recorded": old_v.get(check),
                    "rerun": new_v.get(check),
                }
            )
    return compared, diffs


def _scratch_copy(cf: CaseFile, folder: Path) -> Path:
    target = folder / cf.path.name
    src, dst = sqlite3.connect(cf.path), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    return target


def rerun_check_run(
    cf: CaseFile, run_id: int, state: JobState | None = None, *, actor: str | None = None
) -> RerunReport:
    """Re-run check run ``run_id`` on a scratch copy; audit the outcome on ``cf``."""
    state = state or JobState()
    cf.require_writable()  # the outcome is recorded in the original's audit log
    with cf.read_session() as s:
        run = s.get(Run, run_id)
        if run is None:
            raise NotFoundError(f"There is no run {run_id} in {cf.path.name}.")
        if run.kind != "check":
            raise DistillAuditError(
                f"Run {run_id} is a {run.kind} run; only check runs can be re-run and compared."
            )
        if run.status != "done":
            raise DistillAuditError(
                f"Run {run_id} is {run.status}; only a finished run has numbers to compare."
            )
        case_id = run.case_id
        inputs, settings = inputs_of(run), settings_of(run)
        old_verdicts = dict((run.summary or {}).get("verdicts") or {})
    before = _rows(cf, run_id)
    folder = Path(tempfile.mkdtemp(prefix="distill-audit-rerun-"))
    report = RerunReport(run_id, "match")
    try:
        state.set_status("Copying the case file to a scratch copy")
        scratch = open_case_file(_scratch_copy(cf, folder))
        try:
            result = run_checks(scratch, case_id, inputs, settings, state.sub(0, 95), actor=actor)
            after = _rows(scratch, result.run_id)
            new_verdicts = {k: r.verdict for k, r in result.results.items()}
        finally:
            scratch.close()
        report.compared, report.differences = compare(before, after, (old_verdicts, new_verdicts))
        report.outcome = "mismatch" if report.differences else "match"
    except EvidenceChangedError as exc:
        report.outcome, report.reason = "refused", f"custody refused the re-run: {exc}"
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    with cf.session() as s:
        ev = audit.record(
            s,
            RERUN_ACTION,
            "run",
            run_id,
            case_id=case_id,
            actor=actor,
            details={
                **{k: v for k, v in report.to_dict().items() if k != "audit_event_id"},
                "software": software_versions(),
                "seed": settings.seed,
            },
        )
        report.audit_event_id = ev.id
    state.set_progress(100)
    return report
