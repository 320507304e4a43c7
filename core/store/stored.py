"""Reading numbers back from what runs stored as JSON (summaries, results, parameters).

Stored JSON can hold a number, text, ``null`` or a value written by an older version; a
reader must never crash on it nor take a bool for a number. The run summaries
(core.distill.summaries) and the report's readers (core.reports.analyses) share these.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def number(value: Any) -> float | None:
    """A finite number, or None (a bool, a missing value or text that is no number)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def integer(value: Any) -> int | None:
    x = number(value)
    return int(x) if x is not None else None


def interval(value: Any) -> tuple[float | None, float | None]:
    """An interval stored as ``[low, high]`` (or ``{"low", "high"}``)."""
    if isinstance(value, list | tuple) and len(value) == 2:
        return number(value[0]), number(value[1])
    if isinstance(value, Mapping):
        return number(value.get("low")), number(value.get("high"))
    return None, None
