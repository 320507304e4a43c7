"""The shipped demo world becomes a demo case through the normal import path."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from core.cli import main
from core.demo import DEMO_REFERENCE, build_demo_case, demo_dir, verify_manifest
from core.errors import DistillAuditError, EvidenceError
from core.evidence.inventory import list_evidence
from core.store.audit import verify_chain
from core.store.db import open_case_file


def test_shipped_world_matches_its_manifest() -> None:
    assert verify_manifest(demo_dir()) >= 50
    size = sum(p.stat().st_size for p in demo_dir().rglob("*") if p.is_file())
    assert size < 25 * 1024 * 1024


def test_demo_case_imports_every_model_transcript_and_policy(tmp_path: Path) -> None:
    lineage = json.loads((demo_dir() / "lineage.json").read_text())
    with open_case_file(tmp_path / "demo.dacase") as cf:
        demo = build_demo_case(cf)
        items = list_evidence(cf, DEMO_REFERENCE)
        with cf.read_session() as s:
            assert verify_chain(s).ok
    models = [i for i in items if i.kind == "model"]
    assert {m.name for m in models} >= set(lineage["models"])
    assert {m.role for m in models} == {"protected", "suspect", "reference", "base"}
    assert any(m.format == "onnx" for m in models)
    transcripts = {i.role for i in items if i.kind == "transcripts"}
    assert len([i for i in items if i.kind == "transcripts"]) == len(lineage["transcripts"]) == 5
    assert {"harvested-exchanges", "regenerations"} <= transcripts
    assert set(demo.policies) == {"v1", "v2"}


def test_tampered_demo_file_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    shutil.copytree(demo_dir(), root)
    readme = root / "transcripts" / "protected_probe_answers.jsonl"
    readme.write_text(readme.read_text().replace("Happy to help", "Glad to help", 1))
    with open_case_file(tmp_path / "x.dacase") as cf, pytest.raises(EvidenceError, match="differs"):
        build_demo_case(cf, root)


def test_demo_command_refuses_to_overwrite_another_case_file(tmp_path: Path, capsys) -> None:
    db = tmp_path / "work.dacase"
    assert main(["--db", str(db), "case", "new", "--title", "Real", "--reference", "R-1"]) == 0
    assert main(["--db", str(db), "demo", "--no-review"]) == DistillAuditError.exit_code
    assert "holds more than the demo case" in capsys.readouterr().err


def test_demo_command_rebuilds_a_fresh_demo_case(tmp_path: Path, capsys) -> None:
    db = tmp_path / "demo.dacase"
    for _ in range(2):  # a second run replaces the first demo case file
        assert main(["--db", str(db), "--json", "demo", "--no-review"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert data["case_id"] == 1 and data["reference"] == DEMO_REFERENCE
    with open_case_file(db) as cf:
        assert [e.name for e in list_evidence(cf, DEMO_REFERENCE)][:1] == ["protected-lumen"]


@pytest.mark.slow
def test_full_demo_review_writes_the_report(tmp_path: Path) -> None:
    from pypdf import PdfReader

    db = tmp_path / "demo.dacase"
    assert main(["--db", str(db), "demo"]) == 0
    pdf = tmp_path / "demo-report.pdf"
    text = "".join(page.extract_text() for page in PdfReader(pdf).pages[:6])
    assert DEMO_REFERENCE in text and "1 Opinion" in text and "clean control" in text
    assert (tmp_path / "demo-report.json").is_file()
