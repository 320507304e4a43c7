"""Ready-made sizes for a calibration sweep, and the sweep of the demonstration case.

``quick`` fits the demonstration case in a few minutes on two CPU cores; ``standard``
doubles the replicates (narrower intervals) and adds the identity probe when the
protected model's names are known. Explicit settings always win over a budget.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from core.distill.spec import CalibrationSpec, TrainingSettings
from core.errors import DistillAuditError


@dataclass(frozen=True)
class Budget:
    samples: tuple[int | None, ...]
    replicates: int
    n_probes: int
    epochs: float
    identity: bool  # add the identity probe when protected names are given


BUDGETS: dict[str, Budget] = {
    "quick": Budget(
        (0, 2, 5, 10, 25, 50, None), replicates=3, n_probes=50, epochs=4.0, identity=False
    ),
    "standard": Budget(
        (0, 2, 5, 10, 25, 50, 100, 200, None), replicates=6, n_probes=50, epochs=4.0, identity=True
    ),
}


def budget(name: str) -> Budget:
    try:
        return BUDGETS[name]
    except KeyError:
        raise DistillAuditError(
            f"Unknown budget {name!r}; choose {' or '.join(BUDGETS)}."
        ) from None


def apply_budget(
    spec: CalibrationSpec, name: str, *, keep_samples: bool = False, keep_replicates: bool = False
) -> CalibrationSpec:
    """``spec`` with the budget's sizes (explicitly chosen sample counts/replicates kept)."""
    b = budget(name)
    checks = spec.checks
    if b.identity and spec.protected_names and "identity" not in checks:
        checks = (*checks, "identity")
    return replace(
        spec,
        samples=spec.samples if keep_samples else b.samples,
        replicates=spec.replicates if keep_replicates else b.replicates,
        n_probes=b.n_probes,
        checks=checks,
        training=replace(spec.training, epochs=b.epochs),
    )


def demo_calibration_spec(
    world: Path, name: str = "quick", *, out_dir: str | None = None, threads: int | None = 1
) -> CalibrationSpec:
    """The demonstration case's sweep, read from the world's ``lineage.json``.

    Teacher: the protected model; students start from the suspect vendor's own,
    independently chat-tuned model (the clean control), so every control twin is a model
    known not to be distilled at the same training stage as the suspect; the control
    answers are the human-written answers to the probe prompts; the reference panel is the
    world's reference models. ``threads`` defaults to one: the students are so small that
    a second thread gains little on an idle machine and costs a lot on a busy one (on the
    shared 2-core build machine, one thread trained three times faster than two).
    """
    lineage: dict[str, Any] = json.loads((world / "lineage.json").read_text(encoding="utf-8"))
    models = lineage["models"]
    by_role = {
        role: [n for n, m in models.items() if m["role"] == role]
        for role in {m["role"] for m in models.values()}
    }
    teacher = lineage["ground_truth"]["protected"]
    start = (by_role.get("clean-control") or by_role.get("base") or [None])[0]
    if start is None:
        raise DistillAuditError(f"{world}/lineage.json names no clean control or base model.")
    template = lineage.get("chat_template", {})
    names = tuple(
        n for n in (models[teacher].get("assistant_name"), models[teacher].get("vendor")) if n
    )
    spec = CalibrationSpec(
        references=tuple(str(world / models[n]["path"]) for n in by_role.get("reference", [])),
        controls=str(world / lineage["transcripts"]["human_probe_answers"]),
        transcripts=str(world / lineage["transcripts"]["protected_probe_answers"]),
        teacher=str(world / models[teacher]["path"]),
        student=str(world / models[start]["path"]),
        template=template.get("prompt", "User: {prompt}\nAssistant:"),
        response_prefix=template.get("response_prefix", " "),
        protected_names=names,
        training=TrainingSettings(threads=threads),
        out_dir=out_dir,
    )
    return apply_budget(spec, name)
