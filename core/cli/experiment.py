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
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.store.cases import create_case
from core.store.db import CaseFile

if TYPE_CHECKING:
    from core.distill.usecase import DistillationOutcome, DistillationRequest

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
    run.add_argument(
        "--procedure-run",
        type=int,
        metavar="RUN_ID",
        help="calibrate the case's own check run: every student goes through its checks, "
        "panel, settings, seed rule and Holm combination (the sweep then gives a likelihood "
        "ratio); --controls are then the null twins' answers, from another source",
    )
    run.add_argument("--null-source", default="", help="where the twins' answers come from")
    run.add_argument(
        "--sweep-epochs", default="1", metavar="E[,E...]", help="distilled students per epochs"
    )
    run.add_argument(
        "--laundered", action="store_true", help="also students on paraphrased answers"
    )
    run.add_argument(
        "--other-answers", metavar="FILE", help="the teacher's other samples (other-sample arm)"
    )
    run.add_argument("--fpr-target", type=float, default=0.05, help="false-positive bound sought")
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


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """The training, generation and logit settings of the command line."""
    from core.distill.spec import GenerationSettings, LogitSettings, TrainingSettings

    return {
        "training": TrainingSettings(
            steps=args.steps,
            epochs=args.epochs,
            lr=args.lr,
            batch_size=args.batch_size,
            threads=args.threads,
            checkpoint_every=args.checkpoint_every,
            eval_every=args.eval_every,
        ),
        "generation": GenerationSettings(
            max_new_tokens=args.max_new_tokens, greedy=args.greedy, temperature=args.temperature
        ),
        "logit": LogitSettings(args.kd_temperature, args.kd_alpha),
    }


def _epochs(text: str) -> tuple[int, ...]:
    from core.errors import DistillAuditError

    values = _names(text)
    if not values or not all(v.isdigit() and int(v) >= 1 for v in values):
        raise DistillAuditError(f"Give the epochs as whole numbers >= 1, e.g. 1,2,3; not {text!r}.")
    return tuple(int(v) for v in values)


def _names(text: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip())


def build_request(args: argparse.Namespace) -> DistillationRequest:
    """The DistillationRequest of ``experiment run``: several sample counts, a reference
    model or a budget ask for the calibration sweep; one count for one experiment."""
    from core.distill.samples import parse_sample_counts
    from core.distill.usecase import DistillationRequest, SweepRequest

    samples = parse_sample_counts(args.samples)
    sweep = None
    if len(samples) > 1 or args.reference or args.budget or args.procedure_run is not None:
        sweep = SweepRequest(
            references=tuple(args.reference),
            samples=None if args.budget and args.samples == "all" else samples,
            replicates=args.replicates,
            checks=_names(args.checks),
            alpha=args.alpha,
            n_probes=args.probes,
            protected_names=_names(args.protected_names),
            budget=args.budget,
            procedure_run=args.procedure_run,
            null_source=args.null_source,
            epochs=_epochs(args.sweep_epochs),
            laundered=args.laundered,
            other_answers=args.other_answers,
            fpr_target=args.fpr_target,
        )
    return DistillationRequest(
        teacher=args.teacher,
        student=args.student,
        student_preset=args.student_preset,
        tokenizer=args.tokenizer,
        prompts=args.prompts,
        transcripts=args.transcripts,
        controls=args.controls,
        method=args.method,
        samples=samples[0],
        seed=args.seed,
        out_dir=args.out,
        onnx=not args.no_onnx,
        price_file=args.prices,
        price_in=args.price_in,
        price_out=args.price_out,
        sweep=sweep,
        **_settings(args),
    )


def _new_case(cf: CaseFile) -> int:
    """A new case for experiments run without --case (created after the inputs are checked)."""
    from core.records import next_reference

    return create_case(cf, "Distillation experiments", next_reference(cf, "EXP"))


def _write(path: str | None, data: dict[str, Any]) -> None:
    if path:
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(
            json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
        )


def cmd_run(args: argparse.Namespace) -> int:
    from core.distill.usecase import run_distillation

    request = build_request(args)
    with open_db(args) as cf, progress(args, "Distillation experiment") as state:
        outcome = run_distillation(cf, args.case, request, state, new_case=lambda: _new_case(cf))
    data = outcome.to_dict()
    _write(args.json_out, data)
    emit(args, data, _text(outcome) + f"\nResults written to {args.json_out}.")
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    from core.distill.usecase import resume_distillation

    with open_db(args) as cf, progress(args, f"Resuming run {args.run_id}") as state:
        outcome = resume_distillation(cf, args.run_id, state)
    data = outcome.to_dict()
    _write(args.json_out, data)
    emit(args, data, _text(outcome))
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


def _ci(ci: tuple[float | None, float | None]) -> str:
    return f"[{_fmt(ci[0])}, {_fmt(ci[1])}]"


def _text(outcome: DistillationOutcome) -> str:
    """The outcome as a few lines of text (the JSON has everything)."""
    sweep = outcome.sweep_summary
    if sweep is not None:
        rows = [
            [
                p.n,
                f"{p.detected}/{p.trials}",
                _fmt(p.rate),
                _ci(p.ci),
                _fmt(p.agreement_distilled),
                _fmt(p.agreement_control),
            ]
            for p in sweep.points
        ]
        fp = sweep.false_positive
        head = table(rows, ["N", "detected", "rate", "95% CI", "agreement", "control agr."])
        return (
            f"Calibration run {outcome.run_ids[0]} (alpha = {sweep.alpha}):\n{head}\n"
            f"False positives on control twins: {fp.k if fp else None}/{fp.m if fp else None} "
            f"(95% CI {_fmt(fp.ci[0] if fp else None)}-{_fmt(fp.ci[1] if fp else None)})"
            + "".join(f"\nWarning: {w}" for w in sweep.warnings)
        )
    lines = []
    for e, summary in zip(outcome.experiments, outcome.summaries(), strict=True):
        parity = summary.parity
        lines.append(
            f"Run {e.run_id}: student {e.student_path} (artifact {e.artifact_id}), "
            f"teacher agreement {_fmt(summary.last_eval_agreement)}, "
            f"ONNX parity max |diff| {_fmt(parity.max_abs_diff if parity else None)}"
        )
    return "\n".join(lines)
