"""The harvest test's power and false-positive rate, measured: a preset sweep and its table.

The harvest test (core.checks.harvest) asks whether a suspect prefers the *logged*
answers of the protected model over fresh regenerations of the same prompts. What it
can detect is measured by replaying the case's harvest check run
(:mod:`core.distill.calibration_procedure`) on students whose history is known:

* **distilled, 1 / 2 / 3 epochs** — fine-tuned on the logged answers (should be flagged);
* **other samples** — the same recipe on *other* samples of the same protected model
  to the same prompts (distilled, but not from these logs: should not be flagged);
* **null twins** — the same recipe on another source's answers (should not be flagged);
* **laundered** — the logged answers paraphrased before training
  (:mod:`core.distill.paraphrase`, a rule-based rewrite): how much laundering weakens it.

:func:`harvest_power_spec` is that sweep's preset; :func:`power_table` turns the sweep's
``groups`` into the table the report quotes (detection or false-positive rate, with the
exact Clopper–Pearson 95% interval, and the one-sided 95% bound for the groups that should
not be flagged).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from core.distill.spec import CalibrationSpec, TrainingSettings

HARVEST = "harvest"


def harvest_power_spec(
    *,
    procedure_run: int,
    logged: str,
    twins_answers: str,
    other_samples: str | None,
    student: str,
    teacher: str | None = None,
    samples: Sequence[int | None] = (None,),
    replicates: int = 3,
    training: TrainingSettings | None = None,
    null_source: str = "another model's answers to the same prompts",
    out_dir: str | None = None,
    seed: int = 0,
) -> CalibrationSpec:
    """The harvest power sweep: 1, 2, 3 epochs on the logged answers, other samples, twins
    and laundered students, every one through the case's harvest check run.

    ``training``: the recipe of one epoch (default: one pass, batch 8, lr 3e-3).
    """
    recipe = training or TrainingSettings(epochs=1.0, batch_size=8, lr=3e-3, min_steps=1)
    return CalibrationSpec(
        references=(),
        controls=twins_answers,
        transcripts=logged,
        teacher=teacher,
        student=student,
        samples=tuple(samples),
        replicates=replicates,
        seed=seed,
        checks=(HARVEST,),
        n_probes=10,
        training=replace(recipe, checkpoint_every=max(recipe.checkpoint_every, 50)),
        out_dir=out_dir,
        onnx=False,
        procedure_run=procedure_run,
        null_source=null_source,
        epochs=(1, 2, 3),
        laundered=True,
        other_answers=other_samples,
    )


def power_table(summary: Mapping[str, Any], check: str = HARVEST) -> list[dict[str, Any]]:
    """One row per kind of student: what the check (alone) flagged, with exact intervals."""
    rows = []
    for g in summary.get("groups") or []:
        c = (g.get("by_check") or {}).get(check)
        if not c:
            continue
        negative = g.get("quantity") == "false_positive"
        row = {
            "students": g.get("description", g.get("group")),
            "group": g.get("group"),
            "epochs": g.get("epochs"),
            "measured": "false-positive rate" if negative else "detection rate",
            "k": c["k"],
            "n": c["m"],
            "rate": c["rate"],
            "ci": c["ci"],
            "interval": "Clopper-Pearson exact 95% (two-sided)",
        }
        if negative and c["m"]:
            from core.checks.likelihood_ratio import fpr_upper_bound

            row["upper_95_one_sided"] = fpr_upper_bound(int(c["k"]), int(c["m"]))
        rows.append(row)
    return rows


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The table as plain text (for the CLI, the README and logs)."""
    lines = [f"{'students':<58} {'measured':<20} {'k/n':>6}  rate   95% CI"]
    for r in rows:
        lo, hi = r["ci"]
        ci = "n/a" if lo is None else f"[{lo:.2f}, {hi:.2f}]"
        rate = "n/a" if r["rate"] is None else f"{r['rate']:.2f}"
        bound = (
            f"  (one-sided <= {r['upper_95_one_sided']:.2f})" if "upper_95_one_sided" in r else ""
        )
        counts = f"{r['k']:>2}/{r['n']:<3}"
        lines.append(f"{r['students']:<58} {r['measured']:<20} {counts}  {rate:<5}  {ci}{bound}")
    return "\n".join(lines)
