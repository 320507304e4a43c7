"""Help → Open demo case: build the shipped demonstration case once, then open it.

The job body is core.demo.ensure_demo_case_file — the same build as ``distill-audit demo``
(core.demo.build_demo_case_file) — into the default demo case file (core.demo.default_demo_db)
if that file does not exist yet. A build that fails or is cancelled leaves no file behind,
so the next attempt starts clean. ``DISTILL_AUDIT_DEMO`` may point at another build of the
demo world (as in the tests).
"""

from __future__ import annotations

import os
from pathlib import Path

from core.jobs import JobState


def demo_world() -> Path:
    """The demo world folder: $DISTILL_AUDIT_DEMO or the shipped resources/demo."""
    from core.resources import resource_path

    return Path(os.environ.get("DISTILL_AUDIT_DEMO") or resource_path("demo"))


def prepare_demo_case(path: Path | None, state: JobState) -> Path:
    """Job body: the demo case file, built first if it does not exist yet."""
    from core.demo import ensure_demo_case_file

    return ensure_demo_case_file(path, demo_world(), state=state)
