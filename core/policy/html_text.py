"""Turn a saved terms-of-service web page into structured plain text.

The page is read by :mod:`core.policy.html_scan` in one linear pass: nothing is
executed and nothing is fetched. Elements nest as BeautifulSoup's ``html.parser``
tree would nest them (an end tag closes the most recent open element of its name), but
no tree is built, so deeply nested pages cost no more than flat ones. Scripts, styles,
``noscript`` and other non-content elements are removed; headings become Markdown-style
``#`` lines (so unnumbered web headings still start clauses), bold paragraph openings
become heading lines too (:mod:`core.policy.lead_ins`), list items become lines,
and ordered lists get the numbers a browser would show, because provider pages often
number clauses with ``<ol>`` rather than in the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.policy.html_scan import EndTag, StartTag, scan
from core.policy.lead_ins import promote_bold_headings
from core.policy.limits import MAX_HTML_DEPTH, REEXPORT, refuse

_DROP = (
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "iframe",
    "object",
    "embed",
    "canvas",
    "nav",
    "button",
    "select",
    "input",
    "textarea",
    "head",
    "link",
    "meta",
)
_BLOCK = (
    "p",
    "div",
    "section",
    "article",
    "main",
    "header",
    "footer",
    "aside",
    "blockquote",
    "pre",
    "table",
    "tr",
    "dl",
    "dt",
    "dd",
    "ul",
    "ol",
    "figure",
    "figcaption",
    "address",
    "details",
    "summary",
    "hr",
    "form",
    "fieldset",
)
_WS = re.compile(r"\s+")
# A list marker left alone on its line (``<li><p>…``) is joined to the text after it.
_MARKER_ALONE = re.compile(r"(?m)^(\d+\.|\([a-zA-Z]+\)|[IVXLC]+\.|-|#{1,6})[ ]*\n+(?=\S)")
_PARAGRAPH = ("p", "table", "pre", "blockquote")  # blank line around, not just a newline
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
# Elements that never have content (BeautifulSoup's list for html.parser).
_VOID = frozenset(
    "area base basefont bgsound br col command embed frame hr image img input isindex "
    "keygen link menuitem meta nextid param source spacer track wbr".split()
)
_QUIET = ("script", "style", "template", "rt", "rp")  # their strings are not page text
_PRE = ("pre", "textarea")


@dataclass
class _Frame:
    """One open element: whether its content shows, and what to write when it closes."""

    name: str
    dropped: bool
    pre: bool
    quiet: bool
    prefix: str = ""
    suffix: str = ""
    items: int = 0  # <li> children so far (lists)
    start: int = 1
    kind: str = "1"


class _Capture:
    """The text of the first element of one name (``title``, ``h1``), hidden or not."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.frame: _Frame | None = None
        self.parts: list[str] = []
        self.done = False

    def text(self) -> str | None:
        joined = " ".join("".join(self.parts).split())
        return joined or None


def html_to_text(markup: bytes | str) -> tuple[str, str | None]:
    """Return (structured plain text, title guess) for an HTML document."""
    if isinstance(markup, bytes):
        markup = _decode(markup)
    out: list[str] = []
    stack: list[_Frame] = []
    open_names: dict[str, int] = {}
    captures = (_Capture("title"), _Capture("h1"))

    def close(frame: _Frame) -> None:
        open_names[frame.name] -= 1
        if frame.suffix:
            out.append(frame.suffix)
        for cap in captures:
            if cap.frame is frame:
                cap.frame, cap.done = None, True

    for token in scan(markup):
        top = stack[-1] if stack else None
        if isinstance(token, StartTag):
            frame = _open(token, top)
            if token.name in _VOID:
                if not frame.dropped:
                    out.append(frame.prefix + frame.suffix)  # "<br>", "<hr>": line breaks
                continue
            if len(stack) >= MAX_HTML_DEPTH:
                raise refuse(
                    "",
                    f"This web page nests more than {MAX_HTML_DEPTH:,} elements inside each "
                    "other, far beyond any real page (it may be built to stall the import).",
                    REEXPORT,
                )
            stack.append(frame)
            open_names[frame.name] = open_names.get(frame.name, 0) + 1
            for cap in captures:
                if cap.name == frame.name and not cap.done and cap.frame is None:
                    cap.frame = frame
            if not frame.dropped and frame.prefix:
                out.append(frame.prefix)
            if token.closed:
                close(stack.pop())
        elif isinstance(token, EndTag):
            if not open_names.get(token.name):
                continue  # nothing of that name is open: ignored, as html.parser does
            while stack:
                frame = stack.pop()
                close(frame)
                if frame.name == token.name:
                    break
        else:
            if top is not None and top.quiet:
                continue
            for cap in captures:
                if cap.frame is not None:
                    cap.parts.append(token.data)
            if top is not None and top.dropped:
                continue
            out.append(token.data if top is not None and top.pre else _WS.sub(" ", token.data))
    while stack:
        close(stack.pop())
    title = captures[1].text() or captures[0].text()
    lines = [" ".join(line.split()) for line in "".join(out).split("\n")]
    text = promote_bold_headings(_MARKER_ALONE.sub(r"\1 ", "\n".join(lines)))
    return re.sub(r"\n{3,}", "\n\n", text).strip(), title


def _decode(raw: bytes) -> str:
    """Decode as a browser would: BOM, declared charset, detection, then UTF-8."""
    from bs4.dammit import UnicodeDammit

    decoded = UnicodeDammit(raw, is_html=True).unicode_markup
    return decoded if decoded is not None else raw.decode("utf-8", "replace")


def _open(tag: StartTag, parent: _Frame | None) -> _Frame:
    """The frame for a start tag: dropped or shown, and its list marker if it has one."""
    name, attrs = tag.name, tag.attrs
    dropped = (
        (parent is not None and parent.dropped)
        or name in _DROP
        or "hidden" in attrs
        or attrs.get("aria-hidden") == "true"
    )
    frame = _Frame(
        name,
        dropped,
        pre=(parent is not None and parent.pre) or name in _PRE,
        quiet=(parent is not None and parent.quiet) or name in _QUIET,
    )
    if name in ("ol", "ul"):
        frame.start = _int(attrs.get("start"), 1) if name == "ol" else 1
        frame.kind = str(attrs.get("type") or "1")
    if dropped:
        return frame
    if name == "br":
        frame.suffix = "\n"
    elif name in _HEADINGS:
        frame.prefix, frame.suffix = "\n\n" + "#" * _HEADINGS[name] + " ", "\n\n"
    elif name == "li" and parent is not None and parent.name in ("ol", "ul"):
        offset = parent.items
        parent.items += 1
        if parent.name == "ol":
            marker = _ol_marker(_int(attrs.get("value"), parent.start + offset), parent.kind)
        else:
            marker = "-"
        frame.prefix, frame.suffix = f"\n{marker} ", "\n"
    elif name in ("strong", "b"):
        frame.prefix, frame.suffix = "**", "**"  # read by core.policy.lead_ins
    elif name in ("td", "th"):
        frame.suffix = " | "
    elif name in _BLOCK:
        sep = "\n\n" if name in _PARAGRAPH else "\n"
        frame.prefix, frame.suffix = sep, sep
    return frame


def _int(value: object, default: int) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return default


def _ol_marker(n: int, kind: str) -> str:
    if kind == "a":
        return f"({_letters(n)})"
    if kind == "A":
        return f"({_letters(n).upper()})"
    if kind == "i":
        return f"({to_roman(n).lower()})"
    if kind == "I":
        return f"{to_roman(n)}."
    return f"{n}."


def _letters(n: int) -> str:
    s = ""
    while n > 0:
        n, r = divmod(n - 1, 26)
        s = chr(ord("a") + r) + s
    return s or "a"


def to_roman(n: int) -> str:
    """Upper-case Roman numeral for 1..3999 (used for list numbers)."""
    vals = [
        (1000, "M"),
        (900, "CM"),
        (500, "D"),
        (400, "CD"),
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ]
    out = ""
    for v, s in vals:
        while n >= v:
            out += s
            n -= v
    return out
