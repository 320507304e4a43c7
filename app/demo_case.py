"""Help → Open demo case: build the shipped demonstration case once, then open it.

The job body builds the case with core.demo.build_demo_case — the same function as
``distill-audit demo`` — into the default demo case file (core.cli.demo.default_demo_db)
if that file does not exist yet. A build that fails or is cancelled leaves no file
behind, so the next attempt starts clean. ``DISTILL_AUDIT_DEMO`` may point at another
build of the demo world (as in the tests).
"""

from __future__ import annotations

import os
from pathlib import Path

from core.jobs import JobState


def demo_world() -> Path:
    """The demo world folder: $DISTILL_AUDIT_DEMO or the shipped resources/demo."""
    from core.resources import resource_path

    return Path(os.environ.get("DISTILL_AUDIT_DEMO") or resource_path("demo"))


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def prepare_demo_case(path: Path | None, state: JobState) -> Path:
    """Job body: the demo case file, built first if it does not exist yet."""
    from core.cli.demo import default_demo_db
    from core.demo import build_demo_case
    from core.store.db import open_case_file

    target = Path(path) if path is not None else default_demo_db()
    if target.is_file() and target.stat().st_size > 0:
        state.set_progress(100)
        return target
    state.set_status("Building the demonstration case (about eight models)")
    try:
        with open_case_file(target) as cf:
            build_demo_case(cf, demo_world(), state=state)
    except BaseException:
        _remove(target)
        raise
    return target
