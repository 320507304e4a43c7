"""Nested parameters (dicts, lists, numbers) as indented "Label: value" lines.

Runs keep their parameters, inputs and partial results as JSON; a lawyer reads them
better as words: keys become labels ("n_probes" → "N probes"), lists of plain values
join on one line, nested records indent under their label, and long values are cut
with an ellipsis (the JSON in the case file keeps the whole value).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MAX_VALUE = 300
MAX_ITEMS = 50

ACRONYMS = {"sha256": "SHA-256", "id": "ID", "ids": "IDs", "api": "API", "ci": "CI", "p": "p"}


def label(key: str) -> str:
    """A readable label for a JSON key: ``max_new_tokens`` → ``Max new tokens``."""
    words = str(key).replace("-", "_").split("_")
    out = [ACRONYMS.get(w.lower(), w) for w in words if w]
    if not out:
        return str(key)
    first = out[0]
    out[0] = first if first in ACRONYMS.values() else first[:1].upper() + first[1:]
    return " ".join(out)


def _scalar(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    text = str(value).replace("\n", " ")
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def _plain(value: Any) -> bool:
    return not isinstance(value, (Mapping, list, tuple))


def readable_lines(value: Any, indent: int = 0) -> list[str]:
    """``value`` as lines of text, nested records indented by two spaces per level."""
    pad = "  " * indent
    if isinstance(value, Mapping):
        lines: list[str] = []
        for key, item in value.items():
            if _plain(item):
                lines.append(f"{pad}{label(key)}: {_scalar(item)}")
            elif isinstance(item, Sequence) and all(_plain(v) for v in item):
                shown = ", ".join(_scalar(v) for v in list(item)[:MAX_ITEMS])
                more = f" … ({len(item)} in all)" if len(item) > MAX_ITEMS else ""
                lines.append(f"{pad}{label(key)}: {shown or '—'}{more}")
            else:
                lines.append(f"{pad}{label(key)}:")
                lines.extend(readable_lines(item, indent + 1))
        return lines or [f"{pad}—"]
    if isinstance(value, (list, tuple)):
        lines = []
        for n, item in enumerate(value[:MAX_ITEMS], 1):
            if _plain(item):
                lines.append(f"{pad}{n}. {_scalar(item)}")
            else:
                lines.append(f"{pad}{n}.")
                lines.extend(readable_lines(item, indent + 1))
        if len(value) > MAX_ITEMS:
            lines.append(f"{pad}… ({len(value)} in all)")
        return lines or [f"{pad}—"]
    return [f"{pad}{_scalar(value)}"]


def readable(value: Any) -> str:
    """:func:`readable_lines` joined into one text."""
    return "\n".join(readable_lines(value))
