"""Version series: dated versions of one document form a series, a later version
closes the earlier one, and "in force on" names exactly one version (issue 17 b, d)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from core.demo import CONDUCT_DATE, _import_policies, demo_dir
from core.policy.persist import import_policy, list_clauses, policy_in_force, why_not_in_force
from core.policy.versions import VersionInfo, closings, in_force, series_key, title_date
from core.store import audit
from core.store.models import AuditEvent, Policy

USAGE_V1 = """# Usage Policies (updated: January 10, 2024)

Last updated: January 10, 2024

**What you cannot do**

- Use our services to harass anyone.
- Scrape our websites.
"""

USAGE_V2 = """# Usage Policies, updated: June 17, 2025

Last updated: June 17, 2025

**What you cannot do**

- Use our services to harass anyone.
- Use Output to develop models that compete with us.
- Scrape our websites.
"""


@pytest.mark.parametrize(
    "title",
    [
        "Usage Policies (updated: June 17, 2025)",
        "Usage Policies, updated: June 17, 2025",
        "Usage Policies - Last Updated: 17 June 2025",
        "Usage Policies - Last updated 2024-01-10",
        "Usage Policies v2",
        "Usage Policies (2025)",
        "Usage Policies | Effective date: 2025-06-17",
        "Usage Policies (Version 2.0, effective 2025-06-17)",
        "USAGE POLICIES",
    ],
)
def test_series_key_strips_version_and_date_marks(title: str) -> None:
    assert series_key(title) == "usage policies"


def test_series_key_keeps_different_documents_apart() -> None:
    assert series_key("Usage Policies (2025)") != series_key("Terms of Use (2025)")
    assert series_key("Business Terms v2") == "business terms"


def test_title_dates_are_read() -> None:
    assert title_date("Usage Policies (updated: June 17, 2025)") == date(2025, 6, 17)
    assert title_date("Terms - effective 2024-03-01") == date(2024, 3, 1)
    assert title_date("Terms of Service") is None


def test_later_version_closes_earlier_the_day_before() -> None:
    """The boundary: the later version's first day is its own; the earlier one's
    effective_to is the day before (inclusive), so no day has two versions."""
    a = VersionInfo("a", date(2024, 3, 1))
    b = VersionInfo("b", date(2025, 6, 17))
    explicit = VersionInfo("c", date(2023, 1, 1), effective_to=date(2023, 6, 30))
    closed = closings([b, a, explicit])
    assert [(v.version, end, by.version) for v, end, by in closed] == [
        ("a", date(2025, 6, 16), "b")
    ]
    a.effective_to = date(2025, 6, 16)
    assert in_force([a, b], date(2025, 6, 16)) is a
    assert in_force([a, b], date(2025, 6, 17)) is b
    assert in_force([a, b], date(2024, 2, 29)) is None


def test_same_day_versions_close_nothing() -> None:
    a, b = VersionInfo("a", date(2024, 3, 1)), VersionInfo("b", date(2024, 3, 1))
    assert closings([a, b]) == []


def _id(policy: Policy | None) -> int | None:
    return policy.id if policy is not None else None


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_updated_titles_form_one_series_and_resolve(case_file, case_id, tmp_path) -> None:
    """Issue 17 (b): titles carrying "updated: <date>" used to be two documents, and
    "in force on" refused with "several documents … name one"."""
    v1 = import_policy(case_file, case_id, _write(tmp_path, "u1.md", USAGE_V1), provider="Nimbus")
    v2 = import_policy(case_file, case_id, _write(tmp_path, "u2.md", USAGE_V2), provider="Nimbus")
    with case_file.read_session() as s:
        p1, p2 = s.get(Policy, v1), s.get(Policy, v2)
        assert p1.title != p2.title  # the titles differ only by their dates
        assert (p1.effective_from, p2.effective_from) == (date(2024, 1, 10), date(2025, 6, 17))
        assert (p1.version, p2.version) == ("2024-01-10", "2025-06-17")  # cited by date
        assert p1.effective_to == date(2025, 6, 16) and p2.effective_to is None
        events = s.execute(
            select(AuditEvent).where(AuditEvent.action == "policy.version_closed")
        ).scalars()
        closed = [e for e in events if e.entity_id == str(v1)]
        assert len(closed) == 1 and closed[0].details["superseded_by_policy_id"] == v2
        assert closed[0].details["effective_to"] == "2025-06-16"
        assert audit.verify_chain(s).ok
    assert _id(policy_in_force(case_file, case_id, "Nimbus", date(2025, 6, 16))) == v1
    assert _id(policy_in_force(case_file, case_id, "Nimbus", date(2025, 6, 17))) == v2
    assert policy_in_force(case_file, case_id, "Nimbus", date(2024, 1, 9)) is None
    reason = why_not_in_force(case_file, case_id, "Nimbus", date(2024, 1, 9))
    assert "before the first version" in reason and "2024-01-10" in reason


def test_importing_an_earlier_version_later_is_closed_too(case_file, case_id, tmp_path) -> None:
    v2 = import_policy(case_file, case_id, _write(tmp_path, "u2.md", USAGE_V2), provider="Nimbus")
    v1 = import_policy(case_file, case_id, _write(tmp_path, "u1.md", USAGE_V1), provider="Nimbus")
    with case_file.read_session() as s:
        assert s.get(Policy, v1).effective_to == date(2025, 6, 16)
        assert s.get(Policy, v2).effective_to is None


def test_demo_terms_v2_closes_v1_and_conduct_date_resolves_to_v2(case_file, case_id) -> None:
    """Issue 17 (d): both demo versions read "effective … to open"; v2 must close v1 on
    2025-06-17 and the conduct date must resolve to v2 and its explicit ban, §4.2."""
    root = demo_dir()
    lineage = json.loads((root / "lineage.json").read_text(encoding="utf-8"))
    ids = _import_policies(case_file, case_id, root, lineage, lambda _m: None)
    provider = lineage["policies"]["provider"]
    with case_file.read_session() as s:
        p1, p2 = s.get(Policy, ids["v1"]), s.get(Policy, ids["v2"])
        assert p1.effective_to == date(2025, 6, 16)
        assert p2.effective_from == date(2025, 6, 17) and p2.effective_to is None
    hit = policy_in_force(case_file, case_id, provider, CONDUCT_DATE)
    assert hit is not None and hit.id == ids["v2"]
    assert _id(policy_in_force(case_file, case_id, provider, date(2025, 6, 16))) == ids["v1"]
    bans = {c.number for c in list_clauses(case_file, ids["v2"], "competing-model-ban")}
    assert "4.2" in bans
