"""Detect the effective dates and version label stated in a terms-of-service document.

Providers print them near the top or the bottom ("Effective date: June 17, 2025",
"Last updated: 2025-06-17", "Effective as of 17 June 2025", "Version 3.2"). Only the
head and tail of the text are searched, so a 50 MB file costs no more than a short
one. Detection is a suggestion: the import wizard shows it for the user to confirm.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

_MONTHS = {
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "may": 5,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "sept": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"(?:[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?:19|20)\d\d"
DATE_PATTERN = (
    rf"(?:{_MONTH}\s+{_DAY},?\s+{_YEAR}"  # June 17, 2025
    rf"|{_DAY}\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}"  # 17 June 2025
    rf"|{_YEAR}-[01]?\d-[0-3]?\d|{_YEAR}/[01]?\d/[0-3]?\d"  # 2025-06-17
    rf"|[0-3]?\d[./][01]?\d[./]{_YEAR}|[01]?\d/[0-3]?\d/{_YEAR}"  # 17.06.2025, 06/17/2025
    rf"|{_MONTH}\s+{_YEAR})"  # June 2025 (first of the month, with a warning)
)
_SEP = r"\s*(?:date|on|as\s+of|from|since|starting|beginning)?\s*[:\-\u2013\u2014]?\s*"
_FROM_LABELS = (
    r"effective(?:\s+date)?|in\s+effect\s+(?:from|as\s+of|since)|take[sn]?\s+effect\s+on"
    r"|valid\s+(?:from|as\s+of)|applies\s+from|entry\s+into\s+force"
)
_UPDATED_LABELS = r"last\s+(?:updated|modified|revised|amended|changed)|updated|revised|published"
_TO_LABELS = (
    r"effective\s+(?:until|through|to)|valid\s+(?:until|through)|expires?(?:\s+on)?"
    r"|superseded\s+(?:on|as\s+of)|in\s+effect\s+until|no\s+longer\s+in\s+effect\s+(?:after|from)"
)
_FROM_RE = re.compile(rf"\b(?:{_FROM_LABELS}){_SEP}({DATE_PATTERN})", re.IGNORECASE)
_UPDATED_RE = re.compile(rf"\b(?:{_UPDATED_LABELS}){_SEP}({DATE_PATTERN})", re.IGNORECASE)
_TO_RE = re.compile(rf"\b(?:{_TO_LABELS}){_SEP}({DATE_PATTERN})", re.IGNORECASE)
_VERSION_RE = re.compile(
    r"\b(?:version|revision|rev\.)\s*(?:no\.|number)?\s*[:#]?\s*"
    r"(v?\d+(?:[.\-]\d+){0,3}[a-z]?)\b|\bv(\d+(?:\.\d+){1,3})\b",
    re.IGNORECASE,
)

HEAD_CHARS = 20_000
TAIL_CHARS = 5_000


@dataclass
class DetectedDates:
    """What the header or footer of a document says about its validity."""

    effective_from: date | None = None
    effective_to: date | None = None
    version: str | None = None
    warnings: list[str] = field(default_factory=list)


def parse_date(text: str) -> tuple[date | None, str | None]:
    """Parse one date in any supported spelling; returns (date, warning or None)."""
    s = " ".join(text.strip().rstrip(".,").split())
    s_low = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", s.lower()).replace(" of ", " ")
    try:
        m = re.fullmatch(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})", s_low)
        if m:
            return date(int(m[1]), int(m[2]), int(m[3])), None
        m = re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", s_low)
        if m:
            return date(int(m[3]), int(m[2]), int(m[1])), None
        m = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", s_low)
        if m:
            a, b, y = int(m[1]), int(m[2]), int(m[3])
            if a > 12:
                return date(y, b, a), None
            warn = None if b > 12 or a == b else f"'{s}' read as month/day/year"
            return date(y, a, b), warn
        m = re.fullmatch(r"([a-z]+)\.?\s+(\d{1,2}),?\s+(\d{4})", s_low)
        if m and _month(m[1]):
            return date(int(m[3]), _month(m[1]), int(m[2])), None
        m = re.fullmatch(r"(\d{1,2})\s+([a-z]+)\.?,?\s+(\d{4})", s_low)
        if m and _month(m[2]):
            return date(int(m[3]), _month(m[2]), int(m[1])), None
        m = re.fullmatch(r"([a-z]+)\.?\s+(\d{4})", s_low)
        if m and _month(m[1]):
            return date(int(m[2]), _month(m[1]), 1), f"'{s}' has no day; the 1st was assumed"
    except ValueError:
        return None, f"'{s}' is not a valid date"
    return None, None


def _month(word: str) -> int:
    return _MONTHS.get(word[:4] if word.startswith("sept") else word[:3], 0)


def detect_dates(text: str) -> DetectedDates:
    """Find effective-from/to dates and a version label in the head and tail of text."""
    if len(text) > HEAD_CHARS + TAIL_CHARS:
        regions = [text[:HEAD_CHARS], text[-TAIL_CHARS:]]
    else:
        regions = [text]
    found = DetectedDates()
    updated: date | None = None
    for region in regions:
        found.effective_from = found.effective_from or _first(_FROM_RE, region, found)
        found.effective_to = found.effective_to or _first(_TO_RE, region, found)
        updated = updated or _first(_UPDATED_RE, region, found)
        if found.version is None:
            m = _VERSION_RE.search(region)
            if m:
                found.version = m[1] or m[2]
    if found.effective_from is None and updated is not None:
        found.effective_from = updated
        found.warnings.append(
            "No explicit effective date was found; the 'last updated' date "
            f"{updated.isoformat()} was used as the effective-from date. Please confirm."
        )
    if found.effective_to and found.effective_from and found.effective_to <= found.effective_from:
        found.warnings.append("The detected end date is not after the start date; it was ignored.")
        found.effective_to = None
    return found


def _first(pattern: re.Pattern[str], region: str, found: DetectedDates) -> date | None:
    for m in pattern.finditer(region):
        value, warning = parse_date(m[1])
        if warning and warning not in found.warnings:
            found.warnings.append(warning)
        if value is not None:
            return value
    return None
