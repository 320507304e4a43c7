"""A model known only by its answers: find its answers to the prompts a check puts.

An API-only suspect or reference (a transcript set of role suspect-answers or
reference-answers) is not run: the text-only checks read what it answered. Each item is
keyed to the prompt it answers; prompts are matched with white space and case ignored
(as :func:`core.checks.probes.match_probes` matches protected and control answers), and
by item id where the prompt text does not match. A prompt answered more than once keeps
every answer, in file order (the identity check's greedy and sampled answers); a check
that needs one answer per prompt takes the first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from core.checks.probes import TranscriptEntry, normalise_prompt
from core.errors import DeclinedError

if TYPE_CHECKING:
    from core.checks.evidence import ModelRef


def answers_to(
    ref: ModelRef, prompts: Sequence[tuple[str, str]], what: str
) -> tuple[tuple[str, ...], ...]:
    """Every recorded answer of ``ref`` to each ``(key, prompt)``, in the prompts' order.

    DeclinedError naming the model, the number of prompts without an answer and the first
    few of them when the answers do not cover every prompt (``what``: "probe prompts").
    """
    entries: tuple[TranscriptEntry, ...] = ref.answers or ()
    by_prompt: dict[str, list[str]] = {}
    by_key: dict[str, list[str]] = {}
    for e in entries:
        by_prompt.setdefault(normalise_prompt(e.prompt), []).append(e.response)
        by_key.setdefault(e.key, []).append(e.response)
    out: list[tuple[str, ...]] = []
    missing: list[str] = []
    for key, prompt in prompts:
        found = by_prompt.get(normalise_prompt(prompt)) or by_key.get(key)
        if not found:
            missing.append(key)
            continue
        out.append(tuple(found))
    if missing:
        shown = ", ".join(missing[:3]) + (
            f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        )
        raise DeclinedError(
            f"The answers of {ref.label!r} (transcript set {_set_name(ref)}) do not answer "
            f"{len(missing)} of the {len(prompts)} {what} ({shown}): collect its answers to "
            "exactly these prompts (distill-audit capture --prompts FILE) and import them again."
        )
    return tuple(out)


def _set_name(ref: ModelRef) -> str:
    s = ref.answers_set
    return f"{s.set_id}, {s.name!r}" if s is not None else "?"
