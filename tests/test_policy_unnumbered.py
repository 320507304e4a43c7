"""Terms written without clause numbers (issue 17 a, c): bold headings, bold lead-ins and
bullet lists segment into citable clauses in Markdown, HTML and Word, and the
restrictions inside such lists are tagged; tagging no longer over-reads rate limits
and governing law, and finds a duty to disclose AI output."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.policy.evaluation import build_docx
from core.policy.extract import extract_text
from core.policy.segment import PREAMBLE, Clause, segment
from core.policy.tagging import tag_clause, tag_clauses

TERMS_MD = """# Kestrel Usage Policy

Last updated: May 2, 2025

Thanks for using Kestrel. Everyone who uses our models must follow these rules.

**General rules**

Follow the law and respect other people.

**Use restrictions**

- Do not harass or threaten anyone.
- Do not use outputs to develop models that compete with Kestrel.
- Do not scrape the Kestrel website.

**Accounts.** Keep your API keys secret and do not share them.
"""

TERMS_HTML = """<html><head><title>Kestrel Usage Policy</title></head><body>
<h1>Kestrel Usage Policy</h1>
<p><strong>Version 2.0</strong></p>
<p>Thanks for using Kestrel.</p>
<p><strong>What you cannot do</strong></p>
<ul><li>Harass anyone.</li>
<li>Use output to develop models that compete with Kestrel.</li></ul>
<p><strong>Accounts.</strong> Keep your API keys secret.</p>
</body></html>"""

DOCX_SPEC = """title: Kestrel Business Terms
blocks:
  - {style: Title, text: Kestrel Business Terms}
  - {text: "Effective date: 2025-05-02"}
  - {style: Heading 1, text: Services}
  - {bold: "Restrictions.", text: "The customer shall not:"}
  - {style: List Bullet, text: "use any Output to develop a model that competes with Kestrel;"}
  - {style: List Bullet, text: "resell access to the Services."}
"""


def _by_number(clauses: list[Clause]) -> dict[str, Clause]:
    return {c.number: c for c in clauses}


def _tags(clauses: list[Clause]) -> dict[str, set[str]]:
    tags = tag_clauses(clauses, provider_names=["Kestrel"])
    return {c.number: {t.category for t in tags[c.index]} for c in clauses}


def test_bold_headings_and_bullets_are_clauses_not_one_preamble(tmp_path: Path) -> None:
    path = tmp_path / "kestrel.md"
    path.write_text(TERMS_MD, encoding="utf-8")
    text = extract_text(path).text
    clauses = segment(text)
    c = _by_number(clauses)
    assert "What you cannot do" not in c[PREAMBLE].text
    assert "Do not use outputs" not in c[PREAMBLE].text
    assert list(c) == [
        PREAMBLE,
        "General rules",
        "Use restrictions",
        "Use restrictions › bullet 1",
        "Use restrictions › bullet 2",
        "Use restrictions › bullet 3",
        "Accounts",
    ]
    ban = c["Use restrictions › bullet 2"]
    assert ban.number_path == ["Use restrictions", "Use restrictions › bullet 2"]
    assert ban.own_text == "- Do not use outputs to develop models that compete with Kestrel."
    assert text[ban.start : ban.end] == ban.text
    tags = _tags(clauses)
    assert "competing-model-ban" in tags["Use restrictions › bullet 2"]
    assert "automated-access" in tags["Use restrictions › bullet 3"]
    assert "accounts-keys" in tags["Accounts"]  # a bold lead-in opens its own clause
    assert not tags["Use restrictions"]  # a bare heading states no rule
    assert "competing-model-ban" not in tags["Use restrictions › bullet 1"]


def test_html_strong_headings_and_list_items(tmp_path: Path) -> None:
    path = tmp_path / "kestrel.html"
    path.write_text(TERMS_HTML, encoding="utf-8")
    doc = extract_text(path)
    clauses = segment(doc.text)
    c = _by_number(clauses)
    assert "Version 2.0" in c[PREAMBLE].text  # a bold version label opens nothing
    assert doc.detected_version == "2.0"
    assert "What you cannot do › bullet 2" in c and "Accounts" in c
    assert "competing-model-ban" in _tags(clauses)["What you cannot do › bullet 2"]


def test_docx_bold_runs_heading_styles_and_list_bullets(tmp_path: Path) -> None:
    spec = tmp_path / "kestrel.yaml"
    spec.write_text(DOCX_SPEC, encoding="utf-8")
    doc = extract_text(build_docx(spec, tmp_path / "kestrel.docx"))
    clauses = segment(doc.text)
    c = _by_number(clauses)
    assert doc.title_guess == "Kestrel Business Terms"
    assert c["Restrictions"].parent == "Services"
    assert c["Restrictions › bullet 1"].number_path == [
        "Services",
        "Restrictions",
        "Restrictions › bullet 1",
    ]
    tags = _tags(clauses)
    assert "competing-model-ban" in tags["Restrictions › bullet 1"]
    assert "accounts-keys" in tags["Restrictions › bullet 2"]


def test_numbered_list_items_keep_their_lead_in() -> None:
    """'1. use Output …' under 'You must not:' is a ban, as '(a) use Output …' is."""
    text = (
        "## Restrictions\n\nYou must not:\n\n"
        "1. use output to train a model that competes with Kestrel;\n"
        "2. scrape our site.\n\n"
        "## Prohibited uses\n\n"
        "1. Using output to build models that compete with Kestrel.\n"
    )
    clauses = segment(text)
    tags = _tags(clauses)
    assert "Restrictions › 1" in tags and "Prohibited uses › 1" in tags
    assert "competing-model-ban" in tags["Restrictions › 1"]
    assert "competing-model-ban" in tags["Prohibited uses › 1"]


def test_bold_inside_sentences_is_plain_text(tmp_path: Path) -> None:
    path = tmp_path / "t.md"
    path.write_text("# T\n\nYou must **not** scrape the site.\n\n**Note:** this is a note.\n")
    text = extract_text(path).text
    assert "You must not scrape the site." in text
    assert "######" not in text  # "Note:" and mid-sentence bold open no clause


NOT_TAGGED = [
    ("Comply with applicable laws in your jurisdiction, including export controls.", "",
     "governing-law"),
    ("You must comply with the laws of your jurisdiction.", "", "governing-law"),
    ("Bypass safeguards, content filters or other restrictions we put on the services.",
     "You must not:", "rate-limits"),
    ("To the maximum extent permitted by law, these limits apply even if a remedy fails "
     "of its essential purpose.", "", "termination-remedies"),
    ("You retain ownership of your inputs.", "", "data-use-retention"),
]  # fmt: skip
TAGGED = [
    ("If you publish content produced with our models, you must clearly disclose to your "
     "audience that it was generated by AI.", "", "human-authorship"),
    ("You must inform end users that they are interacting with an AI system.", "",
     "human-authorship"),
    ("Label AI-generated images as such when you share them.", "", "human-authorship"),
    ("The courts of Dublin have jurisdiction.", "", "governing-law"),
    ("These terms are governed by the laws of Ireland.", "", "governing-law"),
    ("circumvent the rate limits that apply to your plan.", "You may not:", "rate-limits"),
    ("Do not create extra accounts to get around usage limits.", "", "accounts-keys"),
]  # fmt: skip


@pytest.mark.parametrize(("clause", "context", "absent"), NOT_TAGGED)
def test_no_over_tagging(clause: str, context: str, absent: str) -> None:
    assert absent not in {t.category for t in tag_clause(clause, context=context)}


@pytest.mark.parametrize(("clause", "context", "present"), TAGGED)
def test_still_tagged(clause: str, context: str, present: str) -> None:
    assert present in {t.category for t in tag_clause(clause, context=context)}
