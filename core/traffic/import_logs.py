"""Importing provider request logs into the case file's log store (issue 15).

``import_logs`` streams each file (JSONL, CSV/TSV, gzip too, Parquet) in batches, maps its
columns onto the canonical fields (core.traffic.mapping), validates every row and stores
the accepted rows in ``requests`` with their file hash and line, and the others in
``rejects`` with the reason, the line and an excerpt. Memory stays bounded by a batch:
rows go to DuckDB as Arrow batches, and duplicate request ids are found by DuckDB, not in
a Python set.

All or nothing: every file of one call is written inside one DuckDB transaction, and the
case file's records (``log_imports`` rows and one ``traffic.logs_imported`` audit event)
inside one case-file transaction that commits only after DuckDB has. A cancel, an error
or a refusal rolls both back; a store created by the failed call is removed again.

Refusals (typed errors, nothing written): an unknown format, a mapping naming a column the
file lacks, a file already imported (same SHA-256), a store that no longer matches the
case file, and a file with no data rows or no acceptable row at all. A file of 0 rows is
refused rather than imported empty, because an import of nothing proves nothing and
would block the corrected file's import by its hash only if it were identical anyway: the
user is better served by being told at once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select

from core.errors import Cancelled, EvidenceError
from core.jobs import JobState
from core.store import audit
from core.store.db import CaseFile, open_case_file
from core.store.models import Case, LogImport
from core.store.types import utcnow
from core.traffic.mapping import SAMPLE_ROWS, BoundMapping, ColumnMapping, RowRejected, bind
from core.traffic.mapping import load_mapping as _load_mapping
from core.traffic.readers import LogReader
from core.traffic.schema import (
    FIELD_NAMES,
    FIELDS,
    IMPORTS_TABLE,
    REJECTS_TABLE,
    REQUESTS_TABLE,
)
from core.traffic.store import IMPORTED, connect, fields_json, require_intact, store_path_for

BATCH_ROWS = 20_000
SAMPLED_REJECTS = 20  # rejects shown per file in the report (all are stored)
_ARROW = {"VARCHAR": pa.string(), "BIGINT": pa.int64(), "TIMESTAMPTZ": pa.timestamp("us", "UTC")}
_SCHEMA = pa.schema([(f.name, _ARROW[f.sql_type]) for f in FIELDS] + [("source_line", pa.int64())])
_REJECT_SCHEMA = pa.schema(
    [
        ("source_line", pa.int64()),
        ("reason", pa.string()),
        ("detail", pa.string()),
        ("excerpt", pa.string()),
    ]
)


@dataclass(frozen=True)
class Reject:
    line: int
    reason: str
    detail: str
    excerpt: str | None


@dataclass
class FileReport:
    """What one file gave: counts, rejects by reason and a sample, the fields it has."""

    path: str
    sha256: str
    format: str
    size_bytes: int
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    rejects_by_reason: dict[str, int] = field(default_factory=dict)
    sample_rejects: list[Reject] = field(default_factory=list)
    fields_present: list[str] = field(default_factory=list)
    fields_missing: list[str] = field(default_factory=list)
    columns_used: dict[str, str] = field(default_factory=dict)


@dataclass
class ImportReport:
    """The outcome of one import: the store, each file's report, warnings."""

    store_path: str
    created_store: bool
    mapping_name: str
    mapping_sha256: str
    files: list[FileReport] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    audit_event_id: int | None = None

    @property
    def rows_accepted(self) -> int:
        return sum(f.rows_accepted for f in self.files)

    @property
    def rows_rejected(self) -> int:
        return sum(f.rows_rejected for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rows_accepted"] = self.rows_accepted
        data["rows_rejected"] = self.rows_rejected
        return data


def import_logs(
    case_db_path: CaseFile | str | os.PathLike[str],
    files: Sequence[str | os.PathLike[str]],
    mapping: ColumnMapping | str | os.PathLike[str] | None = None,
    progress: JobState | None = None,
    cancel: Callable[[], bool] | None = None,
    *,
    case: int | str | None = None,
    actor: str | None = None,
) -> ImportReport:
    """Import log files into the case file's log store, all of them or none.

    ``mapping`` is a parsed mapping, a YAML path, or None for the shipped default;
    ``progress`` a JobState (its Cancel is honoured), ``cancel`` an extra predicate polled
    between batches; ``case`` (id or reference) ties the import to a case in the audit log.
    """
    if isinstance(case_db_path, CaseFile):
        return _import(case_db_path, files, mapping, progress, cancel, case, actor)
    with open_case_file(case_db_path) as cf:
        return _import(cf, files, mapping, progress, cancel, case, actor)


def _import(
    cf: CaseFile,
    files: Sequence[str | os.PathLike[str]],
    mapping: ColumnMapping | str | os.PathLike[str] | None,
    progress: JobState | None,
    cancel: Callable[[], bool] | None,
    case: int | str | None,
    actor: str | None,
) -> ImportReport:
    state = progress or JobState()
    cf.require_writable()
    if not files:
        raise EvidenceError("No log file was given to import.")
    cmap = mapping if isinstance(mapping, ColumnMapping) else _load_mapping(mapping)
    paths = [Path(f) for f in files]
    readers = [LogReader(p) for p in paths]  # refuses unknown formats before anything
    case_id = _case_id(cf, case)
    require_intact(cf)
    store = store_path_for(cf.path)
    created = not store.exists()
    actor = actor or audit.current_actor()
    report = ImportReport(str(store), created, cmap.name, cmap.sha256)

    def check() -> None:
        state.check_cancelled()
        if cancel is not None and cancel():
            raise Cancelled("Cancelled by the user.")

    try:
        with connect(store) as con:
            con.execute("BEGIN TRANSACTION")
            try:
                total = sum(r.size for r in readers) or 1
                done = 0
                for n, reader in enumerate(readers):
                    sub = state.sub(100 * done / total, 100 * (done + reader.size) / total)
                    staging = store.with_name(f"{store.name}.staging-{os.getpid()}-{n}")
                    report.files.append(_import_file(con, cf, reader, cmap, sub, check, staging))
                    done += reader.size
                _record_imports(con, report, cmap, actor)
                report.warnings += _warnings(report)
                check()
                state.set_status("Recording the import in the case file")
                committed = False
                try:
                    with cf.session(state) as s:
                        s.add_all(
                            [_log_import(report, f, case_id, cmap, actor) for f in report.files]
                        )
                        s.flush()
                        ev = audit.record(
                            s,
                            IMPORTED,
                            "log_store",
                            None,
                            case_id=case_id,
                            actor=actor,
                            details=_event_details(report, cmap),
                        )
                        report.audit_event_id = ev.id
                        con.execute("COMMIT")
                        committed = True
                except BaseException:
                    if committed:  # the case file failed after the store committed: undo it
                        _undo(con, [f.sha256 for f in report.files])
                    raise
            except BaseException:
                _rollback(con)
                raise
    except BaseException:
        if created:
            _remove_store(store)
        raise
    state.set_progress(100)
    return report


def _case_id(cf: CaseFile, case: int | str | None) -> int | None:
    """The id of the case the import is filed under (NotFoundError when there is none)."""
    if case is None:
        return None
    from core.store.cases import get_case

    with cf.read_session() as s:
        found: Case = get_case(s, case)
        return found.id


def _undo(con: duckdb.DuckDBPyConnection, shas: list[str]) -> None:
    """Remove what a committed store transaction added, when the case file could not
    record it: the store must never hold an import the case file does not know."""
    con.execute("BEGIN TRANSACTION")
    for table, column in (
        (REQUESTS_TABLE, "source_file"),
        (REJECTS_TABLE, "source_file"),
        (IMPORTS_TABLE, "file_sha256"),
    ):
        con.execute(f"DELETE FROM {table} WHERE {column} IN (SELECT unnest(?))", [shas])
    con.execute("COMMIT")


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("ROLLBACK")
    except duckdb.Error:
        pass  # already committed or never begun: nothing to undo here


def _remove_store(store: Path) -> None:
    for p in (store, Path(f"{store}.wal"), Path(f"{store}.tmp")):
        try:
            if p.is_dir():
                continue
            p.unlink(missing_ok=True)
        except OSError:
            pass


def _import_file(
    con: duckdb.DuckDBPyConnection,
    cf: CaseFile,
    reader: LogReader,
    cmap: ColumnMapping,
    state: JobState,
    check: Callable[[], None],
    staging: Path,
) -> FileReport:
    name = reader.path.name
    state.set_status(f"Reading {name}")
    rep = FileReport(str(reader.path), "", reader.label, reader.size)
    batch = _Batch(staging)
    try:
        bound = _stage_rows(reader, cmap, state, check, batch, rep)
        rep.sha256 = reader.sha256
        _refuse_repeat(con, cf, reader, rep.sha256)
        if rep.rows_read == 0 or bound is None:
            raise EvidenceError(
                f"{reader.path} holds no log rows"
                + (" (it is empty)" if rep.rows_read == 0 else " (no line could be read)")
                + "; nothing was imported."
                + ("" if rep.rows_read == 0 else " " + _reason_text(batch.reasons))
            )
        rep.fields_present, rep.fields_missing = list(bound.present), list(bound.missing)
        rep.columns_used = dict(bound.used)
        state.set_status(f"{name}: checking request ids")
        check()
        _move_staged(con, rep, batch)
    finally:
        batch.remove()
    if rep.rows_accepted == 0:
        raise EvidenceError(
            f"No row of {reader.path} could be imported; nothing was imported. "
            + _reason_text(rep.rejects_by_reason)
            + " Check the column mapping (--mapping) against the file."
        )
    return rep


def _stage_rows(
    reader: LogReader,
    cmap: ColumnMapping,
    state: JobState,
    check: Callable[[], None],
    batch: _Batch,
    rep: FileReport,
) -> BoundMapping | None:
    """Read the file through, mapping and validating each row into the staging files."""
    sample: list[tuple[int, dict[str, Any]]] = []
    bound: BoundMapping | None = None
    for line, record, rejected in reader.items(state):
        rep.rows_read += 1
        if rejected is not None:
            batch.reject(line, rejected, reader.excerpts.pop(line, None))
        elif bound is None:
            assert record is not None
            sample.append((line, record))
            if len(sample) >= SAMPLE_ROWS:
                bound = bind(cmap, [r for _, r in sample], str(reader.path))
                batch.bind(bound)
                for ln, rec in sample:
                    batch.add(bound, ln, rec)
                sample = []
        else:
            assert record is not None
            batch.add(bound, line, record)
        if batch.size >= BATCH_ROWS:
            check()
            batch.flush()
            state.set_progress(reader.progress_bytes, reader.size)
            state.set_status(f"{reader.path.name}: {rep.rows_read:,} rows read")
    if bound is None and sample:
        bound = bind(cmap, [r for _, r in sample], str(reader.path))
        batch.bind(bound)
        for ln, rec in sample:
            batch.add(bound, ln, rec)
    check()
    batch.close()
    return bound


def _reason_text(by_reason: dict[str, int]) -> str:
    top = sorted(by_reason.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    return "Rejected lines by reason: " + "; ".join(f"{r}: {n:,}" for r, n in top) + "."


def _refuse_repeat(
    con: duckdb.DuckDBPyConnection, cf: CaseFile, reader: LogReader, sha: str
) -> None:
    with cf.read_session() as s:
        prior = s.execute(select(LogImport).where(LogImport.file_sha256 == sha)).scalar()
    if prior is not None:
        raise EvidenceError(
            f"{reader.path} was already imported (sha256 {sha[:16]}…) on "
            f"{prior.imported_at:%Y-%m-%d %H:%M} UTC by {prior.imported_by} as "
            f"{prior.file_path} (import {prior.id}, {prior.rows_accepted:,} rows); nothing "
            "was imported. See `distill-audit traffic show`."
        )
    earlier = con.execute(
        f"SELECT path FROM {IMPORTS_TABLE} WHERE file_sha256 = ?", [sha]
    ).fetchone()
    same_call = con.execute(
        f"SELECT 1 FROM {REQUESTS_TABLE} WHERE source_file = ? LIMIT 1", [sha]
    ).fetchone()
    if earlier is not None or same_call is not None:
        raise EvidenceError(
            f"{reader.path} has the same content (sha256 {sha[:16]}…) as "
            f"{earlier[0] if earlier else 'another file of this import'}; nothing was "
            "imported. Give each log file once."
        )


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _move_staged(con: duckdb.DuckDBPyConnection, rep: FileReport, batch: _Batch) -> None:
    """Duplicates become rejects (naming where the id first was); the rest go to requests,
    in one INSERT … SELECT from the staged Parquet (DuckDB streams it: bounded memory)."""
    sha = rep.sha256
    if batch.rejects_path.exists():
        con.execute(
            f"INSERT INTO {REJECTS_TABLE} SELECT ?, * FROM read_parquet("
            f"{_sql_path(batch.rejects_path)})",
            [sha],
        )
    if batch.rows_path.exists():
        staged = f"read_parquet({_sql_path(batch.rows_path)})"
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE dup_lines AS
            SELECT s.source_line, s.request_id,
                   'duplicate request_id (first at file ' || coalesce(i.path, r.source_file)
                   || ' line ' || r.source_line || ')' AS detail
            FROM {staged} s
            JOIN {REQUESTS_TABLE} r ON r.request_id = s.request_id
            LEFT JOIN {IMPORTS_TABLE} i ON i.file_sha256 = r.source_file
            UNION ALL
            SELECT s.source_line, s.request_id,
                   'duplicate request_id (first at file ' || ? || ' line ' || f.first_line
                   || ')' AS detail
            FROM {staged} s
            JOIN (SELECT request_id, min(source_line) AS first_line FROM {staged}
                  GROUP BY request_id HAVING count(*) > 1) f ON f.request_id = s.request_id
            WHERE s.source_line > f.first_line
              AND s.request_id NOT IN (SELECT request_id FROM {REQUESTS_TABLE})
            """,
            [rep.path],
        )
        con.execute(
            f"INSERT INTO {REJECTS_TABLE} SELECT ?, source_line, 'duplicate request_id', "
            "detail, 'request_id ' || request_id FROM dup_lines",
            [sha],
        )
        cols = ", ".join(FIELD_NAMES)
        con.execute(
            f"INSERT INTO {REQUESTS_TABLE} SELECT {cols}, ?, source_line FROM {staged} "
            "WHERE source_line NOT IN (SELECT source_line FROM dup_lines)",
            [sha],
        )
        con.execute("DROP TABLE dup_lines")
    accepted = con.execute(
        f"SELECT count(*) FROM {REQUESTS_TABLE} WHERE source_file = ?", [sha]
    ).fetchone()
    rep.rows_accepted = int(accepted[0]) if accepted else 0
    by_reason = con.execute(
        f"SELECT reason, count(*) FROM {REJECTS_TABLE} WHERE source_file = ? GROUP BY reason "
        "ORDER BY count(*) DESC, reason",
        [sha],
    ).fetchall()
    rep.rejects_by_reason = {str(r): int(n) for r, n in by_reason}
    rep.rows_rejected = sum(rep.rejects_by_reason.values())
    rep.sample_rejects = [
        Reject(int(line), str(reason), str(detail), excerpt)
        for line, reason, detail, excerpt in con.execute(
            f"SELECT source_line, reason, detail, excerpt FROM {REJECTS_TABLE} "
            "WHERE source_file = ? ORDER BY source_line LIMIT ?",
            [sha, SAMPLED_REJECTS],
        ).fetchall()
    ]


class _Batch:
    """Accepted rows (as columns) and rejects of one file, written batch by batch to two
    staging Parquet files beside the store: a large file never sits in memory, nor in an
    open DuckDB transaction (which would hold it in memory until the commit)."""

    def __init__(self, staging: Path) -> None:
        self.rows_path = staging.with_name(staging.name + ".rows.parquet")
        self.rejects_path = staging.with_name(staging.name + ".rejects.parquet")
        self._writers: dict[Path, pq.ParquetWriter] = {}
        self.reasons: dict[str, int] = {}
        self._present: list[str] = []
        self._cols: list[list[Any]] = [[]]
        self._rejects: list[list[Any]] = [[], [], [], []]
        self.size = 0

    def bind(self, bound: BoundMapping) -> None:
        """Rows from now on carry the values of ``bound.present`` (before: rejects only)."""
        self._present = list(bound.present)
        self._cols = [[] for _ in range(len(self._present) + 1)]  # no row added before

    def _clear(self) -> None:
        self._cols = [[] for _ in range(len(self._present) + 1)]
        self._rejects = [[], [], [], []]
        self.size = 0

    def add(self, bound: BoundMapping, line: int, record: dict[str, Any]) -> None:
        try:
            values = bound.convert(record)
        except RowRejected as exc:
            self.reject(line, exc, _record_excerpt(record))
            return
        values.append(line)
        for col, v in zip(self._cols, values, strict=True):
            col.append(v)
        self.size += 1

    def reject(self, line: int, rejected: RowRejected, excerpt: str | None) -> None:
        row = (line, rejected.reason, rejected.detail, excerpt)
        for col, v in zip(self._rejects, row, strict=True):
            col.append(v)
        self.reasons[rejected.reason] = self.reasons.get(rejected.reason, 0) + 1
        self.size += 1

    def _write(self, path: Path, arrays: list[Any], schema: pa.Schema) -> None:
        table = pa.Table.from_arrays(arrays, schema=schema)
        writer = self._writers.get(path)
        if writer is None:
            writer = self._writers[path] = pq.ParquetWriter(path, schema, compression="zstd")
        writer.write_table(table)

    def flush(self) -> None:
        n = len(self._cols[-1])
        if n:
            given = dict(zip(self._present, self._cols, strict=False))
            arrays = [
                pa.array(given[f.name], type=t.type) if f.name in given else pa.nulls(n, t.type)
                for f, t in zip(FIELDS, _SCHEMA, strict=False)
            ]
            arrays.append(pa.array(self._cols[-1], type=pa.int64()))
            self._write(self.rows_path, arrays, _SCHEMA)
        if self._rejects[0]:
            arrays = [
                pa.array(c, type=t.type) for c, t in zip(self._rejects, _REJECT_SCHEMA, strict=True)
            ]
            self._write(self.rejects_path, arrays, _REJECT_SCHEMA)
        self._clear()

    def close(self) -> None:
        self.flush()
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()

    def remove(self) -> None:
        for writer in self._writers.values():
            try:
                writer.close()
            except (OSError, pa.ArrowException):
                pass
        self._writers.clear()
        for path in (self.rows_path, self.rejects_path):
            path.unlink(missing_ok=True)


def _record_excerpt(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, default=str)[:200]


def _record_imports(
    con: duckdb.DuckDBPyConnection, report: ImportReport, cmap: ColumnMapping, actor: str
) -> None:
    now = utcnow()
    for f in report.files:
        con.execute(
            f"INSERT INTO {IMPORTS_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                f.sha256,
                f.path,
                f.format,
                f.size_bytes,
                f.rows_read,
                f.rows_accepted,
                f.rows_rejected,
                cmap.name,
                cmap.sha256,
                fields_json(f.fields_present),
                fields_json(f.fields_missing),
                now,
                actor,
            ],
        )


def _warnings(report: ImportReport) -> list[str]:
    out: list[str] = []
    for f in report.files:
        if f.fields_missing:
            out.append(f"{f.path} lacks the optional field(s) {', '.join(f.fields_missing)}.")
        if f.rows_rejected:
            out.append(f"{f.path}: {f.rows_rejected:,} of {f.rows_read:,} rows were rejected.")
    return out


def _log_import(
    report: ImportReport, f: FileReport, case_id: int | None, cmap: ColumnMapping, actor: str
) -> LogImport:
    return LogImport(
        case_id=case_id,
        store_path=report.store_path,
        file_path=f.path,
        file_sha256=f.sha256,
        size_bytes=f.size_bytes,
        rows_read=f.rows_read,
        rows_accepted=f.rows_accepted,
        rows_rejected=f.rows_rejected,
        mapping_name=cmap.name,
        mapping_sha256=cmap.sha256,
        imported_by=actor,
    )


def _event_details(report: ImportReport, cmap: ColumnMapping) -> dict[str, Any]:
    return {
        "store_path": report.store_path,
        "mapping": {"name": cmap.name, "source": cmap.source, "sha256": cmap.sha256},
        "files": [
            {
                "path": f.path,
                "sha256": f.sha256,
                "size_bytes": f.size_bytes,
                "rows_read": f.rows_read,
                "rows_accepted": f.rows_accepted,
                "rows_rejected": f.rows_rejected,
                "rejects_by_reason": f.rejects_by_reason,
                "fields_missing": f.fields_missing,
            }
            for f in report.files
        ],
    }
