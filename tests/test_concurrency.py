"""Two writers on one case file (issue 19, item 7), with real processes on a real file.

An import reads, validates and hashes its source before it takes the write lock, so a
second writer waits only for the inserts. A writer that finds the lock taken says once
that it waits ("Waiting for another import to finish…"), waits a bounded time
(DISTILL_AUDIT_WRITE_WAIT, 120 s by default) and then fails in one line with nothing
changed, never "database is locked" with a traceback. Readers never wait: opening an
up-to-date case file writes nothing.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from core.errors import CaseFileBusyError
from core.evidence import importer
from core.evidence.importer import import_model, import_transcripts
from core.jobs import CallbackState
from core.store.db import open_case_file
from tests.conftest import write_jsonl
from tests.hostile_models import minimal_folder, row_counts

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = "DA-W-1"

# Opens the case file, takes the write lock with a real transaction, says so, and holds
# it until told to let go (a file appears) or for at most the given seconds.
HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from core.store.db import open_case_file
    from core.store import audit
    db, ready, seconds = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
    release = ready.with_suffix(".release")
    with open_case_file(db) as cf, cf.session() as s:
        audit.record(s, "test.holding_the_lock", "case", 1, case_id=1)
        s.flush()
        ready.write_text("holding")
        deadline = time.monotonic() + seconds
        while not release.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    """
)


def _env(wait_s: float | None = None) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen")
    env.pop("DISTILL_AUDIT_DEBUG", None)
    if wait_s is not None:
        env["DISTILL_AUDIT_WRITE_WAIT"] = str(wait_s)
    return env


@contextmanager
def lock_held_by_another_process(db: Path, seconds: float) -> Iterator[subprocess.Popen[str]]:
    """A second Python process holding the case file's write lock for ``seconds``."""
    ready = db.with_name("holder.ready")
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db), str(ready), str(seconds)],
        cwd=ROOT,
        env=_env(),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the holder never took the lock"
            time.sleep(0.05)
        yield proc
    finally:
        release_lock(db)
        proc.wait(timeout=seconds + 60)
        if proc.stderr is not None:
            proc.stderr.close()
        ready.unlink(missing_ok=True)
        ready.with_suffix(".release").unlink(missing_ok=True)


def release_lock(db: Path) -> None:
    """Tell the holder to commit and let go of the lock."""
    db.with_name("holder.release").write_text("go")


def cli(db: Path, *argv: str, wait_s: float | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "core.cli", "--db", str(db), *argv],
        cwd=ROOT,
        env=_env(wait_s),
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "case.dacase"
    with open_case_file(path) as cf:
        from core.store.cases import create_case

        create_case(cf, "Halcyon Labs v Quillmark AI", REFERENCE)
    return path


def transcripts(tmp_path: Path, n: int = 50, name: str = "answers.jsonl") -> Path:
    records = [{"prompt": f"Question {i}?", "response": f"Answer {i}."} for i in range(n)]
    return write_jsonl(tmp_path / name, records)


def import_argv(path: Path) -> list[str]:
    return ["import", "transcripts", str(path), "--case", REFERENCE, "--role", "protected-answers"]


# --- two processes -----------------------------------------------------------------------


def test_second_writer_waits_then_fails_in_one_line(db: Path, tmp_path: Path) -> None:
    path = transcripts(tmp_path)
    with lock_held_by_another_process(db, seconds=120):
        before = row_counts(db)
        started = time.monotonic()
        done = cli(db, *import_argv(path), wait_s=1.5)
        waited = time.monotonic() - started
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert lines[0].startswith("distill-audit: Waiting for another import to finish…"), lines
    assert len(lines) == 2 and lines[1].startswith("distill-audit: error: "), lines
    assert "is busy" in lines[1] and "Nothing was changed" in lines[1], lines
    assert "DISTILL_AUDIT_WRITE_WAIT" in lines[1]
    assert "Traceback" not in done.stderr and "database is locked" not in done.stderr
    assert 1.5 <= waited < 60, waited  # bounded by the setting, not by the other writer
    assert row_counts(db)["transcript_sets"] == before["transcript_sets"]


def test_second_writer_waits_and_then_succeeds(db: Path, tmp_path: Path) -> None:
    path = transcripts(tmp_path)
    with lock_held_by_another_process(db, seconds=120):
        with subprocess.Popen(
            [sys.executable, "-m", "core.cli", "--db", str(db), *import_argv(path)],
            cwd=ROOT,
            env=_env(120),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as proc:
            assert proc.stderr is not None and proc.stdout is not None
            first = proc.stderr.readline()  # it says it waits, and keeps waiting ...
            assert first.startswith("distill-audit: Waiting for another import to finish…")
            time.sleep(1.0)
            assert proc.poll() is None
            release_lock(db)  # ... until the other writer is done
            out, rest = proc.stdout.read(), proc.stderr.read()
            assert proc.wait(timeout=120) == 0, rest
    assert "Imported transcript set" in out and "Traceback" not in rest
    assert row_counts(db)["transcript_items"] == 50


def test_readers_do_not_wait_for_a_writer(db: Path) -> None:
    with lock_held_by_another_process(db, seconds=120) as holder:
        done = cli(db, "evidence", "list", "--case", REFERENCE, wait_s=60)
        still_holding = holder.poll() is None
    assert done.returncode == 0, done.stderr
    assert "Waiting" not in done.stderr and still_holding  # read while the lock was held


def test_two_imports_at_once_both_land(db: Path, tmp_path: Path) -> None:
    # Two different files (the same file twice is refused as duplicate evidence).
    files = [transcripts(tmp_path, 3000 + i, f"a{i}.jsonl") for i in range(2)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "core.cli", "--db", str(db), *import_argv(f)],
            cwd=ROOT,
            env=_env(120),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for f in files
    ]
    results = [p.communicate(timeout=300) for p in procs]
    for proc, (_out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert "Traceback" not in err
    assert row_counts(db)["transcript_sets"] == 2
    assert row_counts(db)["transcript_items"] == 6001


# --- the lock is not held while the source is read ----------------------------------------


def _lock_is_free(db: Path) -> bool:
    """Whether another connection could take the write lock right now (no waiting)."""
    con = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        con.execute("BEGIN IMMEDIATE")
        con.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        con.close()


def test_transcript_import_reads_before_it_locks(db: Path, tmp_path: Path, monkeypatch) -> None:
    free_while_reading: list[bool] = []
    real = importer.read_transcripts

    def watching(path: Path, require_response: bool = True):
        for i, rec in enumerate(real(path, require_response)):
            if i % 100 == 0:
                free_while_reading.append(_lock_is_free(db))
            yield rec

    monkeypatch.setattr(importer, "read_transcripts", watching)
    with open_case_file(db) as cf:
        import_transcripts(cf, REFERENCE, transcripts(tmp_path, 500), "protected-answers")
    assert free_while_reading and all(free_while_reading), free_while_reading


def test_model_import_hashes_before_it_locks(db: Path, tmp_path: Path, monkeypatch) -> None:
    free_while_hashing: list[bool] = []
    real = importer.hash_files

    def watching(root, files, state=None):
        free_while_hashing.append(_lock_is_free(db))
        return real(root, files, state)

    monkeypatch.setattr(importer, "hash_files", watching)
    with open_case_file(db) as cf:
        import_model(cf, REFERENCE, minimal_folder(tmp_path / "m"), "suspect")
    assert free_while_hashing == [True]


def test_a_waiting_job_shows_it_and_can_be_cancelled(db: Path, tmp_path: Path, monkeypatch) -> None:
    from core.errors import Cancelled

    monkeypatch.setenv("DISTILL_AUDIT_WRITE_WAIT", "30")
    statuses: list[str] = []
    states: list[CallbackState] = []

    def cancel_once_waiting(text: str) -> None:
        statuses.append(text)
        if text.startswith("Waiting for another import"):
            states[0].cancel()

    state = CallbackState(on_status=cancel_once_waiting)
    states.append(state)
    with lock_held_by_another_process(db, seconds=120), open_case_file(db) as cf:
        started = time.monotonic()
        with pytest.raises(Cancelled):
            import_transcripts(
                cf, REFERENCE, transcripts(tmp_path), "protected-answers", state=state
            )
        assert time.monotonic() - started < 5
    assert any(s.startswith("Waiting for another import to finish") for s in statuses)


def test_busy_error_is_typed_in_process(db: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DISTILL_AUDIT_WRITE_WAIT", "0.5")
    told: list[str] = []
    path = transcripts(tmp_path)
    with open_case_file(db, on_wait=told.append) as cf:
        with lock_held_by_another_process(db, 120):
            with pytest.raises(CaseFileBusyError, match="is busy"):
                import_transcripts(cf, REFERENCE, path, "protected-answers")
        assert len(told) == 1 and "waiting up to 0.5 s" in told[0]
        # the same open case file works again once the other writer is done
        assert import_transcripts(cf, REFERENCE, path, "protected-answers") > 0
    assert row_counts(db)["transcript_items"] == 50
