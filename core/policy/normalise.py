"""Text normalisation shared by every policy format.

Extracted text is normalised once, so that clause spans, cue phrases and diffs all
refer to one canonical string: non-breaking and odd spaces become spaces, smart quotes
straight quotes, ligatures letters; soft hyphens go and words hyphenated across a line
break are joined. Functions work on chunks, so a 50 MB file never needs more than one
extra copy in memory (see :class:`ChunkNormaliser`).
"""

from __future__ import annotations

import re

# One table for every character-level fix; str.translate applies it in a single pass.
_CHAR_MAP: dict[int, str] = {
    0x00A0: " ",
    0x2007: " ",
    0x202F: " ",
    0x2000: " ",
    0x2001: " ",
    0x2002: " ",
    0x2003: " ",
    0x2004: " ",
    0x2005: " ",
    0x2006: " ",
    0x2008: " ",
    0x2009: " ",
    0x200A: " ",
    0x205F: " ",
    0x3000: " ",
    0x200B: "",
    0x200C: "",
    0x200D: "",
    0x2060: "",
    0xFEFF: "",
    0x00AD: "",
    0x2018: "'",
    0x2019: "'",
    0x201A: "'",
    0x201B: "'",
    0x2032: "'",
    0x201C: '"',
    0x201D: '"',
    0x201E: '"',
    0x201F: '"',
    0x2033: '"',
    0x00AB: '"',
    0x00BB: '"',
    0x2010: "-",
    0x2011: "-",
    0x2212: "-",
    0xFB00: "ff",
    0xFB01: "fi",
    0xFB02: "fl",
    0xFB03: "ffi",
    0xFB04: "ffl",
    0xFB05: "st",
    0xFB06: "st",
    0x2028: "\n",
    0x2029: "\n\n",
    0x000C: "\n\n",
    0x000B: "\n",
    0x0085: "\n",
    0x0000: "",
}

_CHAR_RE = re.compile("[" + "".join(re.escape(chr(c)) for c in _CHAR_MAP) + "]")
_CRLF = re.compile(r"\r\n?")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")
_HYPHEN_BREAK = re.compile(r"-(?<=[A-Za-z]-)\n[ \t]*(?=[a-z])")  # literal first: fast scan
_MANY_BLANKS = re.compile(r"\n{3,}")

# A chunk is only ever cut after a newline that is followed by a non-space character and
# not preceded by a hyphen, so none of the rules above can straddle two chunks.
_MAX_CARRY = 4 * 1024 * 1024


def normalise_chars(text: str) -> str:
    """Character-level fixes only (spaces, quotes, ligatures, soft hyphens, line ends)."""
    if "\r" in text:
        text = _CRLF.sub("\n", text)
    if not text.isascii() or "\x00" in text or "\x0c" in text or "\x0b" in text:
        # a regex touches only the characters to replace: far faster than str.translate
        # on long, mostly clean text
        text = _CHAR_RE.sub(lambda m: _CHAR_MAP[ord(m[0])], text)
    return text


def normalise_block(text: str) -> str:
    """Full normalisation of a self-contained block of text (chars, hyphens, blanks)."""
    text = normalise_chars(text)
    if "-\n" in text:
        text = _HYPHEN_BREAK.sub("", text)
    if " \n" in text or "\t\n" in text:
        text = _TRAILING_SPACE.sub("\n", text)
    if "\n\n\n" in text:
        text = _MANY_BLANKS.sub("\n\n", text)
    return text


def normalise_text(text: str) -> str:
    """Normalise a whole document held in memory, trimming outer blank space."""
    return normalise_block(text).strip()


class ChunkNormaliser:
    """Normalises a stream of decoded chunks without ever cutting a rule in two.

    ``feed`` returns the normalised text that is safe to emit so far; ``finish``
    returns the rest. Concatenating all outputs equals ``normalise_block`` of the
    whole input (up to collapsing of blank lines at cut points, which never occur
    inside a blank run because a cut needs a non-space character after it).
    """

    def __init__(self) -> None:
        self._carry = ""

    def feed(self, chunk: str) -> str:
        text = self._carry + chunk if self._carry else chunk
        cut = _last_safe_cut(text)
        if cut is None:
            if len(text) < _MAX_CARRY:
                self._carry = text
                return ""
            cut = text.rfind("\n") + 1 or len(text) - 1  # one enormous line: cut anyway
        self._carry = text[cut:]
        return normalise_block(text[:cut])

    def finish(self) -> str:
        rest, self._carry = self._carry, ""
        return normalise_block(rest)


def _last_safe_cut(text: str) -> int | None:
    """Index just after the last newline where the text may be cut safely."""
    pos = len(text) - 1
    while pos > 1:
        nl = text.rfind("\n", 1, pos)
        if nl < 1:
            return None
        if not text[nl + 1].isspace() and text[nl - 1] != "-":
            return nl + 1
        pos = nl
    return None


_PAGE_NUMBER = re.compile(
    r"^(?:page\s*)?[-\u2013\s]*\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?[-\u2013\s]*$", re.IGNORECASE
)


_EDGE_NUMBER = re.compile(
    r"[-|\u2013\u2014\u00b7\u2022/]\s*\d{1,4}\s*$|^\s*\d{1,4}\s*[-|\u2013\u2014\u00b7\u2022/]"
)


def is_page_number_line(line: str) -> bool:
    """True for lines such as ``Page 3 of 12``, ``3/12``, ``- 7 -`` or a bare ``12``."""
    return bool(_PAGE_NUMBER.match(line.strip()))


def remove_page_furniture(pages: list[str], zone: int = 3) -> tuple[list[str], list[str]]:
    """Drop running headers, footers and page numbers from the text of each page.

    A line in the first or last ``zone`` lines of a page is furniture when, with its
    digits masked, it recurs on at least half the pages (and on two or more), or when
    it is a page number. Returns the cleaned pages and the distinct lines removed, so
    the caller can report them as a warning rather than silently lose text.
    """
    split = [p.split("\n") for p in pages]
    counts: dict[str, int] = {}
    for lines in split:
        keys = {_furniture_key(line) for line in _zone_lines(lines, zone)}
        for key in keys:
            if key:
                counts[key] = counts.get(key, 0) + 1
    needed = max(2, (len(pages) + 1) // 2)
    repeated = {k for k, n in counts.items() if n >= needed} if len(pages) >= 2 else set()
    removed: list[str] = []
    cleaned: list[str] = []
    for lines in split:
        keep = list(lines)
        idx = _zone_indices(keep, zone)
        for i in sorted(idx, reverse=True):
            line = keep[i]
            if line.strip() and (_furniture_key(line) in repeated or is_page_number_line(line)):
                if line.strip() not in removed:
                    removed.append(line.strip())
                del keep[i]
        cleaned.append("\n".join(keep))
    return cleaned, removed


def _furniture_key(line: str) -> str:
    """Comparison key: digits are masked only where they look like a page number
    ("Page 3", "Acme Terms | 3"), so "Section 3" atop each page is never furniture."""
    key = " ".join(line.lower().split())
    if "page" in key or _EDGE_NUMBER.search(key):
        return re.sub(r"\d+", "#", key)
    return key


def _zone_indices(lines: list[str], zone: int) -> list[int]:
    nonblank = [i for i, line in enumerate(lines) if line.strip()]
    return sorted(set(nonblank[:zone] + nonblank[-zone:]))


def _zone_lines(lines: list[str], zone: int) -> list[str]:
    return [lines[i] for i in _zone_indices(lines, zone)]
