"""What the check wizard offers: the questions, which checks answer each, and what fits.

The questions' wording is presentation; everything about the checks comes from the
registry (core.checks.registry): which checks answer a question (``SPEC.answers``), their
"can show / cannot show" sentence, the evidence they use and why they cannot run with the
chosen evidence (each check's ``fits``, the same function the runner plans with).
:func:`load_check_context` runs as a job: importing the checks pulls in numpy and scipy,
which must not stall the window.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.checks.available import AvailableInputs
    from core.checks.plugin import Check
    from core.jobs import JobState
    from core.records import EvidenceChoice
    from core.store.db import CaseFile


@dataclass(frozen=True)
class Question:
    key: str  # one of core.checks.framework.QUESTION_KEYS
    text: str
    explanation: str
    protected_as_base: bool = False  # the base-model choice doubles as the protected model


QUESTIONS: tuple[Question, ...] = (
    Question(
        "outputs",
        "Was the suspect trained on the protected model's outputs?",
        "Distillation: the suspect learned from answers the protected model gave. Tested "
        "against a panel of independent reference models.",
    ),
    Question(
        "weights",
        "Is the suspect derived from a base model's weights (a fine-tune)?",
        "Lineage: the suspect started from the given base model's weights rather than from "
        "an independent initialisation. Says nothing about training data.",
    ),
    Question(
        "same",
        "Is the suspect the protected model itself, or a copy of it?",
        "Copying: the suspect's weights derive from the protected model (lineage, with the "
        "protected model as the base) and its next-token distributions agree with it. "
        "Identical files also show as an identical SHA-256 in the Evidence tab.",
        protected_as_base=True,
    ),
)

# How the wizard supplies each input (the checks' reasons end with it).
HINTS = {
    "references": "tick at least one reference model (or a reference's recorded answers)",
    "protected_answers": "import them with role protected-answers",
    "control_answers": "import them with role control-answers",
    "protected_model": "import it with role protected",
    "base_model": "import one with role base",
    "names": "type them under Names of the protected model",
    "harvested": "import the provider's log with role harvested-exchanges",
    "regenerations": "import them with role regenerations (or draw them: distill-audit check "
    "--protected-model PATH --regenerate K)",
}
AS_BASE_HINTS = {**HINTS, "protected_model": "choose it as the protected model (as base)"}
ALWAYS_SHOWN = ("suspect", "protected_answers")  # every run names them (or harvested exchanges)


def question(key: str) -> Question:
    return next(q for q in QUESTIONS if q.key == key)


def hints(q: Question) -> dict[str, str]:
    return AS_BASE_HINTS if q.protected_as_base else HINTS


@dataclass
class CheckContext:
    """The case's evidence and the checks' specifications, read off the UI thread."""

    models: list[EvidenceChoice]
    transcripts: list[EvidenceChoice]
    names: dict[int, list[str]] = field(default_factory=dict)
    checks: dict[str, Check] = field(default_factory=dict)  # the registry, in report order
    template: str = ""
    response_prefix: str = " "

    def by_role(self, kind: str, *roles: str) -> list[EvidenceChoice]:
        items = self.models if kind == "model" else self.transcripts
        return [e for e in items if not roles or e.role in roles]

    def checks_for(self, q: Question) -> list[Check]:
        """The checks that help answer question ``q``, in report order."""
        return [c for c in self.checks.values() if q.key in c.spec.answers]

    def evidence_rows(self, q: Question) -> set[str]:
        """The evidence the question's checks use (the page shows only those rows)."""
        rows = set(ALWAYS_SHOWN).union(*(c.spec.inputs for c in self.checks_for(q)))
        if q.protected_as_base and "protected_model" in rows:
            rows = (rows - {"protected_model"}) | {"base_model"}
        return rows

    def fit_problem(self, key: str, available: AvailableInputs) -> str | None:
        """Why check ``key`` cannot run with the chosen evidence (None: it fits)."""
        return self.checks[key].problem(available)

    def hp_count(self, keys: Iterable[str], available: AvailableInputs | None = None) -> int:
        """How many of the chosen checks address Hp and can run with ``available`` (the
        Holm family size, as the runner counts it: the checks that produce a p-value)."""
        return sum(
            self.checks[k].spec.addresses_hp
            and (available is None or self.checks[k].problem(available) is None)
            for k in keys
            if k in self.checks
        )


def load_check_context(cf: CaseFile, case_id: int, state: JobState) -> CheckContext:
    """Job body: the case's models and transcript sets, the checks, and the chart module."""
    state.set_status("Reading the case's evidence")
    from core.records import evidence_choices, transcript_names

    choices = evidence_choices(cf, case_id)
    state.set_progress(20)
    state.set_status("Loading the checks")
    from core.checks.probes import DEFAULT_RESPONSE_PREFIX, DEFAULT_TEMPLATE
    from core.checks.registry import CHECKS
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
        dict(CHECKS),
        DEFAULT_TEMPLATE,
        DEFAULT_RESPONSE_PREFIX,
    )
