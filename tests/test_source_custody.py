"""Custody from the source: recorded at import, a stated hash checked against the hash on
receipt (refused, or recorded as a discrepancy when accepted), completed later by a
reviewer with every change audited, and carried into the report bundle."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.cli import main
from core.records import custody_sources, evidence_items
from core.store.models import AuditEvent


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _events(cf, action: str | None = None) -> int:
    with cf.read_session() as s:
        q = select(func.count()).select_from(AuditEvent)
        if action:
            q = q.where(AuditEvent.action == action)
        return int(s.scalar(q) or 0)


def _import(capsys, db: str, path: Path, *extra: str) -> tuple[int, str, str]:
    return _run(
        capsys,
        "--db",
        db,
        "import",
        "transcripts",
        str(path),
        "--case",
        "DA-TEST-1",
        "--role",
        "protected-answers",
        *extra,
    )


CUSTODY = (
    "--produced-by",
    "Halcyon Labs (counsel: Morrow & Vance)",
    "--collected-at",
    "2025-09-03",
    "--collection-method",
    "production",
    "--production-no",
    "HAL-0000123",
    "--transfer",
    "from=Halcyon Labs;to=Morrow & Vance;at=2025-09-04;how=encrypted USB",
)


def test_import_records_custody_and_a_matching_source_hash(
    case_file, case_id, transcript_file, capsys
):
    sha = hashlib.sha256(transcript_file.read_bytes()).hexdigest()
    code, _, err = _import(
        capsys, str(case_file.path), transcript_file, *CUSTODY, "--source-sha256", sha.upper()
    )
    assert code == 0, err
    [rec] = custody_sources(case_file, case_id)
    assert (rec.item_kind, rec.production_no, rec.collection_method) == (
        "transcripts",
        "HAL-0000123",
        "production",
    )
    assert rec.source_sha256 == rec.receipt_sha256 == sha and rec.discrepancy == ""
    assert rec.transfers[0]["how"] == "encrypted USB"
    [item] = evidence_items(case_file, case_id)
    assert item.custody is not None and item.custody["produced_by"].startswith("Halcyon")
    assert _events(case_file, "custody.recorded") == 1


def test_a_mismatched_source_hash_is_refused_or_recorded(
    case_file, case_id, transcript_file, capsys
):
    db = str(case_file.path)
    before = _events(case_file)
    code, _, err = _import(capsys, db, transcript_file, *CUSTODY, "--source-sha256", "ab" * 32)
    assert code == 2 and "nothing was imported" in err and "--accept-hash-mismatch" in err
    assert evidence_items(case_file, case_id) == [] and _events(case_file) == before
    code, _, err = _import(
        capsys, db, transcript_file, "--source-sha256", "ab" * 32, "--accept-hash-mismatch"
    )
    assert code == 0, err
    [rec] = custody_sources(case_file, case_id)
    assert "is not the hash on receipt" in rec.discrepancy
    code, out, _ = _run(capsys, "--db", db, "--json", "evidence", "list", "--case", "DA-TEST-1")
    assert "is not the hash on receipt" in json.loads(out)[0]["custody"]["discrepancy"]


def test_reviewer_completes_custody_later_each_change_audited(
    case_file, case_id, transcript_file, capsys
):
    db = str(case_file.path)
    assert _import(capsys, db, transcript_file)[0] == 0
    assert custody_sources(case_file, case_id) == []  # nothing given, nothing recorded
    set_id = evidence_items(case_file, case_id)[0].id
    item = f"transcripts:{set_id}"
    code, out, err = _run(
        capsys,
        "--db",
        db,
        "evidence",
        "custody",
        item,
        "--set",
        "production_no=HAL-0000999",
        "--set",
        "collection_method=forensic image",
        "--add-transfer",
        "from=Examiner;to=Evidence locker;at=2025-09-05T10:00:00Z",
    )
    assert code == 0, err
    assert "HAL-0000999" in out and "forensic_image" in out and "Evidence locker" in out
    assert _events(case_file, "custody.updated") == 2
    assert _events(case_file, "custody.transfer_added") == 1
    # A stated hash that differs is refused here too; nothing changes.
    code, _, err = _run(
        capsys, "--db", db, "evidence", "custody", item, "--set", "source_sha256=" + "cd" * 32
    )
    assert code == 2 and "nothing was changed" in err
    assert custody_sources(case_file, case_id)[0].source_sha256 == ""
    code, _, err = _run(capsys, "--db", db, "evidence", "custody", item, "--set", "colour=red")
    assert code == 2 and "not a custody field" in err
    code, _, err = _run(
        capsys, "--db", db, "evidence", "custody", item, "--set", "collected_at=last Tuesday"
    )
    assert code == 2 and "not an ISO-8601" in err
    assert _events(case_file, "custody.updated") == 2
    # Re-setting the same value writes no event.
    _run(capsys, "--db", db, "evidence", "custody", item, "--set", "production_no=HAL-0000999")
    assert _events(case_file, "custody.updated") == 2


def test_model_import_custody_and_report_bundle(case_file, case_id, tiny_model, tmp_path, capsys):
    from core.evidence.importer import import_model
    from core.evidence.source_custody import SourceCustody, SourceHashMismatchError
    from core.reports.export import export_report

    with pytest.raises(SourceHashMismatchError):
        import_model(
            case_file,
            case_id,
            tiny_model,
            "suspect",
            custody=SourceCustody(source_sha256="ef" * 32),
        )
    art = import_model(
        case_file,
        case_id,
        tiny_model,
        "suspect",
        custody=SourceCustody(produced_by="Quillmark AI", collection_method="download"),
    )
    export_report(case_file, case_id, tmp_path / "r.pdf", json_path=tmp_path / "r.json")
    bundle = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    [model] = [e for e in bundle["content"]["evidence"] if e["kind"] == "model"]
    assert model["id"] == art and model["details"]["custody"]["produced_by"] == "Quillmark AI"
    assert model["details"]["custody"]["receipt_sha256"] == model["sha256"]
