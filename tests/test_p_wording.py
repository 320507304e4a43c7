"""A p at its floor reads "p ≤ x" everywhere, never "p = ≤ x" or "≤ ≤ x".

The floors arise from the rank test of a large panel (1/(R+1)) and from Monte-Carlo
sign-flip tests (1/(N+1)); both end up in reasons, findings and the combined statement.
"""

from __future__ import annotations

import numpy as np

from core.checks.findings import finding_statement
from core.checks.likelihood import SPEC
from core.checks.paired import compare_with_panel
from core.checks.pformat import at_most, p_clause
from core.checks.stats import combine_holm, format_p

BAD = ("= ≤", "≤ ≤", "<= ≤")


def _texts(n_refs: int) -> list[str]:
    rng = np.random.default_rng(3)
    probes = [f"p{i}" for i in range(30)]
    refs = {f"ref{j}": rng.normal(0, 1, 30) for j in range(n_refs)}
    suspect = rng.normal(6, 1, 30)  # far above every reference: every floor is reached
    res = compare_with_panel(
        SPEC, suspect, refs, probe_ids=probes, seed=1, n_resamples=200, n_tests=1
    )
    combined = combine_holm({SPEC.key: res.p_value}, alpha=0.05)
    return [
        res.reason,
        *res.warnings,
        combined.statement,
        finding_statement(SPEC, res, 1, suspect="s", combined=combined),
    ]


def test_floors_read_as_bounds_in_every_sentence():
    for n_refs in (3, 20):  # predictive test; rank test at its floor 1/21
        for text in _texts(n_refs):
            assert not any(b in text for b in BAD), text
    assert any("≤" in t for t in _texts(20))


def test_the_two_phrasings():
    floor = 1 / 10_001
    assert p_clause(format_p(floor, floor=floor)) == "p ≤ 1e-4"
    assert p_clause(format_p(0.0123)) == "p = 0.0123"
    assert at_most(format_p(floor, floor=floor)) == "1e-4"
    assert at_most(format_p(0.0123)) == "0.0123"
