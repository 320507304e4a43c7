"""The CLI end to end on a real case file: commands, --json, exit codes, one-line errors."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_case_evidence_audit_flow(
    tmp_path: Path, capsys, tiny_model: Path, transcript_file: Path
) -> None:
    db = str(tmp_path / "c.dacase")
    code, out, _ = run(
        capsys,
        "--db",
        db,
        "case",
        "new",
        "--title",
        "H v Q",
        "--reference",
        "DA-9",
        "--party",
        "Halcyon",
        "--party",
        "Quillmark",
    )
    assert code == 0 and "Created case 1" in out
    assert (
        run(
            capsys,
            "--db",
            db,
            "import",
            "model",
            str(tiny_model),
            "--case",
            "DA-9",
            "--role",
            "suspect",
            "--collector",
            "J. Doe",
        )[0]
        == 0
    )
    code, out, _ = run(
        capsys,
        "--db",
        db,
        "--json",
        "import",
        "transcripts",
        str(transcript_file),
        "--case",
        "1",
        "--role",
        "protected-answers",
    )
    assert code == 0 and json.loads(out)["transcript_set_id"] == 1
    code, out, _ = run(capsys, "--db", db, "--json", "evidence", "list", "--case", "DA-9")
    items = json.loads(out)
    assert [i["kind"] for i in items] == ["model", "transcripts"]
    assert items[0]["details"]["provenance"]["collector"] == "J. Doe"
    code, out, _ = run(capsys, "--db", db, "case", "show", "DA-9")
    assert "Hp: The suspect model was trained" in out and "1 model(s)" in out
    code, out, _ = run(capsys, "--db", db, "evidence", "verify", "--case", "DA-9")
    assert code == 0 and "All evidence matches" in out
    code, out, _ = run(capsys, "--db", db, "--json", "audit", "verify")
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["events"] == 4
    code, out, _ = run(capsys, "--db", db, "audit", "log", "--case", "DA-9")
    assert "evidence.model_imported" in out and "evidence.verified" in out
    code, out, _ = run(capsys, "--db", db, "--json", "db", "upgrade")
    assert json.loads(out)["backup"] is None


def test_changed_evidence_and_broken_chain_exit_nonzero(
    tmp_path: Path, capsys, transcript_file: Path
) -> None:
    db = tmp_path / "c.dacase"
    run(capsys, "--db", str(db), "case", "new", "--title", "T", "--reference", "R")
    run(
        capsys,
        "--db",
        str(db),
        "import",
        "transcripts",
        str(transcript_file),
        "--case",
        "R",
        "--role",
        "protected-answers",
    )
    transcript_file.write_text("tampered\n")
    code, out, _ = run(capsys, "--db", str(db), "evidence", "verify", "--case", "R")
    assert code == 1 and "CHANGED" in out
    con = sqlite3.connect(db)
    con.execute("DROP TRIGGER audit_events_no_update")
    con.execute("UPDATE audit_events SET actor='mallory' WHERE id=1")
    con.commit()
    con.close()
    code, out, _ = run(capsys, "--db", str(db), "audit", "verify")
    assert code == 1 and "BROKEN at event 1" in out


def test_user_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    bogus = tmp_path / "x.dacase"
    bogus.write_text("not a database")
    proc = subprocess.run(
        [sys.executable, "-m", "core.cli", "--db", str(bogus), "case", "list"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "not a Distill Audit case file" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_case_is_a_clear_error(tmp_path: Path, capsys) -> None:
    code, _, err = run(capsys, "--db", str(tmp_path / "c.dacase"), "case", "show", "NOPE")
    assert code == 2 and "No case 'NOPE'" in err
