"""Policy versions: which one was in force on a date, and clause-level diffs."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from core.errors import EvidenceError
from core.policy.extract import extract_text
from core.policy.segment import segment
from core.policy.tagging import tag_clause
from core.policy.versions import VersionInfo, diff_clauses, in_force, word_diff

DATA = Path(__file__).parent / "data" / "policy"

V1 = VersionInfo("2024-01", date(2024, 1, 1))
V2 = VersionInfo("2025-07", date(2025, 7, 1))
V3 = VersionInfo("2026-01", date(2026, 1, 15), effective_to=date(2026, 6, 1))


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (date(2023, 12, 31), None),  # before the first version
        (date(2024, 1, 1), V1),  # first day of V1
        (date(2025, 6, 30), V1),  # last day before the boundary
        (date(2025, 7, 1), V2),  # the boundary belongs to the new version
        (datetime(2025, 7, 1, 0, 0, 1), V2),
        (date(2026, 5, 31), V3),
        (date(2026, 6, 1), V3),  # effective_to is the last day in force (inclusive)
        (date(2026, 6, 2), None),  # V3 expired and nothing replaced it
    ],
)
def test_in_force_either_side_of_boundaries(when: date, expected: VersionInfo | None) -> None:
    assert in_force([V3, V1, V2], when) is expected


def test_explicit_end_before_next_version_leaves_a_gap() -> None:
    a = VersionInfo("a", date(2024, 1, 1), effective_to=date(2024, 3, 1))
    b = VersionInfo("b", date(2024, 6, 1))
    assert in_force([a, b], date(2024, 4, 1)) is None
    assert in_force([a, b], date(2024, 2, 1)) is a


def test_undated_versions_are_ignored_and_same_day_versions_refused() -> None:
    undated = VersionInfo("draft", None)
    assert in_force([undated, V1], date(2024, 5, 1)) is V1
    twin = VersionInfo("2024-01b", date(2024, 1, 1))
    with pytest.raises(EvidenceError, match="both take effect"):
        in_force([V1, twin], date(2024, 5, 1))


def test_diff_detects_added_tightened_and_renumbered_clauses() -> None:
    old_doc = extract_text(DATA / "terms_v1.txt")
    new_doc = extract_text(DATA / "terms_v2.txt")
    assert old_doc.detected_effective_from == date(2024, 1, 1)
    assert new_doc.detected_effective_from == date(2025, 7, 1)
    changes = diff_clauses(segment(old_doc.text), segment(new_doc.text))
    by_new = {c.new_number: c for c in changes if c.new_number}
    # added: the definitions section and a new scraping ban
    assert by_new["1"].kind == "added" and by_new["1.1"].kind == "added"
    assert by_new["2.3"].kind == "added" and "scrape" in by_new["2.3"].word_diff
    # tightened: 1.2 became 2.2 with more prohibited acts
    tightened = by_new["2.2"]
    assert (tightened.kind, tightened.old_number, tightened.renumbered) == ("changed", "1.2", True)
    assert "{+develop, train or distil+}" in tightened.word_diff
    assert "[-develop-]" in tightened.word_diff
    assert "distil" in tightened.added_words
    # merely renumbered clauses are unchanged
    assert (by_new["4.1"].kind, by_new["4.1"].old_number) == ("unchanged", "3.1")
    assert by_new["3.1"].kind == "unchanged" and by_new["3.1"].renumbered
    assert not [c for c in changes if c.kind == "removed"]
    # the tightened clause is still a ban in both versions
    old_text = {c.number: c for c in segment(old_doc.text)}["1.2"].own_text
    assert "competing-model-ban" in {t.category for t in tag_clause(old_text)}


def test_diff_reports_removed_clause_in_place() -> None:
    old = segment(
        "1. Scope\n\nThis covers the API.\n\n2. Research\n\nResearch use is free.\n\n"
        "3. Law\n\nIrish law applies.\n"
    )
    new = segment("1. Scope\n\nThis covers the API.\n\n2. Law\n\nIrish law applies.\n")
    changes = diff_clauses(old, new)
    assert [(c.kind, c.old_number, c.new_number) for c in changes] == [
        ("unchanged", "1", "1"),
        ("removed", "2", None),
        ("unchanged", "3", "2"),
    ]
    assert changes[1].word_diff == "[-Research Research use is free.-]"


def test_same_number_with_unrelated_text_is_not_a_change() -> None:
    old = segment("1. Fees\n\nFees are payable monthly in advance by card.\n")
    new = segment("1. Privacy\n\nWe keep your conversation logs for thirty days only.\n")
    kinds = sorted(c.kind for c in diff_clauses(old, new))
    assert kinds == ["added", "removed"]


def test_word_diff_markup() -> None:
    text, added, removed = word_diff("you may use Output".split(), "you may not use Output".split())
    assert text == "you may {+not+} use Output"
    assert (added, removed) == (["not"], [])
