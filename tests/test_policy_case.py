"""Policies in a case file: import, clauses, corrections, versions in force, finding links."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.cli import main
from core.errors import DistillAuditError, EvidenceError
from core.policy.persist import (
    correct_tag,
    diff_policies,
    import_policy,
    link_finding_to_clause,
    list_clauses,
    policy_in_force,
)
from core.store import audit
from core.store.models import AuditEvent, Clause, Finding, FindingClause, Policy

DATA = Path(__file__).parent / "data" / "policy"


@pytest.fixture
def two_versions(case_file, case_id) -> tuple[int, int]:
    v1 = import_policy(
        case_file,
        case_id,
        DATA / "terms_v1.txt",
        provider="Acme",
        title="Acme API Terms",
        version="v1",
    )
    v2 = import_policy(
        case_file,
        case_id,
        DATA / "terms_v2.txt",
        provider="Acme",
        title="Acme API Terms",
        version="v2",
    )
    return v1, v2


def test_import_stores_clauses_tags_and_detected_dates(case_file, two_versions) -> None:
    v1, v2 = two_versions
    with case_file.read_session() as s:
        p1, p2 = s.get(Policy, v1), s.get(Policy, v2)
        assert (p1.effective_from, p2.effective_from) == (date(2024, 1, 1), date(2025, 7, 1))
        assert p1.taxonomy_version and len(p1.source_sha256) == 64
        numbers = [c.number for c in p2.clauses]
        assert "2.2" in numbers
        sub = next(c for c in p2.clauses if c.number == "2.2")
        parent = s.get(Clause, sub.parent_id)
        assert parent.number == "2" and sub.number_path == ["2", "2.2"]
        assert p2.text[sub.span_start : sub.span_end] == sub.text
        assert audit.verify_chain(s).ok
    bans = list_clauses(case_file, v2, "competing-model-ban")
    assert [c.number for c in bans] == ["2.2"]
    assert bans[0].tags[0]["cues"]


def test_in_force_on_either_side_of_the_change(case_file, case_id, two_versions) -> None:
    v1, v2 = two_versions
    assert policy_in_force(case_file, case_id, "Acme", date(2025, 6, 30)).id == v1
    assert policy_in_force(case_file, case_id, "Acme", date(2025, 7, 1)).id == v2
    assert policy_in_force(case_file, case_id, "Acme", date(2023, 12, 31)) is None


def test_diff_marks_the_tightened_clause(case_file, two_versions) -> None:
    changes = diff_policies(case_file, *two_versions)
    tightened = [c for c in changes if c.kind == "changed" and c.new_number == "2.2"]
    assert tightened and "{+" in tightened[0].word_diff and "distil" in tightened[0].word_diff
    assert any(c.kind == "added" for c in changes)  # the definitions section is new


def test_tag_corrections_are_kept_and_audited(case_file, two_versions) -> None:
    clause = list_clauses(case_file, two_versions[1], "competing-model-ban")[0]
    correct_tag(case_file, clause.id, "competing-model-ban", add=False, note="Not a ban")
    assert list_clauses(case_file, two_versions[1], "competing-model-ban") == []
    correct_tag(case_file, clause.id, "output-ownership", add=True, note="reviewer view")
    with case_file.read_session() as s:
        tags = {(t.category, t.status, t.source) for t in s.get(Clause, clause.id).tags}
        events = s.execute(select(AuditEvent.action)).scalars().all()
    assert ("competing-model-ban", "removed", "rule") in tags
    assert ("output-ownership", "confirmed", "reviewer") in tags
    assert events.count("policy.tag_corrected") == 2
    with pytest.raises(DistillAuditError, match="Unknown category"):
        correct_tag(case_file, clause.id, "no-such-category", add=True)


def test_link_goes_to_the_version_in_force(case_file, case_id, two_versions) -> None:
    v1, v2 = two_versions
    with case_file.session() as s:
        f = Finding(
            case_id=case_id,
            statement="The suspect's answers name the protected model.",
            strength="moderate support",
        )
        s.add(f)
        s.flush()
        fid = f.id
    old_clause = next(c for c in list_clauses(case_file, v1) if c.number == "1.2")
    # Picked in v1 but the conduct happened under v2: linked to v2's clause of that number?
    with pytest.raises(DistillAuditError, match="does not exist in version v2"):
        link_finding_to_clause(case_file, fid, old_clause.id, date(2025, 8, 1))
    new_clause = next(c for c in list_clauses(case_file, v2) if c.number == "2.2")
    link_id = link_finding_to_clause(case_file, fid, new_clause.id, date(2025, 8, 1))
    link_old = link_finding_to_clause(case_file, fid, old_clause.id, date(2024, 5, 1))
    with case_file.read_session() as s:
        assert s.get(FindingClause, link_id).policy_in_force_id == v2
        assert s.get(FindingClause, link_old).policy_in_force_id == v1
    with pytest.raises(DistillAuditError, match="in force on 2020-01-01"):
        link_finding_to_clause(case_file, fid, new_clause.id, date(2020, 1, 1))


def test_bad_policy_imports_write_nothing(tmp_path: Path, case_file, case_id) -> None:
    binary = tmp_path / "terms.txt"
    binary.write_bytes(bytes(range(256)) * 100)
    empty = tmp_path / "empty.md"
    empty.write_text("")
    for path in (binary, empty):
        with pytest.raises(EvidenceError):
            import_policy(case_file, case_id, path, provider="Acme", version="v1")
    with case_file.read_session() as s:
        assert s.execute(select(func.count()).select_from(Policy)).scalar_one() == 0


def test_policy_cli(tmp_path: Path, capsys) -> None:
    db = str(tmp_path / "c.dacase")
    assert main(["--db", db, "case", "new", "--title", "T", "--reference", "R"]) == 0
    for v in ("v1", "v2"):
        assert (
            main(
                [
                    "--db",
                    db,
                    "policy",
                    "import",
                    str(DATA / f"terms_{v}.txt"),
                    "--case",
                    "R",
                    "--provider",
                    "Acme",
                    "--version",
                    v,
                ]
            )
            == 0
        )
    capsys.readouterr()
    assert (
        main(
            [
                "--db",
                db,
                "--json",
                "policy",
                "in-force",
                "--case",
                "R",
                "--provider",
                "Acme",
                "--date",
                "2025-08-01",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["version"] == "v2"
    assert (
        main(["--db", db, "--json", "policy", "clauses", "2", "--category", "competing-model-ban"])
        == 0
    )
    assert [c["number"] for c in json.loads(capsys.readouterr().out)] == ["2.2"]
    assert main(["--db", db, "policy", "diff", "1", "2"]) == 0
    out = capsys.readouterr().out
    assert "CHANGED" in out and "ADDED" in out


@pytest.mark.parametrize(
    "title",
    [
        "Acme API Terms",
        "Acme API Terms (Version 2.0)",
        "ACME API terms v2",
        "Acme API Terms - version 3.1",
        "Acme API Terms (updated 1 July 2025)",
        "Acme API Terms, Rev. 4",
    ],
)
def test_versions_of_one_document_form_a_series(title: str) -> None:
    from core.policy.persist import series_key

    assert series_key(title) == "acme api terms"
