"""How numbers, dates and sizes are written in reports (one style for PDF, GUI and tests)."""

from __future__ import annotations

import math
from typing import Any

DASH = "—"


def format_p(p: float | None, floor: float | None = None) -> str:
    """A p-value as everywhere else (:func:`core.checks.stats.format_p`): three significant
    digits, powers of ten below 0.001, never 0, "≤ 1e-4" at a Monte-Carlo or rank floor."""
    from core.checks.stats import format_p as core_format_p

    return core_format_p(p, floor=floor)


def format_p_n(p: float | None, n: int | None, floor: float | None = None) -> str:
    """'0.0123 (N = 200)': a p-value always travels with its N."""
    if p is None:
        return DASH
    text = format_p(p, floor)
    return f"{text} (N = {n:,})" if n is not None else text


def format_lineage_p(p: float | None, results: Any) -> str:
    """The weight-lineage check's p: '≤ 1/(N+1)' at its Monte Carlo floor, with N resamples."""
    from core.checks.lineage import p_text

    n = next((r.n_resamples for r in results or () if isinstance(r.n_resamples, int)), None)
    return DASH if p is None else p_text(p, n)


def format_num(x: float | None) -> str:
    if x is None or not isinstance(x, (int, float)) or not math.isfinite(x):
        return DASH
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        return f"{x:.3e}"
    return f"{x:.4g}"


def format_ci(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return ""
    return f"[{format_num(low)}, {format_num(high)}]"


def format_rate(rate: float | None) -> str:
    return DASH if rate is None else f"{100 * rate:.1f}%"


def format_time(iso_text: str | None) -> str:
    """'2025-09-02T14:03:11.000000Z' -> '2025-09-02 14:03:11 UTC'."""
    if not iso_text:
        return DASH
    t = str(iso_text).replace("T", " ").rstrip("Z")
    return t.split(".")[0] + " UTC"


def format_size(size: int | None) -> str:
    return DASH if size is None else f"{size:,} B"


def le(sentence: str) -> str:
    """Typeset comparison signs ('<=' as '≤') in generated sentences."""
    return sentence.replace("<=", "≤").replace(">=", "≥")


def compact(value: Any, limit: int | None = 400) -> str:
    """A one-line rendering of a parameter dict or list for tables (``limit=None``: in full)."""
    import json

    s = (
        value
        if isinstance(value, str)
        else json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    )
    return s if limit is None or len(s) <= limit else s[: limit - 1] + "…"
