"""Clause segmentation: numbering styles, nesting, spans and the traps real terms set."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.policy.extract import extract_text
from core.policy.numbering import letter_value, parse_marker, roman_value
from core.policy.segment import PREAMBLE, Clause, segment

DATA = Path(__file__).parent / "data" / "policy"


def _load(name: str) -> tuple[str, dict[str, Clause]]:
    text = extract_text(DATA / name).text
    clauses = segment(text)
    return text, {c.number: c for c in clauses}


def _check_tree_invariants(text: str, clauses: dict[str, Clause]) -> None:
    """Spans slice the text exactly, children nest inside parents, paths are consistent."""
    for c in clauses.values():
        assert text[c.start : c.end] == c.text
        assert text[c.start : c.body_end] == c.own_text
        assert c.start <= c.body_end <= c.end
        assert c.depth == len(c.number_path) - 1
        assert c.number_path[-1] == c.number
        if c.parent is not None:
            parent = clauses[c.parent]
            assert c.number in parent.children
            assert parent.start < c.start and c.end <= parent.end
            assert c.number_path[:-1] == parent.number_path


def test_decimal_style_numbers_paths_and_nesting() -> None:
    text, c = _load("decimal_terms.txt")
    _check_tree_invariants(text, c)
    assert list(c)[:4] == [PREAMBLE, "1", "1.1", "1.2"]
    assert c[PREAMBLE].text.startswith("NORTHWIND AI PLATFORM TERMS")
    assert c["2.3"].heading == "Restrictions"
    assert c["2.3"].children == ["2.3(a)", "2.3(b)", "2.3(c)", "2.3.1"]
    assert c["2.3(b)(ii)"].number_path == ["2", "2.3", "2.3(b)", "2.3(b)(ii)"]
    assert c["2.3(b)(ii)"].depth == 3 and c["2.3(b)(ii)"].parent == "2.3(b)"
    assert c["2.3(b)"].own_text.endswith("despite this restriction, including:")
    assert c["2.3(b)"].text.endswith("(ii) reconstructing system prompts;")
    assert c["2.3(a)"].text == "(a) use Output to develop models that compete with Northwind;"
    assert c["2.3.1"].heading == "Research exception"


def test_cross_references_do_not_start_clauses() -> None:
    text, c = _load("decimal_terms.txt")
    # "… the restrictions in\nSection\n2.3 below." and "clause\n3.1 of the Data Addendum"
    assert "2.3 below." in c["2.1"].text
    assert "3.1 of the Data Addendum" in c["3"].text
    assert "3.1" not in c
    # bullets stay inside their clause
    assert c["3"].text.endswith("- Consumers keep their local rights.")
    assert list(c).count("2.3") == 1


def test_article_and_section_style() -> None:
    text, c = _load("article_terms.txt")
    _check_tree_invariants(text, c)
    assert [n for n in c if n.startswith("Article")] == [
        "Article I",
        "Article II",
        "Article III",
        "Article 4",
    ]
    assert c["Article I"].heading == "DEFINITIONS"  # heading on the line after the number
    assert c["Article II"].heading == "USE RESTRICTIONS"
    assert c["2.1"].parent == "Article II"
    assert c["2.2(b)"].number_path == ["Article II", "2.2", "2.2(b)"]
    assert "Article\nIV below." in c["3.1"].text  # a cross-reference, not Article IV
    assert c["4.1"].parent == "Article 4"


def test_section_sign_style() -> None:
    text, c = _load("section_sign_terms.txt")
    _check_tree_invariants(text, c)
    assert list(c) == ["1", "2", "2.1", "2.2", "3", "3.1", "3.2"]
    assert c["1"].heading == "Scope" and c["2"].heading == "Usage Limits"
    assert c["3"].heading == "Output"
    assert (
        c["3.2"].text
        == "§ 3.2 Section 3.1 does not apply to Output that reproduces third-party content."
    )


def test_markdown_headings_and_nested_lists() -> None:
    text, c = _load("markdown_terms.md")
    _check_tree_invariants(text, c)
    assert c[PREAMBLE].text.startswith("# Lumen Terms of Use")
    assert c["1"].heading == "Using Lumen" and c["1.1"].heading == "Eligibility"
    assert c["2"].children == ["2(1)", "2(2)", "2(3)"]
    assert c["2(3)"].children == ["2(3)(a)", "2(3)(b)"]
    assert c["2(3)(a)"].text == "a) selling your login; or"
    assert c["Content"].parent is None and c["Content"].heading == "Content"
    assert c["3"].parent is None, "'## 3.' closes the unnumbered '## Content' section"


def test_caps_headings_definitions_and_roman_letter_ambiguity() -> None:
    text, c = _load("caps_definitions_terms.txt")
    _check_tree_invariants(text, c)
    assert c[PREAMBLE].text == "TERMS FOR THE ORBIT ASSISTANT"
    assert c["DEFINITIONS"].children == [
        'DEFINITIONS "Assistant"',
        'DEFINITIONS "Output"',
        'DEFINITIONS "You"',
    ]
    assert c['DEFINITIONS "Output"'].heading == "Output"
    assert c['DEFINITIONS "Output"'].text.startswith('"Output" means any text')
    conduct = c["PROHIBITED CONDUCT"]
    # (i) after (h) is the letter i, so it is a sibling, not a Roman sub-item of (h)
    assert conduct.children[-3:] == [
        "PROHIBITED CONDUCT (h)",
        "PROHIBITED CONDUCT (i)",
        "PROHIBITED CONDUCT (j)",
    ]
    assert c["PROHIBITED CONDUCT (i)"].style == "paren-lower"
    # a list that starts at (i) is Roman: (i), (ii)
    use = c["USE OF OUTPUT"]
    assert use.children == ["USE OF OUTPUT (i)", "USE OF OUTPUT (ii)"]
    assert c["USE OF OUTPUT (ii)"].style == "paren-roman-lower"


def test_roman_sub_items_under_letters() -> None:
    text = (
        "5. Restrictions\n\nYou may not:\n(a) copy the model, including:\n(i) its weights;\n"
        "(ii) its prompts;\n(iii) its outputs; and\n(b) resell access.\n"
    )
    c = {x.number: x for x in segment(text)}
    assert list(c) == ["5", "5(a)", "5(a)(i)", "5(a)(ii)", "5(a)(iii)", "5(b)"]
    assert c["5(b)"].parent == "5"


def test_text_without_markers_is_one_preamble() -> None:
    clauses = segment("Just one paragraph of terms.\nAnd a second line.")
    assert len(clauses) == 1 and clauses[0].number == PREAMBLE
    assert clauses[0].span == (0, len("Just one paragraph of terms.\nAnd a second line."))


def test_numbers_in_running_text_are_not_clauses() -> None:
    text = (
        "1. Limits\n\nYou may send requests at up to\n2.5 million tokens per day, renewed on\n"
        "12 May each year, per Section\n4 of the Order Form.\n\n2. Fees\n\nFees are due monthly.\n"
    )
    assert [c.number for c in segment(text)] == ["1", "2"]


def test_duplicate_numbers_are_disambiguated() -> None:
    text = "## Fees\n\nText.\n\n## Fees\n\nMore text.\n"
    assert [c.number for c in segment(text)] == ["Fees", "Fees [2]"]


@pytest.mark.parametrize(
    ("line", "kinds", "heading"),
    [
        ("3.3 Restrictions. You may not:", ["dec"], "Restrictions"),
        ("(iv) reconstructing prompts", ["paren-roman-lower"], None),
        ("(i) anything", ["paren-lower", "paren-roman-lower"], None),
        ("a) selling", ["half-lower"], None),
        ("§3.3 Output", ["dec"], "Output"),
        ("ARTICLE IV - TERMINATION", ["article"], "TERMINATION"),
        ("## 3. Heading", ["dec"], "Heading"),
        ('"Output" means content', ["definition"], "Output"),
        ("GOVERNING LAW", ["caps"], "GOVERNING LAW"),
    ],
)
def test_marker_parsing(line: str, kinds: list[str], heading: str | None) -> None:
    marker = parse_marker(line)
    assert marker is not None
    assert [r.kind for r in marker.readings] == kinds
    assert marker.heading == heading


@pytest.mark.parametrize(
    "line", ["Section 4.2 applies to resellers.", "2.5 million requests", "2025", "e.g. this"]
)
def test_not_markers(line: str) -> None:
    assert parse_marker(line) is None


def test_roman_and_letter_values() -> None:
    assert roman_value("xiv") == 14 and roman_value("IV") == 4 and roman_value("ab") == 0
    assert letter_value("c") == 3 and letter_value("aa") == 27 and letter_value("ab") == 0


def test_single_quoted_definitions_uk_style() -> None:
    text = "1. Definitions\n\n'Output' means generated content.\n\n'Services' means the API.\n"
    c = {x.number: x for x in segment(text)}
    assert c["1"].children == ['1 "Output"', '1 "Services"']
