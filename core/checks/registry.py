"""The one list of checks: which exist, in which order, and which address Hp.

The runner, the CLI's ``--checks``, the check wizard and the report all read it, so a check
added here (or registered at run time with :func:`register`, e.g. by a test) is picked up
everywhere with no other edit. The order below is the order of every listing and report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager

from core.checks import distribution, harvest, identity, likelihood, lineage, similarity
from core.checks.framework import CheckSpec
from core.checks.plugin import Check
from core.errors import DistillAuditError

CHECKS: dict[str, Check] = {
    c.key: c
    for c in (
        likelihood.CHECK,
        identity.CHECK,
        similarity.CHECK,
        distribution.CHECK,
        harvest.CHECK,
        lineage.CHECK,
    )
}


# What drives a check's statistic, for checks whose SPEC does not say it yet (SPEC.signals
# wins): checks sharing a signal are not independent lines of evidence.
_SIGNALS: dict[str, tuple[str, ...]] = {
    "identity": ("persona names", "persona phrases"),
    "lineage": ("weights",),
}


def signals(key: str) -> tuple[str, ...]:
    """The signals that drive check ``key`` (its SPEC's ``signals``, else the table above)."""
    spec = CHECKS[key].spec if key in CHECKS else None
    return (spec.signals if spec is not None else ()) or _SIGNALS.get(key, ())


def check_names() -> tuple[str, ...]:
    """Every check's key, in report order."""
    return tuple(CHECKS)


def hp_checks() -> tuple[str, ...]:
    """The checks that address Hp (combined by Holm), in report order."""
    return tuple(k for k, c in CHECKS.items() if c.spec.addresses_hp)


class _SpecView(Mapping[str, CheckSpec]):
    """A live read-only view key -> SPEC of the registered checks, in report order."""

    def __getitem__(self, key: str) -> CheckSpec:
        return CHECKS[key].spec

    def __iter__(self) -> Iterator[str]:
        return iter(CHECKS)

    def __len__(self) -> int:
        return len(CHECKS)


SPECS: Mapping[str, CheckSpec] = _SpecView()


def get(key: str) -> Check:
    """The check called ``key``; DistillAuditError naming the known ones otherwise."""
    try:
        return CHECKS[key]
    except KeyError:
        raise DistillAuditError(
            f"Unknown check {key!r}; choose from {', '.join(CHECKS)}."
        ) from None


def select(keys: Iterable[str]) -> list[Check]:
    """The chosen checks in report order; DistillAuditError for unknown names or none."""
    keys = list(keys)
    unknown = [k for k in keys if k not in CHECKS]
    if unknown or not keys:
        raise DistillAuditError(
            f"Unknown check(s) {', '.join(unknown) or '(none chosen)'}; choose from "
            f"{', '.join(CHECKS)}."
        )
    return [c for k, c in CHECKS.items() if k in keys]


def order_key(key: str) -> tuple[int, str]:
    """Sort key putting checks in report order (unknown names last, alphabetically)."""
    names = check_names()
    return (names.index(key) if key in names else len(names), key)


def register(check: Check) -> Callable[[], None]:
    """Add a check after the others; returns the function that removes it again."""
    if check.key in CHECKS:
        raise ValueError(f"a check called {check.key!r} is already registered")
    CHECKS[check.key] = check

    def unregister() -> None:
        if CHECKS.get(check.key) is check:
            del CHECKS[check.key]

    return unregister


@contextmanager
def registered(check: Check) -> Iterator[Mapping[str, Check]]:
    """``with registered(check):`` the check is listed everywhere, and removed afterwards."""
    unregister = register(check)
    try:
        yield CHECKS
    finally:
        unregister()
