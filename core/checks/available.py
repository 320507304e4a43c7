"""What evidence is at hand for a check: the one record the runner and the check wizard both fill.

Each check's ``fits(available)`` reads an :class:`AvailableInputs` and says why it cannot
run (or None). The runner fills it from the case file just before it plans a run; the
wizard fills it from what the user picked, so the wizard offers exactly the checks the
runner would accept. What neither can know beforehand (how many probes match, which
phrases can be learned) is left as None by the wizard and then not judged. This module
imports nothing heavy, so the GUI can use it on the UI thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace

# How the command line supplies each input; a front end passes its own words in ``hints``.
CLI_HINTS: Mapping[str, str] = {
    "references": "give --reference (or --reference-answers)",
    "protected_answers": "give --protected-transcripts",
    "control_answers": "give --control-answers",
    "protected_model": "give --protected-model",
    "base_model": "give --base-model",
    "names": "give --protected-names",
    "harvested": "give --harvested",
    "regenerations": "give --regenerations (or --protected-model with --regenerate K)",
}


@dataclass(frozen=True)
class AvailableInputs:
    """Counts and flags of the evidence chosen for a run (the suspect is always given)."""

    references: int = 0  # reference models (weights; answers-only ones are counted apart)
    protected_answers: bool = False
    control_answers: bool = False
    protected_model: bool = False
    base_model: bool = False
    names: bool = False  # the protected model's names, vendor or aliases were given
    harvested: bool = False  # the provider's log of exchanges sent to the suspected accounts
    regenerations: bool = False  # fresh answers to the logged prompts (same model and settings)
    probes: int | None = None  # matched probes; None: not known yet (before the run)
    phrases: bool | None = None  # habitual phrases were learned; None: not known yet
    reference_answers: int = 0  # references known only by their answers to the probe prompts
    suspect_answers_only: bool = False  # the suspect is known only by its answers
    hints: Mapping[str, str] = field(default_factory=dict)  # input -> how to supply it here

    def hint(self, name: str) -> str:
        """How the user supplies input ``name`` in this front end (the CLI's flag by default)."""
        return self.hints.get(name) or CLI_HINTS[name]


INPUT_NAMES: tuple[str, ...] = tuple(
    f.name for f in fields(AvailableInputs) if f.name in CLI_HINTS
)  # the inputs a CheckSpec may list as used


def needs_protected_answers(available: AvailableInputs) -> str | None:
    """Every probe-based check compares with the protected model's captured answers."""
    if available.protected_answers:
        return None
    return (
        "No captured answers of the protected model were chosen: "
        f"{available.hint('protected_answers')}."
    )


def needs_probes(available: AvailableInputs, minimum: int) -> str | None:
    """Enough matched probes (unknown counts pass: the runner judges them)."""
    if available.probes is None or available.probes >= minimum:
        return None
    return (
        f"Only {available.probes} usable probes (protected answers matched with "
        f"control answers); this check needs at least {minimum}."
    )


def needs_references(available: AvailableInputs) -> str | None:
    """A check that addresses Hp compares the suspect with a reference panel."""
    if available.references >= 1:
        return None
    return (
        "No reference models were given: every check compares the suspect "
        "with a panel of independent reference models."
    )


def needs_suspect_model(access: str) -> str:
    """Why a check that reads more than text declines for a suspect known by its answers."""
    what = "token probabilities" if access == "log-probs" else "token probabilities and weights"
    return (
        f"This check needs the suspect's {what}: only its answers to the probe prompts were "
        "given (a suspect-answers transcript), so it cannot be measured. The text-only checks "
        "(identity, similarity) run on answers."
    )


def for_answers(available: AvailableInputs, reads_answers: bool) -> AvailableInputs:
    """What a check sees: answers-only references count only for a check that reads answers."""
    if not reads_answers or not available.reference_answers:
        return available
    return replace(available, references=available.references + available.reference_answers)


def first_problem(*problems: str | None) -> str | None:
    """The first of the reasons that is not None (the order says which is reported)."""
    return next((p for p in problems if p), None)
