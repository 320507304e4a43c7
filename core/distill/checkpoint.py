"""Checkpoints of a training run: safetensors for tensors, JSON for everything else.

A checkpoint is a folder ``step-000040/`` holding

* ``model.safetensors`` — the student's weights (shared tensors handled by safetensors),
* ``state.safetensors`` — the optimiser's moment tensors and step counters, and torch's
  CPU random-number state (as a uint8 tensor),
* ``state.json`` — the step, optimiser hyper-parameters, learning-rate schedule, Python
  and data-order random states (as lists), losses so far and the caller's extras
  (evaluation curves, a fingerprint of the training data).

Nothing is pickled and nothing is read with ``torch.load``. A checkpoint is written to a
hidden temporary folder and renamed into place, so a folder named ``step-*`` is always
complete; older checkpoints are deleted once a newer one exists (``keep`` are kept).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, load_model, save_file, save_model

from core.distill.train import ResumeState
from core.errors import DistillAuditError

FORMAT = "distill-audit-checkpoint-1"
PREFIX = "step-"


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint read back: where it is, the state to resume with, the caller's extras."""

    path: Path
    resume: ResumeState
    extra: dict[str, Any]


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, torch.Tensor):
        return value.item() if value.ndim == 0 else value.tolist()
    return value


def save_checkpoint(
    folder: Path,
    model: torch.nn.Module,
    resume: ResumeState,
    extra: dict[str, Any] | None = None,
    *,
    keep: int = 1,
) -> Path:
    """Write a checkpoint for ``resume.step`` under ``folder``; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{PREFIX}{resume.step:06d}"
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=folder))
    try:
        save_model(model, str(work / "model.safetensors"))
        tensors: dict[str, torch.Tensor] = {"rng.torch": resume.torch_rng_state.contiguous()}
        for index, entries in resume.optimizer_state["state"].items():
            for name, value in entries.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"optim.{index}.{name}"] = value.detach().contiguous()
        save_file(tensors, str(work / "state.safetensors"))
        plain = {
            "format": FORMAT,
            "step": resume.step,
            "param_groups": _jsonable(resume.optimizer_state["param_groups"]),
            "optimizer_scalars": {
                str(i): {k: v for k, v in e.items() if not isinstance(v, torch.Tensor)}
                for i, e in resume.optimizer_state["state"].items()
            },
            "scheduler": _jsonable(resume.scheduler_state),
            "python_rng": _jsonable(resume.python_rng_state),
            "data_rng": _jsonable(resume.data_rng_state),
            "losses": list(resume.losses),
            "tokens_trained": resume.tokens_trained,
            "extra": extra or {},
        }
        (work / "state.json").write_text(json.dumps(plain), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.replace(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    for old in list_checkpoints(folder)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return target


def list_checkpoints(folder: Path) -> list[Path]:
    """Complete checkpoints under ``folder``, oldest first."""
    if not folder.is_dir():
        return []
    found = [
        p
        for p in folder.iterdir()
        if p.is_dir() and p.name.startswith(PREFIX) and (p / "state.json").is_file()
    ]
    return sorted(found, key=lambda p: p.name)


def latest_checkpoint(folder: Path) -> Path | None:
    found = list_checkpoints(folder)
    return found[-1] if found else None


def load_checkpoint(path: Path, model: torch.nn.Module) -> Checkpoint:
    """Load the weights into ``model`` (in place, strict) and return the resume state."""
    try:
        plain = json.loads((path / "state.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DistillAuditError(f"The checkpoint {path} cannot be read: {exc}") from exc
    if plain.get("format") != FORMAT:
        raise DistillAuditError(f"{path} is not a checkpoint this version can resume.")
    missing, unexpected = load_model(model, str(path / "model.safetensors"), strict=False)
    if missing or unexpected:
        raise DistillAuditError(
            f"The checkpoint {path} does not fit the student model ({len(missing)} missing and "
            f"{len(unexpected)} unexpected tensors)."
        )
    tensors = load_file(str(path / "state.safetensors"))
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = value
    for index, scalars in plain.get("optimizer_scalars", {}).items():
        state.setdefault(int(index), {}).update(scalars)
    resume = ResumeState(
        step=int(plain["step"]),
        optimizer_state={"state": state, "param_groups": plain["param_groups"]},
        scheduler_state=plain["scheduler"],
        torch_rng_state=tensors["rng.torch"],
        python_rng_state=plain["python_rng"],
        data_rng_state=plain["data_rng"],
        losses=[float(x) for x in plain["losses"]],
        tokens_trained=int(plain["tokens_trained"]),
    )
    return Checkpoint(path, resume, plain.get("extra") or {})
