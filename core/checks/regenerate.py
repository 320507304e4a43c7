"""Drawing the harvest test's regenerations from a local copy of the protected model.

When the protected model is a local folder, the tool can itself draw K fresh answers to
each logged prompt with the logged sampling settings, instead of importing them from the
provider's serving stack. The answers are written to a JSONL file next to the case file
(the ``regenerations`` format of :mod:`core.evidence.formats`) and imported like any
evidence: hashed, recorded as a transcript set, with an audit event that names the seed,
the protected model's manifest hash and the model version the folder was taken to be.

Each logged exchange gets its own seed, derived from the run's seed and the exchange's id
(:func:`item_seed`), so the answers do not depend on the order or batching of prompts. An
empty answer (or one holding a NUL, which no case file can store) is drawn again (up to
:data:`RETRIES` times, seeds recorded): logged answers
are never empty, so the regenerations are drawn from the same distribution conditioned
alike. Greedy exchanges and exchanges of another model version are not regenerated (the
test would exclude them) and are counted in the audit event.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from core.checks.harvest_pairing import item_context
from core.checks.probes import ChatTemplate
from core.errors import DistillAuditError, NotFoundError
from core.evidence.harvest_records import Sampling
from core.jobs import JobState
from core.store import audit
from core.store.cases import get_case
from core.store.db import CaseFile
from core.store.models import ModelArtifact, TranscriptItem, TranscriptSet
from core.store.vocabulary import HARVESTED_ROLE, REGENERATIONS_ROLE

DEFAULT_MAX_NEW_TOKENS = 96  # when the log records no limit on new tokens
RETRIES = 3  # further draws for an answer that came out empty


def item_seed(seed: int, item_key: str, attempt: int = 0) -> int:
    """The seed of one logged exchange's K regenerations (attempt > 0: a redraw)."""
    text = f"{int(seed)}:{item_key}:{attempt}".encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:7], "big")


def _read(
    cf: CaseFile, case: int | str, harvested_set_id: int, protected_model_id: int
) -> tuple[int, dict[str, Any], dict[str, Any], list[Any]]:
    from core.checks.probes import TranscriptEntry

    with cf.read_session() as s:
        case_id = get_case(s, case).id
        tset = s.get(TranscriptSet, int(harvested_set_id))
        if tset is None or tset.case_id != case_id:
            raise NotFoundError(f"No transcript set {harvested_set_id} in case {case!r}.")
        if tset.role != HARVESTED_ROLE:
            raise DistillAuditError(
                f"Transcript set {harvested_set_id} ({tset.name!r}) is {tset.role!r}, not the "
                f"harvested exchanges; import the log with role {HARVESTED_ROLE}."
            )
        art = s.get(ModelArtifact, int(protected_model_id))
        if art is None or art.case_id != case_id:
            raise NotFoundError(f"No model artifact {protected_model_id} in case {case!r}.")
        rows = (
            s.execute(
                select(TranscriptItem)
                .where(TranscriptItem.set_id == tset.id)
                .order_by(TranscriptItem.ordinal)
            )
            .scalars()
            .all()
        )
        items = [
            TranscriptEntry(i.item_key, i.prompt, i.response, dict(i.meta or {})) for i in rows
        ]
        harvested = {"id": tset.id, "name": tset.name, "file_sha256": tset.file_sha256}
        model = {
            "id": art.id,
            "name": art.name,
            "path": art.path,
            "manifest_sha256": art.manifest_sha256,
        }
    return case_id, harvested, model, items


def _version(items: list[Any], model_version: str | None) -> str:
    versions = sorted({str(i.meta.get("model_version", "")) for i in items})
    if model_version:
        if model_version not in versions:
            raise DistillAuditError(
                f"No logged exchange names model version {model_version!r} (the log names "
                f"{', '.join(map(repr, versions))})."
            )
        return model_version
    if len(versions) != 1:
        raise DistillAuditError(
            f"The logged exchanges name several model versions ({', '.join(map(repr, versions))}); "
            "say which one the protected model folder is (model_version)."
        )
    return versions[0]


def generate_regenerations(
    case_file: CaseFile,
    case: int | str,
    harvested_set_id: int,
    protected_model_id: int,
    k: int,
    seed: int | None = None,
    state: JobState | None = None,
    *,
    template: ChatTemplate | None = None,
    model_version: str | None = None,
    out_dir: str | Path | None = None,
    actor: str | None = None,
    num_threads: int | None = None,
) -> int:
    """Draw ``k`` answers per logged prompt from the case's protected model; the new set's id.

    ``model_version`` is the version of the logged exchanges the protected model folder is
    (default: the one version the log names); only those exchanges are regenerated. The
    file goes to ``out_dir`` (default: a folder next to the case file).
    """
    from core.backends.factory import load_model
    from core.evidence.importer import find_or_import_transcripts

    if k < 1:
        raise DistillAuditError("The number of regenerations per prompt (K) must be at least 1.")
    state = state or JobState()
    template = template or ChatTemplate()
    case_id, harvested, model_info, items = _read(
        case_file, case, harvested_set_id, protected_model_id
    )
    version = _version(items, model_version)
    given = seed is not None
    if seed is None:  # from the evidence, so nobody can shop for a seed
        digest = f"{harvested.get('file_sha256')}:{model_info.get('manifest_sha256')}:{k}"
        seed = int(hashlib.sha256(digest.encode()).hexdigest()[:8], 16)
    todo, skipped = [], {"greedy": 0, "other_version": 0}
    for item in items:
        sampling = Sampling.from_meta(item.meta.get("sampling"))
        if str(item.meta.get("model_version", "")) != version:
            skipped["other_version"] += 1
        elif sampling.is_greedy:
            skipped["greedy"] += 1
        else:
            todo.append((item, sampling))
    if not todo:
        raise DistillAuditError(
            "No logged exchange can be regenerated: each is greedy or of another model version."
        )
    folder = Path(out_dir) if out_dir else _default_folder(case_file)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"regenerations-set{harvested['id']}-k{k}-seed{seed}.jsonl"
    model = load_model(model_info["path"], name=model_info["name"], num_threads=num_threads)
    redraws = 0
    try:
        with open(path, "w", encoding="utf-8") as fh:
            for n, (item, sampling) in enumerate(todo):
                state.check_cancelled()
                state.set_status(f"Regenerating logged prompt {n + 1:,} of {len(todo):,}")
                answers, seeds, extra = _draw(model, template, item, sampling, k, seed, state)
                redraws += extra
                for index, (answer, used) in enumerate(zip(answers, seeds, strict=True), 1):
                    fh.write(
                        json.dumps(
                            _record(item, answer, used, index, sampling, version, model_info),
                            ensure_ascii=False,
                        )
                        + "\n"
                    )
                state.set_progress(90 * (n + 1) / len(todo))
    finally:
        model.release()
    limit = {s.max_new_tokens or DEFAULT_MAX_NEW_TOKENS for _, s in todo}
    source = (
        f"Generated by Distill Audit: {k} regenerations per logged prompt of set "
        f"{harvested['id']} from protected model {model_info['name']!r} (manifest sha256 "
        f"{model_info['manifest_sha256']}), taken to be model version {version!r}; seed {seed}."
    )
    set_id = find_or_import_transcripts(
        case_file,
        case_id,
        path,
        REGENERATIONS_ROLE,
        name=f"regenerations of {harvested['name']} (K={k}, seed {seed})",
        source=source,
        model_name=model_info["name"],
        sampling={"max_new_tokens": sorted(limit)},
        actor=actor,
        state=state.sub(90, 99),
    )
    with case_file.session() as s:
        tset = s.get(TranscriptSet, set_id)
        assert tset is not None
        audit.record(
            s,
            "evidence.regenerations_generated",
            "transcript_set",
            set_id,
            case_id=case_id,
            actor=actor,
            details={
                "harvested_set": harvested,
                "protected_model": model_info,
                "model_version_assumed": version,
                "k": k,
                "seed": seed,
                "seed_given": given,
                "seed_rule": (
                    "given; "
                    if given
                    else "derived from the log's and the model's hashes and K (sha256[:8]); "
                )
                + "sha256('{seed}:{item id}:{attempt}')[:7] per logged exchange; "
                "answer i of K samples from stream (item seed, i)",
                "redraws_of_empty_answers": redraws,
                "template": [template.template, template.response_prefix],
                "prompts_regenerated": len(todo),
                "prompts_skipped": skipped,
                "file_sha256": tset.file_sha256,
                "path": tset.source_path,
            },
        )
    state.set_progress(100)
    return set_id


def _default_folder(cf: CaseFile) -> Path:
    location = Path(str(getattr(cf, "path", "") or ".")).resolve()
    return location.parent / f"{location.stem}-regenerations"


def _draw(
    model: Any,
    template: ChatTemplate,
    item: Any,
    sampling: Sampling,
    k: int,
    seed: int,
    state: JobState,
) -> tuple[list[str], list[list[int]], int]:
    """K non-empty answers (as far as RETRIES allow), each with its (item seed, index)."""
    context = item_context(template, item)
    limit = sampling.max_new_tokens or DEFAULT_MAX_NEW_TOKENS
    answers: list[str] = []
    seeds: list[list[int]] = []
    redraws = 0
    for attempt in range(RETRIES + 1):
        need = k - len(answers)
        if need <= 0:
            break
        s = item_seed(seed, item.key, attempt)
        out = model.generate(
            [context] * need,
            limit,
            seed=s,
            greedy=False,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            state=state,
        )
        for i, text in enumerate(out):
            answer = template.clean_answer(text)
            if answer and "\x00" not in answer:  # a NUL cannot be stored: drawn again too
                answers.append(answer)
                seeds.append([s, i])
        redraws += int(attempt > 0) * need
    return answers, seeds, redraws


def _record(
    item: Any,
    answer: str,
    used: list[int],
    index: int,
    sampling: Sampling,
    version: str,
    model: dict[str, Any],
) -> dict[str, Any]:
    meta = item.meta
    record: dict[str, Any] = {
        "id": f"{item.key}/regen-{index}",
        "request_id": meta.get("request_id"),
        "harvested_id": item.key,
        "prompt": item.prompt,
        "response": answer,
        "model": model["name"],
        "model_version": version,
        "sampling": {
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_new_tokens": sampling.max_new_tokens or DEFAULT_MAX_NEW_TOKENS,
        },
        "sample_index": index,
        "seed": used,
        "protected_model_sha256": model["manifest_sha256"],
    }
    if meta.get("system_prompt"):
        record["system_prompt"] = meta["system_prompt"]
    if meta.get("messages"):
        record["messages"] = meta["messages"]
    return record
