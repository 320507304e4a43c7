"""The exported report read back: sections, hashes, p-values, quotations, JSON, CSV, audit.

One realistic case is built and exported per module; the PDF is read back with pypdf and
compared with the case file itself (its rows), not with the report's own data.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from core.checks.stats import p_floor
from core.errors import DistillAuditError
from core.reports.export import ExportResult, export_report
from core.reports.formatting import format_p, format_p_n
from core.reports.gather import quotation
from core.store.audit import verify_chain
from core.store.db import CaseFile, open_case_file
from core.store.models import AuditEvent, Clause, Finding, ModelArtifact, Result, TranscriptSet
from tests.conftest import write_jsonl
from tests.test_report_case import GENERATED_AT, build_report_case

SECTIONS = (
    "1 Opinion",
    "Contents",
    "2 The examiner, instructions and materials",
    "3 Terms of service in force and the clauses concerned",
    "4 The checks: method and results",
    "5 Validation: measured error rates",
    "6 Interpretation and limitations",
    "7 Findings as reviewed",
    "8 Evidence and chain of custody",
    "A Evidence items and file hashes",
    "B Runs: parameters, software and per-reference comparisons",
    "C Audit log of the case",
    "D Reproduction commands",
    "E Glossary",
    "F Findings not adopted",
)


@dataclass
class Exported:
    cf: CaseFile
    folder: Path
    reference: str
    result: ExportResult
    pages: list[str]  # text of each page, white space collapsed

    @property
    def text(self) -> str:
        return " ".join(self.pages)

    @property
    def dense(self) -> str:
        """All text without any white space: hashes wrapped over lines join up again."""
        return re.sub(r"\s+", "", self.text)


def pdf_pages(path: Path) -> list[str]:
    return [re.sub(r"\s+", " ", p.extract_text() or "") for p in PdfReader(path).pages]


def answers_file(folder: Path) -> Path:
    return write_jsonl(
        folder / "answers.jsonl",
        [
            {
                "id": f"p{i:03d}",
                "prompt": f"Question number {i}?",
                "response": f"Answer {i}.",
                "model": "Lumen",
                "provider": "Halcyon Labs",
                "collected_at": "2025-09-02T14:03:11Z",
            }
            for i in range(20)
        ],
    )


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path):
    folder = tmp_path_factory.mktemp("report")
    cf = open_case_file(folder / "case.dacase")
    built = build_report_case(cf, tiny_model, folder, answers_file(folder))
    result = export_report(
        cf,
        built.reference,
        folder / "report.pdf",
        json_path=folder / "bundle.json",
        csv_dir=folder / "csv",
        generated_at=GENERATED_AT,
        prepared_by="Dr. E. Example",
    )
    yield Exported(cf, folder, built.reference, result, pdf_pages(folder / "report.pdf"))
    cf.close()


def test_sections_and_identification(exported: Exported) -> None:
    text = exported.text
    for title in SECTIONS:
        assert title in text, title
    cover = exported.pages[0]
    for item in ("DA-TEST-7-R01", "2025-11-03 12:00:00 UTC", "Dr. E. Example", "1 Opinion"):
        assert item in cover, item
    assert "Morrow & Vance LLP for Halcyon Labs" in text  # instructed by (Section 2)
    assert "[to be completed by the examiner]" in text  # no examiner given: marked blanks
    assert "Hp" in text and "Hd" in text and "reference model" in text
    assert "probability of distillation" not in text.lower()
    assert " proves " not in text.lower()
    assert "A p-value is not the probability that the suspect was distilled" in text


def test_header_footer_on_every_page(exported: Exported) -> None:
    n = len(exported.pages)
    assert n == exported.result.pages
    for i, page in enumerate(exported.pages, 1):
        assert f"Page {i} of {n}" in page
        assert exported.result.content_sha256 in page.replace(" ", "")
        if i > 1:
            assert "DA-TEST-7" in page


def test_every_evidence_hash_and_the_chain_head(exported: Exported) -> None:
    with exported.cf.read_session() as s:
        arts = s.scalars(select(ModelArtifact)).all()
        sets = s.scalars(select(TranscriptSet)).all()
        hashes = [e["sha256"] for a in arts for e in a.manifest] + [a.manifest_sha256 for a in arts]
        hashes += [t.file_sha256 for t in sets]
        head = s.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        export_event = head
        chain_before = s.scalars(select(AuditEvent).where(AuditEvent.id == head.id - 1)).one()
    assert export_event.action == "report.exported"
    for h in hashes:
        assert h in exported.dense, h
        assert h[:32] in exported.text and h[32:] in exported.text  # printed whole or in halves
    assert chain_before.hash in exported.dense  # the verified head before this export


def test_p_values_as_in_the_case_file(exported: Exported) -> None:
    with exported.cf.read_session() as s:
        rows = s.scalars(select(Result).where(Result.metric.like("%.vs_reference"))).all()
        summaries = s.scalars(select(Result).where(Result.metric.like("%.summary"))).all()
        assert rows
        for r in rows:
            floor = p_floor(r.details.get("n_resamples"))
            assert format_p_n(r.p_value, r.n, floor) in exported.text, r.metric
            assert format_p(r.p_adjusted) in exported.text
        for r in summaries:
            if r.p_value is not None:
                assert format_p_n(r.p_value, r.n, r.details.get("p_floor")) in exported.text
                assert format_p(r.p_adjusted) in exported.text
                assert r.details["model_level"]["p_value"] == r.p_value  # the verdict's p
    # (1+0)/(2000+1) at the Monte-Carlo floor: an upper bound, never printed as 0
    assert "≤ 5e-4 (N = 30)" in exported.text
    assert "Model-level p" in exported.text


def test_clause_quotation_and_contract_mapping(exported: Exported) -> None:
    with exported.cf.read_session() as s:
        clause = s.scalars(select(Clause)).one()
        quote, truncated = quotation(clause.text)
        full = " ".join(clause.text.split())
    assert truncated and len(quote.split()) == 60
    assert f"“{full}”" in exported.text  # Section 3 quotes the clause in force in full
    assert "version 2025-01" in exported.text and "in force on" in exported.text
    assert "legal conclusion for counsel" in exported.text


def test_findings_reviewed_and_not_adopted(exported: Exported) -> None:
    with exported.cf.read_session() as s:
        findings = s.scalars(select(Finding)).all()
    section8 = exported.text.split("7 Findings as reviewed")[-1].split("8 Evidence and")[0]
    appendix_e = exported.text.split("F Findings not adopted")[-1]
    for f in findings:
        head = " ".join(f.statement.split()[:6])
        if f.status == "accepted":
            assert head in section8
        else:
            assert head in appendix_e
    assert "Rejected: duplicates the proposed finding." in appendix_e


def test_validation_figures_and_reproduction(exported: Exported) -> None:
    text = exported.text
    assert "detection rate" in text and "[69.2%, 100.0%]" in text
    assert "Figure 1." in text and "Figure 2." in text
    assert "distill-audit check --db case.dacase --case DA-TEST-7" in text
    assert "--seed 1234" in text
    images = [
        img for page in PdfReader(exported.folder / "report.pdf").pages for img in page.images
    ]
    assert images and all(img.image.size[0] >= 1800 for img in images)  # 300 dpi at 6.4 in


def test_export_is_audited_with_the_pdf_hash(exported: Exported) -> None:
    pdf = (exported.folder / "report.pdf").read_bytes()
    bundle = (exported.folder / "bundle.json").read_bytes()
    with exported.cf.read_session() as s:
        ev = s.scalars(select(AuditEvent).where(AuditEvent.action == "report.exported")).one()
        assert verify_chain(s).ok
    assert ev.details["pdf"]["sha256"] == hashlib.sha256(pdf).hexdigest()
    assert ev.details["bundle"]["sha256"] == hashlib.sha256(bundle).hexdigest()
    assert ev.details["content_sha256"] == exported.result.content_sha256
    assert ev.details["evidence_verification"]["ok"] is True
    assert ev.entity_id == "DA-TEST-7-R01"


def test_json_bundle_validates_and_carries_the_content_hash(exported: Exported) -> None:
    jsonschema = pytest.importorskip("jsonschema")  # dev extra; see pyproject

    from core.reports.bundle import canonical_json, load_schema

    bundle = json.loads((exported.folder / "bundle.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(load_schema())
    jsonschema.Draft202012Validator(load_schema()).validate(bundle)
    assert hashlib.sha256(canonical_json(bundle["content"])).hexdigest() == bundle["content_sha256"]
    assert bundle["content_sha256"] == exported.result.content_sha256
    with exported.cf.read_session() as s:
        arts = s.scalars(select(ModelArtifact).order_by(ModelArtifact.id)).all()
    models = [e for e in bundle["content"]["evidence"] if e["kind"] == "model"]
    assert [m["sha256"] for m in models] == [a.manifest_sha256 for a in arts]


def test_csv_tables(exported: Exported) -> None:
    folder = exported.folder / "csv"

    def rows(name: str) -> list[dict[str, str]]:
        return list(csv.DictReader(io.StringIO((folder / name).read_text(encoding="utf-8-sig"))))

    probes = rows("results_per_probe.csv")
    assert {r["check_key"] for r in probes} == {"likelihood", "similarity"}
    assert {r["model"] for r in probes if r["measure"] == "affinity_bits_per_byte"} == {
        "suspect",
        "OpenRef-1",
        "OpenRef-2",
        "OpenRef-3",
    }
    with exported.cf.read_session() as s:
        n_findings = len(s.scalars(select(Finding)).all())
        n_files = sum(len(a.manifest) for a in s.scalars(select(ModelArtifact)))
    assert len(rows("findings.csv")) == n_findings
    inventory = rows("evidence_inventory.csv")
    assert len(inventory) == n_files + 2  # + the transcript file and the terms of service
    assert all(r["verification"] == "ok" for r in inventory)
    assert set(exported.result.csv_files) == {
        str(folder / n)
        for n in (
            "results_per_probe.csv",
            "results.csv",
            "findings.csv",
            "evidence_inventory.csv",
            "clause_mapping.csv",
            "calibration.csv",
        )
    }


def test_unwritable_destination_leaves_nothing(exported: Exported, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with exported.cf.read_session() as s:
        before = len(s.scalars(select(AuditEvent)).all())
    with pytest.raises(DistillAuditError, match="nothing was written|Nothing was written"):
        export_report(
            exported.cf, exported.reference, blocker / "report.pdf", generated_at=GENERATED_AT
        )
    # The PDF's folder is fine but the CSV folder cannot be created: no PDF either.
    good = tmp_path / "out"
    good.mkdir()
    with pytest.raises(DistillAuditError):
        export_report(
            exported.cf,
            exported.reference,
            good / "report.pdf",
            csv_dir=blocker / "csv",
            generated_at=GENERATED_AT,
        )
    assert list(good.iterdir()) == []
    with exported.cf.read_session() as s:
        assert len(s.scalars(select(AuditEvent)).all()) == before


@pytest.mark.skipif(
    os.name != "posix" or os.geteuid() == 0, reason="permission bits do not stop root"
)
def test_read_only_folder(exported: Exported, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(DistillAuditError, match="Cannot write"):
            export_report(
                exported.cf, exported.reference, locked / "report.pdf", generated_at=GENERATED_AT
            )
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


def test_every_number_in_the_pdf_comes_from_the_bundle(exported: Exported) -> None:
    """p-values with N, Holm p, effects with their own interval, hashes and counts: each one
    the bundle holds is printed in the PDF, formatted one way."""
    from core.reports.formatting import format_ci, format_num, format_p, format_p_n

    content = json.loads((exported.folder / "bundle.json").read_text("utf-8"))["content"]
    text, dense = exported.text, exported.dense
    checked = 0
    for c in content["checks"]:
        if c["status"] != "done" or c["p_value"] is None:
            continue
        assert format_p_n(c["p_value"], c["n_probes"], c["p_floor"]) in text, c["key"]
        if c["p_family"] is not None:
            assert format_p(c["p_family"]) in text
        effect = f"{format_num(c['effect_size'])} {format_ci(c['ci_low'], c['ci_high'])}"
        assert effect.strip() in text, c["key"]
        for r in c["results"]:
            d_z = f"{format_num(r['effect_size'])} {format_ci(r['ci_low'], r['ci_high'])}"
            assert d_z.strip() in text
        checked += 1
    assert checked >= 1
    for m in content["opinion"]["models"]:
        assert m["model"] in exported.pages[0]
        assert m["family_p_text"] in text
    for e in content["evidence"]:
        for f in e["files"]:
            assert f["sha256"] in dense, f["path"]
    for ev in content["audit"]:
        assert ev["hash"] in dense
    assert content["chain"]["head_hash"] in dense
    assert f"{content['opinion']['drafts_left_out']} draft finding(s)" in text or (
        content["opinion"]["drafts_left_out"] == 0
    )
    assert "…" not in text  # nothing truncated: wrapped instead


def test_archival_pdf(exported: Exported) -> None:
    """PDF/A-2b as far as pypdf can tell (veraPDF is not available)."""
    reader = PdfReader(exported.folder / "report.pdf")
    fonts: dict[str, bool] = {}
    for page in reader.pages:
        resources: Any = page["/Resources"]
        for ref in (resources.get("/Font") or {}).values():
            f: Any = ref.get_object()
            fd: Any = f.get("/FontDescriptor")
            if fd is None and "/DescendantFonts" in f:
                fd = f["/DescendantFonts"][0].get_object()["/FontDescriptor"]
            fonts[str(f["/BaseFont"])] = fd is not None and "/FontFile2" in fd.get_object()
    assert fonts and all(fonts.values()), fonts
    assert not any("Helvetica" in name for name in fonts)
    root: Any = reader.trailer["/Root"]
    intent: Any = root["/OutputIntents"][0].get_object()
    assert intent["/S"] == "/GTS_PDFA1"
    assert intent["/DestOutputProfile"].get_object().get_data()[36:40] == b"acsp"  # ICC magic
    xmp = root["/Metadata"].get_object().get_data().decode("utf-8")
    assert "<pdfaid:part>2</pdfaid:part>" in xmp
    assert "<pdfaid:conformance>B</pdfaid:conformance>" in xmp
    assert "<xmp:CreateDate>2025-11-03T12:00:00Z</xmp:CreateDate>" in xmp
    assert reader.metadata is not None
    assert reader.metadata["/CreationDate"] == "D:20251103120000+00'00'"
    assert reader.metadata["/ModDate"] == reader.metadata["/CreationDate"]


def test_examiner_file(tmp_path: Path) -> None:
    from core.errors import DistillAuditError
    from core.reports.examiner import load_examiner

    good = tmp_path / "examiner.yaml"
    good.write_text("name: Dr A. Example\nqualifications: PhD, 10 years\n", encoding="utf-8")
    ex = load_examiner(good)
    assert ex.name == "Dr A. Example" and ex.qualifications == "PhD, 10 years"
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: X\nsalary: 3\n", encoding="utf-8")
    with pytest.raises(DistillAuditError, match="unknown keys: salary"):
        load_examiner(bad)


def test_gui_pdf_json_and_csv_agree_for_one_run(exported: Exported, qapp: Any) -> None:
    """The Analyses tab's results table (its model, read through core.records), the PDF,
    the JSON bundle and results.csv show the same p-values and effects for run 1."""
    from PySide6.QtCore import Qt

    from app.views.analyses_view import CHECK_COLUMNS
    from app.views.table_model import RecordTableModel
    from core.records import run_details
    from core.reports.formatting import format_ci, format_num, format_p

    model: RecordTableModel[Any] = RecordTableModel(CHECK_COLUMNS)
    model.set_records(run_details(exported.cf, 1).checks)
    names = [c.header for c in CHECK_COLUMNS]
    gui = {
        model.data(model.index(r, 0), Qt.ItemDataRole.DisplayRole): {
            n: model.data(model.index(r, i), Qt.ItemDataRole.DisplayRole)
            for i, n in enumerate(names)
        }
        for r in range(model.rowCount())
    }
    content = json.loads((exported.folder / "bundle.json").read_text("utf-8"))["content"]
    table = (exported.folder / "csv" / "results.csv").read_text("utf-8-sig")
    compared = 0
    for c in content["checks"]:
        if c["run_id"] != 1 or c["p_value"] is None:
            continue
        shown = gui[c["title"]]
        p_text = format_p(c["p_value"], c["p_floor"])
        assert shown["p"] == p_text and p_text in exported.text
        assert shown["Holm p"] == format_p(c["p_family"])
        assert shown["Effect"] == format_num(c["effect_size"])
        assert shown["95% CI"] == format_ci(c["ci_low"], c["ci_high"])
        effect = f"{format_num(c['effect_size'])} {format_ci(c['ci_low'], c['ci_high'])}"
        assert effect in exported.text
        line = next(
            r
            for r in csv.DictReader(io.StringIO(table))
            if r["run_id"] == "1" and r["metric"] == f"{c['key']}.summary"
        )
        assert float(line["p_value"]) == c["p_value"]
        assert float(line["effect_size"]) == c["effect_size"]
        assert float(line["effect_ci_low"]) == c["ci_low"]
        assert float(line["effect_ci_high"]) == c["ci_high"]
        assert float(line["check_p_holm_across_checks"]) == c["p_family"]
        compared += 1
    assert compared >= 1
