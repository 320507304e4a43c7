"""Halcyon Labs' terms of service, two versions, as Markdown, HTML and (v2) PDF.

The Markdown files in ``policies/`` are the source. They use a small subset: ``#`` and
``##`` headings, ``**bold**`` and paragraphs (numbered clauses "1.1 ..." and items
"(a) ..." are paragraphs of their own). This module renders that subset to a
standalone HTML page and, with ReportLab, to a PDF with fixed metadata so that the
build is reproducible.
"""

from __future__ import annotations

import html
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

SOURCE_DIR = Path(__file__).resolve().parent / "policies"
VERSIONS = {"v1": "2024-03-01", "v2": "2025-06-17"}
PDF_VERSIONS = ("v2",)

_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITEM = re.compile(r"^\([a-z]\)\s")


@dataclass(frozen=True)
class Block:
    """One unit of the document: a title, a section heading or a paragraph."""

    kind: str  # "title" | "heading" | "para" | "item"
    text: str  # Markdown inline text


def parse(markdown: str) -> list[Block]:
    """Blocks of our Markdown subset, in order."""
    blocks: list[Block] = []
    for chunk in re.split(r"\n\s*\n", markdown.strip()):
        text = " ".join(line.strip() for line in chunk.splitlines())
        if text.startswith("## "):
            blocks.append(Block("heading", text[3:]))
        elif text.startswith("# "):
            blocks.append(Block("title", text[2:]))
        elif _ITEM.match(text):
            blocks.append(Block("item", text))
        else:
            blocks.append(Block("para", text))
    return blocks


def _inline_html(text: str) -> str:
    return _BOLD.sub(r"<strong>\1</strong>", html.escape(text, quote=False))


def to_html(blocks: list[Block], version: str, effective: str) -> str:
    """A standalone, styled HTML page."""
    title = next(b.text for b in blocks if b.kind == "title")
    body = []
    for b in blocks:
        tag = {"title": "h1", "heading": "h2", "para": "p", "item": "p"}[b.kind]
        cls = ' class="item"' if b.kind == "item" else ""
        body.append(f"<{tag}{cls}>{_inline_html(b.text)}</{tag}>")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)} (Version {version[1:]}.0, effective {effective})</title>\n"
        f'<meta name="effective-date" content="{effective}">\n'
        "<style>body{font-family:Georgia,serif;max-width:46em;margin:2em auto;line-height:1.5}"
        "h2{margin-top:1.6em}p.item{margin-left:2em}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def to_pdf(blocks: list[Block], path: Path, version: str, effective: str) -> None:
    """A PDF rendering with ReportLab (invariant metadata, so the bytes are reproducible)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    styles = getSampleStyleSheet()
    item = ParagraphStyle("item", parent=styles["BodyText"], leftIndent=8 * mm)
    title = next(b.text for b in blocks if b.kind == "title")

    def footer(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.drawString(
            20 * mm, 10 * mm, f"{title} - Version {version[1:]}.0 - effective {effective}"
        )
        canvas.drawRightString(190 * mm, 10 * mm, f"Page {doc.page}")
        canvas.restoreState()

    doc = SimpleDocTemplate(
        str(path), pagesize=A4, title=f"{title} (Version {version[1:]}.0)",
        author="Halcyon Labs, Inc.", subject=f"Terms of Service, effective {effective}",
        creator="Distill Audit demo build", invariant=1,
        leftMargin=20 * mm, rightMargin=20 * mm, topMargin=20 * mm, bottomMargin=20 * mm,
    )  # fmt: skip
    story = []
    for b in blocks:
        text = _BOLD.sub(r"<b>\1</b>", html.escape(b.text, quote=False))
        if b.kind == "title":
            story += [Paragraph(text, styles["Title"]), Spacer(1, 4 * mm)]
        elif b.kind == "heading":
            story.append(Paragraph(text, styles["Heading2"]))
        else:
            story.append(Paragraph(text, item if b.kind == "item" else styles["BodyText"]))
    doc.build(story, onFirstPage=footer, onLaterPages=footer)


def write_all(folder: Path) -> None:
    """Write terms_v1/v2 as .md and .html, and the PDF versions."""
    folder.mkdir(parents=True, exist_ok=True)
    for version, effective in VERSIONS.items():
        src = SOURCE_DIR / f"terms_{version}.md"
        text = src.read_text(encoding="utf-8")
        if f"Effective date: {effective}" not in text:
            raise ValueError(f"{src} does not state 'Effective date: {effective}'")
        shutil.copyfile(src, folder / src.name)
        blocks = parse(text)
        (folder / f"terms_{version}.html").write_text(
            to_html(blocks, version, effective), encoding="utf-8"
        )
        if version in PDF_VERSIONS:
            to_pdf(blocks, folder / f"terms_{version}.pdf", version, effective)
