"""What a dropped or chosen file is, and what is in it: the add-evidence wizard's preview.

:func:`detect_kind` decides from the name alone (instant, on the UI thread);
:func:`inspect_evidence` runs as a job and asks core what the file holds —
core.evidence.model_folder.inspect_model for models, core.evidence.transcripts.
read_transcripts for transcripts, core.policy.extract.extract_text (and the clause
segmenter) for terms documents. Nothing is written; the import comes later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from core.errors import EvidenceError
from core.jobs import JobState

MODEL, TRANSCRIPTS, POLICY = "model", "transcripts", "policy"
KIND_TITLES = {MODEL: "a model", TRANSCRIPTS: "a transcript file", POLICY: "a terms document"}
TRANSCRIPT_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".tsv")
POLICY_SUFFIXES = (".txt", ".text", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")
CASE_FILE_SUFFIX = ".dacase"


def detect_kind(path: Path) -> str | None:
    """model | transcripts | policy from the name (a folder is a model), None if unknown."""
    if path.is_dir():
        return MODEL
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return MODEL
    if suffix in TRANSCRIPT_SUFFIXES:
        return TRANSCRIPTS
    if suffix in POLICY_SUFFIXES:
        return POLICY
    return None


@dataclass
class Found:
    """The preview of one evidence file: facts to show and defaults for the next page."""

    kind: str
    path: Path
    facts: list[tuple[str, str]] = field(default_factory=list)
    defaults: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    inspection: Any = None  # the ModelInspection, reused by the import


def _size(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def _model(path: Path) -> Found:
    from core.evidence.model_folder import inspect_model

    info = inspect_model(path)
    total = sum(f.stat().st_size for f in info.files)
    d = info.details or {}
    facts = [
        ("Format", "ONNX export" if info.format == "onnx" else "Hugging Face folder (safetensors)"),
        ("Architecture", info.architecture or "not stated"),
        ("Parameters", f"{info.parameter_count:,}" if info.parameter_count else "not stated"),
        ("Vocabulary", f"{info.vocab_size:,} tokens" if info.vocab_size else "not stated"),
        ("Tokenizer", ", ".join(p.name for p in info.tokenizer_files)),
        ("Files to hash", f"{len(info.files)} ({_size(total)})"),
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
    return Found(MODEL, info.root, facts, {"name": info.root.name}, warnings, info)


def _transcripts(path: Path, state: JobState) -> Found:
    from core.evidence.transcripts import read_transcripts

    count = with_response = 0
    first: Any = None
    earliest: datetime | None = None
    latest: datetime | None = None
    size = max(1, path.stat().st_size)
    for rec in read_transcripts(path, require_response=False):
        count += 1
        with_response += bool(rec.response.strip())
        first = first or rec
        if rec.collected_at:
            earliest = min(earliest or rec.collected_at, rec.collected_at)
            latest = max(latest or rec.collected_at, rec.collected_at)
        if count % 500 == 0:
            state.check_cancelled()
            state.set_progress(min(99, 100 * count * 200 / size))
    if count == 0:
        raise EvidenceError(f"{path.name} holds no prompt/response records.")
    meta = first.meta if first else {}
    facts = [
        ("Records", f"{count:,} ({with_response:,} with a response)"),
        ("File size", _size(path.stat().st_size)),
        ("Model named in the file", str(meta.get("model") or "not stated")),
        ("Provider named in the file", str(meta.get("provider") or "not stated")),
        (
            "Collected",
            f"{earliest:%Y-%m-%d %H:%M} to {latest:%Y-%m-%d %H:%M} UTC"
            if earliest and latest
            else "no timestamps in the records",
        ),
    ]
    role = "protected-answers" if with_response == count else "probes"
    defaults = {
        "name": path.stem,
        "role": role,
        "provider": str(meta.get("provider") or ""),
        "model_name": str(meta.get("model") or ""),
        "collector": str(meta.get("collector") or ""),
        "collected_at": earliest,
    }
    warnings = (
        []
        if with_response in (0, count)
        else [
            f"{count - with_response} record(s) have no response; import them as probes, or fix "
            "the file to import answers."
        ]
    )
    return Found(TRANSCRIPTS, path, facts, defaults, warnings)


def _policy(path: Path, state: JobState) -> Found:
    from core.policy.extract import extract_text
    from core.policy.segment import segment

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
    return Found(POLICY, path, facts, defaults, list(doc.warnings))


def inspect_evidence(path: Path, state: JobState) -> Found:
    """Job body: what ``path`` holds (raises EvidenceError with a plain message if unusable)."""
    path = Path(path)
    if not path.exists():
        raise EvidenceError(f"{path} does not exist.")
    kind = detect_kind(path)
    state.set_status(f"Looking into {path.name}")
    if kind == MODEL:
        found = _model(path)
    elif kind == TRANSCRIPTS:
        found = _transcripts(path, state)
    elif kind == POLICY:
        found = _policy(path, state)
    else:
        raise EvidenceError(
            f"{path.name} is not a kind of evidence Distill Audit reads. Choose a model folder, "
            "an .onnx file, a transcript file (.jsonl or .csv) or a terms document (.txt, .md, "
            ".html, .pdf or .docx)."
        )
    state.set_progress(100)
    return found
