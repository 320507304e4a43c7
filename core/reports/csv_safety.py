"""Cells that a spreadsheet would run as a formula are neutralised before any CSV is written.

OWASP's rule for CSV injection: a text cell that starts with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return is prefixed with a single quote, so Excel, LibreOffice and Google
Sheets show it as text instead of evaluating it (``=HYPERLINK(...)`` would otherwise become
a live link that can leak other cells). Numbers written by the tool are left alone: a
number is not a formula, and ``-0.25`` must stay a number for whoever analyses the file.
"""

from __future__ import annotations

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """``text`` as a spreadsheet will show it, never as a formula it would run."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text
