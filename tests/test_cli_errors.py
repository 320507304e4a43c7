"""Every expected failure ends in one line on stderr and a non-zero exit, never a traceback.

The cases come from real mishaps: a folder or an empty file given as ``--db``, an immutable
case file, a case file on read-only media, a full disk (during an import and when opening),
deeply nested input, a report that would overwrite a file, and a report export that was
killed. Read-only media and full disks are real: a read-only bind mount and a tiny tmpfs in
a private mount namespace (``unshare --mount``); where that is not possible the test is
skipped and says why.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from core.cli import main
from core.errors import (
    DiskFullError,
    FileAccessError,
    ReadOnlyCaseFileError,
    UnreadableInputError,
)
from core.failures import explain
from core.reports.export import export_report
from core.store.cases import list_cases
from core.store.db import open_case_file
from tests.conftest import write_jsonl

ROOT = Path(__file__).resolve().parents[1]


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert err.startswith("distill-audit: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err


def new_case_file(path: Path, reference: str = "DA-ERR-1") -> Path:
    code = main(["--db", str(path), "case", "new", "--title", "T", "--reference", reference])
    assert code == 0
    return path


# --- --db that is not a case file -------------------------------------------------------


def test_db_that_is_a_folder_is_refused(tmp_path: Path, capsys) -> None:
    code, _, err = cli(capsys, "--db", str(tmp_path), "case", "list")
    assert_one_line_error(code, err, "is a folder, not a case file")


def test_empty_file_as_db_is_refused_and_left_empty(tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty.dacase"
    empty.write_bytes(b"")
    code, _, err = cli(capsys, "--db", str(empty), "case", "list")
    assert_one_line_error(code, err, "empty file (0 bytes)")
    assert empty.stat().st_size == 0 and not Path(f"{empty}-wal").exists()


# --- case files that cannot be written --------------------------------------------------


@contextmanager
def unwritable(path: Path) -> Iterator[None]:
    """Make ``path`` impossible to write for this user: immutable for root, 0444 otherwise."""
    if os.geteuid() == 0:
        chattr = shutil.which("chattr")
        if chattr is None or subprocess.run([chattr, "+i", str(path)]).returncode != 0:
            pytest.skip("chattr +i is not available here (needed to make a file immutable)")
        try:
            yield
        finally:
            subprocess.run([chattr, "-i", str(path)], check=True)
    else:
        mode = path.stat().st_mode
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(mode)


def test_immutable_case_file_opens_read_only_and_refuses_an_import(
    tmp_path: Path, capsys, transcript_file: Path
) -> None:
    db = new_case_file(tmp_path / "imm.dacase")
    before = db.read_bytes()
    with unwritable(db):
        code, out, err = cli(capsys, "--db", str(db), "case", "list")
        assert code == 0 and "DA-ERR-1" in out, err
        code, _, err = cli(
            capsys,
            "--db",
            str(db),
            "import",
            "transcripts",
            str(transcript_file),
            "--case",
            "DA-ERR-1",
            "--role",
            "protected-answers",
        )
        assert_one_line_error(code, err, "is read-only", "Nothing was changed", "Copy it")
    assert db.read_bytes() == before
    with open_case_file(db) as cf:
        assert not cf.read_only


def test_read_only_case_file_refuses_every_change(tmp_path: Path) -> None:
    db = new_case_file(tmp_path / "ro.dacase")
    with unwritable(db), open_case_file(db) as cf:
        assert cf.read_only
        with pytest.raises(ReadOnlyCaseFileError, match="read-only"):
            with cf.session():
                pass
        with pytest.raises(ReadOnlyCaseFileError, match="recorded in the audit log"):
            export_report(cf, "DA-ERR-1", tmp_path / "r.pdf")
        assert [c.reference for c in list_cases(cf)] == ["DA-ERR-1"]
    assert not (tmp_path / "r.pdf").exists()


def _mount_namespace() -> list[str]:
    """A command prefix running in a private mount namespace where we may mount, or skip."""
    unshare = shutil.which("unshare")
    if not sys.platform.startswith("linux") or unshare is None:
        pytest.skip("needs Linux mount namespaces (unshare from util-linux)")
    for prefix in ([unshare, "--mount"], [unshare, "--mount", "--map-root-user"]):
        probe = subprocess.run(
            [*prefix, "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
            capture_output=True,
            timeout=60,
        )
        if probe.returncode == 0:
            return prefix
    pytest.skip("mount namespaces are not available here (unshare --mount failed)")


def in_mount_namespace(script: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a shell ``script`` (with $PY = this Python) where its mounts stay private."""
    variables = {**os.environ, "PY": sys.executable, "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(
        [*_mount_namespace(), "bash", "-c", "set -e\n" + script],
        cwd=ROOT,
        env=variables,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_case_file_on_read_only_media_can_be_listed(tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    new_case_file(media / "case.dacase")
    done = in_mount_namespace(
        'mount --bind "$D" "$D" && mount -o remount,bind,ro "$D"\n'
        '$PY -m core.cli --db "$D/case.dacase" case list\n'
        'if $PY -m core.cli --db "$D/case.dacase" case new --title U --reference R2 '
        '2>"$D.err"; then exit 9; fi\n'
        'cat "$D.err" >&2',
        D=str(media),
    )
    assert done.returncode == 0, done.stderr
    assert "DA-ERR-1" in done.stdout
    err = done.stderr
    assert err.count("\n") == 1 and "read-only" in err and "Traceback" not in err, err


def test_full_disk_during_import_is_one_line(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    big = write_jsonl(
        tmp_path / "big.jsonl",
        [{"prompt": f"p{i}", "response": os.urandom(1500).hex()} for i in range(200)],
    )
    done = in_mount_namespace(
        'mount -t tmpfs -o size=400k tmpfs "$D"\n'
        '$PY -m core.cli --db "$D/c.dacase" case new --title T --reference R1 >/dev/null\n'
        'if $PY -m core.cli --db "$D/c.dacase" import transcripts "$BIG" --case R1 '
        "--role protected-answers; then exit 9; fi\n"
        '$PY -m core.cli --db "$D/c.dacase" --json evidence list --case R1',
        D=str(disk),
        BIG=str(big),
    )
    assert done.returncode == 0, done.stderr
    err = done.stderr
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert "is full" in err and "Free some space" in err, err
    assert json.loads(done.stdout) == []  # the import was rolled back, nothing half-saved


def test_full_disk_when_opening_is_not_called_damaged(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    done = in_mount_namespace(
        'mount -t tmpfs -o size=600k tmpfs "$D"\n'
        '$PY -m core.cli --db "$D/c.dacase" case new --title T --reference R1 >/dev/null\n'
        'dd if=/dev/zero of="$D/filler" bs=4k 2>/dev/null || true\n'
        'if $PY -m core.cli --db "$D/c.dacase" case list; then exit 9; fi',
        D=str(disk),
    )
    assert done.returncode == 0, done.stderr
    err = done.stderr
    assert err.count("\n") == 1 and "is full" in err and "damaged" not in err, err


# --- input that cannot be read safely ---------------------------------------------------


def test_deeply_nested_transcript_is_one_line(tmp_path: Path, capsys) -> None:
    db = new_case_file(tmp_path / "c.dacase")
    deep = tmp_path / "deep.jsonl"
    deep.write_text('{"prompt": "a", "response": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    code, _, err = cli(
        capsys,
        "--db",
        str(db),
        "import",
        "transcripts",
        str(deep),
        "--case",
        "DA-ERR-1",
        "--role",
        "protected-answers",
    )
    assert_one_line_error(code, err, "nested too deeply")


def test_expected_failure_classes_are_translated() -> None:
    from lxml import etree

    def raised(action) -> BaseException:
        try:
            action()
        except BaseException as exc:  # the real exception of a real call
            return exc
        raise AssertionError("nothing was raised")

    cases = [
        (raised(lambda: b"caf\xe9".decode("utf-8")), UnreadableInputError, "UTF-8"),
        (raised(lambda: etree.fromstring(b"<terms><a></terms>")), UnreadableInputError, "XML"),
        (raised(lambda: float(10**400)), UnreadableInputError, "too large"),
        (OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/x/r.pdf"), DiskFullError, "/x/r.pdf"),
        (OSError(errno.EROFS, os.strerror(errno.EROFS), "/cd/c"), FileAccessError, "read-only"),
        (sqlite3.OperationalError("database or disk is full"), DiskFullError, "is full"),
        (
            sqlite3.OperationalError("attempt to write a readonly database"),
            ReadOnlyCaseFileError,
            "read-only",
        ),
    ]
    for exc, kind, needle in cases:
        error = explain(exc, "/cases/c.dacase")
        assert isinstance(error, kind), (exc, error)
        assert needle in str(error) and "\n" not in str(error)
    assert explain(KeyError("bug")) is None  # a bug keeps its traceback


# --- report export: overwriting and killed exports --------------------------------------


def test_report_refuses_to_overwrite_without_force(tmp_path: Path, capsys) -> None:
    db = str(new_case_file(tmp_path / "c.dacase"))
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(b"counsel's own notes")
    code, _, err = cli(capsys, "--db", db, "report", "--case", "DA-ERR-1", "--out", str(pdf))
    assert_one_line_error(code, err, "already exists", "--force")
    assert pdf.read_bytes() == b"counsel's own notes"
    code, out, err = cli(
        capsys, "--db", db, "report", "--case", "DA-ERR-1", "--out", str(pdf), "--force"
    )
    assert code == 0, err
    assert pdf.read_bytes().startswith(b"%PDF")
    csv_dir = tmp_path / "csv"
    code, _, err = cli(
        capsys,
        "--db",
        db,
        "report",
        "--case",
        "DA-ERR-1",
        "--out",
        str(tmp_path / "b.pdf"),
        "--csv",
        str(csv_dir),
    )
    assert code == 0, err
    code, _, err = cli(
        capsys,
        "--db",
        db,
        "report",
        "--case",
        "DA-ERR-1",
        "--out",
        str(tmp_path / "c.pdf"),
        "--csv",
        str(csv_dir),
    )
    assert_one_line_error(code, err, "results_per_probe.csv", "already exist")
    assert not (tmp_path / "c.pdf").exists()


def test_terminated_export_leaves_no_part_files(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real SIGTERM arrives while the files are being written (at the first fsync)."""
    db = str(new_case_file(tmp_path / "c.dacase"))
    out = tmp_path / "out"
    out.mkdir()
    real_fsync = os.fsync
    handler_before = signal.getsignal(signal.SIGTERM)

    def fsync_then_terminate(fd: int) -> None:
        real_fsync(fd)
        monkeypatch.setattr(os, "fsync", real_fsync)
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(os, "fsync", fsync_then_terminate)
    code = main(
        [
            "--db",
            db,
            "report",
            "--case",
            "DA-ERR-1",
            "--out",
            str(out / "r.pdf"),
            "--csv",
            str(out / "csv"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 143 and "terminate" in err and err.count("\n") == 1, err
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == []
    assert signal.getsignal(signal.SIGTERM) == handler_before  # the CLI restored it


def test_part_files_of_a_killed_export_are_cleaned_by_the_next(tmp_path: Path, capsys) -> None:
    db = str(new_case_file(tmp_path / "c.dacase"))
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a process id that no longer runs: the export that was killed (SIGKILL)
    stale = tmp_path / f".r.pdf.{gone.pid}.k7x2m9q1.part"
    stale.write_bytes(b"%PDF-1.4 half written")
    alive = tmp_path / f".r.pdf.{os.getppid()}.a1b2c3d4.part"  # still being written
    alive.write_bytes(b"%PDF-1.4 in progress")
    code, _, err = cli(
        capsys, "--db", db, "report", "--case", "DA-ERR-1", "--out", str(tmp_path / "r.pdf")
    )
    assert code == 0, err
    assert not stale.exists() and alive.exists()
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")
