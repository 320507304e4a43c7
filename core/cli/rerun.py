"""``rerun RUN``: repeat a check run on a scratch copy and compare every recorded number."""

from __future__ import annotations

import argparse

from .common import emit, open_db, progress


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rerun",
        help="re-run a check run on a scratch copy of the case file and compare its numbers",
        description="Copies the case file to a scratch copy, re-runs the run's checks on the "
        "case's hashed evidence with the recorded settings and seed, and compares every "
        "recorded number (p-values, effects, CIs, N, verdicts). Exit 0: all match; 1: they "
        "differ or the evidence changed. The outcome is recorded in the case's audit log.",
    )
    p.add_argument("run_id", type=int, metavar="RUN")
    p.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS, help="case file")
    p.set_defaults(func=cmd_rerun)


def cmd_rerun(args: argparse.Namespace) -> int:
    from core.checks.rerun import rerun_check_run

    with open_db(args) as cf, progress(args, f"Re-running run {args.run_id}") as state:
        report = rerun_check_run(cf, args.run_id, state)
    if report.outcome == "match":
        text = (
            f"Run {report.run_id} reproduced: all {report.compared} recorded numbers and "
            "verdicts match (integers equal, floats within relative 1e-9)."
        )
    elif report.outcome == "refused":
        text = f"Run {report.run_id} NOT reproduced: {report.reason}"
    else:
        lines = [
            f"Run {report.run_id} NOT reproduced: {len(report.differences)} of "
            f"{report.compared} recorded values differ:"
        ]
        lines += [
            f"  {d['metric']}.{d['field']}: recorded {d.get('recorded')!r}, "
            f"re-run {d.get('rerun')!r}"
            for d in report.differences
        ]
        text = "\n".join(lines)
    text += f"\nRecorded as audit event #{report.audit_event_id} (run.rerun)."
    emit(args, report.to_dict(), text)
    return 0 if report.matched else 1
