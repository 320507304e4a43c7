"""The log store: a DuckDB file beside the case file, and its custody.

``<case file without suffix>.logs.duckdb`` holds the canonical ``requests`` table, the
``imports`` made into it and the ``rejects`` they counted (core/traffic/schema.py). It is
created on the first import. The case file records each imported file (``log_imports``:
the store's path, the file's SHA-256, size and row counts) and an audit event per import,
so :func:`check_store` can tell when the store is missing or no longer holds what was
imported (a row added, deleted, or an import that the case file never recorded).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy import select

from core.errors import CaseFileBusyError, LogStoreChangedError
from core.store.audit import event_intact
from core.store.db import CaseFile
from core.store.models import AuditEvent, LogImport
from core.traffic.schema import (
    FIELDS,
    IMPORTS_TABLE,
    REJECTS_TABLE,
    REQUESTS_TABLE,
    create_imports_sql,
    create_rejects_sql,
    create_requests_sql,
)

STORE_SUFFIX = ".logs.duckdb"
IMPORTED = "traffic.logs_imported"  # the audit action of an import (its details bind the files)
MEMORY_LIMIT = "128MB"  # DuckDB spills beyond this to a temp folder beside the store


def store_path_for(case_path: str | os.PathLike[str]) -> Path:
    """Where the log store of a case file lives: beside it, ``<stem>.logs.duckdb``."""
    p = Path(case_path)
    return p.with_name(p.stem + STORE_SUFFIX)


@contextmanager
def connect(path: Path, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the store with times in UTC and bounded memory; the tables exist."""
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise CaseFileBusyError(
                f"The log store {path} is in use by another Distill Audit window or command; "
                "nothing was changed. Let it finish and run this again."
            ) from exc
        raise _unopenable(path, exc) from exc
    except duckdb.Error as exc:
        raise _unopenable(path, exc) from exc
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        con.execute("SET preserve_insertion_order = false")
        con.execute("SET enable_progress_bar = false")  # it would print on stdout (--json)
        if not read_only:
            for ddl in (create_requests_sql(), create_imports_sql(), create_rejects_sql()):
                con.execute(ddl)
        yield con
    finally:
        con.close()


def _unopenable(path: Path, exc: Exception) -> LogStoreChangedError:
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return LogStoreChangedError(
        f"The log store {path} cannot be opened as a DuckDB database ({first}); nothing was "
        "changed. Restore it from a backup beside the case file."
    )


@dataclass(frozen=True)
class ImportedFile:
    """One file the store holds, as the case file recorded it."""

    path: str
    sha256: str
    size_bytes: int
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    mapping_name: str
    imported_at: str
    imported_by: str


@dataclass
class StoreCheck:
    """Whether the store holds exactly what the case file recorded at each import."""

    store_path: str
    exists: bool
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class StoreSummary:
    """What the log store holds: files, rows, accounts, time span, fields, rejects."""

    store_path: str
    exists: bool
    ok: bool
    problems: list[str]
    files: list[ImportedFile]
    rows: int
    accounts: int
    first_request: str | None
    last_request: str | None
    fields_present: list[str]
    fields_missing: list[str]
    rejects_by_reason: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def recorded_imports(cf: CaseFile) -> list[LogImport]:
    with cf.read_session() as s:
        return list(s.execute(select(LogImport).order_by(LogImport.id)).scalars())


def check_store(cf: CaseFile) -> StoreCheck:
    """Compare the store with the case file's record of every import into it."""
    path = store_path_for(cf.path)
    records = recorded_imports(cf)
    check = StoreCheck(str(path), path.exists())
    if not records and not path.exists():
        return check
    check.problems += _unbound(cf, records)
    if not path.exists():
        check.problems.append(
            f"The log store {path} is missing: the case file records {len(records)} imported "
            "log file(s) in it. Restore it from a backup beside the case file."
        )
        return check
    with connect(path, read_only=True) as con:
        check.problems += _differences(con, records)
    return check


def _differences(con: duckdb.DuckDBPyConnection, records: list[LogImport]) -> list[str]:
    problems: list[str] = []
    tables = {str(r[0]) for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    lacking = [t for t in (REQUESTS_TABLE, IMPORTS_TABLE, REJECTS_TABLE) if t not in tables]
    if lacking:
        return [
            f"the log store lacks its table(s) {', '.join(lacking)}: it was not made by an "
            "import of this case file, or was altered"
        ]
    stored = {
        r[0]: r[1:]
        for r in con.execute(
            f"SELECT file_sha256, rows_accepted, rows_rejected FROM {IMPORTS_TABLE}"
        ).fetchall()
    }
    rows = dict(
        con.execute(
            f"SELECT source_file, count(*) FROM {REQUESTS_TABLE} GROUP BY source_file"
        ).fetchall()
    )
    rejects = dict(
        con.execute(
            f"SELECT source_file, count(*) FROM {REJECTS_TABLE} GROUP BY source_file"
        ).fetchall()
    )
    known = {r.file_sha256 for r in records}
    for r in records:
        short = f"{r.file_path} (sha256 {r.file_sha256[:12]}…)"
        if r.file_sha256 not in stored:
            problems.append(f"the log store no longer records the import of {short}")
        got = rows.get(r.file_sha256, 0)
        if got != r.rows_accepted:
            problems.append(
                f"{short}: the store holds {got:,} request rows, the import stored "
                f"{r.rows_accepted:,}"
            )
        bad = rejects.get(r.file_sha256, 0)
        if bad != r.rows_rejected:
            problems.append(
                f"{short}: the store holds {bad:,} rejected lines, the import counted "
                f"{r.rows_rejected:,}"
            )
    for sha in sorted((set(stored) | set(rows) | set(rejects)) - known):
        problems.append(
            f"the log store holds rows of a file the case file never recorded (sha256 "
            f"{str(sha)[:12]}…)"
        )
    return problems


def _unbound(cf: CaseFile, records: list[LogImport]) -> list[str]:
    """Each log_imports row against the audit event of its import: the case file's own
    record could be edited in SQL together with the store; the hash-chained event cannot."""
    bound: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    with cf.read_session() as s:
        events = s.execute(select(AuditEvent).where(AuditEvent.action == IMPORTED)).scalars()
        for ev in events:
            if not event_intact(ev):
                problems.append(f"the audit event {ev.id} of a log import was altered")
                continue
            for f in (ev.details or {}).get("files", []):
                bound[str(f.get("sha256"))] = f
    for r in records:
        f = bound.get(r.file_sha256)
        if f is None:
            problems.append(
                f"the case file records the import of {r.file_path} (sha256 "
                f"{r.file_sha256[:12]}…) but no audit event does"
            )
            continue
        for key in ("rows_read", "rows_accepted", "rows_rejected", "size_bytes"):
            if f.get(key) != getattr(r, key):
                problems.append(
                    f"{r.file_path}: the case file records {key} {getattr(r, key)}, its "
                    f"import event {f.get(key)}"
                )
    return problems


def require_intact(cf: CaseFile) -> StoreCheck:
    """The store check, raising :class:`LogStoreChangedError` when it found a problem."""
    check = check_store(cf)
    if not check.ok:
        raise LogStoreChangedError(
            "The log store does not match the case file's record of its imports: "
            + "; ".join(check.problems)
            + ". Nothing was changed."
        )
    return check


def describe_store(case: CaseFile | str | os.PathLike[str]) -> StoreSummary:
    """What the case file's log store holds, and whether it still matches the case file."""
    if isinstance(case, CaseFile):
        return _describe(case)
    from core.store.db import open_case_file

    with open_case_file(case, create=False) as cf:
        return _describe(cf)


def _describe(cf: CaseFile) -> StoreSummary:
    check = check_store(cf)
    files = [
        ImportedFile(
            r.file_path,
            r.file_sha256,
            r.size_bytes,
            r.rows_read,
            r.rows_accepted,
            r.rows_rejected,
            r.mapping_name,
            r.imported_at.isoformat(),
            r.imported_by,
        )
        for r in recorded_imports(cf)
    ]
    summary = StoreSummary(
        check.store_path,
        check.exists,
        check.ok,
        check.problems,
        files,
        0,
        0,
        None,
        None,
        [],
        [f.name for f in FIELDS],
        {},
    )
    if not check.exists:
        return summary
    with connect(Path(check.store_path), read_only=True) as con:
        counts = ", ".join(f"count({f.name})" for f in FIELDS)
        row = con.execute(
            f"SELECT count(*), count(DISTINCT account_id), min(timestamp), max(timestamp), "
            f"{counts} FROM {REQUESTS_TABLE}"
        ).fetchone()
        assert row is not None
        summary.rows, summary.accounts = int(row[0]), int(row[1])
        summary.first_request, summary.last_request = _iso(row[2]), _iso(row[3])
        non_null = row[4:]
        summary.fields_present = [f.name for f, n in zip(FIELDS, non_null, strict=True) if n]
        summary.fields_missing = [f.name for f, n in zip(FIELDS, non_null, strict=True) if not n]
        summary.rejects_by_reason = dict(
            con.execute(
                f"SELECT reason, count(*) FROM {REJECTS_TABLE} GROUP BY reason "
                "ORDER BY count(*) DESC, reason"
            ).fetchall()
        )
    return summary


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else None


def fields_json(names: list[str]) -> str:
    return json.dumps(names)
