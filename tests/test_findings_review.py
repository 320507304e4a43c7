"""Reviewing findings (core.store.findings): accept, reject, reword, notes; every step audited."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from core.errors import DistillAuditError, NotFoundError
from core.store import audit, runs
from core.store.findings import (
    edit_statement,
    get_finding,
    list_findings,
    set_notes,
    set_status,
)
from core.store.models import AuditEvent, Finding, FindingRun

DATA = Path(__file__).parent / "data" / "policy"
STATEMENT = "Run 1, Teacher-text affinity: the suspect scored above each reference."


@pytest.fixture
def finding_id(case_file, case_id) -> int:
    """A draft finding linked to a run, as core.checks.findings.store_results writes it."""
    run_id = runs.create_run(case_file, case_id, "check", {"checks": ["likelihood"]}, {}, 0)
    with case_file.session() as s:
        f = Finding(
            case_id=case_id, statement=STATEMENT, strength="moderate support", status="draft"
        )
        s.add(f)
        s.flush()
        s.add(FindingRun(finding_id=f.id, run_id=run_id))
        return f.id


def events(cf, action: str) -> list[AuditEvent]:
    with cf.read_session() as s:
        return list(s.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars())


def test_list_findings_gives_plain_records_with_runs(case_file, case_id, finding_id) -> None:
    (view,) = list_findings(case_file, case_id)
    assert (view.id, view.status, view.statement) == (finding_id, "draft", STATEMENT)
    assert view.run_ids == (1,) and view.clause_links == ()
    assert view.to_dict()["run_ids"] == [1]


def test_accept_and_reject_are_audited_with_old_and_new(case_file, finding_id) -> None:
    set_status(case_file, finding_id, "accepted", "A. Reviewer")
    set_status(case_file, finding_id, "rejected", "B. Counsel", note="panel too small")
    view = get_finding(case_file, finding_id)
    assert view.status == "rejected" and view.reviewer == "B. Counsel"
    assert "rejected: panel too small" in view.reviewer_notes
    first, second = events(case_file, "finding.status_changed")
    assert (first.details["old"], first.details["new"], first.actor) == (
        "draft",
        "accepted",
        "A. Reviewer",
    )
    assert second.details == {
        "old": "accepted",
        "new": "rejected",
        "reviewer": "B. Counsel",
        "note": "panel too small",
    }
    with case_file.read_session() as s:
        assert audit.verify_chain(s).ok


def test_rewording_an_accepted_finding_returns_it_to_draft(case_file, finding_id) -> None:
    set_status(case_file, finding_id, "accepted", "A. Reviewer")
    edit_statement(case_file, finding_id, "Reworded statement.", "A. Reviewer", note="plainer")
    view = get_finding(case_file, finding_id)
    assert (view.statement, view.status) == ("Reworded statement.", "draft")
    (event,) = events(case_file, "finding.edited")
    assert event.details["old"] == STATEMENT and event.details["new"] == "Reworded statement."
    assert event.details["status"] == {"old": "accepted", "new": "draft"}


def test_notes_are_replaced_and_audited(case_file, finding_id) -> None:
    set_notes(case_file, finding_id, "Check the panel.", "A. Reviewer")
    set_notes(case_file, finding_id, "Check the panel.", "A. Reviewer")  # no change, no event
    assert get_finding(case_file, finding_id).reviewer_notes == "Check the panel."
    (event,) = events(case_file, "finding.notes_updated")
    assert event.details == {"old": "", "new": "Check the panel.", "reviewer": "A. Reviewer"}


def test_bad_requests_change_nothing(case_file, finding_id) -> None:
    with pytest.raises(DistillAuditError, match="Unknown finding status"):
        set_status(case_file, finding_id, "approved", "A. Reviewer")
    with pytest.raises(DistillAuditError, match="Name the reviewer"):
        set_status(case_file, finding_id, "accepted", "  ")
    with pytest.raises(DistillAuditError, match="cannot be empty"):
        edit_statement(case_file, finding_id, "   ", "A. Reviewer")
    with pytest.raises(NotFoundError):
        set_status(case_file, 999, "accepted", "A. Reviewer")
    assert get_finding(case_file, finding_id).status == "draft"
    assert events(case_file, "finding.status_changed") == []


def test_clause_links_are_listed_with_the_version_in_force(case_file, case_id, finding_id) -> None:
    from core.policy.persist import import_policy, link_finding_to_clause, list_clauses

    v1 = import_policy(
        case_file,
        case_id,
        DATA / "terms_v1.txt",
        provider="Acme",
        title="Acme API Terms",
        version="v1",
    )
    clause = list_clauses(case_file, v1)[0]
    link_finding_to_clause(case_file, finding_id, clause.id, date(2024, 6, 1))
    (link,) = get_finding(case_file, finding_id).clause_links
    assert (link.clause_number, link.version, link.conduct_date) == (
        clause.number,
        "v1",
        "2024-06-01",
    )
    assert link.provider == "Acme" and link.policy_id == v1
