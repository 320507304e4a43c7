"""Read a .docx terms document with python-docx, keeping Word's automatic numbering.

Contract documents in Word usually number clauses with list numbering ("3.3", "(b)")
that lives in numbering.xml, not in the paragraph text. Losing it would make every
clause unnumbered, so the numbers Word would display are recomputed here and put back
in front of each paragraph. Headings become Markdown-style ``#`` lines like HTML does,
and so do paragraphs that open with bold runs (see :mod:`core.policy.lead_ins`).

A .docx is a ZIP package, so before python-docx unpacks and parses it, its declared
sizes, compression ratios, XML volume and element count are checked against
:mod:`core.policy.limits`, and a DTD (the vehicle of "billion laughs" entity bombs,
never written by Word) is refused. Tables are read row by row with merged cells
resolved from the row above, so a tall or widely spanned table stays linear.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.errors import EvidenceError
from core.jobs import JobState
from core.policy.docx_package import check_package
from core.policy.html_text import to_roman
from core.policy.lead_ins import promote_bold_headings
from core.policy.limits import MAX_DOCX_BLOCKS, REEXPORT, refuse

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def read_docx(path: Path, state: JobState) -> tuple[str, str | None]:
    """Return (structured plain text, title guess) of a .docx file."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.text.paragraph import Paragraph
    from lxml import etree

    with path.open("rb") as fh:
        magic = fh.read(8)
    if magic.startswith(b"\xd0\xcf\x11\xe0"):
        raise EvidenceError(
            f"{path.name} is an old-format Word file (.doc) or a password-protected .docx. "
            "Open it in Word, remove any password, save it as .docx (or PDF) and import that."
        )
    check_package(path)
    try:
        document = docx.Document(str(path))
    except (
        PackageNotFoundError,
        zipfile.BadZipFile,
        KeyError,
        ValueError,
        etree.LxmlError,
        AttributeError,  # a package whose parts lack Word's namespaces (found by fuzzing)
        TypeError,
        IndexError,
    ) as exc:
        raise EvidenceError(f"{path.name} is not a readable .docx file ({exc}).") from exc
    numbering = _Numbering(document)
    blocks = list(_body_blocks(document.element.body))
    budget = _Budget(path.name)
    budget.take(len(blocks))
    lines: list[str] = []
    title: str | None = document.core_properties.title or None
    for i, el in enumerate(blocks):
        if i % 200 == 0:
            state.check_cancelled()
            state.set_progress(i, len(blocks))
        if el.tag == _W + "tbl":
            for cells in _table_rows(el, document, budget):
                lines.append(" | ".join(c for c in cells if c))
            lines.append("")
            continue
        para = Paragraph(el, document)
        text = para.text.replace("\t", " ").strip()
        if not text:
            lines.append("")
            continue
        style = para.style.name if para.style is not None else ""
        number = numbering.label(para)
        if number:
            text = f"{number} {text}"
        level = _heading_level(style)
        if style == "Title":
            title = title or text
            level = 1
        if level:
            lines.extend(["", "#" * level + " " + text, ""])
        else:
            lines.append(text if number else _mark_bold_lead(para, text))
    state.set_progress(len(blocks), len(blocks))
    return promote_bold_headings("\n".join(lines)), title


def _mark_bold_lead(para: Any, text: str) -> str:
    """``text`` with its opening bold runs wrapped in ``**`` (a bold heading or lead-in,
    read by :mod:`core.policy.lead_ins`); unchanged when it does not open in bold."""
    lead: list[str] = []
    for run in para.runs:
        if not run.text.strip() and lead:
            lead.append(run.text)
            continue
        if run.bold is not True:
            break
        lead.append(run.text)
    bold = "".join(lead).replace("\t", " ").strip()
    if not bold or "*" in bold or not text.startswith(bold):
        return text
    rest = text[len(bold) :].strip()
    return f"**{bold}** {rest}".rstrip()


class _Budget:
    """Paragraphs and table cells still allowed before the document is refused."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.left = MAX_DOCX_BLOCKS

    def take(self, count: int) -> None:
        self.left -= count
        if self.left < 0:
            raise refuse(
                self.name,
                f"has more than {MAX_DOCX_BLOCKS:,} paragraphs and table cells; a Word "
                "document of terms has a few thousand.",
                REEXPORT,
            )


def _table_rows(tbl: Any, document: Any, budget: _Budget) -> Iterator[list[str]]:
    """Each row's cell texts as python-docx's ``row.cells`` gives them (a cell spanning
    columns repeats, a vertically merged cell shows the text above), in linear time."""
    from docx.table import Table, _Cell

    table = Table(tbl, document)
    above: dict[int, tuple[str, int]] = {}  # grid offset -> (text, span) in the row above
    for tr in tbl.tr_lst:
        offset = tr.grid_before
        row: dict[int, tuple[str, int]] = {}
        cells: list[str] = []
        for tc in tr.tc_lst:
            span = tc.grid_span
            if tc.vMerge == "continue" and offset in above:
                text, shown = above[offset]
            else:
                text, shown = " ".join(_Cell(tc, table).text.split()), span
            budget.take(shown)
            cells.extend([text] * shown)
            row[offset] = (text, shown)
            offset += span
        above = row
        yield cells


def _body_blocks(body: Any) -> Iterator[Any]:
    """Paragraphs and tables in document order, looking inside content controls."""
    for child in body.iterchildren():
        if child.tag in (_W + "p", _W + "tbl"):
            yield child
        elif child.tag == _W + "sdt":
            content = child.find(_W + "sdtContent")
            if content is not None:
                yield from _body_blocks(content)


def _heading_level(style: str) -> int:
    m = re.fullmatch(r"Heading (\d)", style or "")
    return min(int(m[1]), 6) if m else 0


class _Numbering:
    """Recomputes the list labels Word shows ("3.", "3.2", "(b)") paragraph by paragraph."""

    def __init__(self, document: Any) -> None:
        self._levels: dict[str, dict[int, tuple[int, str, str]]] = {}
        self._counters: dict[str, list[int]] = {}
        try:
            root = document.part.numbering_part.element
        except (NotImplementedError, KeyError, AttributeError):
            return
        abstract: dict[str, dict[int, tuple[int, str, str]]] = {}
        for an in root.iter(_W + "abstractNum"):
            abstract[an.get(_W + "abstractNumId")] = _read_levels(an)
        for num in root.iter(_W + "num"):
            ref = num.find(_W + "abstractNumId")
            levels = dict(abstract.get(ref.get(_W + "val"), {})) if ref is not None else {}
            for override in num.iter(_W + "lvlOverride"):
                ilvl = int(override.get(_W + "ilvl", "0"))
                start = override.find(_W + "startOverride")
                if start is not None and ilvl in levels:
                    _, fmt, text = levels[ilvl]
                    levels[ilvl] = (int(start.get(_W + "val", "1")), fmt, text)
            self._levels[num.get(_W + "numId")] = levels

    def label(self, para: Any) -> str:
        num_id, ilvl = _num_pr(para)
        if not num_id or num_id == "0" or num_id not in self._levels:
            return ""
        levels = self._levels[num_id]
        if ilvl not in levels:
            return ""
        counters = self._counters.setdefault(num_id, [0] * 9)
        start, fmt, text = levels[ilvl]
        counters[ilvl] = counters[ilvl] + 1 if counters[ilvl] else start
        for deeper in range(ilvl + 1, 9):
            counters[deeper] = 0
        if fmt == "bullet":
            return "-"

        def render(m: re.Match[str]) -> str:
            k = int(m[1]) - 1
            k_start, k_fmt, _ = levels.get(k, (1, "decimal", ""))
            return _format(counters[k] or k_start, k_fmt)

        return re.sub(r"%([1-9])", render, text).strip()


def _read_levels(abstract_num: Any) -> dict[int, tuple[int, str, str]]:
    levels: dict[int, tuple[int, str, str]] = {}
    for lvl in abstract_num.iter(_W + "lvl"):
        start = lvl.find(_W + "start")
        fmt = lvl.find(_W + "numFmt")
        text = lvl.find(_W + "lvlText")
        levels[int(lvl.get(_W + "ilvl", "0"))] = (
            int(start.get(_W + "val", "1")) if start is not None else 1,
            fmt.get(_W + "val", "decimal") if fmt is not None else "decimal",
            text.get(_W + "val", "") if text is not None else "",
        )
    return levels


def _num_pr(para: Any) -> tuple[str | None, int]:
    """numId and level from the paragraph, else from its style chain."""
    candidates = [para._p.pPr]
    style = para.style
    while style is not None:
        candidates.append(style.element.pPr)
        style = style.base_style
    num_id, ilvl = None, None
    for ppr in candidates:
        if ppr is None or ppr.numPr is None:
            continue
        if num_id is None and ppr.numPr.numId is not None:
            num_id = str(ppr.numPr.numId.val)
        if ilvl is None and ppr.numPr.ilvl is not None:
            ilvl = int(ppr.numPr.ilvl.val)
    return num_id, ilvl or 0


def _format(n: int, fmt: str) -> str:
    if fmt in ("lowerLetter", "upperLetter"):
        s = ""
        while n > 0:
            n, r = divmod(n - 1, 26)
            s = chr(ord("a") + r) + s
        return s.upper() if fmt == "upperLetter" else s
    if fmt in ("lowerRoman", "upperRoman"):
        s = to_roman(n)
        return s.lower() if fmt == "lowerRoman" else s
    if fmt == "none":
        return ""
    if fmt == "decimalZero":
        return f"{n:02d}"
    return str(n)
