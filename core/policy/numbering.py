"""Recognise the clause marker at the start of a line ("3.3", "(b)", "§ 4", "ARTICLE IV").

A marker is only a candidate: ``(i)`` may be the letter after ``(h)`` or the first
Roman numeral, ``4.2`` may be a clause or the tail of "see Section\\n4.2". So a marker
carries every plausible *reading*; :mod:`core.policy.segment` picks one from the
numbering context, or rejects the line as ordinary text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.policy.limits import MAX_CLAUSE_NUMBER

# Decimal numbers above this (a year, an amount) start a clause only where they continue
# the numbering already in force ("301." after "300."), never on their own.
CONTEXT_ONLY_ABOVE = 300
_ROMAN = re.compile(r"(?=[mdclxvi])m{0,3}(cm|cd|d?c{0,3})(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})")
_SMALL = {
    "a",
    "an",
    "and",
    "as",
    "at",
    "by",
    "for",
    "from",
    "in",
    "of",
    "on",
    "or",
    "the",
    "to",
    "with",
    "our",
    "your",
    "its",
    "vs",
    "de",
}

_MD = re.compile(r"(#{1,6})\s+(.*)")
# A bullet: "- ", "* ", "• " and the other glyphs word processors and web pages use.
_BULLET = re.compile(r"([-*\u2022\u00b7\u25e6\u25aa\u25cf\u2023\u2043\u25a0\u25a1])\s+(\S.*)")
_ARTICLE = re.compile(r"(ARTICLE|Article)\s+([IVXLCDM]+|\d{1,3})\b\.?\s*[-\u2013\u2014:.]?\s*(.*)")
_SECTION = re.compile(
    r"(?:(?:SECTION|Section|Sec\.|Clause|CLAUSE)\s+|§\s*)(\d{1,4}(?:\.\d{1,3}){0,4})(\.?)"
    r"(?:\s*[-\u2013\u2014:]\s*|\s+|$)(.*)"
)
_DECIMAL = re.compile(r"(\d{1,4}(?:\.\d{1,3}){0,4})(\.?)(?:\s+|$)(.*)")
_PAREN = re.compile(r"\((\d{1,3}|[a-z]{1,5}|[A-Z]{1,5})\)\s*(.*)")
_HALF = re.compile(r"(\d{1,3}|[a-z]{1,5}|[A-Z]{1,5})\)\s+(.*)")
_DOT = re.compile(r"([a-z]|[A-Z]|[ivx]{1,5}|[IVX]{1,5})\.\s+(.*)")
_DEFINITION = re.compile(
    r"(?P<q>[\"'])(?P<term>[^\"'\n]{1,80})(?P=q)\s+(?:\([^)]{0,60}\)\s+)?"
    r"(?:means|shall mean|refers to|has the meaning|have the meaning|includes|is defined)\b"
)
_MARKER_PREFIX = re.compile(
    r"^(?:(?:ARTICLE|Article)\s+[IVXLCDM\d]+\b\.?|(?:SECTION|Section|Sec\.|Clause|CLAUSE)\s+[\d.]+"
    r"|§\s*[\d.]+|\d{1,4}(?:\.\d{1,3}){0,4}\.?)\s*[-\u2013\u2014:.]?\s*"
)
_INLINE_HEADING = re.compile(r"([^.:;!?\n]{1,80}?)(?:\.|:|\s[-\u2013\u2014])\s+(?=\S)")


@dataclass(frozen=True)
class Reading:
    """One interpretation of a marker: its numbering kind and its ordinal in that kind."""

    kind: str  # "dec", "article", "paren-lower", "paren-roman", "half-num", "dot-upper", …
    value: int
    token: str  # as cited: "3.3", "b", "iv", "IV"
    comps: tuple[int, ...] = ()  # decimal components, for kind "dec"


@dataclass
class Marker:
    """What a line starts with, if it could start a clause."""

    readings: list[Reading]
    heading: str | None
    explicit: bool = False  # "Section 3", "§3", "Article IV", "## 3." – never a cross-ref
    md_level: int = 0
    dotted: bool = False  # "3." rather than "3": list-item style, lowercase text allowed
    empty_rest: bool = False  # nothing after the marker on this line
    notes: list[str] = field(default_factory=list)


def roman_value(s: str) -> int:
    """Value of a Roman numeral (any case), 0 when ``s`` is not one."""
    low = s.lower()
    if not low or not _ROMAN.fullmatch(low):
        return 0
    vals = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100, "d": 500, "m": 1000}
    total = 0
    for ch, nxt in zip(low, low[1:] + " ", strict=True):
        v = vals[ch]
        total += -v if nxt != " " and vals[nxt] > v else v
    return total


def letter_value(s: str) -> int:
    """``a``→1 … ``z``→26, ``aa``→27, ``bb``→28 (the legal convention); 0 otherwise."""
    low = s.lower()
    if len(low) == 1 and low.isalpha():
        return ord(low) - 96
    if len(low) > 1 and len(set(low)) == 1 and low[0].isalpha():
        return (len(low) - 1) * 26 + ord(low[0]) - 96
    return 0


def parse_marker(line: str) -> Marker | None:
    """Return the clause marker that ``line`` (already stripped) starts with, if any."""
    m = _MD.fullmatch(line)
    if m:
        level, rest = len(m[1]), m[2].strip().strip("#").strip()
        inner = parse_marker(rest) if rest else None
        if inner and any(r.kind in ("dec", "article") for r in inner.readings):
            inner.md_level, inner.explicit = level, True
            after = _MARKER_PREFIX.sub("", rest, count=1)
            inner.heading = _heading(after, numbered=True, markup=True)
            return inner
        return Marker([Reading(f"md{level}", 0, rest)], rest or None, True, level)
    m = _BULLET.fullmatch(line)
    if m:
        return Marker([Reading("bullet", 0, m[1])], None)
    m = _ARTICLE.fullmatch(line)
    if m:
        raw = m[2]
        value = int(raw) if raw.isdigit() else roman_value(raw)
        if value:
            return Marker(
                [Reading("article", value, f"{m[1].title()} {raw}")],
                _heading(m[3], numbered=True),
                explicit=True,
                empty_rest=not m[3],
            )
    m = _SECTION.fullmatch(line)
    if m:
        rest = m[3]
        if rest and rest[0].islower():
            return None  # "Section 4.2 applies to …" is a sentence, not a heading
        return _decimal_marker(m[1], rest, explicit=True, dotted=bool(m[2]))
    m = _DECIMAL.fullmatch(line)
    if m:
        comps = tuple(int(c) for c in m[1].split("."))
        rest = m[3]
        if comps[0] == 0 or comps[0] > MAX_CLAUSE_NUMBER:
            return None
        if not m[2] and (len(comps) == 1 and not rest or rest and not _starts_heading(rest)):
            return None  # "2.5 million requests", a bare "12": not markers
        return _decimal_marker(m[1], rest, explicit=False, dotted=bool(m[2]))
    m = _PAREN.fullmatch(line) or _HALF.fullmatch(line)
    if m:
        form = "paren" if line.startswith("(") else "half"
        readings = _local_readings(m[1], form)
        if readings:
            return Marker(readings, _heading(m[2], numbered=False), empty_rest=not m[2])
    m = _DOT.fullmatch(line)
    if m and (m[2][:1].isalnum() or m[2][:1] == '"'):
        readings = _local_readings(m[1], "dot")
        if readings:
            return Marker(readings, _heading(m[2], numbered=False), dotted=True)
    m = _DEFINITION.match(line)
    if m:
        return Marker([Reading("definition", 0, m["term"])], m["term"])
    if is_caps_heading(line):
        return Marker([Reading("caps", 0, line.rstrip(":").strip())], line.rstrip(":").strip())
    return None


def _decimal_marker(number: str, rest: str, *, explicit: bool, dotted: bool) -> Marker:
    comps = tuple(int(c) for c in number.split("."))
    reading = Reading("dec", comps[-1], ".".join(map(str, comps)), comps)
    return Marker(
        [reading],
        _heading(rest, numbered=True),
        explicit=explicit,
        dotted=dotted,
        empty_rest=not rest,
    )


def _local_readings(token: str, form: str) -> list[Reading]:
    """All readings of a list token: ``i`` is both the 9th letter and Roman one."""
    if token.isdigit():
        return [Reading(f"{form}-num", int(token), token)]
    case = "lower" if token.islower() else "upper"
    readings = []
    if letter_value(token):
        readings.append(Reading(f"{form}-{case}", letter_value(token), token))
    if roman_value(token):
        readings.append(Reading(f"{form}-roman-{case}", roman_value(token), token))
    return readings


def _starts_heading(rest: str) -> bool:
    return rest.lstrip("\"'(")[:1].isupper()


def _heading(rest: str, *, numbered: bool, markup: bool = False) -> str | None:
    """The heading text of a marker line, when the line has one.

    "Use of Services" (short, title-like, no full stop) is a heading; so is the
    "Restrictions." in "Restrictions. You may not …". A list item ("use Output to …")
    or a wrapped sentence is not. In a Markdown heading the whole rest is the heading.
    """
    rest = rest.strip()
    if not rest:
        return None
    if markup:
        return rest.rstrip(":").strip()
    d = _DEFINITION.match(rest)
    if d:
        return d["term"]
    if not rest[0].isupper():
        return None
    m = _INLINE_HEADING.match(rest)
    if m and _title_like(m[1].split()) and len(m[1].split()) <= 8:
        return m[1].strip()
    words = rest.rstrip(".:").split()
    if rest[-1] not in ".;,:" and len(words) <= (12 if numbered else 8) and _title_like(words):
        return rest.strip()
    return None


def _title_like(words: list[str]) -> bool:
    if not words:
        return False
    if len(words) <= 3 and words[0][:1].isupper() and words[0].lower() not in ("you", "we"):
        return True
    significant = [w for w in words if w.lower() not in _SMALL]
    return bool(significant) and all(w[:1].isupper() or w[:1].isdigit() for w in significant)


def is_caps_heading(line: str) -> bool:
    """An all-capitals short line such as ``GOVERNING LAW`` or ``USE OF OUTPUT:``."""
    s = line.strip().rstrip(":").strip()
    letters = [c for c in s if c.isalpha()]
    if len(letters) < 3 or len(s) > 80 or len(s.split()) > 12:
        return False
    if s[-1] in ".,;" or not all(c.isupper() for c in letters):
        return False
    return not re.search(r"[\"“”]", s)


_LEADING_MARKER = re.compile(
    r"^\s*(?:#{1,6}\s+)?(?:(?:ARTICLE|Article)\s+[IVXLCDM\d]+\b\.?|(?:SECTION|Section|Sec\.|"
    r"Clause|CLAUSE)\s+\d[\d.]*|§\s*\d[\d.]*|\d{1,4}(?:\.\d{1,3})*\.?(?=\s)|\(\w{1,5}\)|"
    r"\w{1,5}[.)](?=\s)|[*\u2022\u00b7\u25e6\u25aa\u25cf\u2023\u2043\u25a0\u25a1](?=\s))?"
    r"\s*[-\u2013\u2014:]?\s*"
)


def strip_marker(text: str) -> str:
    """``text`` without the clause number it starts with ("3.3", "(b)", "## 2.", "§ 4")."""
    return _LEADING_MARKER.sub("", text, count=1).strip()
