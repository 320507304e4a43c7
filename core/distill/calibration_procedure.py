"""The case's own procedure, replayed on each calibration student.

A calibration only measures the error rates of a procedure if it runs *that* procedure.
:func:`load_procedure` reads a finished check run of the case (its checks, panel,
protected and control answers, harvest sets, every setting, the seed rule and the number
of Hp checks Holm combines); :func:`assess_student` then runs the runner's own
:func:`core.checks.runner.plan` and :func:`~core.checks.runner.evaluate` with the
student in the suspect's place — nothing is re-implemented, and nothing is stored as a
check run of the case (no findings are proposed for a calibration student). A derived
seed is derived by the case's rule from the student's own hashes; a given seed is reused.

The statistic each student contributes to the likelihood ratio is the family-wise
``-log10 p`` (Holm over the Hp checks), the number the case reports.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from core.checks import runner
from core.checks.evidence import load_case_evidence
from core.checks.settings import CheckInputs, CheckSettings
from core.errors import DistillAuditError
from core.jobs import JobState
from core.store.db import CaseFile

STATISTIC = "family-wise -log10 p"
P_FLOOR = 1e-300  # a p of exactly 0 (no Monte-Carlo floor) still gives a finite score


@dataclass(frozen=True)
class CaseProcedure:
    """A case's check run, as a procedure that can be replayed on another suspect."""

    check_run_id: int
    case_id: int
    inputs: CheckInputs  # the case's; the suspect is swapped for each student
    settings: CheckSettings  # the case's; seed None when the case derived its seed
    seed_rule: str
    checks: tuple[str, ...]
    n_tests: int
    alpha: float
    observed_p: float | None  # the case's family-wise p
    protected_prompts: frozenset[str]  # no student may train on these (the case's probes)
    control_sha256: str | None  # the case's control answers (twins must train on another)

    @property
    def observed_statistic(self) -> float | None:
        return None if self.observed_p is None else statistic(self.observed_p)

    def describe(self) -> dict[str, Any]:
        return {
            "check_run_id": self.check_run_id,
            "checks": list(self.checks),
            "n_tests": self.n_tests,
            "alpha": self.alpha,
            "seed_rule": self.seed_rule,
            "observed_p_family": self.observed_p,
            "statistic": STATISTIC,
            "control_answers_sha256": self.control_sha256,
        }


def statistic(p_family: float) -> float:
    """The score of a run: ``-log10`` of its family-wise p (larger points towards Hp)."""
    return -math.log10(max(float(p_family), P_FLOOR))


def _settings(parameters: dict[str, Any]) -> tuple[CheckSettings, str]:
    names = {f.name for f in fields(CheckSettings)}
    given = parameters.get("settings")
    if isinstance(given, dict):
        values = {k: v for k, v in given.items() if k in names}
    else:  # a run recorded before its settings were kept apart: what a check recorded is
        # not a setting (e.g. the identity suite's content under the setting's name)
        values = {k: v for k, v in parameters.items() if k in names and not isinstance(v, dict)}
    for key in ("checks", "protected_names"):
        values[key] = tuple(values.get(key) or ())
    rule = str(parameters.get("seed_rule") or runner.SEED_GIVEN)
    if rule == runner.SEED_DERIVED:
        values["seed"] = None  # each student's seed by the same rule, from its own hashes
    return CheckSettings(**values), rule


def _id(item: Any, key: str) -> int | None:
    return int(item[key]) if isinstance(item, dict) and item.get(key) is not None else None


def load_procedure(cf: CaseFile, check_run_id: int, case_id: int | None = None) -> CaseProcedure:
    """The procedure of a finished check run (refused if it is not one, or of another case)."""
    from core.store.models import Run

    with cf.read_session() as s:
        run = s.get(Run, int(check_run_id))
        if run is None or run.kind != "check" or run.status != "done":
            raise DistillAuditError(
                f"Run {check_run_id} is not a finished check run; calibrate against the check "
                "run whose result the report states."
            )
        run_case = int(run.case_id)
        params, ins = dict(run.parameters or {}), dict(run.inputs or {})
        summary = dict(run.summary or {})
    if case_id is not None and run_case != case_id:
        raise DistillAuditError(f"Check run {check_run_id} belongs to another case.")
    suspect = _id(ins.get("suspect"), "artifact_id")
    assert suspect is not None  # every check run records its suspect
    inputs = CheckInputs(
        suspect_id=suspect,
        reference_ids=tuple(int(r["artifact_id"]) for r in ins.get("references") or []),
        protected_answers_id=_id(ins.get("protected_answers"), "transcript_set_id"),
        control_answers_id=_id(ins.get("control_answers"), "transcript_set_id"),
        protected_model_id=_id(ins.get("protected_model"), "artifact_id"),
        base_model_id=_id(ins.get("base_model"), "artifact_id"),
        harvested_id=_id(ins.get("harvested_exchanges"), "transcript_set_id"),
        regenerations_id=_id(ins.get("regenerations"), "transcript_set_id"),
    )
    settings, rule = _settings(params)
    ev = load_case_evidence(cf, run_case, inputs)
    # The probes' prompts: a student trained on them would be scored on its own training
    # answers. The logged (harvested) prompts are not excluded: training on the logged
    # answers is exactly what the harvest test is to detect.
    prompts = {e.prompt for e in ev.protected_items}
    combined = summary.get("combined") or {}
    p = combined.get("p_family")
    return CaseProcedure(
        check_run_id=int(check_run_id),
        case_id=run_case,
        inputs=inputs,
        settings=settings,
        seed_rule=rule,
        checks=tuple(params.get("checks") or ()),
        # The Holm family of the case's run: the Hp checks that produced a p-value.
        n_tests=int(summary.get("n_tests") or params.get("n_tests") or 1),
        alpha=float(params.get("alpha", settings.alpha)),
        observed_p=float(p) if p is not None else None,
        protected_prompts=frozenset(prompts),
        control_sha256=ev.control_set.file_sha256 if ev.control_set else None,
    )


def assess_student(
    cf: CaseFile, proc: CaseProcedure, artifact_id: int, state: JobState
) -> dict[str, Any]:
    """Run the case's procedure with the student as the suspect; what the sweep records."""
    inputs = replace(proc.inputs, suspect_id=int(artifact_id))
    ev = load_case_evidence(cf, proc.case_id, inputs, state.sub(0, 5))
    planned = runner.plan(ev, proc.settings)
    checks = tuple(c.key for c in planned.chosen)
    if checks != proc.checks:
        raise DistillAuditError(  # the registry changed since the case's run: not comparable
            f"The calibration would run {', '.join(checks)}, "
            f"not the case's {', '.join(proc.checks)}."
        )
    results, combined, _ = runner.evaluate(planned, lambda **_: None, state.sub(5, 100))
    # Holm runs over the checks that produced a p-value, for the student as for the case.
    p = combined.p_family
    return {
        "detected": bool(combined.supporting),
        "p_value": p,
        "statistic": statistic(p) if p is not None else None,
        "procedure": {
            "checks": list(checks),
            "n_tests": int(planned.parameters.get("n_tests") or planned.ctx.n_tests),
            "seed": planned.settings.seed,
            "seed_rule": planned.seed_rule,
            "settings": {k: v for k, v in asdict(planned.settings).items() if k != "seed"},
        },
        "checks": {
            k: {
                "verdict": r.verdict,
                "p_value": r.p_value,
                "p_family": r.p_family,
                "effect_size": r.effect_size,
                "statistic": r.statistic,
                "reason": r.reason,
            }
            for k, r in results.items()
        },
    }
