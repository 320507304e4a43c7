"""What a chosen file holds before it is imported: the add-evidence preview, decided in core.

:func:`preview_evidence` reads a model folder (core.evidence.model_folder), a transcript
file (core.evidence.transcripts) or a terms document (core.policy.extract and the clause
segmenter) and returns plain facts to show, the defaults the import form starts from
(including the role the file name suggests) and warnings. Nothing is written; the GUI
only shows the result, and the import comes later.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from core.errors import EvidenceError
from core.evidence.formats import MODEL, POLICY, TRANSCRIPTS, EvidenceKind, detect_kind
from core.evidence.model_folder import ModelInspection, inspect_model
from core.evidence.transcripts import read_transcripts
from core.jobs import JobState

# Words in a transcript file's name that say whose answers it holds (first match wins).
ROLE_WORDS: tuple[tuple[str, str], ...] = (
    ("human", "control-answers"),
    ("control", "control-answers"),
    ("protected", "protected-answers"),
    ("api", "protected-answers"),
)
DEFAULT_ARTIFACT_ROLE = "suspect"  # the model a user most often brings first
_MAX_NAMES = 20  # distinct model / provider names remembered while counting records


@dataclass
class EvidencePreview:
    """The preview of one evidence file: facts to show and defaults for the import form."""

    kind: EvidenceKind
    path: Path
    facts: list[tuple[str, str]] = field(default_factory=list)
    defaults: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    inspection: ModelInspection | None = None  # reused by the import (no second inspection)


@dataclass
class TranscriptStats:
    """What counting a transcript file's records found (one streaming pass)."""

    records: int = 0
    with_response: int = 0
    earliest: datetime | None = None
    latest: datetime | None = None
    models: list[str] = field(default_factory=list)  # distinct, in order of appearance
    providers: list[str] = field(default_factory=list)
    first_meta: dict[str, Any] = field(default_factory=dict)

    def add(self, response: str, collected_at: datetime | None, meta: dict[str, Any]) -> None:
        if self.records == 0:
            self.first_meta = dict(meta)
        self.records += 1
        self.with_response += bool(response.strip())
        if collected_at is not None:
            self.earliest = min(self.earliest or collected_at, collected_at)
            self.latest = max(self.latest or collected_at, collected_at)
        _remember(self.models, meta.get("model"))
        _remember(self.providers, meta.get("provider"))


def _remember(names: list[str], value: Any) -> None:
    if value not in (None, "") and len(names) < _MAX_NAMES and str(value) not in names:
        names.append(str(value))


def format_size(n: float) -> str:
    """A byte count as people read it: ``512 bytes``, ``1.5 KiB``, ``2.0 GiB``."""
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{int(n):,} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def guess_transcript_role(
    path: Path, records: int, with_response: int, models: Sequence[str] = ()
) -> str:
    """The role a transcript file most likely plays, from its answers and its names.

    Records without answers are probes. Otherwise the first word that says whose answers
    these are decides: first in the model names the records give (a file whose records
    name the model "human" holds control answers, whatever the file is called), then in
    the file name ("human_answers" → control-answers, "protected_api_capture" →
    protected-answers); with no such word, protected-answers.
    """
    if records == 0 or with_response < records:
        return "probes"
    for text in (*models, Path(path).stem):
        for word in re.split(r"[^a-z0-9]+", str(text).lower()):
            for prefix, role in ROLE_WORDS:
                if word.startswith(prefix):
                    return role
    return "protected-answers"


def transcript_stats(path: Path, state: JobState | None = None) -> TranscriptStats:
    """Count the records of a transcript file (streamed; progress and cancel through state)."""
    state = state or JobState()
    stats = TranscriptStats()
    size = max(1, path.stat().st_size)
    for rec in read_transcripts(path, require_response=False):
        stats.add(rec.response, rec.collected_at, rec.meta)
        if stats.records % 500 == 0:
            state.check_cancelled()
            state.set_progress(min(99, 100 * stats.records * 200 / size))
    return stats


def _names(names: list[str]) -> str:
    if not names:
        return "not stated"
    more = " and others" if len(names) >= _MAX_NAMES else ""
    return ", ".join(names) + more


def preview_transcripts(path: Path, state: JobState | None = None) -> EvidencePreview:
    """Records, answers, dates and the models/providers named in a transcript file."""
    stats = transcript_stats(path, state)
    count, answered = stats.records, stats.with_response
    if count == 0:
        raise EvidenceError(f"{path.name} holds no prompt/response records.")
    meta = stats.first_meta
    facts = [
        ("Records", f"{count:,} ({answered:,} with a response)"),
        ("File size", format_size(path.stat().st_size)),
        ("Model named in the file", _names(stats.models)),
        ("Provider named in the file", _names(stats.providers)),
        (
            "Collected",
            f"{stats.earliest:%Y-%m-%d %H:%M} to {stats.latest:%Y-%m-%d %H:%M} UTC"
            if stats.earliest and stats.latest
            else "no timestamps in the records",
        ),
    ]
    defaults = {
        "name": path.stem,
        "role": guess_transcript_role(path, count, answered, stats.models),
        "provider": str(meta.get("provider") or ""),
        "model_name": str(meta.get("model") or ""),
        "collector": str(meta.get("collector") or ""),
        "collected_at": stats.earliest,
    }
    warnings = (
        []
        if answered in (0, count)
        else [
            f"{count - answered} record(s) have no response; import them as probes, or fix "
            "the file to import answers."
        ]
    )
    return EvidencePreview(TRANSCRIPTS, path, facts, defaults, warnings)


def preview_model(path: Path) -> EvidencePreview:
    """A model folder's or ONNX file's summary: format, architecture, size, tokenizer."""
    info = inspect_model(path)
    total = sum(f.stat().st_size for f in info.files)
    d = info.details or {}
    facts = [
        ("Format", "ONNX export" if info.format == "onnx" else "Hugging Face folder (safetensors)"),
        ("Architecture", info.architecture or "not stated"),
        ("Parameters", f"{info.parameter_count:,}" if info.parameter_count else "not stated"),
        ("Vocabulary", f"{info.vocab_size:,} tokens" if info.vocab_size else "not stated"),
        ("Tokenizer", ", ".join(p.name for p in info.tokenizer_files)),
        ("Files to hash", f"{len(info.files)} ({format_size(total)})"),
        ("Licence file", info.licence_file or "none found"),
    ]
    if d.get("dtypes"):
        facts.append(("Weight types", ", ".join(d["dtypes"])))
    warnings = []
    if d.get("ignored_pickles"):
        warnings.append(
            "Pickled weight files are present and will be ignored: "
            + ", ".join(d["ignored_pickles"])
        )
    defaults = {"name": info.root.name, "role": DEFAULT_ARTIFACT_ROLE}
    return EvidencePreview(MODEL, info.root, facts, defaults, warnings, info)


def preview_policy(path: Path, state: JobState | None = None) -> EvidencePreview:
    """A terms document's detected title, version, dates in force and clause count."""
    from core.policy.extract import extract_text  # PDF/DOCX readers load only when needed
    from core.policy.segment import segment

    state = state or JobState()
    doc = extract_text(path, state.sub(0, 90))
    clauses = segment(doc.text)
    facts = [
        ("Format", doc.source_format.upper()),
        ("Title (detected)", doc.title_guess or "not found"),
        ("Version (detected)", doc.detected_version or "not stated"),
        (
            "In force from (detected)",
            doc.detected_effective_from.isoformat()
            if doc.detected_effective_from
            else "not stated",
        ),
        (
            "In force until (detected)",
            doc.detected_effective_to.isoformat() if doc.detected_effective_to else "not stated",
        ),
        ("Clauses found", f"{len(clauses)}"),
        ("Text", f"{len(doc.text):,} characters" + (f", {doc.pages} page(s)" if doc.pages else "")),
    ]
    defaults = {
        "title": doc.title_guess or path.stem,
        "version": doc.detected_version or "",
        "effective_from": doc.detected_effective_from,
        "effective_to": doc.detected_effective_to,
    }
    return EvidencePreview(POLICY, path, facts, defaults, list(doc.warnings))


def preview_evidence(path: Path, state: JobState | None = None) -> EvidencePreview:
    """What ``path`` holds (a job body); EvidenceError with a plain message if unusable."""
    state = state or JobState()
    path = Path(path)
    if not path.exists():
        raise EvidenceError(f"{path} does not exist.")
    kind = detect_kind(path)
    state.set_status(f"Looking into {path.name}")
    if kind == MODEL:
        found = preview_model(path)
    elif kind == TRANSCRIPTS:
        found = preview_transcripts(path, state)
    elif kind == POLICY:
        found = preview_policy(path, state)
    else:
        raise EvidenceError(
            f"{path.name} is not a kind of evidence Distill Audit reads. Choose a model folder, "
            "an .onnx file, a transcript file (.jsonl or .csv) or a terms document (.txt, .md, "
            ".html, .pdf or .docx)."
        )
    state.set_progress(100)
    return found
