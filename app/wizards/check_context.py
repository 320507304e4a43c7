"""What the check wizard offers: the questions, which checks answer each, and what fits.

The questions and the one-sentence "can show / cannot show" lines are presentation; the
checks' own questions, access levels and minimum inputs come from their SPECs
(core.checks.*.SPEC). :func:`load_check_context` runs as a job: importing the checks
pulls in numpy and scipy, which must not stall the window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.jobs import JobState
    from core.store.db import CaseFile
    from core.store.records import EvidenceChoice


@dataclass(frozen=True)
class Question:
    key: str
    text: str
    explanation: str
    checks: tuple[str, ...]


QUESTIONS: tuple[Question, ...] = (
    Question(
        "outputs",
        "Was the suspect trained on the protected model's outputs?",
        "Distillation: the suspect learned from answers the protected model gave. Tested "
        "against a panel of independent reference models.",
        ("likelihood", "identity", "similarity", "distribution"),
    ),
    Question(
        "weights",
        "Is the suspect derived from a base model's weights (a fine-tune)?",
        "Lineage: the suspect started from the given base model's weights rather than from "
        "an independent initialisation. Says nothing about training data.",
        ("lineage",),
    ),
    Question(
        "same",
        "Is the suspect the protected model itself, or a copy of it?",
        "Copying: the suspect's weights derive from the protected model (lineage, with the "
        "protected model as the base) and its next-token distributions agree with it. "
        "Identical files also show as an identical SHA-256 in the Evidence tab.",
        ("lineage", "distribution"),
    ),
)

CAN_SHOW = {
    "likelihood": "Can show that the suspect finds the protected model's own answers unusually "
    "likely compared with the reference models; cannot show how much it learned "
    "or from which requests.",
    "identity": "Can show that the suspect calls itself by the protected model's name or uses "
    "its habits more often than the references; cannot rule out a model that was "
    "told to hide its origin.",
    "similarity": "Can show that the suspect's own answers resemble the protected model's more "
    "than the references' do; cannot separate copying from a shared public "
    "source the panel lacks.",
    "distribution": "Can show that the suspect's next-token probabilities are closer to the "
    "protected model's than the references' are (both models local); cannot "
    "run without the protected model's weights and a shared tokenizer.",
    "lineage": "Can show that the suspect's weights derive from the given base model; cannot "
    "say anything about training on the protected model's outputs.",
}


def fit_problem(
    check: str,
    *,
    references: int,
    protected_answers: bool,
    control_answers: bool,
    protected_model: bool,
    base_model: bool,
    names: bool,
) -> str | None:
    """Why a check cannot run with the chosen evidence (None: it fits)."""
    if check == "lineage":
        return None if base_model else "needs a base model (import one with role base)"
    if not protected_answers:
        return "needs the protected model's captured answers (role protected-answers)"
    if references < 1:
        return "needs at least one reference model in the panel"
    if check == "distribution" and not protected_model:
        return "needs the protected model itself (import it with role protected)"
    if check == "identity" and not (names or control_answers):
        return "needs the protected model's names, or control answers to learn its phrases"
    return None


@dataclass
class CheckContext:
    """The case's evidence and the checks' specifications, read off the UI thread."""

    models: list[EvidenceChoice]
    transcripts: list[EvidenceChoice]
    names: dict[int, list[str]] = field(default_factory=dict)
    specs: dict[str, Any] = field(default_factory=dict)
    template: str = ""
    response_prefix: str = " "

    def by_role(self, kind: str, *roles: str) -> list[EvidenceChoice]:
        items = self.models if kind == "model" else self.transcripts
        return [e for e in items if not roles or e.role in roles]


def load_check_context(cf: CaseFile, case_id: int, state: JobState) -> CheckContext:
    """Job body: the case's models and transcript sets, the SPECs, and the chart module."""
    state.set_status("Reading the case's evidence")
    from core.store.records import evidence_choices, transcript_names

    choices = evidence_choices(cf, case_id)
    state.set_progress(20)
    state.set_status("Loading the checks")
    from core.checks.probes import DEFAULT_RESPONSE_PREFIX, DEFAULT_TEMPLATE
    from core.checks.runner import SPECS
    from core.checks.stats import panel_adequacy  # noqa: F401 - imported here, used on the page

    state.set_progress(70)
    import core.reports.charts  # noqa: F401 - the results page draws with it

    transcripts = [c for c in choices if c.kind == "transcripts"]
    names = {t.id: transcript_names(cf, t.id) for t in transcripts}
    state.set_progress(100)
    return CheckContext(
        [c for c in choices if c.kind == "model"],
        transcripts,
        names,
        dict(SPECS),
        DEFAULT_TEMPLATE,
        DEFAULT_RESPONSE_PREFIX,
    )
