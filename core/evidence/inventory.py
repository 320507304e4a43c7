"""The evidence of a case as plain records, for the CLI, the GUI and the report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from core.evidence.source_custody import custody_by_item
from core.store.cases import get_case
from core.store.db import CaseFile
from core.store.models import ModelArtifact, TranscriptSet


@dataclass(frozen=True)
class EvidenceItem:
    kind: str  # model | transcripts
    id: int
    name: str
    role: str
    format: str
    sha256: str  # manifest digest for models, file hash for transcripts
    size: int
    path: str
    description: str
    imported_by: str
    imported_at: str
    details: dict[str, Any]
    custody: dict[str, Any] | None = None  # custody from the source (source_custody)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _describe_model(a: ModelArtifact) -> str:
    params = f"{a.parameter_count:,} parameters" if a.parameter_count else "size unknown"
    return f"{a.architecture or 'model'}, {params}, vocabulary {a.vocab_size or '?'}"


def list_evidence(cf: CaseFile, case_key: int | str) -> list[EvidenceItem]:
    with cf.read_session() as s:
        case_id = get_case(s, case_key).id
        custody = custody_by_item(s, case_id)
        out: list[EvidenceItem] = []
        for a in s.execute(
            select(ModelArtifact).where(ModelArtifact.case_id == case_id).order_by(ModelArtifact.id)
        ).scalars():
            out.append(
                EvidenceItem(
                    "model",
                    a.id,
                    a.name,
                    a.role,
                    a.format,
                    a.manifest_sha256,
                    a.total_size,
                    a.path,
                    _describe_model(a),
                    a.imported_by,
                    a.imported_at.isoformat(),
                    {
                        "manifest": a.manifest,
                        "tokenizer_hash": a.tokenizer_hash,
                        "licence_file": a.licence_file,
                        "provenance": a.provenance,
                        "parameter_count": a.parameter_count,
                        "vocab_size": a.vocab_size,
                        "architecture": a.architecture,
                        **(a.details or {}),
                    },
                    custody.get(("model", a.id)),
                )
            )
        for t in s.execute(
            select(TranscriptSet).where(TranscriptSet.case_id == case_id).order_by(TranscriptSet.id)
        ).scalars():
            desc = f"{t.item_count:,} prompt/response pairs"
            if t.model_name:
                desc += f" from {t.model_name}" + (f" ({t.provider})" if t.provider else "")
            if t.duplicate_prompts:
                desc += f", {t.duplicate_prompts} duplicate prompt(s)"
            out.append(
                EvidenceItem(
                    "transcripts",
                    t.id,
                    t.name,
                    t.role,
                    "jsonl/csv",
                    t.file_sha256,
                    t.file_size,
                    t.source_path,
                    desc,
                    t.imported_by,
                    t.imported_at.isoformat(),
                    {
                        "items": t.item_count,
                        "sampling": t.sampling,
                        "collector": t.collector,
                        "collected_at": t.collected_at.isoformat() if t.collected_at else None,
                        "source": t.source,
                        "duplicate_prompts": t.duplicate_prompts,
                    },
                    custody.get(("transcripts", t.id)),
                )
            )
        return out
