"""Split HTML into start tags, end tags and text in one linear pass.

The standard library's ``html.parser`` (and BeautifulSoup on top of it) rescans the
rest of the document for every unterminated construct, so a 240 KB page of ``<a b='``
takes minutes. This scanner looks for each terminator once: a construct with no
terminator runs to the end of the file and is read as text, as ``html.parser`` does at
end of input. Tag and attribute names are lower-cased and character references are
decoded; nothing is executed or fetched.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

RAW_TEXT = ("script", "style")  # content is text up to the matching end tag

_NAME = re.compile(r"[^\t\n\r\f />\x00]*")
_SPACE_SLASH = re.compile(r"[\t\n\r\f /]*")
_SPACE = re.compile(r"[\t\n\r\f ]*")
_ATTR_NAME = re.compile(r"[^\t\n\r\f />][^\t\n\r\f />=]*")
_BARE_VALUE = re.compile(r"[^\t\n\r\f >]*")
_RAW_END = {name: re.compile(rf"</{name}[\t\n\r\f />]", re.IGNORECASE) for name in RAW_TEXT}


@dataclass
class StartTag:
    """``<name attr=value …>``; ``closed`` for the ``<name/>`` form."""

    name: str
    attrs: dict[str, str] = field(default_factory=dict)
    closed: bool = False


@dataclass
class EndTag:
    """``</name>``."""

    name: str


@dataclass
class Text:
    """Character data, references decoded (CDATA sections are kept as written)."""

    data: str


Token = StartTag | EndTag | Text


def scan(markup: str) -> Iterator[Token]:
    """Tokens of ``markup`` in document order; comments, doctypes and processing
    instructions are skipped. Runs in time linear in ``len(markup)``."""
    n = len(markup)
    i = 0
    while i < n:
        lt = markup.find("<", i)
        if lt < 0:
            yield Text(html.unescape(markup[i:]))
            return
        if lt > i:
            yield Text(html.unescape(markup[i:lt]))
        i = lt
        nxt = markup[i + 1 : i + 2]
        if nxt.isascii() and nxt.isalpha():
            tag, end = _start_tag(markup, i)
            if tag is None:
                break  # unterminated: the rest is text
            yield tag
            i = end
            if tag.name in RAW_TEXT and not tag.closed:
                found = _RAW_END[tag.name].search(markup, i)
                stop = found.start() if found else n
                if stop > i:
                    yield Text(markup[i:stop])
                i = stop
            continue
        if nxt == "/":
            third = markup[i + 2 : i + 3]
            close = markup.find(">", i + 2)
            if close < 0:
                break
            if third.isascii() and third.isalpha():
                name = _NAME.match(markup, i + 2)
                assert name is not None  # the pattern matches the empty string
                yield EndTag(name[0].lower())
            i = close + 1  # "</>" and "</ x>" are dropped like comments
            continue
        if markup.startswith("<!--", i):
            close = markup.find("-->", i + 4)
            if close < 0:
                break
            i = close + 3
            continue
        if markup.startswith("<![CDATA[", i):
            close = markup.find("]]>", i + 9)
            if close < 0:
                break
            yield Text(markup[i + 9 : close])
            i = close + 3
            continue
        if nxt in ("!", "?"):
            close = markup.find(">", i + 2)
            if close < 0:
                break
            i = close + 1
            continue
        yield Text("<")
        i += 1
    if i < n:
        yield Text(html.unescape(markup[i:]))


def _start_tag(markup: str, i: int) -> tuple[StartTag | None, int]:
    """Parse the start tag at ``markup[i] == '<'``; (None, i) when it never ends."""
    n = len(markup)
    name = _NAME.match(markup, i + 1)
    assert name is not None
    tag = StartTag(name[0].lower())
    pos = name.end()
    while True:
        space = _SPACE_SLASH.match(markup, pos)
        assert space is not None
        if space.end() >= n:
            return None, i
        if markup[space.end()] == ">":
            tag.closed = space.end() > space.start() and markup[space.end() - 1] == "/"
            return tag, space.end() + 1
        attr = _ATTR_NAME.match(markup, space.end())
        assert attr is not None
        pos = attr.end()
        value = ""
        after = _SPACE.match(markup, pos)
        assert after is not None
        if after.end() < n and markup[after.end()] == "=":
            start = _SPACE.match(markup, after.end() + 1)
            assert start is not None
            pos = start.end()
            quote = markup[pos : pos + 1]
            if quote in ("'", '"'):
                close = markup.find(quote, pos + 1)
                if close < 0:
                    return None, i
                value, pos = markup[pos + 1 : close], close + 1
            else:
                bare = _BARE_VALUE.match(markup, pos)
                assert bare is not None
                value, pos = bare[0], bare.end()
            value = html.unescape(value)
        tag.attrs[attr[0].lower()] = value
