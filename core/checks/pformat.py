"""How a p-value is printed: one function for the CLI, the GUI and the report.

Pure formatting with no numerical library behind it, so the window can import it at start
without loading numpy or scipy.
"""

from __future__ import annotations

import math


def format_p(p: float | None, *, floor: float | None = None) -> str:
    """A p-value for people: 3 significant digits, powers of ten below 0.001, never 0.

    ``floor`` is the smallest value the test can give (a Monte-Carlo 1/(N+1), a rank
    test's 1/(R+1)); a p at its floor prints as "≤ floor" rounded up ("≤ 1e-4" for
    1/10,001), since the true p may be smaller. The one formatting of p-values used by the
    CLI, the GUI and the report.
    """
    if p is None or not math.isfinite(p):
        return "—"
    if floor is not None and floor > 0 and p <= floor * (1 + 1e-9):
        return "≤ " + _round_up(floor)
    if p >= 0.001:
        return f"{p:.3g}"
    mantissa, exponent = f"{p:.2e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _round_up(x: float) -> str:
    """``x`` rounded up to 2 significant digits, trailing zeros dropped (1/10001 -> 1e-4)."""
    e = math.floor(math.log10(x)) - 1
    v = math.ceil(x / 10.0**e - 1e-9) * 10.0**e
    if v >= 0.001:
        return f"{v:.2g}"
    mantissa, exponent = f"{v:.1e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def p_floor(n_resamples: int | str | None) -> float | None:
    """The Monte-Carlo floor 1/(N+1) of a p from N resamples (None: exact or unknown)."""
    return 1.0 / (n_resamples + 1) if isinstance(n_resamples, int) and n_resamples > 0 else None


def p_clause(text: str) -> str:
    """ "p = 0.003", or "p ≤ 1e-4" for a p at its floor, from :func:`format_p`'s text."""
    return f"p {text}" if text.startswith("≤") else f"p = {text}"


def at_most(text: str) -> str:
    """The number of :func:`format_p`'s text for "with probability ≤ …" (a floor's "≤" dropped:
    the sentence already says at most)."""
    return text.removeprefix("≤ ")
