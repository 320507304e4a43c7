"""``demo``: build the demonstration case from the shipped world and review it."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from core.demo import (
    DEMO_REFERENCE,
    build_demo_case_file,
    default_demo_db,
    discard_demo_case_file,
    review_demo_case,
)
from core.store.db import open_case_file

from .common import emit, progress


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="build and review the shipped demonstration case")
    p.add_argument("--demo-dir", help="demo world folder (default: the shipped resources/demo)")
    p.add_argument("--out", help="folder for the report (default: beside the case file)")
    p.add_argument(
        "--no-review",
        action="store_true",
        help="only build the case; do not run the checks or write the report",
    )
    p.set_defaults(func=cmd_demo)


def _echo(lines: list[str]) -> Callable[[str], None]:
    """Print each step as it happens (the review takes a minute or two)."""

    def log(message: str) -> None:
        lines.append(message)
        print(message, flush=True)

    return log


def cmd_demo(args: argparse.Namespace) -> int:
    db = Path(args.db) if args.db else default_demo_db()
    discard_demo_case_file(db)
    lines: list[str] = []
    out = Path(args.out) if args.out else db.parent
    log = lines.append if getattr(args, "json_output", False) else _echo(lines)
    with progress(args, "Building the demo case") as state:
        demo = build_demo_case_file(
            db, Path(args.demo_dir) if args.demo_dir else None, state=state, log=log
        )
    review = None
    if not args.no_review:
        with open_case_file(db) as cf, progress(args, "Reviewing the demo case") as state:
            review = review_demo_case(cf, demo, out, state=state, log=log)
    log(f"Demo case file: {db}")
    data = {
        "case_file": str(db),
        "case_id": demo.case_id,
        "reference": DEMO_REFERENCE,
        "artifacts": demo.artifacts,
        "transcripts": demo.transcripts,
        "policies": demo.policies,
    }
    if review is not None:
        data["check_runs"] = {n: r.to_json() for n, r in review.check_runs.items()}
        data["report"] = {
            "pdf": str(out / "demo-report.pdf"),
            "json": str(out / "demo-report.json"),
            "pdf_sha256": review.report.pdf_sha256,
        }
    if getattr(args, "json_output", False):
        emit(args, data, "")
    return 0
