"""Opening, creating and upgrading case files (SQLite, WAL, foreign keys, Alembic).

A case file is a SQLite database marked with our ``application_id``; its schema is
created and upgraded only by the Alembic migrations in ``core/store/migrations``. An
older file is copied to a backup before it is upgraded; a file from a newer version of
the tool is refused rather than guessed at.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from core.errors import CaseFileError, NewerSchemaError, NotACaseFileError
from core.store.types import utcnow
from core.store.vocabulary import CASE_FILE_SUFFIX

APPLICATION_ID = 0x44415544  # "DAUD" — marks a Distill Audit case file
_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def default_case_file() -> Path:
    """The workspace case file in the user's data folder (overridable with DISTILL_AUDIT_DB)."""
    env = os.environ.get("DISTILL_AUDIT_DB")
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("DistillAudit", appauthor=False)) / f"workspace{CASE_FILE_SUFFIX}"


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    return cfg


def head_revision() -> str:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head() or ""


def known_revisions() -> set[str]:
    return {s.revision for s in ScriptDirectory.from_config(_alembic_config()).walk_revisions()}


def _make_engine(path: Path, *, writer: bool = True) -> sa.Engine:
    """An engine whose transactions take the write lock up front (writer) or read a
    WAL snapshot without blocking on writers (reader)."""
    engine = sa.create_engine(f"sqlite:///{path}", future=True)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (SQLAlchemy recipe).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA journal_mode=WAL")
        if cur.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
            cur.execute(f"PRAGMA application_id={APPLICATION_ID}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # IMMEDIATE: take the write lock up front, so the audit chain head cannot race.
        # Readers use a deferred BEGIN: in WAL mode they never wait for a writer.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

    return engine


def _probe_sqlite(path: Path) -> tuple[int, str | None, bool]:
    """(application_id, alembic revision or None, has_tables) read without SQLAlchemy."""
    with open(path, "rb") as fh:
        header = fh.read(16)
    if header != b"SQLite format 3\x00":
        raise NotACaseFileError(
            f"{path} is not a Distill Audit case file (not an SQLite database)."
        )
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            app_id = con.execute("PRAGMA application_id").fetchone()[0]
            tables = {
                r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            rev = None
            if "alembic_version" in tables:
                row = con.execute("SELECT version_num FROM alembic_version").fetchone()
                rev = row[0] if row else None
            check = con.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise NotACaseFileError(f"{path} is damaged or not a case file: {exc}.") from exc
    if check != "ok":
        raise CaseFileError(f"{path} failed SQLite's integrity check: {check}.")
    return app_id, rev, bool(tables)


class CaseFile:
    """An open case file: an engine plus a session factory. Use ``session()`` for work."""

    def __init__(self, path: Path, engine: sa.Engine, backup: Path | None = None) -> None:
        self.path = path
        self.engine = engine
        self.read_engine = _make_engine(path, writer=False)
        self.backup_path = backup  # set when opening upgraded an older schema
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed on success, rolled back (nothing written) on error."""
        with self._sessions() as s, s.begin():
            yield s

    def read_session(self) -> Session:
        """A session for reading (caller closes it); never waits for a running import."""
        return self._read_sessions()

    def revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def close(self) -> None:
        self.engine.dispose()
        self.read_engine.dispose()

    def __enter__(self) -> CaseFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _upgrade(engine: sa.Engine) -> None:
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def open_case_file(path: str | os.PathLike[str] | None = None, *, create: bool = True) -> CaseFile:
    """Open (and if needed create or upgrade) a case file.

    Raises NotACaseFileError for foreign files, NewerSchemaError for files from a newer
    version, CaseFileError when SQLite's integrity check fails.
    """
    p = Path(path) if path is not None else default_case_file()
    p = p.expanduser()
    backup: Path | None = None
    if p.exists() and p.stat().st_size > 0:
        app_id, rev, has_tables = _probe_sqlite(p)
        if app_id != APPLICATION_ID and (has_tables or app_id != 0):
            raise NotACaseFileError(f"{p} is an SQLite database but not a Distill Audit case file.")
        if rev is not None and rev not in known_revisions():
            raise NewerSchemaError(
                f"{p} was written by a newer version of Distill Audit (schema {rev}); "
                "install the newer version to open it. The file was not changed."
            )
        if rev is not None and rev != head_revision():
            stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
            backup = p.with_name(f"{p.stem}.schema-{rev}.{stamp}.bak{p.suffix}")
            _backup_sqlite(p, backup)
    elif not create:
        raise CaseFileError(f"No case file at {p}.")
    else:
        p.parent.mkdir(parents=True, exist_ok=True)
    engine = _make_engine(p)
    _upgrade(engine)
    cf = CaseFile(p, engine, backup)
    from core.store.runs import mark_interrupted_runs

    mark_interrupted_runs(cf)
    return cf


def _backup_sqlite(src: Path, dest: Path) -> None:
    """Consistent copy with SQLite's online backup API (safe even with a WAL file)."""
    s = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    d = sqlite3.connect(dest)
    try:
        s.backup(d)
    finally:
        d.close()
        s.close()
