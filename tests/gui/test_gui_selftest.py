"""``distill-audit-gui --self-test``: what the installers' smoke test runs on the frozen app.

It opens the case file, prints the number of cases and exits 0; a file that is not a case
file makes it exit 1 (so a broken bundle cannot pass the smoke test by just starting).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _start(tmp_path: Path, case_file: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    env.pop("DISTILL_AUDIT_EXIT_AFTER_SHOW", None)
    return subprocess.run(
        [sys.executable, "-m", "app.main", "--self-test", str(case_file)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_self_test_opens_the_case_file_counts_its_cases_and_exits_0(tmp_path):
    from core.store.cases import create_case
    from core.store.db import open_case_file

    db = tmp_path / "two.dacase"
    with open_case_file(db) as cf:
        create_case(cf, "First", "REF-1")
        create_case(cf, "Second", "REF-2")
    out = _start(tmp_path, db)
    assert out.returncode == 0, out.stderr
    assert "first-paint-ms=" in out.stdout and "ready-ms=" in out.stdout
    assert "cases=2" in out.stdout


def test_self_test_exits_1_when_the_file_is_not_a_case_file(tmp_path):
    bogus = tmp_path / "notes.dacase"
    bogus.write_text("not a database\n", encoding="utf-8")
    out = _start(tmp_path, bogus)
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert "cases=0" in out.stdout
    assert bogus.read_text(encoding="utf-8") == "not a database\n"  # left untouched
