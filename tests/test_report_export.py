"""Exporting reports: determinism, versions, empty cases, changed evidence and the CLI."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import select

from core.cli import main
from core.reports import wording
from core.reports.export import export_report
from core.store.cases import create_case
from core.store.db import CaseFile, open_case_file
from core.store.models import AuditEvent
from tests.test_report import answers_file, pdf_pages
from tests.test_report_case import GENERATED_AT, build_report_case


def _copy_case_file(cf: CaseFile, dest: Path) -> Path:
    """A consistent copy (SQLite backup API) under the same file name in another folder."""
    dest.mkdir()
    target = dest / cf.path.name
    src, dst = sqlite3.connect(cf.path), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    return target


def test_same_case_state_gives_byte_identical_reports(case_file, tiny_model, tmp_path) -> None:
    built = build_report_case(case_file, tiny_model, tmp_path, answers_file(tmp_path), n_findings=4)
    copy = _copy_case_file(case_file, tmp_path / "copy")
    a = export_report(
        case_file,
        built.reference,
        tmp_path / "a.pdf",
        json_path=tmp_path / "a.json",
        generated_at=GENERATED_AT,
        prepared_by="Dr. E. Example",
    )
    with open_case_file(copy) as cf2:
        b = export_report(
            cf2,
            built.reference,
            tmp_path / "b.pdf",
            json_path=tmp_path / "b.json",
            generated_at=GENERATED_AT,
            prepared_by="Dr. E. Example",
        )
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert a.pdf_sha256 == b.pdf_sha256 and a.content_sha256 == b.content_sha256
    # A later export of the same case is the next version, with its own id.
    c = export_report(
        case_file,
        built.reference,
        tmp_path / "c.pdf",
        generated_at=GENERATED_AT,
        prepared_by="Dr. E. Example",
    )
    assert c.report_id == "DA-TEST-7-R02" and c.pdf_sha256 != a.pdf_sha256


def test_empty_case_says_what_was_not_done(case_file, tmp_path) -> None:
    create_case(case_file, "Empty matter", "DA-EMPTY")
    result = export_report(
        case_file,
        "DA-EMPTY",
        tmp_path / "empty.pdf",
        json_path=tmp_path / "empty.json",
        csv_dir=tmp_path / "csv",
        generated_at=GENERATED_AT,
        prepared_by="Tester",
    )
    text = " ".join(pdf_pages(tmp_path / "empty.pdf"))
    for note in (
        wording.NO_CALIBRATION,
        wording.NOTES["checks"],
        wording.NOTES["clauses"],
        wording.NOTES["findings"],
        wording.NOTES["evidence"],
    ):
        assert note in text, note
    assert "Page 1 of" in text and "F Findings not adopted" in text and result.pages >= 5
    jsonschema = pytest.importorskip("jsonschema")  # dev extra; see pyproject

    from core.reports.bundle import load_schema

    bundle = json.loads((tmp_path / "empty.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(load_schema()).validate(bundle)
    assert bundle["content"]["notes"]["calibration"] == wording.NO_CALIBRATION
    assert (tmp_path / "csv" / "findings.csv").read_text(encoding="utf-8-sig").count("\n") == 1


def test_changed_evidence_is_reported(case_file, tiny_model, tmp_path) -> None:
    answers = answers_file(tmp_path)
    built = build_report_case(
        case_file, tiny_model, tmp_path, answers, n_findings=0, calibration=False, policies=False
    )
    answers.write_text(answers.read_text() + "\n", encoding="utf-8")
    result = export_report(
        case_file, built.reference, tmp_path / "r.pdf", generated_at=GENERATED_AT
    )
    text = " ".join(pdf_pages(tmp_path / "r.pdf"))
    assert not result.evidence_ok
    assert "1 of " in text and "do not match the values recorded at import" in text
    assert "CHANGED" in text and wording.NO_CALIBRATION in text
    with case_file.read_session() as s:
        ev = s.scalars(select(AuditEvent).where(AuditEvent.action == "report.exported")).one()
    assert ev.details["evidence_verification"]["problems"][0]["status"] == "changed"


def test_cli_report(case_file, tiny_model, tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    built = build_report_case(
        case_file, tiny_model, tmp_path, answers_file(tmp_path), n_findings=2, calibration=False
    )
    db = str(case_file.path)
    out = tmp_path / "out"
    out.mkdir()
    code = main(
        [
            "report",
            "--db",
            db,
            "--case",
            built.reference,
            "--out",
            str(out / "r.pdf"),
            "--json",
            str(out / "r.json"),
            "--csv",
            str(out / "csv"),
            "--generated-at",
            "2025-11-03T12:00:00Z",
            "--prepared-by",
            "Counsel Team",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "Wrote report DA-TEST-7-R01" in printed and "PDF SHA-256" in printed
    assert (out / "r.pdf").is_file() and (out / "r.json").is_file()
    assert (out / "csv" / "results_per_probe.csv").is_file()
    assert "Counsel Team" in pdf_pages(out / "r.pdf")[0]
    code = main(
        ["--db", db, "--json", "report", "--case", built.reference, "--out", str(out / "r2.pdf")]
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out)["report_id"] == "DA-TEST-7-R02"
    code = main(
        [
            "--db",
            db,
            "report",
            "--case",
            built.reference,
            "--out",
            str(tmp_path / "missing" / "r.pdf"),
        ]
    )
    assert code == 2
    assert "does not exist" in capsys.readouterr().err
    code = main(
        [
            "--db",
            db,
            "report",
            "--case",
            built.reference,
            "--out",
            str(out / "x.pdf"),
            "--generated-at",
            "yesterday",
        ]
    )
    assert code == 2 and not (out / "x.pdf").exists()
