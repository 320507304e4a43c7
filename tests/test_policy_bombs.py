"""Hostile terms files finish fast, in bounded memory, and are refused clearly or imported.

Each case of :mod:`tests.policy_bombs` is built at test time and imported in a fresh
interpreter; the test asserts the outcome, the message, CPU time and peak memory, and
that a refusal leaves the case file without a single new row. The in-process tests
below check the limits' edges and the clause numbers above 300.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.errors import DocumentLimitError, EvidenceError
from core.policy.extract import extract_text
from core.policy.html_text import html_to_text
from core.policy.limits import MAX_CLAUSE_DEPTH, MAX_LINE_CHARS
from core.policy.persist import import_policy
from core.policy.segment import segment
from tests.policy_bombs import CASES

ROOT = Path(__file__).resolve().parents[1]
CPU_CEILING_S = 5.0  # CPU seconds for the import itself (not load-sensitive like wall time)
RSS_CEILING_MIB = 300.0  # peak resident memory above the runner's baseline
CASE_FILE_CEILING = 20 * 2**20  # case file plus WAL after an import
TIMEOUT_S = 60  # a process still running by then has no bound at all

# case -> (expected outcome, a phrase the refusal message must contain)
EXPECTED: dict[str, tuple[str, str]] = {
    "repeated_one_markers": ("refused", f"nested more than {MAX_CLAUSE_DEPTH} levels"),
    "nested_ordered_lists": ("refused", f"nested more than {MAX_CLAUSE_DEPTH} levels"),
    "nested_paren_items": ("refused", f"nested more than {MAX_CLAUSE_DEPTH} levels"),
    "nested_divs": ("imported", ""),
    "unterminated_attributes": ("refused", "characters long without a line break"),
    "endless_line": ("refused", "characters long without a line break"),
    "huge_text": ("refused", "characters (about 1,000 pages)"),
    "too_many_clauses": ("refused", "more than 10,000 numbered clauses"),
    "zip_bomb": ("refused", "zip bomb"),
    "many_empty_paragraphs": ("refused", "XML elements"),
    "many_paragraphs": ("refused", "paragraphs and table cells"),
    "billion_laughs": ("refused", "document type definition (DTD)"),
    "wide_table_cell": ("refused", "paragraphs and table cells"),
    "tall_merged_table": ("imported", ""),
}


def _run(case: str, tmp_path: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "tests.policy_bombs", case, str(tmp_path)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{case}: still running after {TIMEOUT_S} s (unbounded import)")
    assert proc.returncode == 0, f"{case}: runner died ({proc.returncode}): {proc.stderr[-2000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_every_case_has_an_expectation() -> None:
    assert set(EXPECTED) == set(CASES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bomb_is_bounded_and_refused_clearly_or_imported(case: str, tmp_path: Path) -> None:
    outcome, phrase = EXPECTED[case]
    report = _run(case, tmp_path)
    assert report["outcome"] == outcome, f"{case}: {report}"
    assert report["cpu_s"] < CPU_CEILING_S, f"{case}: {report['cpu_s']} CPU s"
    assert report["rss_mib"] < RSS_CEILING_MIB, f"{case}: {report['rss_mib']} MiB"
    assert report["case_file_bytes"] < CASE_FILE_CEILING, f"{case}: {report}"
    if outcome == "refused":
        assert report["error"] == "DocumentLimitError", report
        message = report["message"]
        assert phrase in message, message
        assert message.split(":", 1)[0].endswith((".txt", ".html", ".docx")), message
        assert "import" in message.lower(), "the message says what to do next"
        assert report["after"] == report["before"], "a refusal must write nothing"
    else:
        assert report["after"]["Policy"] == report["before"]["Policy"] + 1
        assert report["after"]["Clause"] > report["before"]["Clause"]


# --- limits at their edges, in process ------------------------------------------------


def test_depth_at_the_limit_is_read_and_one_more_is_refused() -> None:
    def nested(levels: int) -> str:
        return "Terms\n\n" + "\n".join(f"1. Item at level {k}." for k in range(levels))

    deepest = segment(nested(MAX_CLAUSE_DEPTH))
    assert max(c.depth for c in deepest) == MAX_CLAUSE_DEPTH - 1
    assert max(len(c.number_path) for c in deepest) == MAX_CLAUSE_DEPTH
    with pytest.raises(DocumentLimitError, match="Renumber the lists"):
        segment(nested(MAX_CLAUSE_DEPTH + 1))


def test_line_at_the_limit_is_read_and_one_more_is_refused() -> None:
    words = ("word " * (MAX_LINE_CHARS // 5))[:MAX_LINE_CHARS]
    assert segment("1. Scope\n\n" + words)
    with pytest.raises(DocumentLimitError, match="Line 3 of the terms text"):
        segment("1. Scope\n\n" + words + "x")


def test_clauses_numbered_above_300_are_their_own_clauses(case_file, case_id, tmp_path) -> None:
    path = tmp_path / "long.txt"
    path.write_text(
        "Acme Terms\n\n"
        + "\n\n".join(f"{i}. Clause {i}. The customer shall pay fee {i}." for i in range(1, 1206))
        + "\n\n1205.1 A sub-clause of the last clause.\n",
        encoding="utf-8",
    )
    clauses = segment(extract_text(path).text)
    numbers = [c.number for c in clauses]
    assert numbers[-4:] == ["1203", "1204", "1205", "1205.1"]
    assert "301" in numbers and "300 [2]" not in numbers
    by_number = {c.number: c for c in clauses}
    assert by_number["301"].text == "301. Clause 301. The customer shall pay fee 301."
    assert by_number["300"].text.endswith("fee 300.")  # 301 is no longer merged into it
    assert by_number["1205.1"].parent == "1205"
    started = time.monotonic()
    policy_id = import_policy(case_file, case_id, path, provider="Acme", version="v1")
    assert time.monotonic() - started < 60
    with case_file.read_session() as s:
        from core.store.models import Policy

        stored = [c.number for c in s.get(Policy, policy_id).clauses]
    assert stored == numbers


def test_large_numbers_that_continue_nothing_stay_text() -> None:
    clauses = segment("Terms\n\n1. Intro\n\n2025.06.01 Release notes\n\n2. Next")
    assert [c.number for c in clauses] == ["preamble", "1", "2"]
    assert "2025.06.01 Release notes" in clauses[1].text


def test_html_scan_is_linear_in_unterminated_constructs() -> None:
    for unit in ("<a b='", "<!--", "<a", "</", "<?", '<p class="'):
        started = time.process_time()
        text, _ = html_to_text("<p>Intro</p>" + unit * 40_000)
        assert time.process_time() - started < 2.0, unit
        assert text.startswith("Intro")


def test_html_nesting_over_the_limit_is_refused_with_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "deep.html"
    path.write_text("<p>Version 1.</p>" + "<span>" * 25_000 + "x")
    with pytest.raises(DocumentLimitError, match=r"^deep\.html: This web page nests more"):
        extract_text(path)


def test_docx_whose_header_understates_its_size_is_a_damaged_file(tmp_path: Path) -> None:
    """A bomb that lies about its size is cut off at the declared size by zipfile."""
    import zipfile

    from tests.policy_bombs import _document, _docx

    path = _docx(tmp_path / "liar.docx", _document("<w:p><w:r><w:t>ok</w:t></w:r></w:p>"))
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("word/document.xml")
    # Patch the declared uncompressed size (central directory and local header) to 10 bytes.
    cd = raw.rfind(b"word/document.xml") - 46  # the name follows a 46-byte header
    assert raw[cd : cd + 4] == b"PK\x01\x02"
    raw[cd + 24 : cd + 28] = (10).to_bytes(4, "little")
    local = info.header_offset
    raw[local + 22 : local + 26] = (10).to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    with pytest.raises(EvidenceError, match="liar.docx"):
        extract_text(path)


def test_docx_tables_read_linearly_match_python_docx_cells(tmp_path: Path) -> None:
    """Merged cells repeat as python-docx's ``row.cells`` shows them, without its cost."""
    import docx

    document = docx.Document()
    document.add_paragraph("Fee schedule, version 5.")
    table = document.add_table(rows=4, cols=3)
    for r in range(4):
        for c in range(3):
            table.cell(r, c).text = f"r{r}c{c}"
    table.cell(0, 0).merge(table.cell(0, 1))
    table.cell(1, 2).merge(table.cell(3, 2))
    table.cell(2, 0).merge(table.cell(3, 1))
    expected = [
        " | ".join(t for t in (" ".join(c.text.split()) for c in row.cells) if t)
        for row in table.rows
    ]
    path = tmp_path / "fees.docx"
    document.save(str(path))
    lines = extract_text(path).text.split("\n")
    assert expected[0] == "r0c0 r0c1 | r0c0 r0c1 | r0c2"
    for row in expected:
        assert row in lines


def test_pdf_with_more_pages_than_the_limit_is_refused(tmp_path: Path) -> None:
    from reportlab.pdfgen import canvas

    from core.policy.limits import MAX_PDF_PAGES

    path = tmp_path / "pages.pdf"
    c = canvas.Canvas(str(path))
    for _ in range(MAX_PDF_PAGES + 1):
        c.drawString(72, 800, "Blank page of the terms.")
        c.showPage()
    c.save()
    started = time.process_time()
    with pytest.raises(DocumentLimitError, match=r"^pages\.pdf: has 5,001 pages"):
        extract_text(path)
    assert time.process_time() - started < 10


def test_deepest_allowed_nesting_stores_a_case_file_linear_in_the_text(
    case_file, case_id, tmp_path: Path
) -> None:
    """Clause text includes sub-clauses, so storage grows with depth: bounded depth
    keeps the worst case a constant factor of the text, not its square."""
    lines = []
    for b in range(1, 201):
        lines.append(f"Section {b}. Clause {b} of the terms.")
        lines += [f"1. Nested item {k} of clause {b}." for k in range(MAX_CLAUSE_DEPTH - 2)]
    path = tmp_path / "deep.txt"
    path.write_text("Acme Terms\n\n" + "\n".join(lines), encoding="utf-8")
    before = sum(p.stat().st_size for p in tmp_path.glob("case.dacase*"))
    import_policy(case_file, case_id, path, provider="Acme", version="v1")
    grown = sum(p.stat().st_size for p in tmp_path.glob("case.dacase*")) - before
    with case_file.read_session() as s:
        from core.store.models import Clause

        rows = s.query(Clause).count()
    assert rows == 200 * (MAX_CLAUSE_DEPTH - 1) + 1
    assert grown < 30 * path.stat().st_size, f"{grown / path.stat().st_size:.1f}x the text"
