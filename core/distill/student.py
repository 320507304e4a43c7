"""A trained student becomes evidence: saved, exported to ONNX, parity-checked, imported.

The student folder (safetensors weights, config, tokenizer, a model card) is written to a
hidden temporary folder beside its final place and renamed only when complete. Its ONNX
export goes through :func:`core.backends.export_onnx` (the TorchScript exporter first,
which is fast for GPT-style models, then the torch.export one) and
:func:`core.backends.parity_check` measures torch against ONNX Runtime on held-out text.
Only a complete student is imported into the case, with role ``experiment-student``,
hashed like any other evidence and linked to the Run that produced it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from core.evidence.hashing import hash_files, manifest_digest
from core.evidence.importer import import_model
from core.jobs import JobState
from core.store import audit
from core.store.db import CaseFile
from core.store.models import ModelArtifact

PARITY_TOLERANCE = 1e-3


def replace_folder(work: Path, target: Path) -> Path:
    """Move a finished temporary folder into place, replacing an older one."""
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
        shutil.rmtree(old, ignore_errors=True)
    os.replace(work, target)
    return target


def save_student(model: Any, tokenizer: Any, target: Path, card: str) -> Path:
    """Write the student (float32 safetensors, tokenizer, README.md) atomically to ``target``."""
    from transformers.utils import logging as hf_logging

    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        model.save_pretrained(work, safe_serialization=True)
        tokenizer.save_pretrained(work)
        (work / "README.md").write_text(card, encoding="utf-8")
        return replace_folder(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    finally:
        if bars:
            hf_logging.enable_progress_bar()


def model_card(run_id: int, spec_summary: dict[str, Any]) -> str:
    """A short model card saying what the student is and that it is an experiment."""
    lines = [
        f"# Distillation experiment student (run {run_id})",
        "",
        "Produced by Distill Audit as a *local experiment*: it is not evidence about any "
        "suspect, it shows what distillation at this scale produces.",
        "",
    ]
    lines += [f"- {k.replace('_', ' ').capitalize()}: {v}" for k, v in spec_summary.items()]
    return "\n".join(lines) + "\n"


def export_and_check(
    student: Path, target: Path, texts: list[str], state: JobState | None = None
) -> dict[str, Any]:
    """Export ``student`` to ONNX at ``target`` and compare log-probs on ``texts``.

    Returns the export's details and the parity figures (:class:`ParityReport` as a dict,
    ``passed`` when the largest absolute difference is below 1e-3).
    """
    from core.backends import export_onnx, parity_check
    from core.backends.onnx_export import OnnxExportError

    state = state or JobState()
    if target.exists():
        shutil.rmtree(target)
    try:
        export_onnx(student, target, state.sub(0, 70), exporter="legacy")
        exporter = "legacy"
    except OnnxExportError:
        export_onnx(student, target, state.sub(0, 70), exporter="dynamo")
        exporter = "dynamo"
    state.set_status("Comparing ONNX Runtime with torch on held-out text")
    report = parity_check(student, target, texts, state.sub(70, 100), tolerance=PARITY_TOLERANCE)
    files = sorted(p for p in target.rglob("*") if p.is_file())
    digest = manifest_digest(hash_files(target, files))
    return {
        "path": str(target),
        "exporter": exporter,
        "manifest_sha256": digest,
        "parity": report.to_dict(),
    }


def import_student(
    cf: CaseFile,
    case_id: int,
    run_id: int,
    folder: Path,
    name: str,
    provenance: dict[str, Any],
    state: JobState | None = None,
) -> int:
    """Import the finished student as an ``experiment-student`` artifact made by ``run_id``."""
    artifact_id = import_model(
        cf, case_id, folder, "experiment-student", name=name, provenance=provenance, state=state
    )
    with cf.session() as s:
        art = s.get(ModelArtifact, artifact_id)
        assert art is not None
        art.produced_by_run_id = run_id
        audit.record(
            s,
            "evidence.produced_by_run",
            "model_artifact",
            artifact_id,
            case_id=case_id,
            details={"run_id": run_id},
        )
    return artifact_id
