"""Opening, creating and upgrading case files (SQLite, WAL, foreign keys, Alembic).

A case file is a SQLite database marked with our ``application_id``; its schema is
created and upgraded only by the Alembic migrations in ``core/store/migrations``. An
older file is copied to a backup before it is upgraded; a file from a newer version of
the tool is refused rather than guessed at. A folder or an empty file is refused too. A case
file that cannot be written (read-only media, file or folder) opens read-only: it can be
listed and shown, and any change (an export too: it is audited) is refused with a typed
error.

Concurrency: readers read a WAL snapshot and never wait. A writer takes the write lock at
the start of its transaction; when another process holds it, the writer waits, says once
that it is waiting (``on_wait``, and the job's status), and gives up after a bounded time
(``DISTILL_AUDIT_WRITE_WAIT`` seconds, 120 by default) with :class:`CaseFileBusyError`,
one line and nothing changed. Opening a case file that is already up to date writes
nothing, so it never waits for a running import either.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
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

from core.errors import (
    CaseFileBusyError,
    CaseFileError,
    NewerSchemaError,
    NotACaseFileError,
    ReadOnlyCaseFileError,
)
from core.failures import explain, explain_os_error, explain_sqlite
from core.jobs import JobState
from core.store.types import utcnow
from core.store.vocabulary import CASE_FILE_SUFFIX

APPLICATION_ID = 0x44415544  # "DAUD" — marks a Distill Audit case file
_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
WRITE_WAIT_ENV = "DISTILL_AUDIT_WRITE_WAIT"  # seconds a writer waits for another one
DEFAULT_WRITE_WAIT_S = 120.0
_BUSY_TIMEOUT_MS = 10_000  # statements other than taking the write lock
_LOCK_SLICE_MS = 250  # one attempt at the write lock; between attempts: cancel, deadline


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


def _read_only_uri(path: Path, immutable: bool) -> str:
    """SQLite URI opening ``path`` read-only; ``immutable`` when no -shm file can be made."""
    return f"{path.absolute().as_uri()}?mode=ro" + ("&immutable=1" if immutable else "")


def _make_engine(
    path: Path,
    *,
    writer: bool = True,
    read_only: bool = False,
    immutable: bool = False,
    lock: WriteLock | None = None,
) -> sa.Engine:
    """An engine whose transactions take the write lock up front (writer, through ``lock``
    when given) or read a WAL snapshot without blocking on writers (reader); ``read_only``
    never writes."""
    if read_only:
        uri = _read_only_uri(path, immutable)
        engine = sa.create_engine(
            "sqlite://",
            creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False),
            poolclass=sa.pool.QueuePool,
            future=True,
        )
    else:
        engine = sa.create_engine(f"sqlite:///{path}", future=True)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (SQLAlchemy recipe).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        if not read_only:
            cur.execute("PRAGMA journal_mode=WAL")
            if cur.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
                cur.execute(f"PRAGMA application_id={APPLICATION_ID}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # IMMEDIATE: take the write lock up front, so the audit chain head cannot race.
        # Readers use a deferred BEGIN: in WAL mode they never wait for a writer.
        if writer and lock is not None:
            lock.acquire(conn.connection.driver_connection)
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

    return engine


def write_wait_seconds() -> float:
    """How long a writer waits for another process's write: $DISTILL_AUDIT_WRITE_WAIT or 120."""
    raw = os.environ.get(WRITE_WAIT_ENV, "")
    try:
        value = float(raw) if raw.strip() else DEFAULT_WRITE_WAIT_S
    except ValueError:
        value = DEFAULT_WRITE_WAIT_S
    return max(0.0, value)


class WriteLock:
    """Takes SQLite's write lock (``BEGIN IMMEDIATE``) for a transaction, waiting a bounded
    time for another process that holds it, and saying so once while it waits.

    SQLite's own busy handler would wait silently and then fail with "database is
    locked"; here each attempt waits a quarter of a second, and between attempts the job
    can be cancelled and the deadline is checked.
    """

    def __init__(self, path: Path, wait_s: float, on_wait: Callable[[str], None] | None) -> None:
        self.path = path
        self.wait_s = wait_s
        self.on_wait = on_wait
        self._local = threading.local()  # the job whose transaction is starting, if any

    @contextmanager
    def for_job(self, state: JobState | None) -> Iterator[None]:
        self._local.state = state
        try:
            yield
        finally:
            self._local.state = None

    def acquire(self, dbapi_conn: Any) -> None:
        deadline = time.monotonic() + self.wait_s
        announced = False
        state: JobState | None = getattr(self._local, "state", None)
        while True:
            dbapi_conn.execute(f"PRAGMA busy_timeout={_LOCK_SLICE_MS}")
            try:
                dbapi_conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise
            finally:
                dbapi_conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
            if state is not None:
                state.check_cancelled()
            if time.monotonic() >= deadline:
                raise CaseFileBusyError(
                    f"The case file {self.path} is busy: another Distill Audit window or "
                    f"command has been writing to it for more than {self.wait_s:g} s. "
                    "Nothing was changed. Let it finish (or close it) and run this again; "
                    f"to wait longer, set {WRITE_WAIT_ENV} to the seconds to wait."
                )
            if not announced:
                announced = True
                message = (
                    "Waiting for another import to finish… (another Distill Audit window or "
                    f"command is writing to {self.path.name}; waiting up to {self.wait_s:g} s)"
                )
                if self.on_wait is not None:
                    self.on_wait(message)
                if state is not None:
                    state.set_status(message)


def _is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorname", "") or ""
    return code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in str(exc)


def _probe_sqlite(path: Path, immutable: bool = False) -> tuple[int, str | None, bool]:
    """(application_id, alembic revision or None, has_tables) read without SQLAlchemy."""
    try:
        with open(path, "rb") as fh:
            header = fh.read(16)
    except OSError as exc:
        raise explain_os_error(exc) from exc
    if header != b"SQLite format 3\x00":
        raise NotACaseFileError(
            f"{path} is not a Distill Audit case file (not an SQLite database)."
        )
    try:
        con = sqlite3.connect(_read_only_uri(path, immutable), uri=True)
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
    except sqlite3.Error as exc:
        if getattr(exc, "sqlite_errorname", "").startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
            raise NotACaseFileError(f"{path} is damaged or not a case file: {exc}.") from exc
        raise explain_sqlite(exc, path) from exc  # full disk, unreachable folder, busy...
    if check != "ok":
        raise CaseFileError(f"{path} failed SQLite's integrity check: {check}.")
    return app_id, rev, bool(tables)


class CaseFile:
    """An open case file: an engine plus a session factory. Use ``session()`` for work."""

    def __init__(
        self,
        path: Path,
        engine: sa.Engine,
        backup: Path | None = None,
        *,
        read_only: bool = False,
        immutable: bool = False,
        lock: WriteLock | None = None,
    ) -> None:
        self.path = path
        self.engine = engine
        self.write_lock = lock
        self.read_only = read_only  # read-only media, file or folder: changes are refused
        self.read_engine = _make_engine(
            path, writer=False, read_only=read_only, immutable=immutable
        )
        self.backup_path = backup  # set when opening upgraded an older schema
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)

    @contextmanager
    def session(self, state: JobState | None = None) -> Iterator[Session]:
        """One transaction: committed on success, rolled back (nothing written) on error.

        The write lock is taken on entry; while another process holds it, ``state`` (the
        job) shows that it waits, and it can cancel; CaseFileBusyError after the wait.
        """
        self.require_writable()
        with self._sessions() as s, s.begin():
            if self.write_lock is not None:
                with self.write_lock.for_job(state):
                    s.connection()  # BEGIN IMMEDIATE now, before the caller's work
            yield s

    def require_writable(self) -> None:
        """ReadOnlyCaseFileError when the case file opened read-only."""
        if self.read_only:
            raise ReadOnlyCaseFileError(
                f"The case file {self.path} is read-only (the file, its folder or its disk "
                "cannot be written), so it can be viewed but not changed; a report export "
                "counts as a change, as it is recorded in the audit log. Nothing was "
                "changed. Copy it to a folder you can write to and open the copy."
            )

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


def open_case_file(
    path: str | os.PathLike[str] | None = None,
    *,
    create: bool = True,
    on_wait: Callable[[str], None] | None = None,
) -> CaseFile:
    """Open (and if needed create or upgrade) a case file.

    ``on_wait`` is told, once, when a change has to wait for another process writing to
    the same case file (the CLI prints it; a job's status shows it too).

    Raises NotACaseFileError for foreign or empty files, NewerSchemaError for files from a
    newer version, CaseFileError for folders and when SQLite's integrity check fails, and
    the typed errors of :mod:`core.failures` when the disk is full or unreachable. A file
    that cannot be written opens read-only (``CaseFile.read_only``).
    """
    p = Path(path) if path is not None else default_case_file()
    p = p.expanduser()
    _refuse_non_case_paths(p)
    if p.exists():
        read_only, immutable = _write_access(p)
        if read_only:
            return _open_read_only(p, immutable)
    try:
        return _open_writable(p, create, on_wait)
    except (OSError, sqlite3.Error, sa.exc.DBAPIError) as exc:
        translated = explain(exc, p)
        if translated is None:  # pragma: no cover - every class above is translated
            raise
        raise translated from exc


def _refuse_non_case_paths(p: Path) -> None:
    """A folder, a device or an empty file is never taken for a case file."""
    if p.is_dir():
        raise CaseFileError(
            f"{p} is a folder, not a case file. Give the path of a case file "
            f"({CASE_FILE_SUFFIX}); a name that does not exist yet creates a new one."
        )
    if p.exists() and not p.is_file():
        raise NotACaseFileError(f"{p} is not a regular file, so it cannot be a case file.")
    if p.is_file() and p.stat().st_size == 0:
        raise NotACaseFileError(
            f"{p} is an empty file (0 bytes), not a case file; it was left untouched. To "
            "create a new case file, give a name that does not exist yet."
        )


def _write_access(p: Path) -> tuple[bool, bool]:
    """(read-only, immutable): whether the file cannot be written, and whether SQLite cannot
    even create its shared-memory file beside it (read-only disk or folder)."""
    folder = p.absolute().parent
    try:
        media_read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (AttributeError, OSError):  # Windows has no statvfs
        media_read_only = False
    folder_read_only = media_read_only or not os.access(folder, os.W_OK | os.X_OK)
    read_only = folder_read_only or not os.access(p, os.W_OK)
    shm = Path(f"{p}-shm")
    return read_only, folder_read_only and not shm.exists()


def _open_read_only(p: Path, immutable: bool) -> CaseFile:
    app_id, rev, _has_tables = _probe_sqlite(p, immutable)
    if app_id != APPLICATION_ID:
        raise NotACaseFileError(f"{p} is an SQLite database but not a Distill Audit case file.")
    if rev is not None and rev not in known_revisions():
        raise NewerSchemaError(
            f"{p} was written by a newer version of Distill Audit (schema {rev}); "
            "install the newer version to open it. The file was not changed."
        )
    if rev != head_revision():
        raise ReadOnlyCaseFileError(
            f"{p} was written by an older version of Distill Audit and must be upgraded "
            "before it can be opened, but it is read-only. Copy it to a folder you can "
            "write to and open the copy; the original stays unchanged."
        )
    engine = _make_engine(p, writer=False, read_only=True, immutable=immutable)
    return CaseFile(p, engine, read_only=True, immutable=immutable)


def _open_writable(p: Path, create: bool, on_wait: Callable[[str], None] | None) -> CaseFile:
    backup: Path | None = None
    rev: str | None = None
    if p.exists():
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
    from core.store.runs import mark_interrupted_runs

    lock = WriteLock(p, write_wait_seconds(), on_wait)
    engine = _make_engine(p, lock=lock)
    cf = CaseFile(p, engine, backup, lock=lock)
    try:
        if rev is None or rev != head_revision():  # up to date: nothing to write, no wait
            _upgrade(engine)
        mark_interrupted_runs(cf)
    except BaseException:
        cf.close()
        raise
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
