"""Training sample counts as people type them: ``200``, ``0, 10, 50, all``.

One parser for the CLI's ``--samples`` and the wizard's sweep field, so both accept and
refuse the same text. ``all`` (``None`` here) is every usable record of the source. The
counts are checked against the source itself before any work starts, by
:func:`check_training_samples` (one experiment) and the sweep's own input check.
"""

from __future__ import annotations

from core.errors import DistillAuditError, EvidenceError

ALL = "all"


def parse_sample_counts(text: str) -> tuple[int | None, ...]:
    """The sample counts in ``text`` (comma-separated numbers or 'all'), in the order given.

    Raises DistillAuditError for anything else (a negative or decimal number, a word),
    or when no count is given.
    """
    counts: list[int | None] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if part.lower() == ALL:
            counts.append(None)
        elif part.isdigit():
            counts.append(int(part))
        else:
            raise DistillAuditError(
                f"Sample counts are whole numbers or 'all' (for example 0, 10, 50, all), "
                f"not {part!r}."
            )
    if not counts:
        raise DistillAuditError("Give at least one sample count (a whole number or 'all').")
    return tuple(counts)


def check_training_samples(asked: int | None, available: int, held_out: int) -> int:
    """The training records one experiment gets; EvidenceError when the source is too small.

    ``available`` usable records, ``held_out`` of them kept for evaluation; ``None``
    asks for all the rest.
    """
    rest = available - held_out
    if asked is None:
        return rest
    if asked < 0:
        raise DistillAuditError("The number of training samples cannot be negative.")
    if asked > rest:
        raise EvidenceError(
            f"{asked} training samples were asked for, but the source has only {available} "
            f"usable records ({held_out} of them held out for evaluation)."
        )
    return asked
