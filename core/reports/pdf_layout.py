"""Typography and page furniture of the PDF report (ReportLab platypus).

Fonts are the DejaVu family that ships with matplotlib, embedded (subset) in the PDF so
the report prints the same everywhere and the figures share the body's typeface. The
document template numbers headings, feeds the table of contents and the PDF outline,
and a canvas that defers page output writes the header (case reference) and the footer
("Page x of y" and the report content hash) once the page count is known.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any
from xml.sax.saxutils import escape

import matplotlib
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    Image,
    KeepTogether,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

PAGE = A4
MARGIN_X = 20 * mm
MARGIN_TOP = 24 * mm
MARGIN_BOTTOM = 20 * mm
WIDTH = PAGE[0] - 2 * MARGIN_X

NAVY = colors.HexColor("#1d3557")
INK = colors.HexColor("#1b1b1b")
GREY = colors.HexColor("#5f6b76")
RULE = colors.HexColor("#b8c2cc")
STRIPE = colors.HexColor("#f2f5f8")
NOTE_BG = colors.HexColor("#eef1f4")
WARN_BG = colors.HexColor("#fff3dc")
WARN_EDGE = colors.HexColor("#d08c1a")
BAD_BG = colors.HexColor("#fde8e8")
BAD_EDGE = colors.HexColor("#b42318")
GOOD_BG = colors.HexColor("#e8f4ec")
GOOD_EDGE = colors.HexColor("#2e7d4f")

SANS, SANS_BOLD, SANS_ITALIC, MONO = "DASans", "DASans-Bold", "DASans-Oblique", "DAMono"
_FONT_FILES = {
    SANS: "DejaVuSans.ttf",
    SANS_BOLD: "DejaVuSans-Bold.ttf",
    SANS_ITALIC: "DejaVuSans-Oblique.ttf",
    "DASans-BoldOblique": "DejaVuSans-BoldOblique.ttf",
    MONO: "DejaVuSansMono.ttf",
}


# Every table names the embedded font for all its cells: ReportLab's default cell font is
# Helvetica, which a PDF/A file may not use unembedded.
BASE_FONT: Any = ("FONT", (0, 0), (-1, -1), SANS, 8)


def register_fonts() -> None:
    """Register the embedded fonts once per process (idempotent)."""
    if SANS in pdfmetrics.getRegisteredFontNames():
        return
    folder = os.path.join(matplotlib.get_data_path(), "fonts", "ttf")
    for name, file in _FONT_FILES.items():
        pdfmetrics.registerFont(TTFont(name, os.path.join(folder, file)))
    pdfmetrics.registerFontFamily(
        SANS, normal=SANS, bold=SANS_BOLD, italic=SANS_ITALIC, boldItalic="DASans-BoldOblique"
    )


def _style(name: str, **kw: Any) -> ParagraphStyle:
    base = {
        "fontName": SANS,
        "fontSize": 9,
        "leading": 12.6,
        "textColor": INK,
        "alignment": TA_LEFT,
        "splitLongWords": 1,
        "bulletFontName": SANS,
    }
    return ParagraphStyle(name, **{**base, **kw})


STYLES: dict[str, ParagraphStyle] = {
    "body": _style("body", spaceAfter=5),
    "numbered": _style("numbered", leftIndent=15, bulletIndent=0, spaceAfter=4),
    "bullet": _style("bullet", leftIndent=12, bulletIndent=2, spaceAfter=3),
    "small": _style("small", fontSize=8, leading=10.4, textColor=GREY),
    "h1": _style(
        "h1",
        fontName=SANS_BOLD,
        fontSize=15,
        leading=19,
        textColor=NAVY,
        spaceBefore=0,
        spaceAfter=10,
        keepWithNext=1,
    ),
    "h2": _style(
        "h2",
        fontName=SANS_BOLD,
        fontSize=11.2,
        leading=14.5,
        textColor=NAVY,
        spaceBefore=10,
        spaceAfter=5,
        keepWithNext=1,
    ),
    "h3": _style(
        "h3",
        fontName=SANS_BOLD,
        fontSize=9.4,
        leading=12.5,
        spaceBefore=7,
        spaceAfter=3,
        keepWithNext=1,
    ),
    # An h3 before a long table: keepWithNext would move the whole table to the next page.
    "h3_flow": _style(
        "h3_flow", fontName=SANS_BOLD, fontSize=9.4, leading=12.5, spaceBefore=7, spaceAfter=3
    ),
    "cell": _style("cell", fontSize=8, leading=10.2),
    "cell_bold": _style("cell_bold", fontName=SANS_BOLD, fontSize=8, leading=10.2),
    "cell_head": _style(
        "cell_head", fontName=SANS_BOLD, fontSize=8, leading=10.2, textColor=colors.white
    ),
    "cell_small": _style("cell_small", fontSize=8, leading=10, textColor=GREY),
    "mono": _style("mono", fontName=MONO, fontSize=8, leading=10, spaceAfter=2),
    "audit_head": _style("audit_head", fontSize=8.4, leading=11, spaceBefore=4, keepWithNext=1),
    "mono_cell": _style("mono_cell", fontName=MONO, fontSize=8, leading=10),
    "note": _style("note", fontSize=8.8, leading=12),
    "note_strong": _style("note_strong", fontName=SANS_BOLD, fontSize=9.2, leading=12.6),
    "toc0": _style("toc0", fontName=SANS_BOLD, fontSize=10, leading=15, leftIndent=0),
    "toc1": _style("toc1", fontSize=9, leading=12.5, leftIndent=14),
    "cover_kicker": _style(
        "cover_kicker", fontName=SANS_BOLD, fontSize=9, textColor=GREY, leading=12
    ),
    "cover_title": _style(
        "cover_title", fontName=SANS_BOLD, fontSize=17, leading=21, textColor=NAVY, spaceAfter=4
    ),
    "cover_sub": _style("cover_sub", fontSize=13, leading=17, textColor=INK, spaceAfter=14),
}


def text(value: Any) -> str:
    """User text made safe for a Paragraph (XML-escaped, newlines kept)."""
    return escape(str(value if value is not None else "")).replace("\n", "<br/>")


def para(value: str, style: str = "body", *, raw: bool = False) -> Paragraph:
    """A paragraph; ``raw`` keeps ReportLab's inline markup (<b>, <i>) in trusted text."""
    return Paragraph(value if raw else text(value), STYLES[style])


def lines(*parts: tuple[str, str]) -> Paragraph:
    """One table-cell paragraph of several lines, each 'bold', 'plain' or 'small' (grey).

    One Paragraph lays out much faster than a stack of them in a long table.
    """
    marks = {
        "bold": "<b>{}</b>",
        "plain": "{}",
        "small": '<font size="8" color="#5f6b76">{}</font>',
    }
    return Paragraph(
        "<br/>".join(marks[kind].format(text(value)) for value, kind in parts if value),
        STYLES["cell"],
    )


def mono(value: str, style: str = "mono_cell") -> Paragraph:
    return Paragraph(text(value), STYLES[style])


def hash_cell(digest: str | None) -> str:
    """A SHA-256 as two lines of 32 hex digits, for a monospaced table column."""
    return f"{digest[:32]}\n{digest[32:]}" if digest else "—"  # monospaced, breaks at 32


class Heading(Paragraph):
    """A numbered heading; the template turns it into a TOC entry and a PDF bookmark."""

    def __init__(self, number: str, title: str, level: int) -> None:
        self.number, self.title, self.level = number, title, level
        label = f"{number}&nbsp;&nbsp;{text(title)}" if number else text(title)
        super().__init__(label, STYLES["h1" if level == 0 else "h2" if level == 1 else "h3"])


def heading(number: str, title: str, level: int = 1) -> list[Flowable]:
    """A heading that never ends a page: a conditional break keeps room for what follows."""
    return [CondPageBreak(40 * mm if level < 2 else 25 * mm), Heading(number, title, level)]


def box(flowables: Sequence[Flowable] | str, kind: str = "note") -> Table:
    """A shaded call-out: 'note' (grey), 'warn' (amber, for absent validation), 'bad', 'good'."""
    bg, edge = {
        "note": (NOTE_BG, RULE),
        "warn": (WARN_BG, WARN_EDGE),
        "bad": (BAD_BG, BAD_EDGE),
        "good": (GOOD_BG, GOOD_EDGE),
    }[kind]
    content = (
        [para(flowables, "note_strong" if kind in ("warn", "bad") else "note")]
        if isinstance(flowables, str)
        else list(flowables)
    )
    t = Table([[content]], colWidths=[WIDTH])
    t.setStyle(
        TableStyle(
            [
                BASE_FONT,
                ("BACKGROUND", (0, 0), (-1, -1), bg),
                ("LINEBEFORE", (0, 0), (0, -1), 3, edge),
                ("BOX", (0, 0), (-1, -1), 0.4, edge),
                ("LEFTPADDING", (0, 0), (-1, -1), 9),
                ("RIGHTPADDING", (0, 0), (-1, -1), 9),
                ("TOPPADDING", (0, 0), (-1, -1), 6),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 7),
            ]
        )
    )
    return t


_CELL_PAD = 4
_FONTS = {False: (SANS, 8, 10.2), True: (MONO, 8, 10)}


def _cellify(value: Any, width: float, monospaced: bool = False) -> Any:
    """A table cell: plain text when it fits on its lines (fast to lay out), else a Paragraph."""
    if isinstance(value, (Flowable, list)):
        return value
    s = "" if value is None else str(value)
    font, size, _ = _FONTS[monospaced]
    if all(
        pdfmetrics.stringWidth(line, font, size) <= width - 2 * _CELL_PAD for line in s.split("\n")
    ):
        return s
    return Paragraph(text(s), STYLES["mono_cell" if monospaced else "cell"])


def data_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    widths: Sequence[float],
    *,
    zebra: bool = True,
    mono: Sequence[int] = (),
) -> Table:
    """A readable table: navy header repeated on every page, thin rules, rows never split.

    ``widths`` are relative; ``mono`` lists the columns set in the monospaced font
    (hashes, paths, commands).
    """
    scale = WIDTH / sum(widths)
    cols = [w * scale for w in widths]
    body = [[para(h, "cell_head") for h in headers]]
    body += [[_cellify(v, cols[i], i in mono) for i, v in enumerate(row)] for row in rows]
    t = Table(body, colWidths=cols, repeatRows=1, hAlign="LEFT", splitByRow=1)
    style = [
        BASE_FONT,
        ("FONT", (0, 1), (-1, -1), *_FONTS[False]),
        ("TEXTCOLOR", (0, 1), (-1, -1), INK),
        *[("FONT", (c, 1), (c, -1), *_FONTS[True]) for c in mono],
        ("BACKGROUND", (0, 0), (-1, 0), NAVY),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.35, RULE),
        ("LEFTPADDING", (0, 0), (-1, -1), _CELL_PAD),
        ("RIGHTPADDING", (0, 0), (-1, -1), _CELL_PAD),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3.5),
    ]
    if zebra:
        style.append(("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, STRIPE]))
    t.setStyle(TableStyle(style))
    return t


def kv_table(pairs: Sequence[tuple[str, Any]], label_width: float = 0.24) -> Table:
    """A two-column label/value table (identification, method descriptions)."""
    rows = [[para(k, "cell_bold"), _cellify(v, WIDTH * (1 - label_width))] for k, v in pairs]
    t = Table(
        rows,
        colWidths=[WIDTH * label_width, WIDTH * (1 - label_width)],
        hAlign="LEFT",
        splitByRow=1,
    )
    t.setStyle(
        TableStyle(
            [
                BASE_FONT,
                ("FONT", (1, 0), (1, -1), *_FONTS[False]),
                ("TEXTCOLOR", (1, 0), (1, -1), INK),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.35, RULE),
                ("LINEABOVE", (0, 0), (-1, 0), 0.8, NAVY),
                ("BACKGROUND", (0, 0), (0, -1), STRIPE),
                ("LEFTPADDING", (0, 0), (-1, -1), _CELL_PAD),
                ("RIGHTPADDING", (0, 0), (-1, -1), _CELL_PAD),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3.5),
            ]
        )
    )
    return t


def keep(*flowables: Flowable) -> KeepTogether:
    return KeepTogether(list(flowables))


def gap(height_mm: float = 3) -> Spacer:
    return Spacer(1, height_mm * mm)


class FigureImage(Image):
    """A figure bitmap that is laid out on every pass but drawn only from the second.

    ``multiBuild`` always makes at least two passes (the table of contents is empty in
    the first), so encoding the bitmaps in the first pass would be wasted work.
    """

    def draw(self) -> None:
        template = getattr(self.canv, "_doctemplate", None)
        if getattr(template, "pass_no", 2) > 1:
            super().draw()


class ReportTemplate(BaseDocTemplate):
    """Cover page without header, then body pages; headings feed the TOC and the outline."""

    def __init__(self, buf: Any, *, title: str, author: str, subject: str) -> None:
        super().__init__(
            buf,
            pagesize=PAGE,
            leftMargin=MARGIN_X,
            rightMargin=MARGIN_X,
            topMargin=MARGIN_TOP,
            bottomMargin=MARGIN_BOTTOM,
            title=title,
            author=author,
            subject=subject,
            creator="Distill Audit",
            invariant=1,
            pageCompression=1,
            initialFontName=SANS,  # else every page names Helvetica, which is not embedded
            initialFontSize=9,
            initialLeading=12.6,
        )
        frame = Frame(
            MARGIN_X,
            MARGIN_BOTTOM,
            WIDTH,
            PAGE[1] - MARGIN_TOP - MARGIN_BOTTOM,
            id="body",
            leftPadding=0,
            rightPadding=0,
            topPadding=0,
            bottomPadding=0,
        )
        self.addPageTemplates([PageTemplate("page", [frame])])
        self._bookmarks = 0
        self.pass_no = 0

    def afterFlowable(self, flowable: Flowable) -> None:
        if isinstance(flowable, Heading) and flowable.level < 2:
            self._bookmarks += 1
            key = f"h{self._bookmarks}"
            label = f"{flowable.number}  {flowable.title}".strip()
            self.canv.bookmarkPage(key)
            self.canv.addOutlineEntry(label, key, level=flowable.level, closed=True)
            self.notify("TOCEntry", (flowable.level, text(label), self.page, key))

    def build(self, flowables: list[Flowable], **kw: Any) -> None:  # type: ignore[override]
        self._bookmarks = 0
        self.pass_no += 1
        super().build(flowables, **kw)


def numbered_canvas(
    header_left: str,
    header_right: str,
    content_hash: str,
    before_save: Callable[[Canvas], None] | None = None,
) -> type[Canvas]:
    """A canvas class that draws header and footer with 'Page x of y' when the PDF is saved;
    ``before_save`` adds document-level entries (PDF/A metadata) just before it is written."""

    class NumberedCanvas(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self._furniture(total)
                super().showPage()
            if before_save is not None:
                before_save(self)
            super().save()

        def _furniture(self, total: int) -> None:
            w, h = PAGE
            self.saveState()
            self.setStrokeColor(RULE)
            self.setLineWidth(0.5)
            if self._pageNumber > 1:
                self.setFont(SANS, 8)
                self.setFillColor(GREY)
                self.drawString(MARGIN_X, h - 14 * mm, header_left)
                self.drawRightString(w - MARGIN_X, h - 14 * mm, header_right)
                self.line(MARGIN_X, h - 15.8 * mm, w - MARGIN_X, h - 15.8 * mm)
            self.line(MARGIN_X, 13.5 * mm, w - MARGIN_X, 13.5 * mm)
            self.setFillColor(GREY)
            self.setFont(SANS, 8)
            label = "Report content SHA-256: "
            self.drawString(MARGIN_X, 9.5 * mm, label)
            self.setFont(MONO, 8)
            self.drawString(
                MARGIN_X + pdfmetrics.stringWidth(label, SANS, 8), 9.5 * mm, content_hash
            )
            self.setFont(SANS_BOLD, 8)
            self.setFillColor(INK)
            self.drawRightString(w - MARGIN_X, 9.5 * mm, f"Page {self._pageNumber} of {total}")
            self.restoreState()

    return NumberedCanvas
