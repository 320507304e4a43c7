"""Split normalised policy text into a tree of numbered clauses with exact spans.

A clause is what a lawyer cites: "Section 3.3(b)". Lines are scanned once; a line
starting with a marker (see :mod:`core.policy.numbering`) opens a clause only if its
number fits the numbering context (next sibling, first child, a parent's sub-number)
and the line is not the tail of a sentence such as "as set out in Section\\n4.2".
Terms written without numbers segment too: a heading (Markdown ``#``, an HTML or Word
heading, a bold heading or lead-in, see :mod:`core.policy.lead_ins`) opens a clause
cited by its heading, and each bullet opens a list-item clause cited by its place
("Use restrictions › bullet 3"). Wrapped lines stay inside their clause. Text before
the first clause is the preamble. Clauses are plain dataclasses, ready to be stored
as Clause rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.errors import DocumentLimitError
from core.policy.limits import (
    MAX_CLAUSE_DEPTH,
    MAX_CLAUSES,
    MAX_LINE_CHARS,
    MAX_POLICY_CHARS,
    REEXPORT,
    refuse,
)
from core.policy.numbering import (
    CONTEXT_ONLY_ABOVE,
    Marker,
    Reading,
    is_caps_heading,
    parse_marker,
    strip_marker,
)

PREAMBLE = "preamble"
CITE_SEP = "\u203a"  # "Use restrictions › bullet 3": an unnumbered clause's citation
_CROSSREF_TAIL = {
    "section",
    "sections",
    "clause",
    "clauses",
    "paragraph",
    "paragraphs",
    "article",
    "articles",
    "subsection",
    "subsections",
    "sub-section",
    "§",
    "§§",
    "schedule",
    "exhibit",
    "annex",
    "appendix",
    "item",
    "items",
    "see",
    "in",
    "under",
    "of",
    "to",
    "with",
    "per",
    "by",
    "from",
    "pursuant",
    "at",
    "than",
    "no.",
    "number",
    "sec.",
}


@dataclass
class Clause:
    """One clause: its citation number, place in the tree and exact span in the text.

    ``text`` is ``document[start:end]`` and includes sub-clauses; ``own_text`` stops
    where the first sub-clause begins (it is what the tagger reads). ``number_path``
    lists the citation numbers from the top-level ancestor down to this clause, e.g.
    ``["3", "3.3", "3.3(b)"]``; ``depth`` is 0 for top-level clauses and the preamble.
    """

    number: str
    number_path: list[str]
    heading: str | None
    text: str
    start: int
    end: int
    depth: int
    parent: str | None = None
    children: list[str] = field(default_factory=list)
    index: int = 0
    parent_index: int | None = None
    body_end: int = 0
    own_text: str = ""
    style: str = ""  # numbering kind: "dec", "paren-lower", "article", "md2", "caps", …

    @property
    def span(self) -> tuple[int, int]:
        return (self.start, self.end)


@dataclass
class _Frame:
    index: int
    reading: Reading
    md_level: int = 0


def segment(text: str) -> list[Clause]:
    """Clauses of ``text`` in document order (preamble first when there is one).

    Raises :class:`core.errors.DocumentLimitError` for text that is too long, has an
    endless line, too many clauses or clauses nested too deeply (see
    :mod:`core.policy.limits`): work and storage then stay linear in the text.
    """
    if len(text) > MAX_POLICY_CHARS:
        raise refuse(
            "",
            f"The terms text is {len(text):,} characters long; at most "
            f"{MAX_POLICY_CHARS:,} characters (about 1,000 pages) are analysed as one "
            "document.",
            "Check that this is the right file; if it holds several documents, import "
            "each one separately.",
        )
    raw: list[tuple[int, Reading, str | None, int]] = []  # start, reading, heading, parent
    stack: list[_Frame] = []
    prev_line: str | None = None
    prev_blank = True
    pending_heading: int | None = None  # clause whose marker line had no text after it
    first_content = True
    pos = 0
    n = len(text)
    line_no = 0
    while pos <= n:
        nl = text.find("\n", pos)
        nl = n if nl < 0 else nl
        line_no += 1
        if nl - pos > MAX_LINE_CHARS:
            raise _too_long_line(line_no, nl - pos)
        line = text[pos:nl]
        stripped = line.strip()
        if not stripped:
            prev_blank, pending_heading = True, None
            pos = nl + 1
            continue
        start = pos + (len(line) - len(line.lstrip()))
        if pending_heading is not None and _is_heading_line(stripped):
            s, r, _, p = raw[pending_heading]
            raw[pending_heading] = (s, r, stripped.rstrip(":"), p)
            pending_heading = None
            prev_line, prev_blank = stripped, False
            pos = nl + 1
            continue
        pending_heading = None
        marker = parse_marker(stripped)
        if marker is not None and not (first_content and _is_title(marker)):
            placed = _place(stack, marker, _strength(prev_line, prev_blank))
            if placed is not None:
                reading, keep = placed
                if keep >= MAX_CLAUSE_DEPTH:
                    raise _too_deep(line_no, stripped)
                if len(raw) >= MAX_CLAUSES:
                    raise _too_many(line_no)
                del stack[keep:]
                parent = stack[-1].index if stack else -1
                raw.append((start, reading, marker.heading, parent))
                stack.append(_Frame(len(raw) - 1, reading, marker.md_level))
                if marker.empty_rest and marker.heading is None:
                    pending_heading = len(raw) - 1
        first_content = False
        prev_line, prev_blank = stripped, False
        pos = nl + 1
    return _build(text, raw)


def _too_long_line(line_no: int, length: int) -> DocumentLimitError:
    return refuse(
        "",
        f"Line {line_no:,} of the terms text is {length:,} characters long without a line "
        f"break; paragraphs of real terms are far shorter (at most {MAX_LINE_CHARS:,} "
        "characters are read as one line), so this is probably not a text export of "
        "the terms.",
        REEXPORT,
    )


def _too_deep(line_no: int, line: str) -> DocumentLimitError:
    shown = line if len(line) <= 60 else line[:57] + "..."
    return refuse(
        "",
        f"At line {line_no:,} ({shown!r}) the clauses are nested more than "
        f"{MAX_CLAUSE_DEPTH} levels deep, which no real terms document is; the file "
        "probably repeats a marker such as '1.' on every paragraph (or was generated to "
        "stall the import).",
        "Renumber the lists, or export the document again (for example to PDF), and import that.",
    )


def _too_many(line_no: int) -> DocumentLimitError:
    return refuse(
        "",
        f"The terms text has more than {MAX_CLAUSES:,} numbered clauses and list items "
        f"(the limit was reached at line {line_no:,}); real terms documents have far fewer.",
        "Check that this is the right file; if it holds several documents, import each "
        "one separately.",
    )


def _is_title(marker: Marker) -> bool:
    """The first line of a document, when an unnumbered top heading, is its title."""
    kind = marker.readings[0].kind
    return kind in ("caps", "md1")


def _is_heading_line(line: str) -> bool:
    words = line.rstrip(":").split()
    return (
        0 < len(words) <= 12
        and line[-1] not in ".;,"
        and (is_caps_heading(line) or all(w[:1].isupper() or len(w) <= 3 for w in words))
    )


def _strength(prev: str | None, prev_blank: bool) -> int:
    """2: after a blank line; 1: after a sentence end or list link; 0: mid-sentence."""
    if prev is None or prev_blank:
        return 2
    low = prev.lower()
    if low.endswith(("; and", "; or", ", and", ", or", ";and", ";or")):
        return 1
    if prev[-1] in ".:;!?)\"'" or parse_marker(prev) is not None and len(prev.split()) <= 12:
        return 1
    last = low.split()[-1].strip(",()") if low.split() else ""
    return -1 if last in _CROSSREF_TAIL else 0


def _place(stack: list[_Frame], marker: Marker, strength: int) -> tuple[Reading, int] | None:
    """Choose a reading and how many stack frames to keep, or None for plain text."""
    if strength < 0:
        return None  # "… as set out in Section\n4.2": a cross-reference, not a clause
    kind = marker.readings[0].kind
    if kind.startswith("md"):
        level = marker.md_level
        keep = 0
        for i, f in enumerate(stack):
            if f.md_level and f.md_level < level:  # "##" or "## 3." above this heading
                keep = i + 1
        return marker.readings[0], keep
    if kind == "bullet":
        return _place_bullet(stack, marker.readings[0])
    if kind == "article":
        keep = max(
            (i + 1 for i, f in enumerate(stack) if f.reading.kind.startswith("md")), default=0
        )
        return marker.readings[0], keep
    if kind == "caps":
        if strength < 2:
            return None
        return marker.readings[0], _containers(stack)
    if kind == "definition":
        for i in range(len(stack) - 1, -1, -1):
            if stack[i].reading.kind == "definition":
                return marker.readings[0], i
        return (marker.readings[0], len(stack)) if strength >= 1 else None
    if kind == "dec":
        if marker.md_level:  # "## 3." closes every Markdown section of level >= 2
            cut = next(
                (i for i, f in enumerate(stack) if f.md_level >= marker.md_level), len(stack)
            )
            stack = stack[:cut]
        reading = marker.readings[0]
        if len(reading.comps) > 1:
            return _place_subdecimal(stack, reading, strength)
        return _place_decimal(stack, marker, reading, strength)
    return _place_local(stack, marker, strength)


def _place_bullet(stack: list[_Frame], r: Reading) -> tuple[Reading, int]:
    """A bullet is the next item of the nearest open list with the same glyph, or the
    first item of a new list inside the clause that is open (a heading, a clause, or a
    bullet of another glyph: a nested list)."""
    for i in range(len(stack) - 1, -1, -1):
        f = stack[i].reading
        if f.kind == "bullet" and f.token == r.token:
            return r, i
        if stack[i].md_level or f.kind in ("caps", "article", "dec"):
            break  # a list is never continued across a heading or a numbered clause
    return r, len(stack)


def _containers(stack: list[_Frame]) -> int:
    """Frames at the bottom that are headings (Markdown, Article), not numbered clauses."""
    return max(
        (
            i + 1
            for i, f in enumerate(stack)
            if f.reading.kind.startswith("md") or f.reading.kind == "article"
        ),
        default=0,
    )


def _place_subdecimal(stack: list[_Frame], r: Reading, strength: int) -> tuple[Reading, int] | None:
    c = r.comps
    for i in range(len(stack) - 1, -1, -1):
        fc = stack[i].reading.comps if stack[i].reading.kind == "dec" else None
        if fc is None:
            continue
        if fc == c[:-1]:
            return r, i + 1
        if len(fc) == len(c) and fc[:-1] == c[:-1] and fc[-1] < c[-1]:
            if c[-1] == fc[-1] + 1 or strength >= 1:
                return r, i
        if len(fc) < len(c) - 1 and fc == c[: len(fc)] and strength >= 1:
            return r, i + 1
    decs = [i for i, f in enumerate(stack) if f.reading.kind == "dec"]
    if c[0] > CONTEXT_ONLY_ABOVE:
        return None  # "2025.06.01 Release": a large number that continues no clause
    if not decs:
        return (r, _containers(stack)) if strength >= 1 or c[-1] == 1 else None
    if strength >= 1 and c[0] >= stack[decs[0]].reading.comps[0]:
        return r, decs[0]  # a new branch whose parent heading is missing
    return None


def _place_decimal(
    stack: list[_Frame], marker: Marker, r: Reading, strength: int
) -> tuple[Reading, int] | None:
    v = r.value
    tops = [i for i, f in enumerate(stack) if f.reading.kind == "dec" and len(f.reading.comps) == 1]
    top_sibling = any(stack[i].reading.value == v - 1 for i in tops)
    heading_like = marker.explicit or marker.heading is not None
    for i in range(len(stack) - 1, -1, -1):
        f = stack[i].reading
        if f.kind == "list-num" and not marker.explicit and v == f.value + 1:
            if not (heading_like and top_sibling):
                return Reading("list-num", v, r.token), i
        if f.kind == "dec" and len(f.comps) == 1:
            if v == f.value + 1 or (strength >= 1 and f.value < v <= f.value + 3):
                return r, i
            break
    inside_numbered = stack and not stack[-1].reading.kind.startswith(("md", "caps", "article"))
    if v == 1 and not marker.explicit and inside_numbered:
        return Reading("list-num", 1, r.token), len(stack)  # a numbered list in a clause
    if not tops and (v == 1 or (strength >= 1 and v <= 20)):
        return r, _containers(stack)
    return None


def _place_local(stack: list[_Frame], marker: Marker, strength: int) -> tuple[Reading, int] | None:
    for i in range(len(stack) - 1, -1, -1):
        f = stack[i].reading
        for r in marker.readings:
            if r.kind == f.kind and (
                r.value == f.value + 1 or (strength >= 2 and f.value < r.value <= f.value + 2)
            ):
                return r, i
    first = [r for r in marker.readings if r.value == 1]
    if first:
        return first[0], len(stack)
    if strength >= 2:
        return marker.readings[0], len(stack)
    return None


def _build(text: str, raw: list[tuple[int, Reading, str | None, int]]) -> list[Clause]:
    clauses: list[Clause] = []
    used: dict[str, int] = {}
    first_start = raw[0][0] if raw else len(text)
    pre = text[:first_start]
    if pre.strip():
        s = len(pre) - len(pre.lstrip())
        e = len(pre.rstrip())
        clauses.append(
            Clause(
                PREAMBLE,
                [PREAMBLE],
                None,
                text[s:e],
                s,
                e,
                0,
                body_end=e,
                own_text=text[s:e],
                style=PREAMBLE,
            )
        )
    offset = len(clauses)
    bullets: dict[int, int] = {}  # parent raw index -> bullets under it so far
    restarting = _restarting_headings(raw)
    for k, (start, reading, heading, parent) in enumerate(raw):
        par = clauses[parent + offset] if parent >= 0 else None
        if reading.kind == "bullet":
            bullets[parent] = bullets.get(parent, 0) + 1
            number = (
                f"{par.number} {CITE_SEP} bullet {bullets[parent]}"
                if par
                else (f"bullet {bullets[parent]}")
            )
        elif parent in restarting and reading.kind in ("dec", "list-num"):
            number = f"{par.number} {CITE_SEP} {reading.token}" if par else reading.token
        else:
            number = _number(reading, heading, par)
        if number in used:
            used[number] += 1
            number = f"{number} [{used[number]}]"
        else:
            used[number] = 1
        path = [*par.number_path, number] if par else [number]
        clause = Clause(
            number,
            path,
            heading,
            "",
            start,
            start,
            len(path) - 1,
            parent=par.number if par else None,
            index=k + offset,
            parent_index=par.index if par else None,
            style=reading.kind,
        )
        if par:
            par.children.append(number)
        clauses.append(clause)
    body = clauses[offset:]
    ends = [len(text)] * len(body)
    open_: list[int] = []  # clauses whose extent is still open, shallowest first
    for k, clause in enumerate(body):  # one pass: a clause ends where a non-descendant starts
        while open_ and body[open_[-1]].depth >= clause.depth:
            ends[open_.pop()] = clause.start
        open_.append(k)
    for k, clause in enumerate(body):
        end = ends[k]
        nxt = body[k + 1].start if k + 1 < len(body) else len(text)
        clause.end = _rstrip_at(text, clause.start, end)
        clause.body_end = _rstrip_at(text, clause.start, min(nxt, end))
        clause.text = text[clause.start : clause.end]
        clause.own_text = text[clause.start : clause.body_end]
    return clauses


def _restarting_headings(raw: list[tuple[int, Reading, str | None, int]]) -> set[int]:
    """Unnumbered headings under which a numbered list starts again ("## Definitions
    1. 2." then "## Restrictions 1. 2."): their items are cited with the heading
    ("Restrictions › 1"), since "1" alone would name two clauses."""
    under: dict[str, set[int]] = {}
    for _start, reading, _heading, parent in raw:
        if parent < 0 or reading.kind not in ("dec", "list-num") or len(reading.comps) > 1:
            continue
        kind = raw[parent][1].kind
        if kind.startswith("md") or kind == "caps":
            under.setdefault(reading.token, set()).add(parent)
    return {p for parents in under.values() if len(parents) > 1 for p in parents}


def clause_body(clause: Clause) -> str:
    """A clause's own text without its leading number ("3.3", "(b)", "## 2."), so that
    renumbering alone never counts as a change and bare headings can be recognised."""
    if clause.style == PREAMBLE:
        return clause.own_text.strip()
    return strip_marker(clause.own_text)


def _rstrip_at(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1].isspace():
        end -= 1
    return end


def _number(reading: Reading, heading: str | None, parent: Clause | None) -> str:
    kind = reading.kind
    if kind in ("dec", "article"):
        return reading.token
    if kind == "caps" or kind.startswith("md"):
        label = (heading or reading.token or "Untitled").strip()
        return label if len(label) <= 80 else label[:77] + "..."
    if kind == "definition":
        term = f'"{reading.token}"'
        return f"{parent.number} {term}" if parent else term
    token = f"({reading.token})"
    if parent is None:
        return token
    if parent.style == "caps" or parent.style.startswith("md"):
        return f"{parent.number} {token}"
    return parent.number + token
