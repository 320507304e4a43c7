"""``experiment``: local distillation experiments and the calibration sweep of the checks.

``experiment run`` with one sample count trains one student (and its control twin when
``--controls`` is given); with several counts, or with ``--reference``, it runs the
calibration sweep. ``experiment resume RUN_ID`` continues a cancelled or interrupted
experiment or sweep from its last checkpoint; ``experiment list`` shows them. Everything
is recorded in the case file (``--db``); Ctrl-C cancels cleanly after the current step.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.errors import DistillAuditError
from core.jobs import JobState
from core.store.cases import create_case, list_cases
from core.store.db import CaseFile

from .common import emit, open_db, progress, table


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "experiment",
        help="local distillation experiments and the calibration "
        "of the checks (detection and false-positive rates)",
    )
    ex = p.add_subparsers(dest="experiment_command", required=True, metavar="ACTION")

    run = ex.add_parser("run", help="distill a student (or run a calibration sweep)")
    run.add_argument("--case", help="case id or reference (default: a new case)")
    run.add_argument("--teacher", metavar="PATH", help="the teacher model (folder or .onnx)")
    who = run.add_mutually_exclusive_group(required=True)
    who.add_argument("--student", metavar="PATH", help="a local base model to fine-tune")
    who.add_argument("--student-preset", choices=("tiny", "small"), help="a fresh small model")
    run.add_argument(
        "--tokenizer",
        default="teacher",
        metavar="teacher|fresh|PATH",
        help="tokenizer of a fresh student (default: the teacher's)",
    )
    data = run.add_mutually_exclusive_group(required=True)
    data.add_argument(
        "--prompts",
        metavar="FILE",
        help="prompts for the teacher to answer (.txt one per line, .jsonl or .csv)",
    )
    data.add_argument("--transcripts", metavar="FILE", help="captured answers used directly")
    run.add_argument(
        "--controls",
        metavar="FILE",
        help="control answers to the same prompts "
        "(human-written or another model's): trains each student's twin",
    )
    run.add_argument("--method", choices=("sequence", "logit"), default="sequence")
    run.add_argument(
        "--samples",
        default="all",
        metavar="N[,N...]",
        help="training samples; several values (or 'all') run a calibration sweep",
    )
    run.add_argument(
        "--reference",
        action="append",
        default=[],
        metavar="PATH",
        help="an independent reference model for the sweep's checks (repeat)",
    )
    run.add_argument(
        "--budget",
        choices=("quick", "standard"),
        help="sweep sizes: quick fits the demo case in minutes on 2 cores",
    )
    run.add_argument("--replicates", type=int, help="seeds per sample count in a sweep")
    run.add_argument(
        "--checks", default="likelihood", help="checks run in a sweep (likelihood[,identity])"
    )
    run.add_argument(
        "--protected-names",
        default="",
        help="names of the protected model, comma-separated (identity probe)",
    )
    run.add_argument("--probes", type=int, default=50, help="held-out probes in a sweep")
    run.add_argument("--alpha", type=float, default=0.05)
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--steps", type=int, help="training steps (default: from --epochs)")
    run.add_argument("--epochs", type=float, default=4.0)
    run.add_argument("--lr", type=float, help="learning rate (default 1e-4 base, 1e-3 preset)")
    run.add_argument("--batch-size", type=int, default=16)
    run.add_argument("--threads", type=int, default=2, help="CPU threads")
    run.add_argument("--checkpoint-every", type=int, default=25, metavar="STEPS")
    run.add_argument("--eval-every", type=int, default=10, metavar="STEPS")
    run.add_argument("--max-new-tokens", type=int, default=128, help="teacher answer length")
    run.add_argument("--temperature", type=float, default=0.8, help="teacher sampling")
    run.add_argument("--greedy", action="store_true", help="teacher answers greedily")
    run.add_argument("--kd-temperature", type=float, default=2.0)
    run.add_argument("--kd-alpha", type=float, default=0.5, help="weight of the KL term")
    run.add_argument(
        "--out",
        metavar="DIR",
        help="where students and checkpoints go (default: beside the case file)",
    )
    run.add_argument("--no-onnx", action="store_true", help="skip the ONNX export and parity")
    run.add_argument("--prices", metavar="FILE", help="price presets (YAML); default: shipped")
    run.add_argument("--price-in", type=float, help="your rate per million input tokens")
    run.add_argument("--price-out", type=float, help="your rate per million output tokens")
    run.add_argument("--json", dest="json_out", required=True, metavar="OUT.json")
    run.set_defaults(func=cmd_run)

    res = ex.add_parser("resume", help="continue a cancelled or interrupted experiment or sweep")
    res.add_argument("run_id", type=int, metavar="RUN_ID")
    res.add_argument("--json", dest="json_out", metavar="OUT.json")
    res.set_defaults(func=cmd_resume)

    ls = ex.add_parser("list", help="experiment and sweep runs")
    ls.add_argument("--case", help="only this case")
    ls.set_defaults(func=cmd_list)


def _samples(text: str) -> list[int | None]:
    out: list[int | None] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        if part.lower() == "all":
            out.append(None)
        elif part.isdigit():
            out.append(int(part))
        else:
            raise DistillAuditError(f"--samples takes numbers or 'all', not {part!r}.")
    if not out:
        raise DistillAuditError("--samples needs at least one value.")
    return out


def _training(args: argparse.Namespace) -> Any:
    from core.distill.spec import TrainingSettings

    return TrainingSettings(
        steps=args.steps,
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        threads=args.threads,
        checkpoint_every=args.checkpoint_every,
        eval_every=args.eval_every,
    )


def _generation(args: argparse.Namespace) -> Any:
    from core.distill.sequence import GenerationSettings

    return GenerationSettings(
        max_new_tokens=args.max_new_tokens, greedy=args.greedy, temperature=args.temperature
    )


def _experiment_spec(args: argparse.Namespace, samples: int | None) -> Any:
    from core.distill.logit import LogitSettings
    from core.distill.spec import ExperimentSpec

    return ExperimentSpec(
        teacher=args.teacher,
        student=args.student,
        student_preset=args.student_preset,
        tokenizer=args.tokenizer,
        prompts=args.prompts,
        transcripts=args.transcripts,
        controls=args.controls,
        method=args.method,
        samples=samples,
        seed=args.seed,
        training=_training(args),
        generation=_generation(args),
        logit=LogitSettings(args.kd_temperature, args.kd_alpha),
        out_dir=args.out,
        onnx=not args.no_onnx,
        price_file=args.prices,
        price_in=args.price_in,
        price_out=args.price_out,
    )


def _calibration_spec(args: argparse.Namespace, samples: list[int | None]) -> Any:
    from core.distill.budgets import apply_budget
    from core.distill.calibration import CalibrationSpec

    if not args.controls:
        raise DistillAuditError(
            "A calibration sweep needs control answers (--controls) to train "
            "each distilled student's control twin."
        )
    spec = CalibrationSpec(
        references=tuple(args.reference),
        controls=args.controls,
        teacher=args.teacher,
        student=args.student,
        student_preset=args.student_preset,
        tokenizer=args.tokenizer,
        prompts=args.prompts,
        transcripts=args.transcripts,
        samples=tuple(samples),
        replicates=args.replicates or 3,
        seed=args.seed,
        method=args.method,
        checks=tuple(c.strip() for c in args.checks.split(",") if c.strip()),
        alpha=args.alpha,
        n_probes=args.probes,
        protected_names=tuple(n.strip() for n in args.protected_names.split(",") if n.strip()),
        training=_training(args),
        generation=_generation(args),
        out_dir=args.out,
        onnx=not args.no_onnx,
        price_file=args.prices,
        price_in=args.price_in,
        price_out=args.price_out,
    )
    if args.budget:
        spec = apply_budget(
            spec,
            args.budget,
            keep_samples=args.samples != "all",
            keep_replicates=args.replicates is not None,
        )
        spec = replace(spec, n_probes=args.probes)
    return spec


def _new_case(cf: CaseFile) -> int:
    """A new case for experiments run without --case (created after the inputs are checked)."""
    taken = {c.reference for c in list_cases(cf)}
    n = 1
    while f"EXP-{n}" in taken:
        n += 1
    return create_case(cf, "Distillation experiments", f"EXP-{n}")


def _write(path: str | None, data: dict[str, Any]) -> None:
    if path:
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(
            json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
        )


def _run(cf: CaseFile, args: argparse.Namespace, state: JobState) -> dict[str, Any]:
    from core.distill.calibration import run_calibration
    from core.distill.experiment import prepare, run_experiment

    samples = _samples(args.samples)
    if len(samples) > 1 or args.reference or args.budget:
        spec = _calibration_spec(args, samples)
        outcome = run_calibration(cf, args.case, spec, state, new_case=lambda: _new_case(cf))
        return {"kind": "calibration", "run_id": outcome.run_id, **outcome.summary}
    spec = _experiment_spec(args, samples[0])
    prepared = prepare(cf, args.case, spec, state=state)
    if args.case is None:
        prepared.case_id = _new_case(cf)
    results = []
    twins = [spec, spec.twin()] if args.controls else [spec]
    for number, s in enumerate(twins):
        sub = state.sub(100 * number / len(twins), 100 * (number + 1) / len(twins))
        prep = prepared if number == 0 else None
        results.append(run_experiment(cf, prepared.case_id, s, sub, prepared=prep).to_dict())
    return {"kind": "experiment", "experiments": results}


def cmd_run(args: argparse.Namespace) -> int:
    with open_db(args) as cf, progress(args, "Distillation experiment") as state:
        data = _run(cf, args, state)
    _write(args.json_out, data)
    emit(args, data, _text(data) + f"\nResults written to {args.json_out}.")
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    from core.distill import resume

    with open_db(args) as cf, progress(args, f"Resuming run {args.run_id}") as state:
        outcome = resume(cf, args.run_id, state)
    if hasattr(outcome, "student_path"):
        data = {"kind": "experiment", "experiments": [outcome.to_dict()]}
    else:
        data = {"kind": "calibration", "run_id": outcome.run_id, **outcome.summary}
    _write(args.json_out, data)
    emit(args, data, _text(data))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from core.distill.experiment import list_experiments

    with open_db(args) as cf:
        rows = list_experiments(cf, args.case)
    text = table(
        [
            [
                r["run_id"],
                r["kind"].removeprefix("experiment."),
                r["status"],
                r["answers"] or "-",
                r["samples"] if r["samples"] is not None else "-",
                _fmt(r["teacher_agreement"]),
                r["artifact_id"] or "-",
                r["label"] or "",
            ]
            for r in rows
        ],
        ["run", "kind", "status", "answers", "samples", "agreement", "artifact", "label"],
    )
    emit(args, rows, text if rows else "No experiments in this case file.")
    return 0


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _text(data: dict[str, Any]) -> str:
    if data["kind"] == "calibration":
        rows = [
            [
                p["n"],
                f"{p['detected']}/{p['trials']}",
                _fmt(p["rate"]),
                f"[{_fmt(p['ci'][0])}, {_fmt(p['ci'][1])}]",
                _fmt(p["teacher_agreement"]["distilled"]),
                _fmt(p["teacher_agreement"]["control"]),
            ]
            for p in data.get("points", [])
        ]
        fp = data.get("false_positive", {})
        head = table(rows, ["N", "detected", "rate", "95% CI", "agreement", "control agr."])
        return (
            f"Calibration run {data['run_id']} (alpha = {data.get('alpha')}):\n{head}\n"
            f"False positives on control twins: {fp.get('k')}/{fp.get('m')} "
            f"(95% CI {_fmt((fp.get('ci') or [None])[0])}-"
            f"{_fmt((fp.get('ci') or [None, None])[1])})"
            + "".join(f"\nWarning: {w}" for w in data.get("warnings", []))
        )
    lines = []
    for e in data["experiments"]:
        parity = (e.get("onnx") or {}).get("parity") or {}
        lines.append(
            f"Run {e['run_id']}: student {e['student_path']} (artifact {e['artifact_id']}), "
            f"teacher agreement {_fmt((e['training']['evals'] or [{}])[-1].get('agreement'))}, "
            f"ONNX parity max |diff| {_fmt(parity.get('max_abs_diff'))}"
        )
    return "\n".join(lines)
