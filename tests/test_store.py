"""The case file: creation, schema checks, refusal of foreign files, the audit chain."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic import command

from core.errors import CaseFileError, NewerSchemaError, NotACaseFileError
from core.store import audit
from core.store.cases import create_case, get_case, list_cases, update_case
from core.store.db import APPLICATION_ID, _alembic_config, head_revision, open_case_file
from core.store.runs import create_run, mark_interrupted_runs, running


def test_new_case_file_is_wal_with_foreign_keys_and_marked(case_file) -> None:
    with case_file.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA application_id").scalar() == APPLICATION_ID
    assert case_file.revision() == head_revision()


def test_create_and_list_cases_are_audited(case_file) -> None:
    cid = create_case(case_file, "A v B", "REF-1", parties=["A", "B"])
    assert [c.reference for c in list_cases(case_file)] == ["REF-1"]
    update_case(case_file, "REF-1", status="closed")
    with case_file.read_session() as s:
        assert get_case(s, cid).status == "closed"
        report = audit.verify_chain(s)
    assert report.ok and report.events == 2


def test_duplicate_reference_is_a_clear_error(case_file) -> None:
    create_case(case_file, "A v B", "REF-1")
    with pytest.raises(Exception, match="already exists"):
        create_case(case_file, "C v D", "REF-1")


def test_not_sqlite_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.dacase"
    bogus.write_bytes(b"this is a text file, not a database\n" * 10)
    with pytest.raises(NotACaseFileError, match="not an SQLite database"):
        open_case_file(bogus)
    assert bogus.read_bytes().startswith(b"this is a text file")


def test_foreign_sqlite_database_is_refused_untouched(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE contacts (name TEXT)")
    con.commit()
    con.close()
    before = other.read_bytes()
    with pytest.raises(NotACaseFileError, match="not a Distill Audit case file"):
        open_case_file(other)
    assert other.read_bytes() == before


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.dacase"
    open_case_file(path).close()
    con = sqlite3.connect(path)
    con.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    con.commit()
    con.close()
    with pytest.raises(NewerSchemaError, match="newer version"):
        open_case_file(path)


def test_missing_file_without_create(tmp_path: Path) -> None:
    with pytest.raises(CaseFileError, match="No case file"):
        open_case_file(tmp_path / "nope.dacase", create=False)


def test_older_schema_is_backed_up_then_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.dacase"
    cf = open_case_file(path)
    create_case(cf, "Old case", "OLD-1")
    cfg = _alembic_config()
    with cf.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "-1")
    old_rev = cf.revision()
    cf.close()
    assert old_rev != head_revision()
    cf2 = open_case_file(path)
    try:
        assert cf2.revision() == head_revision()
        assert cf2.backup_path is not None and cf2.backup_path.exists()
        con = sqlite3.connect(cf2.backup_path)
        assert con.execute("SELECT version_num FROM alembic_version").fetchone()[0] == old_rev
        con.close()
        assert [c.reference for c in list_cases(cf2)] == ["OLD-1"]
    finally:
        cf2.close()


def _tamper(path: Path, sql: str) -> None:
    con = sqlite3.connect(path)
    con.execute("DROP TRIGGER audit_events_no_update")
    con.execute("DROP TRIGGER audit_events_no_delete")
    con.execute(sql)
    con.commit()
    con.close()


def test_audit_log_is_append_only_in_sqlite(case_file, case_id) -> None:
    con = sqlite3.connect(case_file.path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("UPDATE audit_events SET action='x' WHERE id=1")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM audit_events WHERE id=1")
    con.close()


@pytest.mark.parametrize(
    "sql, broken_id",
    [
        ("UPDATE audit_events SET actor='mallory' WHERE id=2", 2),
        ('UPDATE audit_events SET details=\'{"title":"changed"}\' WHERE id=1', 1),
        ("DELETE FROM audit_events WHERE id=2", 3),
    ],
)
def test_edited_audit_row_is_named(case_file, sql: str, broken_id: int) -> None:
    for i in range(4):
        create_case(case_file, f"Case {i}", f"REF-{i}")
    with case_file.read_session() as s:
        assert audit.verify_chain(s).ok
    _tamper(case_file.path, sql)
    with case_file.read_session() as s:
        report = audit.verify_chain(s)
    assert not report.ok
    assert report.first_broken_id == broken_id
    assert str(broken_id) in report.problem


def test_run_lifecycle_and_interrupted_on_reopen(tmp_path: Path) -> None:
    from core.errors import Cancelled
    from core.store.models import Run

    path = tmp_path / "runs.dacase"
    cf = open_case_file(path)
    cid = create_case(cf, "A", "R")
    done = create_run(cf, cid, "test", {"x": 1}, {}, seed=1)
    with running(cf, done) as handle:
        handle.save_summary(partial=3)
    cancelled = create_run(cf, cid, "test", {}, {}, seed=1)
    with pytest.raises(Cancelled), running(cf, cancelled) as handle:
        handle.save_summary(partial=1)
        raise Cancelled("stop")
    orphan = create_run(cf, cid, "test", {}, {}, seed=1)
    with cf.session() as s:  # simulate a process that died mid-run
        run = s.get(Run, orphan)
        run.status, run.owner_pid = "running", 2**22 + 12345
    cf.close()
    cf = open_case_file(path)
    with cf.read_session() as s:
        status = {r.id: r.status for r in s.query(Run)}
        summaries = {r.id: r.summary for r in s.query(Run)}
        assert audit.verify_chain(s).ok
    assert status == {done: "done", cancelled: "cancelled", orphan: "interrupted"}
    assert summaries[cancelled] == {"partial": 1}  # partial results survive a cancel
    assert mark_interrupted_runs(cf) == []
    cf.close()


def test_migrations_match_the_orm(case_file) -> None:
    """Alembic's autogenerate finds no difference: the schema comes only from migrations."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from core.store.models import Base

    with case_file.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_reads_do_not_wait_for_a_running_write(case_file, case_id) -> None:
    """A long import holds the write lock; the GUI must still be able to read at once."""
    import time

    with case_file.session() as writer:
        writer.connection()  # BEGIN IMMEDIATE: this transaction now holds the write lock
        start = time.perf_counter()
        assert [c.reference for c in list_cases(case_file)] == ["DA-TEST-1"]
        assert time.perf_counter() - start < 1.0
