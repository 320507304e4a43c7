"""The calibration sweep: how often the checks fire on students known to be distilled, and not.

For each sample count N and each replicate seed, a student is distilled on N of the
teacher's answers and its *control twin* is trained with the same recipe (same start,
same prompts, same seed, same steps per example) on control answers to the same prompts.
N = 0 is the untouched starting point (one trial for an imported base, whose weights do
not depend on the seed; one per seed for a fresh preset). Every student is a Run of its
own (:func:`core.distill.experiment.run_experiment`) and an ``experiment-student``
artifact. The checks are then run on each student exactly as on a suspect — the same
pure functions of :mod:`core.checks` (teacher-text affinity, optionally the identity
probe), against the same reference panel, on a hold-out of prompts no student trained
on — and a student counts as *detected* when the Holm-combined result supports Hp at
``alpha`` (as the case report would state it). The hold-out's teacher answers also give
each student's teacher agreement.

The sweep's Run summary (``kind = "experiment.calibration"``) has this shape, which the
report reads::

    {
      "alpha": 0.05,
      "checks": ["likelihood"],
      "design": "...", "probes": {"n": 50, "ids": [...]},
      "points": [                      # one per N, ascending; distilled students (N=0: the start)
        {"n": 0, "detected": k, "trials": m, "rate": k/m, "ci": [lo, hi],
         "teacher_agreement": {"distilled": 0.37, "control": null}, "train_seconds": 0.0},
        ...
      ],
      "false_positive": {"k": 0, "m": 12, "rate": 0.0, "ci": [0.0, 0.26]},   # control twins, N > 0
      "start_point": {"detected": false, ...},           # the N = 0 model, reported apart
      "students": [{"n", "replicate", "seed", "role": "distilled|control|start", "run_id",
                    "artifact_id", "detected", "p_value", "checks": {...},
                    "teacher_agreement", "mean_affinity", "train_seconds"}, ...],
      "references": {"ref-a": {"mean_affinity": ...}, ...},
      "cost": {... core.distill.cost.cost_estimate, one row per N ...},
      "timing": {"seconds": 249.2, "students": 37},
      "interval": "Clopper-Pearson exact 95%",
      "warnings": ["..."]             # e.g. the start model is already flagged; FPR > alpha
    }

Teacher agreement (:mod:`core.distill.agreement`) is the share of the held-out teacher
answers' tokens that a student ranks first; "control" is the mean over the twins.

**The case's procedure** (``spec.procedure_run``, a finished check run of the case): then
the students are not assessed by the sweep's own :class:`~core.distill.calibration_checks.Panel`
but by :func:`core.distill.calibration_procedure.assess_student`, i.e. the case's check run
replayed with the student as the suspect (same checks, panel, probes, settings, seed rule
and Holm n); the twins (``role = "control"``) train on ``spec.controls``, which must not be
the case's control answers; distilled students are trained for each of ``spec.epochs``;
``laundered`` and ``other`` students are reported apart; and the summary gains
``procedure``, ``groups``, ``false_positive_bound`` and ``likelihood_ratio``
(:mod:`core.distill.calibration_lr`). Without it the sweep warns that its rates are not
those of the case's procedure and gives no likelihood ratio.

Intervals are exact Clopper–Pearson 95% intervals (:func:`core.checks.stats.clopper_pearson`);
with a handful of seeds per N they are wide, and the report must quote them, not the rate.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.distill.data import ControlIndex, usable
from core.distill.experiment import (
    check_logit_compatible,
    check_writable,
    default_out_dir,
    get_run,
    model_input,
    resume_experiment,
    run_experiment,
)
from core.distill.spec import (
    CALIBRATION_KIND,
    CalibrationOutcome,
    CalibrationSpec,
    ExperimentOutcome,
    ExperimentSpec,
)
from core.distill.summaries import CalibrationSummary, ExperimentSummary
from core.errors import DistillAuditError, EvidenceError
from core.evidence.custody import verify_source
from core.jobs import JobState
from core.store import runs
from core.store.cases import get_case
from core.store.db import CaseFile

KIND = CALIBRATION_KIND
CHECKS = ("likelihood", "identity")
MIN_PROBES = 10


def _student_spec(spec: CalibrationSpec, folder: Path) -> ExperimentSpec:
    """The recipe every student of the sweep shares (records and answers set per student)."""
    return ExperimentSpec(
        teacher=spec.teacher,
        student=spec.student,
        student_preset=spec.student_preset,
        tokenizer=spec.tokenizer,
        transcripts=str(folder / "pool" / "teacher.jsonl"),
        controls=str(folder / "pool" / "control.jsonl"),
        method=spec.method,  # type: ignore[arg-type]
        training=spec.training,
        template=spec.template,
        response_prefix=spec.response_prefix,
        out_dir=str(folder / "students"),
        onnx=spec.onnx,
        price_file=spec.price_file,
        price_in=spec.price_in,
        price_out=spec.price_out,
    )


# --- checking inputs -----------------------------------------------------------------------


def _validate(
    cf: CaseFile, case_key: int | str | None, spec: CalibrationSpec
) -> tuple[int, Path, int]:
    """Check the sweep's inputs; returns (case id, output folder, usable pool size)."""
    import shutil
    import tempfile

    from core.backends import load_model

    case_id = -1
    if case_key is not None:
        with cf.read_session() as s:
            case_id = get_case(s, case_key).id
    if spec.procedure_run is not None:
        _validate_procedure(cf, case_id, spec)
    unknown = [c for c in spec.checks if c not in CHECKS]
    if spec.procedure_run is None and (unknown or not spec.checks):
        raise DistillAuditError(
            f"The sweep can run the checks {', '.join(CHECKS)}; not "
            f"{', '.join(unknown) or '(none chosen)'}."
        )
    if not spec.references and spec.procedure_run is None:
        raise DistillAuditError(
            "A calibration sweep needs at least one independent reference model "
            "(--reference): the checks compare every student with that panel."
        )
    if not spec.samples or any(n is not None and n < 0 for n in spec.samples):
        raise DistillAuditError("Give the sample counts as non-negative numbers, e.g. 0,10,50,all.")
    if spec.replicates < 1:
        raise DistillAuditError("A sweep needs at least one replicate seed per sample count.")
    if not spec.epochs or any(int(e) < 1 for e in spec.epochs):
        raise DistillAuditError("Give the distilled students' epochs as whole numbers >= 1.")
    if spec.n_probes < MIN_PROBES:
        raise DistillAuditError(f"The checks need at least {MIN_PROBES} held-out probes.")
    out = check_writable(Path(spec.out_dir) if spec.out_dir else default_out_dir(cf))
    if bool(spec.prompts) == bool(spec.transcripts):
        raise DistillAuditError(
            "Give either a prompt set (--prompts) or captured transcripts "
            "(--transcripts), not both or neither."
        )
    source = spec.transcripts or spec.prompts or ""
    files = [("source", source), ("control answers", spec.controls)]
    if spec.other_answers:
        files.append(("other answers", spec.other_answers))
    for label, path in files:
        if not Path(path).is_file() or Path(path).stat().st_size == 0:
            raise EvidenceError(f"The {label} file {path} does not exist or is empty.")
    if spec.prompts and not spec.teacher:
        raise DistillAuditError("A prompt set needs the teacher model to answer it (--teacher).")
    if spec.method == "logit" and not spec.teacher:
        raise DistillAuditError("Logit distillation needs the teacher model itself (--teacher).")
    if (spec.student is None) == (spec.student_preset is None):
        raise DistillAuditError(
            "Give either a student base model (--student) or a fresh student "
            "preset (--student-preset), not both or neither."
        )
    for path in (*spec.references, *(p for p in (spec.teacher, spec.student) if p)):
        model = load_model(path, num_threads=spec.training.threads)
        try:
            model.load()
            if spec.method == "logit" and path == spec.teacher:
                check_logit_compatible(_student_spec(spec, out), model)
        finally:
            model.release()
    work = Path(tempfile.mkdtemp(prefix=".select-", dir=out))
    try:
        index = ControlIndex(spec.controls, work)
        try:
            available = sum(
                1 for _ in usable(source, "transcripts" if spec.transcripts else "prompts", index)
            )
        finally:
            index.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    smallest = min((n for n in spec.samples if n), default=1)
    if available < spec.n_probes + smallest:
        raise EvidenceError(
            f"{Path(source).name} has {available} prompts with a control answer; the sweep needs "
            f"{spec.n_probes} held-out probes plus at least {smallest} for training."
        )
    return case_id, out, available


def _validate_procedure(cf: CaseFile, case_id: int, spec: CalibrationSpec) -> None:
    """The case's check run exists, and the twins do not train on its control answers.

    Twins trained on the very control answers the checks contrast against lean away from
    detection by construction, so the false-positive rate they give would flatter.
    """
    import hashlib

    from core.distill.calibration_procedure import load_procedure

    if case_id < 0 or spec.procedure_run is None:
        raise DistillAuditError("Calibrating a case's procedure needs the case (--case).")
    proc = load_procedure(cf, spec.procedure_run, case_id)
    path = Path(spec.controls)
    if proc.control_sha256 and path.is_file():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest == proc.control_sha256:
            raise DistillAuditError(
                "The null twins would train on the case's own control answers, which the checks "
                "contrast against: give answers from another source (another model, another "
                "corpus) as the twins' answers."
            )


# --- entry points ----------------------------------------------------------------------------


def run_calibration(
    cf: CaseFile,
    case_key: int | str | None,
    spec: CalibrationSpec,
    state: JobState | None = None,
    *,
    new_case: Callable[[], int] | None = None,
) -> CalibrationOutcome:
    """Run the whole sweep (see the module docstring); every student is its own Run.

    Inputs are checked before anything is written; with ``case_key=None``,
    ``new_case()`` is called after that check to create the case the sweep goes into.
    """
    state = state or JobState()
    state.set_status("Checking the inputs")
    case_id, out, available = _validate(cf, case_key, spec)
    if case_key is None:
        if new_case is None:
            raise DistillAuditError("A calibration sweep needs a case.")
        case_id = new_case()
    source = spec.transcripts or spec.prompts or ""
    inputs: dict[str, Any] = {
        "source": {
            "path": str(Path(source).resolve()),
            "sha256": verify_source(cf, case_id, Path(source)),  # refused if changed
        },
        "controls": {
            "path": str(Path(spec.controls).resolve()),
            "sha256": verify_source(cf, case_id, Path(spec.controls)),
        },
        "references": [model_input(cf, case_id, Path(r)) for r in spec.references],
    }
    for key, path in (("teacher", spec.teacher), ("student_base", spec.student)):
        if path:
            inputs[key] = model_input(cf, case_id, Path(path))
    run_id = runs.create_run(
        cf,
        case_id,
        KIND,
        spec.to_dict() | {"available": available},
        inputs,
        spec.seed,
        checkpoint_dir=lambda new_id: str(out / f"calibration-{new_id:05d}"),
    )
    return _execute(cf, run_id, spec, out / f"calibration-{run_id:05d}", state)


def resume_calibration(
    cf: CaseFile, run_id: int, state: JobState | None = None
) -> CalibrationOutcome:
    """Continue a stopped sweep: finished students are kept, a stopped one is resumed."""
    state = state or JobState()
    with runs.resuming(cf, run_id, KIND, "sweep") as run:
        spec = CalibrationSpec.from_dict(run.parameters)
        _validate(cf, run.case_id, spec)
    return _execute(cf, run_id, spec, Path(run.checkpoint_dir or ""), state)


def _execute(
    cf: CaseFile, run_id: int, spec: CalibrationSpec, folder: Path, state: JobState
) -> CalibrationOutcome:
    from core.distill.calibration_checks import Panel, summarise
    from core.distill.calibration_lr import procedure_summary
    from core.distill.calibration_pool import held_out_probes, pool_prompts, stage_arms, stage_pool
    from core.distill.calibration_procedure import assess_student, load_procedure

    case_id = get_run(cf, run_id, KIND).case_id
    proc = load_procedure(cf, spec.procedure_run, case_id) if spec.procedure_run else None

    started = time.monotonic()
    with runs.running(cf, run_id) as handle:
        previous = CalibrationSummary.from_dict(get_run(cf, run_id, KIND).summary or {})
        students: list[dict[str, Any]] = list(previous.students)
        spent = previous.timing_seconds or 0.0
        pool = stage_pool(spec, folder, state.sub(0, 5))
        rng = random.Random(spec.seed)
        probe_idx = sorted(rng.sample(range(pool.available), spec.n_probes))
        held = set(probe_idx)
        train_pool = [i for i in range(pool.available) if i not in held]
        arms = stage_arms(spec, folder)
        excluded = 0
        if proc is not None:  # no student trains on the case's probes
            prompts = pool_prompts(folder)
            kept = [i for i in train_pool if prompts[i] not in proc.protected_prompts]
            excluded, train_pool = len(train_pool) - len(kept), kept
        samples = sorted(
            {len(train_pool) if n is None else min(int(n), len(train_pool)) for n in spec.samples}
        )
        clamped = sorted(n for n in spec.samples if n is not None and n > len(train_pool))
        probes = held_out_probes(folder, held)
        panel = None
        if proc is None:
            state.set_status("Scoring the reference panel on the held-out probes")
            panel = Panel(spec, probes, folder)
            panel.score_references(state.sub(5, 10))
        handle.save_summary(
            alpha=proc.alpha if proc else spec.alpha,
            checks=list(proc.checks if proc else spec.checks),
            design=PROCEDURE_DESIGN if proc else DESIGN,
            probes={"n": len(probes), "ids": [p.probe_id for p in probes]},
            references=panel.reference_summary() if panel else {},
            interval=INTERVAL,
            **({"procedure": proc.describe()} if proc else {}),
        )
        plan = _plan(spec, samples, train_pool, arms.get("other_ok"))
        base = _student_spec(spec, folder)
        for number, task in enumerate(plan):
            sub = state.sub(10 + 85 * number / len(plan), 10 + 85 * (number + 1) / len(plan))
            state.set_status(
                f"Student {number + 1} of {len(plan)}: {task['role']}, N = {task['n']}, "
                f"replicate {task['replicate']}"
            )
            record = next((s for s in students if s["key"] == task["key"]), None)
            if record is not None and record.get("detected") is not None:
                continue
            if record is None:
                record = {k: v for k, v in task.items() if k != "indices"}
                students.append(record)
            spec_i = replace(
                base,
                transcripts=str(arms.get(task["role"], base.transcripts)),
                training=_epochs(spec, int(task.get("epochs") or 1)),
                train_indices=tuple(task["indices"]),
                eval_indices=tuple(probe_idx),
                answers="control" if task["role"] == "control" else "teacher",
                seed=task["seed"],
                calibration_run_id=run_id,
                label=f"calibration {run_id}: N={task['n']} r={task['replicate']} {task['role']}",
            )

            def created(student_run: int, rec: dict[str, Any] = record) -> None:
                rec["run_id"] = student_run
                handle.save_summary(students=students)

            if record.get("run_id") and get_run(cf, record["run_id"]).status in runs.RESUMABLE:
                outcome = resume_experiment(cf, record["run_id"], sub.sub(0, 90))
            elif record.get("run_id") and get_run(cf, record["run_id"]).status == "done":
                outcome = _finished(cf, record["run_id"])
            else:
                outcome = run_experiment(
                    cf, get_run(cf, run_id).case_id, spec_i, sub.sub(0, 90), on_created=created
                )
            if panel is not None:
                record.update(panel.assess(outcome, task["seed"], sub.sub(90, 100)))
            else:
                assert proc is not None
                if outcome.artifact_id is None:
                    raise DistillAuditError(f"Student run {outcome.run_id} left no model.")
                record.update(_trained(outcome))
                record.update(assess_student(cf, proc, outcome.artifact_id, sub.sub(90, 100)))
            handle.save_summary(
                students=students,
                timing={
                    "seconds": round(spent + time.monotonic() - started, 1),
                    "students": len(students),
                },
            )
        summary = summarise(spec, samples, students, pool.teacher_file)
        if proc is not None:
            measured = procedure_summary(spec, proc, students, run_id)
            summary["warnings"].extend(measured.pop("lr_warnings"))
            summary.update(measured)
            if excluded:
                summary["warnings"].append(
                    f"{excluded} pool records share a prompt with the case's protected answers "
                    "(its probes); no student was trained on them."
                )
        else:
            summary["warnings"].append(OLD_PROCEDURE)
        if clamped:
            summary["warnings"].append(
                f"Sample counts {', '.join(map(str, clamped))} exceed the {len(train_pool)} "
                f"records left for training after the {len(probes)} held-out probes; they were "
                f"run as {len(train_pool)} (all)."
            )
        summary["timing"] = {
            "seconds": round(spent + time.monotonic() - started, 1),
            "students": len(students),
        }
        handle.save_summary(students=students, **summary)
        state.set_progress(100)
    return CalibrationOutcome(run_id, get_run(cf, run_id, KIND).summary)


DESIGN = (
    "For each N and replicate: a student fine-tuned on N teacher answers and its control "
    "twin fine-tuned with the same recipe (start, prompts, seed, epochs) on control answers "
    "to the same prompts; checks on held-out probes no student trained on, against the "
    "reference panel; detected = the Holm-combined result supports Hp at alpha."
)
INTERVAL = "Clopper-Pearson exact 95%"
PROCEDURE_DESIGN = (
    "For each N and replicate: students fine-tuned on N of the protected model's answers "
    "(for each number of epochs; Hp), null twins fine-tuned with the same recipe on answers "
    "from another source than the case's control answers (Hd), and, where asked, students on "
    "paraphrased answers and on other samples of the same model (reported apart). Every "
    "student goes through the case's own check run: the same checks, panel, probes, settings, "
    "seed rule and Holm combination; detected = the case's combined result would state that "
    "some check reaches Holm-adjusted p <= alpha."
)
OLD_PROCEDURE = (
    "This sweep did not replay a check run of the case (no --procedure-run): its checks "
    "are its own, and its control twins trained on the control answers the checks contrast "
    "against, which leans them away from detection. Its false-positive rate flatters the "
    "checks and gives no likelihood ratio; calibrate against the case's check run instead."
)


# --- pieces ---------------------------------------------------------------------------------


def _epochs(spec: CalibrationSpec, epochs: int) -> Any:
    """The recipe run ``epochs`` times over (1: the recipe itself)."""
    t = spec.training
    if epochs == 1:
        return t
    if t.steps is not None:
        return replace(t, steps=t.steps * epochs)
    return replace(t, epochs=t.epochs * epochs)


def _trained(outcome: ExperimentOutcome) -> dict[str, Any]:
    """What the sweep records about a student's training (not its checks)."""
    summary = ExperimentSummary.from_dict(outcome.summary or {})
    return {
        "run_id": outcome.run_id,
        "artifact_id": outcome.artifact_id,
        "teacher_agreement": summary.last_eval_agreement,
        "train_seconds": summary.compute_seconds.get("training"),
    }


def _plan(
    spec: CalibrationSpec,
    samples: Sequence[int],
    train_pool: list[int],
    other_ok: set[int] | None = None,
) -> list[dict[str, Any]]:
    """Every student of the sweep, in order: (N, replicate, role, seed, training records)."""
    tasks = []
    for n in samples:
        for r in range(spec.replicates):
            seed = spec.seed + r
            if n == 0:
                if spec.student and r > 0:
                    continue  # an imported base is the same model whatever the seed
                tasks.append(
                    {
                        "key": f"n0-r{r}-start",
                        "n": 0,
                        "replicate": r,
                        "seed": seed,
                        "role": "start",
                        "indices": [],
                    }
                )
                continue
            rng = random.Random(f"{spec.seed}/{r}/{n}")
            indices = sorted(rng.sample(train_pool, n)) if n < len(train_pool) else list(train_pool)
            # twins, laundered and other-sample students get the longest recipe: the
            # hardest null, and the laundered students compare with the strongest positives
            longest = max(int(e) for e in spec.epochs)
            roles: list[tuple[str, int]] = [("distilled", int(e)) for e in spec.epochs]
            roles.append(("control", longest))
            if spec.laundered:
                roles.append(("laundered", longest))
            if spec.other_answers and other_ok:
                roles.append(("other", longest))
            for role, epochs in roles:
                key = f"n{n}-r{r}-{role}" + (
                    f"-e{epochs}" if role == "distilled" and epochs > 1 else ""
                )
                mine = indices
                if role == "other":
                    assert other_ok is not None
                    mine = [i for i in indices if i in other_ok]
                    if not mine:
                        continue
                tasks.append(
                    {
                        "key": key,
                        "n": n,
                        "replicate": r,
                        "seed": seed,
                        "role": role,
                        "epochs": epochs,
                        "indices": mine,
                    }
                )
    return tasks


def _finished(cf: CaseFile, run_id: int) -> ExperimentOutcome:
    """The outcome of a student that finished before the sweep was stopped."""
    run = get_run(cf, run_id)
    summary = ExperimentSummary.from_dict(run.summary or {})
    student = summary.student
    return ExperimentOutcome(
        run_id,
        student.artifact_id if student else None,
        student.path if student and student.path else "",
        run.summary or {},
    )
