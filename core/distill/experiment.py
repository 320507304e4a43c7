"""One distillation experiment = one Run in the case file: the functions the GUI and CLI call.

:func:`run_experiment` checks every input *before* anything is written (source readable
and non-empty, teacher loadable, tokenizers compatible for logit distillation, output
folder writable), creates a Run (parameters, seed, input hashes, software versions) and
then, in the run's folder ``<out>/run-NNNNN/``:

1. stages the chosen records (``items.jsonl``) and, for a prompt set, the teacher's
   answers (``teacher.jsonl``, streamed and resumable);
2. builds the student (imported base, or a preset with its tokenizer) and tokenizes the
   training answers into a memory-mapped store;
3. trains with :func:`core.distill.train.train_causal_lm`, measuring teacher agreement
   every ``eval_every`` steps and checkpointing every ``checkpoint_every`` steps (and on
   cancel) into ``Run.checkpoint_dir``; learning curves go to ``Run.summary`` as it goes;
4. saves the student, exports it to ONNX with a parity check, estimates the API cost and
   imports the student as an ``experiment-student`` artifact linked to the Run.

:func:`resume_experiment` continues a cancelled, interrupted (killed) or failed run from
its last checkpoint with the stored recipe; with the same threads it reaches the same
final weights as an uninterrupted run. :func:`list_experiments` lists them.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select as sql_select

from core.distill.data import ControlIndex, Selection, select, usable
from core.distill.spec import KIND, ExperimentOutcome, ExperimentSpec, Prepared
from core.distill.summaries import ExperimentSummary
from core.errors import DeclinedError, DistillAuditError, EvidenceError, NotFoundError
from core.evidence.custody import verify_artifact, verify_source
from core.jobs import JobState
from core.store import runs
from core.store.cases import get_case
from core.store.db import CaseFile
from core.store.models import ModelArtifact, Run

# --- checking inputs -----------------------------------------------------------------


def default_out_dir(cf: CaseFile) -> Path:
    """Experiment folders live beside the case file: ``<case file>-experiments/``."""
    return cf.path.parent / f"{cf.path.stem}-experiments"


def check_writable(folder: Path) -> Path:
    """Create ``folder`` if needed and prove a file can be written there."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-probe-"):
            pass
    except OSError as exc:
        raise DistillAuditError(
            f"The output folder {folder} is not writable ({exc.strerror or exc}); choose "
            "another folder (--out) with enough free space."
        ) from exc
    return folder


def check_spec(spec: ExperimentSpec) -> None:
    """DistillAuditError (nothing loaded, nothing written) unless the recipe is coherent."""
    from core.distill.presets import preset

    if bool(spec.prompts) == bool(spec.transcripts):
        raise DistillAuditError(
            "Give either a prompt set for the teacher to answer (--prompts) or "
            "captured transcripts (--transcripts), not both or neither."
        )
    if (spec.student is None) == (spec.student_preset is None):
        raise DistillAuditError(
            "Give either a student base model (--student) or a fresh student "
            "preset (--student-preset), not both or neither."
        )
    if spec.student_preset:
        preset(spec.student_preset)
    if spec.method not in ("sequence", "logit"):
        raise DistillAuditError(f"Unknown method {spec.method!r}; choose sequence or logit.")
    if spec.prompts and not spec.teacher:
        raise DistillAuditError("A prompt set needs the teacher model to answer it (--teacher).")
    if spec.method == "logit" and not spec.teacher:
        raise DistillAuditError("Logit distillation needs the teacher model itself (--teacher).")
    if spec.answers == "control" and not spec.controls:
        raise DistillAuditError("A control twin needs control answers (--controls).")
    if spec.samples is not None and spec.samples < 0:
        raise DistillAuditError("The number of samples cannot be negative.")
    for label, path in (("source", spec.source), ("control answers", spec.controls)):
        if path:
            p = Path(path)
            if not p.is_file():
                raise EvidenceError(f"The {label} file {p} does not exist.")
            if p.stat().st_size == 0:
                raise EvidenceError(f"The {label} file {p.name} is empty.")


def _student_tokenizer(spec: ExperimentSpec, teacher: Any) -> Any:
    """The student's tokenizer as far as it is known before training (None: fresh BPE)."""
    from core.distill.presets import borrowed_tokenizer

    if spec.student:
        return borrowed_tokenizer(spec.student)
    if spec.tokenizer == "fresh":
        return None
    if spec.tokenizer == "teacher":
        if teacher is None:
            raise DistillAuditError(
                "--tokenizer teacher needs --teacher; or use --tokenizer fresh."
            )
        return borrowed_tokenizer(teacher.folder)
    return borrowed_tokenizer(spec.tokenizer)


def check_logit_compatible(spec: ExperimentSpec, teacher: Any) -> None:
    """DeclinedError (with the reason) unless the teacher's logits can train this student."""
    from core.backends.encoding import tokenizer_hash

    if teacher.backend != "torch":
        raise DeclinedError(
            "Logit distillation needs the teacher's weights (a Hugging Face folder "
            "with safetensors); an ONNX teacher can only be used for "
            "sequence-level distillation."
        )
    student_tok = _student_tokenizer(spec, teacher)
    if student_tok is None:
        raise DeclinedError(
            "Logit distillation needs the teacher and the student to share one "
            "tokenizer, and a fresh tokenizer cannot match the teacher's. Use "
            "--tokenizer teacher, or sequence-level distillation."
        )
    from core.backends.folders import read_config
    from core.distill.logit import tokenizer_mismatch

    width = read_config(Path(spec.student)).get("vocab_size") if spec.student else None
    problem = tokenizer_mismatch(
        teacher.tokenizer_hash,
        tokenizer_hash(student_tok),
        teacher.vocab_size,
        int(width or len(student_tok)),
        len(student_tok),
    )
    if problem:
        raise DeclinedError(problem)


def prepare(
    cf: CaseFile,
    case_key: int | str | None,
    spec: ExperimentSpec,
    *,
    state: JobState | None = None,
    load_teacher: bool = True,
) -> Prepared:
    """Check the inputs and choose the records; raises a DistillAuditError, writes nothing.

    With ``case_key=None`` the case is not checked (set ``case_id`` before running).
    """
    from core.backends import load_model

    state = state or JobState()
    case_id = -1  # no case yet: the caller creates one once the inputs are known to be good
    if case_key is not None:
        with cf.read_session() as s:
            case_id = get_case(s, case_key).id
    check_spec(spec)
    out_dir = check_writable(Path(spec.out_dir) if spec.out_dir else default_out_dir(cf))
    state.set_status("Counting the usable records")
    selection = _selection(spec, out_dir)  # the sample count is checked here, before loading
    teacher = None
    if spec.teacher and load_teacher:
        state.set_status("Loading the teacher")
        teacher = load_model(spec.teacher, num_threads=spec.training.threads)
        teacher.load()
    try:
        if spec.student:
            from core.backends.folders import check_hf_folder

            check_hf_folder(spec.student)
            _student_tokenizer(spec, teacher)
        if spec.method == "logit":
            if teacher is None:
                raise DistillAuditError("Logit distillation needs the teacher model (--teacher).")
            check_logit_compatible(spec, teacher)
        inputs = _describe_inputs(cf, case_id, spec, teacher)
    except BaseException:
        if teacher is not None:
            teacher.release()  # refused: nothing is kept loaded
        raise
    return Prepared(spec, case_id, selection, out_dir, teacher, inputs)


def _selection(spec: ExperimentSpec, out_dir: Path) -> Selection:
    work = Path(tempfile.mkdtemp(prefix=".select-", dir=out_dir))
    controls = None
    try:
        controls = ControlIndex(spec.controls, work) if spec.controls else None
        available = sum(1 for _ in usable(spec.source, spec.source_kind, controls))
    finally:
        if controls is not None:
            controls.close()
        shutil.rmtree(work, ignore_errors=True)
    what = "prompts" if spec.source_kind == "prompts" else "prompt/answer records"
    if available == 0:
        extra = " with a matching control answer" if spec.controls else ""
        raise EvidenceError(
            f"{Path(spec.source).name} holds no usable {what}{extra}; nothing to distill from."
        )
    if spec.train_indices is not None:
        chosen = set(spec.train_indices) | set(spec.eval_indices or ())
        if chosen and max(chosen) >= available:
            raise EvidenceError(
                f"The selected records go up to {max(chosen)}, but "
                f"{Path(spec.source).name} has only {available} usable records."
            )
        return Selection(tuple(spec.train_indices), tuple(spec.eval_indices or ()), available)
    return select(available, spec.samples, spec.eval_count, spec.seed, spec.sample)


def _describe_inputs(
    cf: CaseFile, case_id: int, spec: ExperimentSpec, teacher: Any
) -> dict[str, Any]:
    """Hashes of the files and models the experiment reads (for the Run's inputs)."""
    out: dict[str, Any] = {}
    for key, path in (("source", spec.source), ("controls", spec.controls)):
        if path:
            out[key] = {
                "path": str(Path(path).resolve()),
                "sha256": verify_source(cf, case_id, Path(path)),  # refused if changed
                "kind": spec.source_kind if key == "source" else "control answers",
            }
    for key, path in (("teacher", spec.teacher), ("student_base", spec.student)):
        if path:
            out[key] = model_input(cf, case_id, Path(path))
    if teacher is not None:
        out["teacher"]["tokenizer_hash"] = teacher.tokenizer_hash
    return out


def model_input(cf: CaseFile, case_id: int, path: Path) -> dict[str, Any]:
    """A model the run reads: its case artifact id if it is evidence already, and its hash.

    Case evidence is verified before use (every manifest file re-hashed, its record checked
    against its import event) and refused with EvidenceChangedError when it changed.
    """
    from core.evidence.hashing import hash_files, manifest_digest
    from core.evidence.model_folder import inspect_model

    resolved = str(path.resolve())
    with cf.read_session() as s:
        art = (
            s.execute(
                sql_select(ModelArtifact).where(
                    ModelArtifact.case_id == case_id, ModelArtifact.path == resolved
                )
            )
            .scalars()
            .first()
        )
        found = None if art is None else (art.id, art.manifest_sha256)
    if found is not None:
        verify_artifact(cf, found[0], what=f"the experiment did not use {path.name}")
        return {"path": resolved, "artifact_id": found[0], "manifest_sha256": found[1]}
    info = inspect_model(path)
    return {
        "path": resolved,
        "artifact_id": None,
        "manifest_sha256": manifest_digest(hash_files(info.root, info.files)),
    }


# --- public entry points -----------------------------------------------------------------


def run_experiment(
    cf: CaseFile,
    case_key: int | str,
    spec: ExperimentSpec,
    state: JobState | None = None,
    *,
    prepared: Prepared | None = None,
    on_created: Callable[[int], None] | None = None,
) -> ExperimentOutcome:
    """Run one experiment start to finish (see the module docstring); returns its outcome.

    Raises DistillAuditError (nothing written) for unusable inputs, DeclinedError when
    logit distillation is impossible, Cancelled when ``state`` is cancelled (the Run is
    then 'cancelled' with a checkpoint to resume from). ``on_created(run_id)`` is called
    once the Run exists, before any work (a calibration sweep records the id there).
    """
    from core.distill.execution import execute

    state = state or JobState()
    prep = prepared or prepare(cf, case_key, spec, state=state)
    run_id = runs.create_run(
        cf,
        prep.case_id,
        KIND,
        spec.to_dict(),
        prep.inputs or {},
        spec.seed,
        checkpoint_dir=lambda new_id: str(prep.out_dir / f"run-{new_id:05d}" / "checkpoints"),
    )
    if on_created is not None:
        on_created(run_id)
    return execute(cf, run_id, prep, prep.out_dir / f"run-{run_id:05d}", state)


def resume_experiment(
    cf: CaseFile, run_id: int, state: JobState | None = None
) -> ExperimentOutcome:
    """Continue a cancelled, interrupted or failed experiment from its last checkpoint."""
    from core.distill.execution import execute

    state = state or JobState()
    with runs.resuming(cf, run_id, KIND, "experiment") as run:
        spec = ExperimentSpec.from_dict(run.parameters)
        prep = prepare(cf, run.case_id, spec, state=state)
        for key in ("source", "controls"):
            before, now = (run.inputs or {}).get(key), (prep.inputs or {}).get(key)
            if before and now and before.get("sha256") != now.get("sha256"):
                if prep.teacher is not None:
                    prep.teacher.release()
                raise EvidenceError(
                    f"{now['path']} changed since run {run_id} started (its SHA-256 "
                    "differs); the run cannot be resumed on different data."
                )
    folder = (
        Path(run.checkpoint_dir).parent
        if run.checkpoint_dir
        else prep.out_dir / f"run-{run_id:05d}"
    )
    return execute(cf, run_id, prep, folder, state)


def get_run(cf: CaseFile, run_id: int, kind: str | None = None) -> Run:
    with cf.read_session() as s:
        run = s.get(Run, int(run_id))
        if (
            run is None
            or (kind is not None and run.kind != kind)
            or (kind is None and not run.kind.startswith("experiment."))
        ):
            raise NotFoundError(
                f"No experiment run {run_id} in this case file (see 'experiment list')."
            )
        return run


def list_experiments(cf: CaseFile, case_key: int | str | None = None) -> list[dict[str, Any]]:
    """Experiment and calibration runs (newest first) with their headline figures."""
    with cf.read_session() as s:
        query = sql_select(Run).where(Run.kind.like("experiment.%")).order_by(Run.id.desc())
        if case_key is not None:
            query = query.where(Run.case_id == get_case(s, case_key).id)
        rows = []
        for run in s.execute(query).scalars():
            summary, params = ExperimentSummary.from_dict(run.summary or {}), run.parameters or {}
            rows.append(
                {
                    "run_id": run.id,
                    "case_id": run.case_id,
                    "kind": run.kind,
                    "status": run.status,
                    "label": params.get("label", ""),
                    "method": params.get("method"),
                    "answers": params.get("answers"),
                    "samples": summary.data.train_records if summary.data else None,
                    "steps": summary.training.steps_done if summary.training else None,
                    "teacher_agreement": summary.final_agreement,
                    "artifact_id": summary.student.artifact_id if summary.student else None,
                    "calibration_run_id": params.get("calibration_run_id"),
                    "created_at": run.created_at.isoformat() if run.created_at else None,
                    "error": run.error,
                }
            )
        return rows
