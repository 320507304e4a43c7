"""Importing evidence into a case: validate first, hash, then write in one transaction.

Validation, reading and hashing happen before anything touches the case file, and each
import is a single transaction with its audit event, so a bad file leaves nothing behind.
The write lock is taken only for that transaction (the inserts), never while a source is
read or hashed, so a second import waits seconds, not for the whole first import.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from core.errors import DistillAuditError, DuplicateEvidenceError, EvidenceError
from core.evidence.custody import ItemsDigest, model_binding, transcript_binding, verify_artifact
from core.evidence.formats import ARTIFACT_ROLES, REGENERATIONS_ROLE, TRANSCRIPT_ROLES
from core.evidence.harvest_records import HARVEST_ROLES, HarvestValidator
from core.evidence.hashing import hash_files, manifest_digest, sha256_file
from core.evidence.model_folder import ModelInspection, inspect_model
from core.evidence.source_custody import SourceCustody, check_source_hash, record_at_import
from core.evidence.transcripts import TranscriptRecord, read_transcripts
from core.jobs import JobState
from core.store import audit
from core.store.cases import get_case
from core.store.db import CaseFile
from core.store.models import ModelArtifact, TranscriptItem, TranscriptSet
from core.store.vocabulary import ANSWERS_ROLES


def _check_role(role: str, allowed: tuple[str, ...]) -> None:
    if role not in allowed:
        raise DistillAuditError(f"Unknown role {role!r}; choose one of {', '.join(allowed)}.")


def import_model(
    cf: CaseFile,
    case_key: int | str,
    path: str | Path,
    role: str,
    *,
    name: str | None = None,
    provenance: dict[str, Any] | None = None,
    actor: str | None = None,
    state: JobState | None = None,
    inspection: ModelInspection | None = None,
    custody: SourceCustody | None = None,
) -> int:
    """Validate, hash and record a model (HF folder or ONNX); returns the artifact id.

    ``custody`` (custody from the source) is checked before anything is written: a hash
    stated at source must be the manifest digest, or the one file's hash of a one-file
    model, unless the mismatch is accepted (then it is recorded as a discrepancy).
    """
    _check_role(role, ARTIFACT_ROLES)
    state = state or JobState()
    state.set_status(f"Inspecting {Path(path).name}")
    info = inspection or inspect_model(Path(path))
    with cf.read_session() as s:
        case_id = get_case(s, case_key).id
    entries = hash_files(info.root, info.files, state)
    custody = custody.normalised() if custody is not None else None
    digest = manifest_digest(entries)
    receipt = [digest] + ([entries[0].sha256] if len(entries) == 1 else [])
    check_source_hash(custody, receipt, info.root.name)
    state.set_status("Recording the evidence")
    with cf.session(state) as s:
        _refuse_duplicate_model(s, case_id, digest, role, name or info.root.name)
        art = ModelArtifact(
            case_id=case_id,
            name=name or info.root.name,
            role=role,
            format=info.format,
            path=str(info.root.resolve()),
            manifest=[e.to_dict() for e in entries],
            manifest_sha256=digest,
            total_size=sum(e.size for e in entries),
            architecture=info.architecture,
            parameter_count=info.parameter_count,
            vocab_size=info.vocab_size,
            tokenizer_hash=info.tokenizer_hash(),
            licence_file=info.licence_file,
            details=info.details,
            provenance=dict(provenance or {}),
            imported_by=actor or audit.current_actor(),
        )
        s.add(art)
        s.flush()
        audit.record(
            s,
            "evidence.model_imported",
            "model_artifact",
            art.id,
            case_id=case_id,
            actor=actor,
            details={
                "name": art.name,
                "role": role,
                "format": info.format,
                "path": art.path,
                "manifest_sha256": art.manifest_sha256,
                "files": [e.to_dict() for e in entries],
                "binding": model_binding(art),
            },
        )
        record_at_import(s, case_id, "model", art.id, custody, receipt, actor)
        state.set_progress(100)
        return art.id


def _read_all(path: Path, role: str, state: JobState) -> list[TranscriptRecord]:
    """Every record of a transcript file, validated, before anything is written."""
    records: list[TranscriptRecord] = []
    validate = HarvestValidator(role, path.name) if role in HARVEST_ROLES else None
    for rec in read_transcripts(path, require_response=role != "probes"):
        if validate is not None:  # the harvest test's record kinds, normalised metadata
            rec.meta = validate(rec)
        records.append(rec)
        if len(records) % 500 == 0:
            state.check_cancelled()
            state.set_status(f"Read {len(records):,} records")
    if not records:
        raise EvidenceError(f"{path.name} holds no prompt/response records.")
    return records


def answers_model_name(records: list[TranscriptRecord], given: str, source: str, role: str) -> str:
    """The model a set of answers came from (a suspect's or reference's answers to the probes).

    Each record must answer a probe prompt, and the model must be named: by ``given`` (the
    importer's model name) or by every record's ``model`` field, one name for the whole
    set, since a set is one model's answers. EvidenceError otherwise (nothing is written).
    """
    for rec in records:
        if not rec.response.strip():
            raise EvidenceError(
                f"{source}, line {rec.line}: the answer is empty; a {role} set holds the "
                "model's answer to each probe prompt."
            )
    named = {str(r.meta.get("model") or r.meta.get("model_name") or "").strip() for r in records}
    if given.strip():
        return given.strip()
    if len(named) == 1 and "" not in named:
        return named.pop()
    if len(named - {""}) > 1:
        raise EvidenceError(
            f"{source}: the records name {len(named - {''})} different models "
            f"({', '.join(sorted(named - {''})[:3])}); a {role} set is one model's answers: "
            "split the file by model and import each as its own set."
        )
    raise EvidenceError(
        f"{source}: say which model gave these answers: give the model's name when importing "
        "(--model NAME) or a 'model' field in every record."
    )


def _insert_items(
    s: Session, set_id: int, records: list[TranscriptRecord], state: JobState
) -> None:
    """The set's items, inserted in batches (a bulk INSERT, so the write lock is short)."""
    batch = 1000
    for start in range(0, len(records), batch):
        state.check_cancelled()
        rows = [
            {
                "set_id": set_id,
                "ordinal": ordinal,
                "item_key": rec.key,
                "prompt": rec.prompt,
                "response": rec.response,
                "meta": rec.meta,
                "collected_at": rec.collected_at,
                "sha256": rec.sha256(),
            }
            for ordinal, rec in enumerate(records[start : start + batch], start=start)
        ]
        s.execute(insert(TranscriptItem), rows)
        state.set_progress(start + len(rows), len(records))


def _refuse_duplicate_model(s: Session, case_id: int, digest: str, role: str, name: str) -> None:
    """DuplicateEvidenceError when the case already holds a model with these files in this
    role under this name (importing it again, e.g. after Back in the wizard, would make a
    second identical record). The same files in another role (the protected model as a
    base) or deliberately named apart are recorded as another piece of evidence."""
    same = (
        s.execute(
            select(ModelArtifact).where(
                ModelArtifact.case_id == case_id,
                ModelArtifact.manifest_sha256 == digest,
                ModelArtifact.role == role,
                ModelArtifact.name == name,
            )
        )
        .scalars()
        .first()
    )
    if same is not None:
        raise DuplicateEvidenceError(
            f"These files are already in the case as model record {same.id} ({same.name!r}, "
            f"role {same.role}); nothing was imported. Use that record.",
            same.id,
        )


def _refuse_duplicate_transcripts(s: Session, case_id: int, digest: str, role: str) -> None:
    """DuplicateEvidenceError when the case already holds this transcript file in this role."""
    same = (
        s.execute(
            select(TranscriptSet).where(
                TranscriptSet.case_id == case_id,
                TranscriptSet.file_sha256 == digest,
                TranscriptSet.role == role,
            )
        )
        .scalars()
        .first()
    )
    if same is not None:
        raise DuplicateEvidenceError(
            f"This file is already in the case as transcript set {same.id} ({same.name!r}, "
            f"role {same.role}); nothing was imported. Use that record.",
            same.id,
        )


def find_model(
    cf: CaseFile, case_key: int | str, path: str | Path, role: str | None = None
) -> int | None:
    """The id of the case's model imported from this path (in this role, if given), or None.

    Paths compare resolved, as the importer stores them: the same folder given relatively,
    absolutely or through a link is the same evidence.
    """
    resolved = str(Path(path).resolve())
    with cf.read_session() as s:
        case_id = get_case(s, case_key).id
        query = select(ModelArtifact.id).where(
            ModelArtifact.case_id == case_id, ModelArtifact.path == resolved
        )
        if role is not None:
            query = query.where(ModelArtifact.role == role)
        found = s.execute(query.order_by(ModelArtifact.id)).scalars().first()
    return None if found is None else int(found)


def find_or_import_model(
    cf: CaseFile,
    case_key: int | str,
    path: str | Path,
    role: str,
    state: JobState | None = None,
    *,
    name: str | None = None,
    provenance: dict[str, Any] | None = None,
    actor: str | None = None,
) -> int:
    """Reuse the case's model with this path and role, or import it (hashing every file).

    Running checks again on evidence already in the case then does not record the same
    model twice; a model reused is first re-verified against its import (every manifest
    file re-hashed, its record checked against its import event), and refused with
    EvidenceChangedError, naming the files, when it changed. The other arguments go to
    :func:`import_model`.
    """
    _check_role(role, ARTIFACT_ROLES)
    found = find_model(cf, case_key, path, role)
    if found is not None:
        verify_artifact(cf, found, state, what=f"the {role} model {Path(path).name} was not used")
        return found
    return import_model(
        cf, case_key, path, role, name=name, provenance=provenance, actor=actor, state=state
    )


def import_transcripts(
    cf: CaseFile,
    case_key: int | str,
    path: str | Path,
    role: str,
    *,
    name: str | None = None,
    source: str = "",
    provider: str = "",
    model_name: str = "",
    sampling: dict[str, Any] | None = None,
    collector: str = "",
    collected_at: datetime | None = None,
    actor: str | None = None,
    state: JobState | None = None,
    custody: SourceCustody | None = None,
) -> int:
    """Stream a JSONL/CSV transcript into the case as one all-or-nothing transaction.

    ``custody`` is checked before anything is written (see :func:`import_model`); the
    hash on receipt is the file's SHA-256.

    Records of the harvest test's roles (harvested exchanges, regenerations) are validated
    one by one (:mod:`core.evidence.harvest_records`) and stored with normalised metadata.
    """
    _check_role(role, TRANSCRIPT_ROLES)
    state = state or JobState()
    p = Path(path)
    if not p.is_file():
        raise EvidenceError(f"{p} is not a file.")
    size = p.stat().st_size
    if size == 0:
        raise EvidenceError(f"{p.name} is empty.")
    with cf.read_session() as s:
        case_id = get_case(s, case_key).id
    state.set_status(f"Hashing {p.name}")
    file_hash = sha256_file(p, state.sub(0, 30), 0, size)
    state.set_status(f"Reading {p.name}")
    records = _read_all(p, role, state.sub(30, 80))
    if sha256_file(p) != file_hash:
        raise EvidenceError(f"{p.name} changed while it was being imported; try again.")
    seen: dict[str, int] = {}
    duplicates: list[str] = []
    items = ItemsDigest()
    for rec in records:
        items.add(rec.sha256())
        if role == REGENERATIONS_ROLE:
            continue  # K answers per prompt: its prompts repeat by design
        digest = hashlib.sha256(rec.prompt.strip().encode()).hexdigest()
        if digest in seen:
            duplicates.append(f"line {rec.line} repeats line {seen[digest]}")
        else:
            seen[digest] = rec.line
    first_meta = records[0].meta
    if role in ANSWERS_ROLES:
        model_name = answers_model_name(records, model_name, p.name, role)
    earliest = min((r.collected_at for r in records if r.collected_at), default=None)
    count = len(records)
    custody = custody.normalised() if custody is not None else None
    check_source_hash(custody, [file_hash], p.name)
    # Only now, with everything read, validated and hashed, is the write lock taken: a
    # second import (or any change) waits only for the inserts, never for the reading.
    state.set_status("Recording the evidence")
    with cf.session(state) as s:
        _refuse_duplicate_transcripts(s, case_id, file_hash, role)
        tset = TranscriptSet(
            case_id=case_id,
            name=name or p.stem,
            role=role,
            source_path=str(p.resolve()),
            file_sha256=file_hash,
            file_size=size,
            source=source,
            provider=provider,
            model_name=model_name,
            sampling=dict(sampling or {}),
            collector=collector,
            collected_at=collected_at,
            imported_by=actor or audit.current_actor(),
        )
        s.add(tset)
        s.flush()
        _insert_items(s, tset.id, records, state.sub(80, 100))
        meta = first_meta or {}
        tset.item_count = count
        tset.duplicate_prompts = len(duplicates)
        tset.model_name = tset.model_name or str(meta.get("model", ""))
        tset.provider = tset.provider or str(meta.get("provider", ""))
        tset.collector = tset.collector or str(meta.get("collector", ""))
        if not tset.sampling and isinstance(meta.get("sampling"), dict):
            tset.sampling = meta["sampling"]
        tset.collected_at = tset.collected_at or earliest
        audit.record(
            s,
            "evidence.transcripts_imported",
            "transcript_set",
            tset.id,
            case_id=case_id,
            actor=actor,
            details={
                "name": tset.name,
                "role": role,
                "path": tset.source_path,
                "sha256": file_hash,
                "items": count,
                "duplicate_prompts": duplicates[:20],
                "binding": transcript_binding(tset, items),
            },
        )
        record_at_import(s, case_id, "transcripts", tset.id, custody, [file_hash], actor)
        state.set_progress(100)
        return tset.id


def find_or_import_transcripts(
    cf: CaseFile, case_key: int | str, path: str | Path, role: str, **kwargs: Any
) -> int:
    """Import a transcript file, or reuse the case's set of the same file in the same role.

    A check run from the command line names its files each time; running it again must
    not record the same evidence twice (the check verifies every input before use).
    """
    try:
        return import_transcripts(cf, case_key, path, role, **kwargs)
    except DuplicateEvidenceError as exc:
        return exc.existing_id
