"""The evidence a check run needs, read from the case file by id (models and transcript sets).

Everything is checked to belong to the case before a run is created, and each input is
described with its hash (model manifest digest, transcript file hash) for the Run record.
Before that, every model file is re-hashed and every transcript item re-checked against
its import (core.evidence.custody): evidence that changed since is refused, naming what
changed, and no Run is created.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from core.checks.probes import TranscriptEntry
from core.errors import DistillAuditError, NotFoundError
from core.evidence.custody import verify_inputs
from core.evidence.model_folder import model_path
from core.jobs import JobState
from core.store.cases import get_case
from core.store.db import CaseFile
from core.store.models import ModelArtifact, TranscriptItem, TranscriptSet
from core.store.vocabulary import (
    HARVESTED_ROLE,
    REFERENCE_ANSWERS_ROLE,
    REGENERATIONS_ROLE,
    SUSPECT_ANSWERS_ROLE,
)

if TYPE_CHECKING:
    from core.checks.settings import CheckInputs


@dataclass(frozen=True)
class ModelRef:
    """A model artifact of the case: its id, a unique label for results, where it lives, its
    hash."""

    artifact_id: int
    label: str
    name: str
    role: str
    format: str
    path: str
    manifest_sha256: str
    tokenizer_hash: str | None
    files: tuple[str, ...] = ()  # the manifest's file names (relative): all a check may read
    # A model known only by its answers to the probe prompts (role suspect-answers or
    # reference-answers): the set it came from and its answers; no file is loaded.
    answers_set: TranscriptRef | None = None
    answers: tuple[TranscriptEntry, ...] | None = None

    @property
    def answers_only(self) -> bool:
        return self.answers is not None

    def describe(self) -> dict[str, Any]:
        if self.answers_set is not None:
            return {
                **self.answers_set.describe(),
                "label": self.label,
                "model_name": self.name,
                "role": self.role,
                "format": "answers",
            }
        return {
            "artifact_id": self.artifact_id,
            "name": self.name,
            "label": self.label,
            "role": self.role,
            "format": self.format,
            "manifest_sha256": self.manifest_sha256,
        }


@dataclass(frozen=True)
class TranscriptRef:
    set_id: int
    name: str
    role: str
    file_sha256: str
    items: int

    def describe(self) -> dict[str, Any]:
        return {
            "transcript_set_id": self.set_id,
            "name": self.name,
            "role": self.role,
            "file_sha256": self.file_sha256,
            "items": self.items,
        }


@dataclass(frozen=True)
class CaseEvidence:
    case_id: int
    suspect: ModelRef
    references: tuple[ModelRef, ...]
    protected_model: ModelRef | None
    base: ModelRef | None
    protected_set: TranscriptRef | None
    control_set: TranscriptRef | None
    protected_items: tuple[TranscriptEntry, ...]
    control_items: tuple[TranscriptEntry, ...] | None
    harvested_set: TranscriptRef | None = None
    regenerations_set: TranscriptRef | None = None
    harvested_items: tuple[TranscriptEntry, ...] = ()
    regeneration_items: tuple[TranscriptEntry, ...] = ()

    def describe(self) -> dict[str, Any]:
        """Input ids and their hashes, for the Run record."""
        models = [
            m
            for m in (self.suspect, *self.references, self.protected_model, self.base)
            if m is not None and not m.answers_only
        ]
        return {
            "suspect": self.suspect.describe(),
            "references": [r.describe() for r in self.references],
            "protected_model": self.protected_model.describe() if self.protected_model else None,
            "base_model": self.base.describe() if self.base else None,
            "protected_answers": self.protected_set.describe() if self.protected_set else None,
            "control_answers": self.control_set.describe() if self.control_set else None,
            **(
                {"harvested_exchanges": self.harvested_set.describe()} if self.harvested_set else {}
            ),
            **(
                {"regenerations": self.regenerations_set.describe()}
                if self.regenerations_set
                else {}
            ),
            "artifact_ids": [m.artifact_id for m in models],
            "transcript_set_ids": [t.set_id for t in self._sets() if t],
        }

    def _sets(self) -> tuple[TranscriptRef | None, ...]:
        answers = tuple(m.answers_set for m in (self.suspect, *self.references))
        return (
            self.protected_set,
            self.control_set,
            self.harvested_set,
            self.regenerations_set,
            *answers,
        )


def load_case_evidence(
    cf: CaseFile, case_key: int | str, inputs: CheckInputs, state: JobState | None = None
) -> CaseEvidence:
    """Resolve the ids of ``inputs`` within the case and verify them before use;
    NotFoundError / DistillAuditError if unusable, EvidenceChangedError if changed."""
    if (inputs.suspect_id is None) == (inputs.suspect_answers_id is None):
        raise DistillAuditError(
            "Give the suspect either as a model or as its answers to the probe prompts "
            "(a suspect-answers set), not both and not neither."
        )
    if len(set(inputs.reference_answers_ids)) != len(inputs.reference_answers_ids):
        raise DistillAuditError("A reference-answers set was given twice.")
    if (
        inputs.suspect_answers_id is not None
        and inputs.suspect_answers_id in inputs.reference_answers_ids
    ):
        raise DistillAuditError("The suspect's answers cannot also be a reference's answers.")
    if inputs.suspect_id is not None and inputs.suspect_id in inputs.reference_ids:
        raise DistillAuditError("The suspect cannot also be one of the reference models.")
    if len(set(inputs.reference_ids)) != len(inputs.reference_ids):
        raise DistillAuditError("A reference model was given twice.")
    with cf.read_session() as s:
        case_id = get_case(s, case_key).id
        used: set[str] = set()

        def model(aid: int | None, what: str) -> ModelRef | None:
            if aid is None:
                return None
            a = s.get(ModelArtifact, int(aid))
            if a is None or a.case_id != case_id:
                raise NotFoundError(f"No model artifact {aid} ({what}) in case {case_key!r}.")
            label = a.name if a.name not in used else f"{a.name}#{a.id}"
            used.add(label)
            return ModelRef(
                a.id,
                label,
                a.name,
                a.role,
                a.format,
                model_path(a.path, a.format, a.details),
                a.manifest_sha256,
                a.tokenizer_hash,
                files=tuple(str(e.get("path", "")) for e in a.manifest or ()),
            )

        suspect_model = model(inputs.suspect_id, "suspect")
        refs_models = tuple(
            m for m in (model(r, "reference") for r in inputs.reference_ids) if m is not None
        )
        for r in refs_models:  # the same files imported twice are still the suspect
            if (
                suspect_model is not None
                and r.manifest_sha256
                and r.manifest_sha256 == suspect_model.manifest_sha256
            ):
                raise DistillAuditError(
                    f"Reference model {r.name!r} (record {r.artifact_id}) holds the same files as "
                    f"the suspect {suspect_model.name!r} (record {suspect_model.artifact_id}): "
                    "the suspect "
                    "cannot be its own reference; untick it."
                )
        protected_model = model(inputs.protected_model_id, "protected model")
        base = model(inputs.base_model_id, "base model")

        def tset(
            sid: int | None, what: str, role: str | None = None
        ) -> tuple[TranscriptRef, tuple[TranscriptEntry, ...]] | None:
            if sid is None:
                return None
            t = s.get(TranscriptSet, int(sid))
            if t is None or t.case_id != case_id:
                raise NotFoundError(f"No transcript set {sid} ({what}) in case {case_key!r}.")
            if role is not None and t.role != role:
                raise DistillAuditError(
                    f"Transcript set {sid} ({t.name!r}) was imported as {t.role!r}, not as "
                    f"{role!r}; import the {what} with role {role}."
                )
            items = (
                s.execute(
                    select(TranscriptItem)
                    .where(TranscriptItem.set_id == t.id)
                    .order_by(TranscriptItem.ordinal)
                )
                .scalars()
                .all()
            )
            entries = tuple(
                TranscriptEntry(i.item_key, i.prompt, i.response, dict(i.meta or {})) for i in items
            )
            return TranscriptRef(t.id, t.name, t.role, t.file_sha256, len(entries)), entries

        prot = tset(inputs.protected_answers_id, "protected answers")
        ctrl = tset(inputs.control_answers_id, "control answers")
        harv = tset(inputs.harvested_id, "harvested exchanges", HARVESTED_ROLE)
        regen = tset(inputs.regenerations_id, "regenerations", REGENERATIONS_ROLE)

        def answers(sid: int, what: str, role: str) -> ModelRef:
            found = tset(sid, what, role)
            assert found is not None
            ref, entries = found
            t = s.get(TranscriptSet, int(sid))
            assert t is not None
            name = (t.model_name or t.name).strip() or f"answers #{t.id}"
            label = name if name not in used else f"{name}#answers-{t.id}"
            used.add(label)
            return ModelRef(
                0,
                label,
                name,
                role,
                "answers",
                "",
                ref.file_sha256,
                None,
                answers_set=ref,
                answers=entries,
            )

        suspect = suspect_model or answers(
            int(inputs.suspect_answers_id or 0), "suspect's answers", SUSPECT_ANSWERS_ROLE
        )
        refs = refs_models + tuple(
            answers(sid, "reference's answers", REFERENCE_ANSWERS_ROLE)
            for sid in inputs.reference_answers_ids
        )
    if prot is None and harv is None:
        raise DistillAuditError(
            "Give the protected model's captured answers, or the harvested exchanges for the "
            "harvest test: a check run needs one of them."
        )
    models = [suspect, *refs, protected_model, base]
    answer_sets = [m.answers_set.set_id for m in models if m is not None and m.answers_set]
    verify_inputs(
        cf,
        [m.artifact_id for m in models if m is not None and not m.answers_only],
        [t[0].set_id for t in (prot, ctrl, harv, regen) if t is not None] + answer_sets,
        state,
        what="no check was run",
    )
    return CaseEvidence(
        case_id,
        suspect,
        refs,
        protected_model,
        base,
        prot[0] if prot else None,
        ctrl[0] if ctrl else None,
        prot[1] if prot else (),
        ctrl[1] if ctrl else None,
        harv[0] if harv else None,
        regen[0] if regen else None,
        harv[1] if harv else (),
        regen[1] if regen else (),
    )
