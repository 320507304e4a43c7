"""Bold headings and bold lead-ins become heading lines, so unnumbered terms segment.

Many published terms have no clause numbers: a bold line ("**Use restrictions**") or a
bold phrase opening a paragraph ("**Restrictions.** You may not …") is all that marks
a clause. Extraction keeps headings as Markdown ``#`` lines (see
:mod:`core.policy.html_text`), so bold headings are written the same way, one level
below every real heading (``######``): :mod:`core.policy.segment` then opens a clause
there and cites it by its heading. Markdown, HTML (``<strong>``/``<b>``) and Word
(bold runs) all mark bold as ``**…**`` before calling :func:`promote_bold_headings`.
Bold text that is itself a clause number, a version or a date label ("**Version
2.0**", "**Last updated: June 17, 2025**") is left as ordinary text: it opens nothing.
"""

from __future__ import annotations

import re

BOLD_LEVEL = 6  # "######": below every Markdown/HTML/Word heading level
_PREFIX = "#" * BOLD_LEVEL + " "
_MAX_HEADING_CHARS = 80
# A whole line in bold, with an optional colon after it.
_BOLD_LINE = re.compile(r"(?m)^([ \t]*)\*\*[ \t]*([^*\n]{1,80}?)[ \t]*([.:]?)\*\*[ \t]*:?[ \t]*$")
# A bold phrase opening a line and followed by text on the same line.
_BOLD_LEAD = re.compile(
    r"(?m)^([ \t]*)\*\*[ \t]*([^*\n]{1,80}?)[ \t]*([.:\u2013\u2014-]?)\*\*[ \t]*([.:]?)[ \t]+(?=\S)"
)
_STRONG = re.compile(r"\*\*[ \t]*([^*\n]*?)[ \t]*\*\*")
_NOT_A_HEADING = re.compile(
    r"^(?:version\b|v\d|rev(?:ision)?\b|(?:last\s+)?(?:updated|modified|revised)\b|effective\b"
    r"|published\b|date\b|note\b|important\b|\d|\(|[a-z]{1,4}[.)]\s|§|section\s+\d|article\s)",
    re.IGNORECASE,
)


def promote_bold_headings(text: str) -> str:
    """``text`` with bold headings and bold paragraph lead-ins as ``######`` lines and
    every other bold marker removed."""
    if "**" not in text:
        return text
    text = _BOLD_LINE.sub(_line, text)
    text = _BOLD_LEAD.sub(_lead, text)
    return _STRONG.sub(r"\1", text)


def _is_heading(words: str) -> bool:
    words = words.strip()
    return (
        0 < len(words) <= _MAX_HEADING_CHARS
        and not _NOT_A_HEADING.match(words)
        and words[:1].isalpha()
        and words[:1].isupper()
        and len(words.split()) <= 10
    )


def _line(m: re.Match[str]) -> str:
    if not _is_heading(m[2]):
        return m[0]
    return f"{m[1]}{_PREFIX}{m[2]}"


def _lead(m: re.Match[str]) -> str:
    if not _is_heading(m[2]):
        return m[0]
    return f"{m[1]}{_PREFIX}{m[2]}\n{m[1]}"
