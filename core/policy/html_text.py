"""Turn a saved terms-of-service web page into structured plain text.

The page is parsed with BeautifulSoup's pure-Python ``html.parser``: nothing is
executed and nothing is fetched. Scripts, styles, ``noscript`` and other non-content
elements are removed; headings become Markdown-style ``#`` lines (so unnumbered web
headings still start clauses), list items become lines, and ordered lists get the
numbers a browser would show, because provider pages often number clauses with
``<ol>`` rather than in the text.
"""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, Comment, NavigableString, Tag

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


def html_to_text(markup: bytes | str) -> tuple[str, str | None]:
    """Return (structured plain text, title guess) for an HTML document."""
    soup = BeautifulSoup(markup, "html.parser")
    title = None
    if soup.title and soup.title.get_text(strip=True):
        title = " ".join(soup.title.get_text().split())
    h1 = soup.find("h1")
    if isinstance(h1, Tag) and h1.get_text(strip=True):
        title = " ".join(h1.get_text().split())
    for name in _DROP:
        for el in soup.find_all(name):
            el.decompose()
    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    for hidden in soup.find_all(hidden=True):
        hidden.decompose()
    for hidden in soup.find_all(attrs={"aria-hidden": "true"}):  # type: ignore[call-overload]
        hidden.decompose()
    _collapse_whitespace(soup)
    _mark_structure(soup)
    text = soup.get_text()
    lines = [" ".join(line.split()) for line in text.split("\n")]
    out = _MARKER_ALONE.sub(r"\1 ", "\n".join(lines))
    return re.sub(r"\n{3,}", "\n\n", out).strip(), title


def _collapse_whitespace(soup: BeautifulSoup) -> None:
    """Source-code whitespace is insignificant in HTML, except inside <pre>."""
    for node in soup.find_all(string=True):
        if isinstance(node, NavigableString) and node.find_parent("pre") is None:
            collapsed = _WS.sub(" ", str(node))
            if collapsed != str(node):
                node.replace_with(collapsed)


def _mark_structure(soup: BeautifulSoup) -> None:
    """Insert newline markers (and list numbers, heading hashes) as text nodes."""
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for level in range(1, 7):
        for h in soup.find_all(f"h{level}"):
            h.insert(0, "\n\n" + "#" * level + " ")
            h.append("\n\n")
    for lst in soup.find_all(["ol", "ul"]):
        items = [li for li in lst.find_all("li", recursive=False)]
        start = _int(lst.get("start"), 1) if lst.name == "ol" else 1
        kind = str(lst.get("type") or "1")
        for offset, li in enumerate(items):
            if lst.name == "ol":
                number = _int(li.get("value"), start + offset)
                marker = _ol_marker(number, kind)
            else:
                marker = "-"
            li.insert(0, f"\n{marker} ")
            li.append("\n")
    for cell in soup.find_all(["td", "th"]):
        cell.append(" | ")
    for name in _BLOCK:
        for el in soup.find_all(name):
            el.insert(0, "\n\n" if name in ("p", "table", "pre", "blockquote") else "\n")
            el.append("\n\n" if name in ("p", "table", "pre", "blockquote") else "\n")


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
