"""The read model (core.records), the case-reference generator and the demo case file.

All on real case files: the records the GUI shows and what the CLI prints come from the
same functions, so they must agree; the demo file is replaced only when it holds nothing
but the demo case.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from core import records
from core.cli import main
from core.demo import (
    DEMO_REFERENCE,
    build_demo_case_file,
    default_demo_db,
    discard_demo_case_file,
    ensure_demo_case_file,
)
from core.errors import DistillAuditError, EvidenceError, NotFoundError
from core.evidence.importer import import_transcripts
from core.policy.persist import import_policy
from core.store.audit import verify_case_file_chain
from core.store.cases import create_case
from core.store.db import open_case_file
from core.store.models import Run
from core.store.runs import create_run

ROOT = Path(__file__).resolve().parents[1]
POLICY_DATA = Path(__file__).parent / "data" / "policy"


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


# --- cases and references ------------------------------------------------------------------


def test_case_details_by_id_or_reference(case_file, case_id) -> None:
    by_id = records.case_details(case_file, case_id)
    assert by_id == records.case_details(case_file, "DA-TEST-1")
    assert by_id.summary.reference == "DA-TEST-1"
    assert by_id.parties == ["Halcyon Labs", "Quillmark AI"]
    assert by_id.hypothesis_p == records.DEFAULT_HP
    with pytest.raises(NotFoundError, match="No case 'NOPE'"):
        records.case_details(case_file, "NOPE")


def test_next_reference_takes_the_first_free_number_per_prefix(case_file) -> None:
    assert records.next_reference(case_file, "CHECK") == "CHECK-1"
    create_case(case_file, "first", "CHECK-1")
    create_case(case_file, "third", "CHECK-3")
    assert records.next_reference(case_file, "CHECK") == "CHECK-2"
    assert records.next_reference(case_file, "EXP") == "EXP-1"


# --- audit log -----------------------------------------------------------------------------


def test_audit_rows_all_or_one_case_and_the_cli_prints_the_same(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "c.dacase"
    with open_case_file(db) as cf:
        first = create_case(cf, "A v B", "R-1")
        create_case(cf, "C v D", "R-2")
        everything = records.audit_rows(cf)
        one = records.audit_rows(cf, first)
        assert records.audit_rows(cf, "R-1") == one
        assert verify_case_file_chain(cf).ok
    assert [r.id for r in everything] == [1, 2]
    assert [r.case_id for r in one] == [first]
    assert everything[1].prev_hash == everything[0].hash
    assert all(r.at.endswith("Z") for r in everything)

    code, out = run_cli(capsys, "--db", str(db), "--json", "audit", "log", "--case", "R-2")
    logged = json.loads(out)
    assert code == 0 and [e["id"] for e in logged] == [2]
    assert logged[0]["hash"] == everything[1].hash
    assert logged[0]["at"].endswith("+00:00")  # the CLI's established time format
    code, out = run_cli(capsys, "--db", str(db), "--json", "audit", "verify")
    assert code == 0 and json.loads(out)["events"] == 2


# --- runs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "category"),
    [
        ("check", "check"),
        ("check.rerun", "check"),
        ("Check:partial", "check"),
        ("calibration", "calibration"),
        ("distill.calibration_sweep", "calibration"),
        ("experiment", "experiment"),
        ("checker", "experiment"),
    ],
)
def test_run_category_files_each_kind(kind: str, category: str) -> None:
    from core.reports.analyses import run_category as report_category

    assert records.run_category(kind) == category
    assert report_category(Run(kind=kind)) == category


def test_run_category_rules_are_written_once() -> None:
    sources = [p for d in ("core", "app") for p in (ROOT / d).rglob("*.py")]
    hits = [
        p.relative_to(ROOT).as_posix()
        for p in sources
        if 'startswith(("check.", "check:"))' in p.read_text(encoding="utf-8")
    ]
    assert hits == ["core/store/runs.py"]


def test_run_rows_newest_first_with_categories(case_file, case_id) -> None:
    check = create_run(case_file, case_id, "check", {"checks": ["identity"]}, {}, seed=1)
    sweep = create_run(case_file, case_id, "calibration", {}, {}, seed=2)
    rows = records.run_rows(case_file, case_id)
    assert [(r.id, r.category) for r in rows] == [(sweep, "calibration"), (check, "check")]
    assert rows[1].checks == ["identity"] and rows[1].status == "queued"
    details = records.run_details(case_file, check)
    assert details.row == rows[1] and details.parameters == {"checks": ["identity"]}
    with pytest.raises(NotFoundError, match="No run 99"):
        records.run_details(case_file, 99)


# --- policies and evidence -----------------------------------------------------------------


def test_policy_rows_and_the_cli_policy_list_agree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "c.dacase"
    with open_case_file(db) as cf:
        case = create_case(cf, "T", "R")
        for version in ("v1", "v2"):
            import_policy(
                cf,
                case,
                POLICY_DATA / f"terms_{version}.txt",
                provider="Acme",
                title="Acme API Terms",
                version=version,
            )
        rows = records.policy_rows(cf, "R")
        assert records.policy_rows(cf, case) == rows
    assert [r.version for r in rows] == ["v1", "v2"]
    assert all(r.clauses > 0 and len(r.sha256) == 64 for r in rows)
    code, out = run_cli(capsys, "--db", str(db), "--json", "policy", "list", "--case", "R")
    listed = json.loads(out)
    assert code == 0
    assert [(p["id"], p["clauses"], p["sha256"]) for p in listed] == [
        (r.id, r.clauses, r.sha256) for r in rows
    ]


def test_evidence_items_choices_and_transcript_names(
    case_file, case_id, transcript_file: Path
) -> None:
    set_id = import_transcripts(
        case_file,
        case_id,
        transcript_file,
        "protected-answers",
        model_name="Lumen",
        provider="Halcyon Labs",
    )
    items = records.evidence_items(case_file, "DA-TEST-1")
    choices = records.evidence_choices(case_file, case_id)
    assert [(i.kind, i.id) for i in items] == [(c.kind, c.id) for c in choices]
    assert choices[0].label.startswith("answers (protected-answers) — 20 prompt/response")
    assert records.transcript_names(case_file, set_id) == ["Lumen", "Halcyon Labs"]
    assert records.transcript_names(case_file, 99) == []


# --- the GUI reads only through core -------------------------------------------------------


def test_the_app_never_imports_sqlalchemy_or_the_orm_models() -> None:
    offending = []
    for path in sorted((ROOT / "app").rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            text = line.strip()
            if not text.startswith(("import ", "from ")):
                continue
            if re.match(r"(from|import) (sqlalchemy|core\.store\.models)\b", text):
                offending.append(f"{path.relative_to(ROOT)}:{number}: {text}")
    assert offending == []
    assert not (ROOT / "app" / "case_data.py").exists()


# --- the demo case file --------------------------------------------------------------------


def _demo_only_file(path: Path) -> None:
    with open_case_file(path) as cf:
        create_case(cf, "demo", DEMO_REFERENCE)


def test_default_demo_db_is_in_the_user_data_folder() -> None:
    path = default_demo_db()
    assert path.name == "demo.dacase" and "DistillAudit" in path.parts


def test_discarding_a_demo_only_file_removes_it(tmp_path: Path) -> None:
    db = tmp_path / "demo.dacase"
    discard_demo_case_file(db)  # nothing there: nothing to do
    _demo_only_file(db)
    Path(f"{db}-wal").write_bytes(b"")
    discard_demo_case_file(db)
    assert not db.exists() and not Path(f"{db}-wal").exists()


def test_a_file_holding_another_case_is_refused_and_kept(tmp_path: Path) -> None:
    db = tmp_path / "work.dacase"
    with open_case_file(db) as cf:
        create_case(cf, "demo", DEMO_REFERENCE)
        create_case(cf, "Real", "R-1")
    with pytest.raises(DistillAuditError, match="holds more than the demo case"):
        discard_demo_case_file(db)
    with open_case_file(db) as cf:
        assert [r.id for r in records.audit_rows(cf)] == [1, 2]


@pytest.mark.parametrize("content", [b"", b"notes, not a database\n" * 20])
def test_a_file_that_is_not_a_case_file_is_refused_untouched(
    tmp_path: Path, content: bytes
) -> None:
    db = tmp_path / "notes.dacase"
    db.write_bytes(content)
    with pytest.raises(DistillAuditError, match="holds more than the demo case"):
        discard_demo_case_file(db)
    assert db.read_bytes() == content


def test_a_failed_demo_build_leaves_no_file(tmp_path: Path) -> None:
    db = tmp_path / "demo.dacase"
    empty_world = tmp_path / "world"
    empty_world.mkdir()
    with pytest.raises(EvidenceError, match="MANIFEST"):
        build_demo_case_file(db, empty_world)
    assert not db.exists()
    with pytest.raises(EvidenceError, match="MANIFEST"):
        ensure_demo_case_file(db, empty_world)
    assert not db.exists()


def test_an_existing_demo_file_is_opened_without_rebuilding(tmp_path: Path) -> None:
    db = tmp_path / "demo.dacase"
    _demo_only_file(db)
    before = db.read_bytes()
    assert ensure_demo_case_file(db, tmp_path / "no-such-world") == db
    assert db.read_bytes() == before
