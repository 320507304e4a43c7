"""``demo``: build the demonstration case from the shipped world and review it."""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path

from core.demo import DEMO_REFERENCE, build_demo_case
from core.errors import DistillAuditError
from core.store.db import CASE_FILE_SUFFIX, open_case_file

from .common import emit, progress


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="build and review the shipped demonstration case")
    p.add_argument("--demo-dir", help="demo world folder (default: the shipped resources/demo)")
    p.set_defaults(func=cmd_demo)


def default_demo_db() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("DistillAudit", appauthor=False)) / f"demo{CASE_FILE_SUFFIX}"


def _fresh(path: Path) -> None:
    """Remove an earlier demo case file; refuse to touch a file holding anything else."""
    if not path.exists():
        return
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        refs = [r[0] for r in con.execute("SELECT reference FROM cases")]
        con.close()
    except sqlite3.DatabaseError:
        refs = None
    if refs is None or any(r != DEMO_REFERENCE for r in refs):
        raise DistillAuditError(
            f"{path} exists and holds more than the demo case; choose another --db for the demo."
        )
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def cmd_demo(args: argparse.Namespace) -> int:
    db = Path(args.db) if args.db else default_demo_db()
    _fresh(db)
    lines: list[str] = []
    with open_case_file(db) as cf, progress(args, "Building the demo case") as state:
        demo = build_demo_case(cf, Path(args.demo_dir) if args.demo_dir else None,
                               state=state, log=lines.append)
    lines.append(f"Demo case file: {db}")
    emit(args, {"case_file": str(db), "case_id": demo.case_id, "reference": DEMO_REFERENCE,
                "artifacts": demo.artifacts, "transcripts": demo.transcripts,
                "policies": demo.policies}, "\n".join(lines))
    return 0
