"""Exporting a report: PDF (+ JSON bundle, + CSV tables), written atomically, then audited.

Every output is first written to a temporary file in its destination folder; only when
all of them are written are they moved into place (``os.replace``) inside the same
transaction that appends the ``report.exported`` audit event. An error at any point
leaves no partial file and no audit event behind; the temporary files of an export that
was killed outright (they carry its process id) are removed by the next export to the
same place. An existing file is replaced only when ``overwrite`` is asked for.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from core.errors import DistillAuditError, OutputExistsError
from core.jobs import JobState
from core.reports.bundle import bundle_json, content_sha256, csv_tables
from core.reports.data import ExaminerDetails, ReportData
from core.reports.gather import EXPORT_ACTION, gather_report_data
from core.reports.pades import SigningCredentials, sign_pdf_bytes, signer_summary
from core.reports.pdf import build_pdf
from core.store import audit
from core.store.db import CaseFile


@dataclass
class ExportResult:
    """What an export wrote, with the hashes recorded in the audit log."""

    report_id: str
    content_sha256: str
    pdf_path: Path
    pdf_sha256: str
    pages: int
    json_path: Path | None = None
    json_sha256: str | None = None
    csv_files: dict[str, str] = field(default_factory=dict)  # path -> SHA-256
    audit_event_id: int = 0
    evidence_ok: bool = True
    chain_ok: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "report_id": self.report_id,
            "content_sha256": self.content_sha256,
            "pdf_path": str(self.pdf_path),
            "pdf_sha256": self.pdf_sha256,
            "pages": self.pages,
            "json_path": str(self.json_path) if self.json_path else None,
            "json_sha256": self.json_sha256,
            "csv_files": self.csv_files,
            "audit_event_id": self.audit_event_id,
            "evidence_ok": self.evidence_ok,
            "chain_ok": self.chain_ok,
        }


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _cannot_write(path: Path, exc: OSError) -> DistillAuditError:
    reason = exc.strerror or str(exc)
    return DistillAuditError(
        f"Cannot write {path.name} to {path.parent}: {reason}. Nothing was "
        "written; choose a folder you can write to."
    )


def _stage(outputs: list[tuple[Path, bytes]]) -> list[tuple[Path, Path]]:
    """Write every output to a temporary file beside its destination; all or none."""
    staged: list[tuple[Path, Path]] = []
    try:
        for final, payload in outputs:
            if not final.parent.is_dir():
                raise DistillAuditError(
                    f"The folder {final.parent} does not exist; nothing was written."
                )
            try:
                _remove_stale_parts(final)
                fd, tmp = tempfile.mkstemp(
                    prefix=f".{final.name}.{os.getpid()}.", suffix=PART_SUFFIX, dir=final.parent
                )
                staged.append((Path(tmp), final))
                with os.fdopen(fd, "wb") as fh:
                    fh.write(payload)
                    fh.flush()
                    os.fsync(fh.fileno())
            except OSError as exc:
                raise _cannot_write(final, exc) from exc
    except BaseException:
        _discard(p for p, _ in staged)
        raise
    return staged


PART_SUFFIX = ".part"
_STALE_UNKNOWN_OWNER_S = 3600  # a .part file whose writer cannot be told apart: after 1 h


def _remove_stale_parts(final: Path) -> None:
    """Remove temporary files left beside ``final`` by exports that were killed outright."""
    prefix = f".{final.name}."
    try:
        leftovers = [
            p
            for p in final.parent.iterdir()
            if p.name.startswith(prefix) and p.name.endswith(PART_SUFFIX)
        ]
    except OSError:
        return
    for part in leftovers:
        owner = part.name[len(prefix) :].split(".", 1)[0]
        if owner == str(os.getpid()):
            continue
        alive = _process_alive(int(owner)) if owner.isdigit() else None
        if alive is None:  # written by an older version, or the owner cannot be checked
            try:
                alive = time.time() - part.stat().st_mtime <= _STALE_UNKNOWN_OWNER_S
            except OSError:
                continue
        if not alive:
            _discard([part])


def _process_alive(pid: int) -> bool | None:
    """Whether process ``pid`` runs; None where that cannot be asked safely (Windows)."""
    if os.name == "nt":  # os.kill would terminate the process there
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _refuse_existing(paths: list[Path], overwrite: bool) -> None:
    """OutputExistsError naming the files that exist, unless replacing them was asked for."""
    for p in paths:
        if p.is_dir():
            raise DistillAuditError(f"{p} is a folder; give a file name. Nothing was written.")
    existing = [p for p in paths if p.exists()]
    if existing and not overwrite:
        names = ", ".join(str(p) for p in existing[:3]) + (" ..." if len(existing) > 3 else "")
        raise OutputExistsError(
            f"{names} already exist{'s' if len(existing) == 1 else ''}; nothing was written. "
            "Choose another name or folder, or add --force to replace "
            f"{'it' if len(existing) == 1 else 'them'}."
        )


def _preflight(folder: Path, create: bool = False) -> None:
    """Fail before any work when a destination folder cannot take the files."""
    probe = folder
    while create and not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir():
        what = "is not a folder" if probe.exists() else "does not exist"
        raise DistillAuditError(f"{probe} {what}; nothing was written.")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise DistillAuditError(
            f"Cannot write to {probe}: permission denied. Nothing was "
            "written; choose a folder you can write to."
        )


def _discard(paths: Any) -> None:
    for p in paths:
        try:
            os.unlink(p)
        except OSError:
            pass


def render_outputs(
    data: ReportData,
    *,
    with_json: bool,
    with_csv: bool,
) -> tuple[str, bytes, int, bytes | None, dict[str, bytes]]:
    """(content hash, PDF bytes, pages, bundle bytes or None, CSV files) for report data."""
    digest = content_sha256(data)
    pdf, pages = build_pdf(data, digest)
    return (
        digest,
        pdf,
        pages,
        bundle_json(data) if with_json else None,
        csv_tables(data) if with_csv else {},
    )


def export_report(
    cf: CaseFile,
    case_key: int | str,
    pdf_path: str | os.PathLike[str],
    *,
    json_path: str | os.PathLike[str] | None = None,
    csv_dir: str | os.PathLike[str] | None = None,
    generated_at: datetime | None = None,
    prepared_by: str | None = None,
    actor: str | None = None,
    state: JobState | None = None,
    overwrite: bool = True,
    sign: SigningCredentials | None = None,
    runs: Sequence[int] | None = None,
    examiner: ExaminerDetails | None = None,
) -> ExportResult:
    """Gather, render and write a case's report; record a ``report.exported`` audit event.

    ``prepared_by`` defaults to the operating-system user; ``generated_at`` (UTC) fixes
    the report's date for reproducible exports. Raises :class:`DistillAuditError` when a
    destination cannot be written (nothing is written then), and
    :class:`OutputExistsError` when a file exists and ``overwrite`` is false (the CLI
    passes ``--force``; the GUI's save dialog has asked already). ``runs`` chooses the check
    runs the report covers (default: completed, not superseded); ``examiner`` fills the
    examiner's declarations (blanks to complete otherwise). With ``sign`` the PDF is
    signed (PAdES B-B, incremental update) after rendering; the recorded PDF hash is the
    signed file's.
    """
    cf.require_writable()  # the export is recorded in the audit log: fail before any work
    state = state or JobState()
    prepared_by = prepared_by if prepared_by is not None else audit.current_actor()
    pdf_final = Path(pdf_path).expanduser().absolute()
    json_final = Path(json_path).expanduser().absolute() if json_path is not None else None
    for target in (pdf_final, json_final):
        if target is not None:
            _preflight(target.parent)
    if csv_dir is not None:
        _preflight(Path(csv_dir).expanduser().absolute(), create=True)
    _refuse_existing([t for t in (pdf_final, json_final) if t is not None], overwrite)
    signer = signer_summary(sign) if sign is not None else None  # bad key: fail before work
    data = gather_report_data(
        cf,
        case_key,
        generated_at=generated_at,
        prepared_by=prepared_by,
        state=state.sub(0, 55),
        runs=runs,
        examiner=examiner,
    )
    state.check_cancelled()
    state.set_status("Rendering the report")
    digest, pdf, pages, bundle, tables = render_outputs(
        data, with_json=json_path is not None, with_csv=csv_dir is not None
    )
    if sign is not None:
        state.set_status("Signing the PDF")
        pdf = sign_pdf_bytes(
            pdf, sign, reason=f"Forensic report {data.meta.report_id}; content SHA-256 {digest}"
        )
    state.set_progress(90)
    state.check_cancelled()
    outputs: list[tuple[Path, bytes]] = [(pdf_final, pdf)]
    if json_final is not None and bundle is not None:
        outputs.append((json_final, bundle))
    if csv_dir is not None:
        folder = Path(csv_dir).expanduser().absolute()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _cannot_write(folder / "results.csv", exc) from exc
        outputs += [(folder / name, payload) for name, payload in tables.items()]
    _refuse_existing([final for final, _ in outputs], overwrite)
    state.set_status("Writing the files")
    staged = _stage(outputs)
    result = ExportResult(
        report_id=data.meta.report_id,
        content_sha256=digest,
        pdf_path=pdf_final,
        pdf_sha256=_sha(pdf),
        pages=pages,
        json_path=json_final,
        json_sha256=_sha(bundle) if bundle is not None else None,
        csv_files={str(p): _sha(b) for p, b in outputs[1 + (bundle is not None) :]},
        evidence_ok=data.verification.ok,
        chain_ok=data.chain.ok,
    )
    placed: list[Path] = []
    try:
        with cf.session() as s:
            ev = audit.record(
                s,
                EXPORT_ACTION,
                "report",
                data.meta.report_id,
                case_id=data.case.id,
                actor=actor,
                details=_event(data, result) | ({"signature": signer} if signer else {}),
            )
            result.audit_event_id = ev.id
            for tmp, final in staged:
                os.replace(tmp, final)
                placed.append(final)
    except BaseException as exc:
        _discard([t for t, _ in staged] + placed)
        if isinstance(exc, OSError):
            raise _cannot_write(pdf_final, exc) from exc
        raise
    state.set_progress(100)
    return result


def _event(data: ReportData, r: ExportResult) -> dict[str, Any]:
    v = data.verification
    return {
        "report_id": r.report_id,
        "report_version": data.meta.report_version,
        "generated_at": data.meta.generated_at,
        "prepared_by": data.meta.prepared_by,
        "content_sha256": r.content_sha256,
        "pdf": {"path": str(r.pdf_path), "sha256": r.pdf_sha256, "pages": r.pages},
        "bundle": (
            {"path": str(r.json_path), "sha256": r.json_sha256} if r.json_path is not None else None
        ),
        "csv": [{"path": p, "sha256": h} for p, h in r.csv_files.items()],
        "evidence_verification": {"files": v.files_checked, "ok": v.ok, "problems": v.problems},
        "chain": {
            "ok": data.chain.ok,
            "events": data.chain.events,
            "head_event_id": data.chain.head_event_id,
            "head_hash": data.chain.head_hash,
        },
    }
