"""Importing policy files: every format, the refusals a user can hit, and large inputs."""

from __future__ import annotations

import hashlib
import time
import tracemalloc
from datetime import date
from pathlib import Path

import pytest

from core.errors import Cancelled, EvidenceError
from core.jobs import CallbackState, JobState
from core.policy.dates import detect_dates, parse_date
from core.policy.extract import extract_text
from core.policy.normalise import normalise_text, remove_page_furniture

DATA = Path(__file__).parent / "data" / "policy"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- plain text and Markdown --------------------------------------------------------


def test_txt_is_read_hashed_and_dated() -> None:
    path = DATA / "decimal_terms.txt"
    doc = extract_text(path)
    assert doc.source_format == "txt"
    assert doc.sha256 == _sha(path)
    assert doc.title_guess == "NORTHWIND AI PLATFORM TERMS"
    assert doc.detected_effective_from == date(2025, 3, 3)
    assert "2.3 Restrictions. You may not:" in doc.text


def test_markdown_inline_markup_is_stripped_but_headings_kept() -> None:
    doc = extract_text(DATA / "markdown_terms.md")
    assert doc.source_format == "md"
    assert "Welcome to Lumen. These terms apply to our services." in doc.text
    assert "## 1. Using Lumen" in doc.text
    assert doc.title_guess == "Lumen Terms of Use"
    assert doc.detected_effective_from == date(2024, 11, 5)
    assert any("last updated" in w for w in doc.warnings)


def test_normalisation_of_quotes_spaces_ligatures_hyphens(tmp_path: Path) -> None:
    path = tmp_path / "odd.txt"
    path.write_text(
        "\ufeffThe \u201cOutput\u201d\u00a0is yours.\r\n"
        "Use it to de\u00adfine ef\ufb01cient distil-\n"
        "lation, it\u2019s   \n\n\n\nfine.",
        encoding="utf-8",
    )
    doc = extract_text(path)
    assert doc.text == (
        'The "Output" is yours.\nUse it to define efficient distillation, it\'s\n\nfine.'
    )


def test_cp1252_text_is_read_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "legacy.txt"
    path.write_bytes(
        "Les conditions g\u00e9n\u00e9rales \u2013 \u201cOutput\u201d".encode("cp1252")
    )
    doc = extract_text(path)
    assert doc.text == 'Les conditions g\u00e9n\u00e9rales \u2013 "Output"'
    assert doc.encoding == "cp1252"
    assert any("Windows-1252" in w for w in doc.warnings)


def test_binary_renamed_txt_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "weights.txt"
    path.write_bytes(bytes(range(256)) * 400)
    with pytest.raises(EvidenceError, match="does not look like a text file"):
        extract_text(path)


def test_known_binary_signature_is_named(tmp_path: Path) -> None:
    path = tmp_path / "terms.txt"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(EvidenceError, match="ZIP container"):
        extract_text(path)


@pytest.mark.parametrize("content", [b"", b"   \n\n\t  \n"])
def test_empty_document_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    with pytest.raises(EvidenceError, match="empty|blank|no text"):
        extract_text(path)


def test_unsupported_and_missing_files(tmp_path: Path) -> None:
    odd = tmp_path / "terms.rtf"
    odd.write_text("{\\rtf1 hello}")
    with pytest.raises(EvidenceError, match="unsupported format"):
        extract_text(odd)
    with pytest.raises(EvidenceError, match="does not exist"):
        extract_text(tmp_path / "missing.txt")


# --- HTML ------------------------------------------------------------------------------


def test_html_scripts_removed_headings_and_lists_become_lines(tmp_path: Path) -> None:
    path = tmp_path / "terms.html"
    path.write_text(
        """<html><head><title>Acme Terms</title>
        <script>document.title = "pwned"; fetch("https://example.invalid")</script>
        <style>.x { color: red }</style></head>
        <body><noscript>Please enable JavaScript</noscript>
        <nav>Home | Pricing</nav>
        <h1>Acme   Terms of Use</h1><p>Effective as of 17 June 2025</p>
        <h2>2. Restrictions</h2><p>You may not:</p>
        <ol type="a"><li><p>use Output to develop competing models;</p></li>"""
        """<li>scrape the site.</li></ol>
        <ul><li>Bullets stay in their clause.</li></ul>
        <script>alert("second")</script></body></html>""",
        encoding="utf-8",
    )
    doc = extract_text(path)
    assert doc.source_format == "html"
    for leaked in ("pwned", "fetch", "color", "JavaScript", "alert", "Pricing"):
        assert leaked not in doc.text
    assert doc.title_guess == "Acme Terms of Use"
    assert doc.detected_effective_from == date(2025, 6, 17)
    lines = doc.text.split("\n")
    assert "## 2. Restrictions" in lines
    assert "(a) use Output to develop competing models;" in lines
    assert "(b) scrape the site." in lines
    assert "- Bullets stay in their clause." in lines


# --- PDF -------------------------------------------------------------------------------


def _make_pdf(
    path: Path, pages: list[list[str]], header: str = "Acme Terms - Confidential"
) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    c.setTitle("Acme Terms of Service")
    for number, lines in enumerate(pages, start=1):
        c.drawString(72, 800, header)
        y = 760
        for line in lines:
            c.drawString(72, y, line)
            y -= 16
        c.drawString(280, 40, f"Page {number} of {len(pages)}")
        c.showPage()
    c.save()


PDF_PAGES = [
    [
        "Effective date: 1 February 2025",
        "1. Use of Output",
        "1.1 You may not use Output to develop compe-",
        "ting models.",
    ],
    ["2. Accounts", "2.1 Keep your API keys secret."],
    ["3. Governing Law", "3.1 These terms are governed by the laws of Ireland."],
]


def test_pdf_text_layer_read_back_without_page_furniture(tmp_path: Path) -> None:
    path = tmp_path / "terms.pdf"
    _make_pdf(path, PDF_PAGES)
    progress: list[float] = []
    doc = extract_text(path, CallbackState(on_progress=progress.append))
    assert doc.source_format == "pdf" and doc.pages == 3
    assert doc.sha256 == _sha(path)
    assert doc.title_guess == "Acme Terms of Service"
    assert doc.detected_effective_from == date(2025, 2, 1)
    assert "1.1 You may not use Output to develop competing models." in doc.text
    assert "Confidential" not in doc.text and "Page 2 of 3" not in doc.text
    assert any("headers/footers" in w for w in doc.warnings)
    assert progress and progress[-1] == 100.0


def test_encrypted_pdf_gives_a_clear_error(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    plain = tmp_path / "plain.pdf"
    _make_pdf(plain, PDF_PAGES)
    locked = tmp_path / "locked.pdf"
    writer = PdfWriter(clone_from=str(plain))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-256")
    writer.write(str(locked))
    with pytest.raises(EvidenceError, match="password-protected"):
        extract_text(locked)


def test_owner_password_only_pdf_is_read_with_a_warning(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    plain = tmp_path / "plain.pdf"
    _make_pdf(plain, PDF_PAGES)
    restricted = tmp_path / "restricted.pdf"
    writer = PdfWriter(clone_from=str(plain))
    writer.encrypt(user_password="", owner_password="owner", algorithm="AES-128")
    writer.write(str(restricted))
    doc = extract_text(restricted)
    assert "governed by the laws of Ireland" in doc.text
    assert any("owner password" in w for w in doc.warnings)


def test_scanned_pdf_without_text_layer_asks_for_ocr(tmp_path: Path) -> None:
    from reportlab.pdfgen import canvas

    path = tmp_path / "scan.pdf"
    c = canvas.Canvas(str(path))
    c.rect(50, 50, 400, 600, fill=1)  # stands in for a scanned page image: no text
    c.showPage()
    c.save()
    with pytest.raises(EvidenceError, match="no text layer .*OCR"):
        extract_text(path)


def test_corrupt_pdf_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4\nthis is not really a pdf")
    with pytest.raises(EvidenceError, match="not a readable PDF"):
        extract_text(path)


def test_page_furniture_removal_keeps_body_text() -> None:
    pages = [f"ACME TERMS\nClause {i} body text.\nPage {i} of 4" for i in range(1, 5)]
    cleaned, removed = remove_page_furniture(pages)
    assert cleaned[0] == "Clause 1 body text."
    assert "ACME TERMS" in removed


# --- DOCX ------------------------------------------------------------------------------


def test_docx_keeps_word_numbering_and_headings(tmp_path: Path) -> None:
    import docx

    d = docx.Document()
    d.core_properties.title = "Orbit Terms"
    d.add_heading("Orbit Terms", 0)
    d.add_paragraph("Last updated: 2024-09-30")
    d.add_heading("Restrictions", 1)
    d.add_paragraph("You may not:")
    d.add_paragraph("use Output to train a competing model;", style="List Number")
    d.add_paragraph("scrape the Services.", style="List Number")
    table = d.add_table(rows=1, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Plan", "Limit"
    path = tmp_path / "terms.docx"
    d.save(str(path))
    doc = extract_text(path)
    assert doc.source_format == "docx" and doc.title_guess == "Orbit Terms"
    lines = doc.text.split("\n")
    assert "# Restrictions" in lines
    assert "1. use Output to train a competing model;" in lines
    assert "2. scrape the Services." in lines
    assert "Plan | Limit" in lines
    assert doc.detected_effective_from == date(2024, 9, 30)


def test_legacy_doc_renamed_docx_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "terms.docx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)
    with pytest.raises(EvidenceError, match="old-format Word file"):
        extract_text(path)


# --- dates -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Effective date: June 17, 2025", date(2025, 6, 17)),
        ("Last updated: 2025-06-17", date(2025, 6, 17)),
        ("Effective as of 17 June 2025", date(2025, 6, 17)),
        ("EFFECTIVE DATE - 17th June, 2025", date(2025, 6, 17)),
        ("These Terms take effect on Sept. 3, 2024.", date(2024, 9, 3)),
        ("Effective: 01.07.2025", date(2025, 7, 1)),
        ("Last revised on 06/17/2025", date(2025, 6, 17)),
    ],
)
def test_date_detection(text: str, expected: date) -> None:
    assert detect_dates(f"Acme Terms\n{text}\n\n1. Scope").effective_from == expected


def test_effective_to_version_and_explicit_date_preferred() -> None:
    found = detect_dates(
        "Version 3.2\nLast updated: 1 May 2025\nEffective date: 1 June 2025\n"
        "These terms are effective until 31 December 2026."
    )
    assert found.version == "3.2"
    assert found.effective_from == date(2025, 6, 1)
    assert found.effective_to == date(2026, 12, 31)
    assert found.warnings == []


def test_invalid_and_ambiguous_dates() -> None:
    assert parse_date("2025-02-30")[0] is None
    value, warning = parse_date("03/04/2025")
    assert value == date(2025, 3, 4) and warning and "month/day" in warning
    assert parse_date("13/04/2025") == (date(2025, 4, 13), None)


def test_normalise_text_is_idempotent() -> None:
    once = normalise_text("A \u201cquote\u201d\u00a0and   \n\n\n\nmore-\nover")
    assert normalise_text(once) == once


# --- large inputs ----------------------------------------------------------------------


def _write_large(path: Path, megabytes: int) -> None:
    paragraph = (
        "{n}. You may not use Output to develop models that compete with us. "
        "The \u201cServices\u201d are provided\u00a0as is; "
        "see Section 4.2 for rate limits and distil-\nlation rules.\n\n"
    )
    target = megabytes * 2**20
    with path.open("w", encoding="utf-8") as fh:
        fh.write("Effective date: June 17, 2025\n\n")
        written, n = 0, 1
        while written < target:
            block = "".join(paragraph.format(n=n + k) for k in range(1000))
            fh.write(block)
            written += len(block.encode("utf-8"))
            n += 1000


def test_fifty_megabyte_text_bounded_memory_and_progress(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    _write_large(path, 50)
    progress: list[float] = []
    tracemalloc.start()
    started = time.monotonic()
    try:
        doc = extract_text(path, CallbackState(on_progress=progress.append))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.monotonic() - started
    assert len(doc.text) > 45 * 2**20  # multi-byte characters and joined hyphens shrink it
    assert doc.sha256 == _sha(path)
    assert doc.detected_effective_from == date(2025, 6, 17)
    assert "distillation rules" in doc.text[:1000] and "\u00a0" not in doc.text[:1000]
    assert len(progress) >= 50 and progress == sorted(progress) and progress[-1] == 100.0
    assert peak < 400 * 2**20, f"peak traced memory {peak / 2**20:.0f} MiB"
    assert elapsed < 60, f"took {elapsed:.1f} s"


def test_extraction_honours_cancellation(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    _write_large(path, 5)

    class CancelAtTenPercent(JobState):
        def on_progress(self, percent: float) -> None:
            if percent >= 10:
                self.cancel()

    with pytest.raises(Cancelled):
        extract_text(path, CancelAtTenPercent())


def test_page_furniture_masks_only_page_numbers() -> None:
    pages = [f"Acme Terms | {i}\nSection {i}\nBody of section {i}." for i in range(1, 4)]
    cleaned, removed = remove_page_furniture(pages)
    assert cleaned == [f"Section {i}\nBody of section {i}." for i in range(1, 4)]
    assert removed == ["Acme Terms | 1", "Acme Terms | 2", "Acme Terms | 3"]


def test_stray_byte_in_utf8_is_replaced_not_misread_as_cp1252(tmp_path: Path) -> None:
    path = tmp_path / "mostly_utf8.txt"
    body = ("Conditions g\u00e9n\u00e9rales d'utilisation. " * 200).encode("utf-8")
    path.write_bytes(body + b"\x92 end")
    doc = extract_text(path)
    assert doc.encoding == "utf-8"
    assert "g\u00e9n\u00e9rales" in doc.text and "\u00c3" not in doc.text
    assert any("1 undecodable" in w for w in doc.warnings)


def test_utf16_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "windows.txt"
    path.write_bytes("1. Scope\n\nThese terms apply.".encode("utf-16"))
    doc = extract_text(path)
    assert doc.text == "1. Scope\n\nThese terms apply." and doc.encoding == "utf-16"
