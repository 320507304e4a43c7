"""Streaming readers for captured prompt→response transcripts (JSONL and CSV) and prompt sets.

A transcript is what someone collected from a provider's API: one prompt and one
response per record, optionally an id, a timestamp, sampling settings and other
metadata. A prompt set (questions for an experiment's teacher) is the same records read
for their prompts only, or a plain text file of one prompt per line. Readers stream
(constant memory apart from the records kept), and any bad record stops the import with
its line number, so nothing partial reaches a case. JSONL records go through the bounded
JSON reader (nesting depth, lone surrogates); a NUL character anywhere in a record's text
(JSON ``\\u0000`` or a raw NUL in CSV) is refused with its line number, not stored:
SQLite and most viewers cut text at a NUL, so what the tool shows would differ from what
was imported.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from core.errors import EvidenceError
from core.evidence.formats import (
    CSV_SUFFIXES,
    JSONL_SUFFIXES,
    PROMPT_LIST_SUFFIXES,
    TRANSCRIPT_SUFFIXES,
    parse_json,
    read_lines,
)
from core.store.types import parse_iso

PROMPT_KEYS = ("prompt", "question", "input", "instruction")
RESPONSE_KEYS = ("response", "answer", "output", "completion")
TIME_KEYS = ("collected_at", "timestamp", "time", "created_at")
ID_KEYS = ("id", "item_id", "key")

# What a record must hold: a response ("answers"), maybe one ("any": probes may carry
# answers), or only its prompt, stripped, with blank prompts skipped ("prompts").
ReadMode = Literal["answers", "any", "prompts"]


@dataclass
class TranscriptRecord:
    line: int
    key: str
    prompt: str
    response: str
    collected_at: datetime | None
    meta: dict[str, Any] = field(default_factory=dict)

    def sha256(self) -> str:
        """Hash of the item's own content, so a single item can be verified later."""
        payload = json.dumps(
            {"id": self.key, "prompt": self.prompt, "response": self.response},
            sort_keys=True,
            ensure_ascii=False,
            separators=(",", ":"),
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _pick(d: dict[str, Any], keys: tuple[str, ...]) -> tuple[str | None, Any]:
    lowered = {str(k).lower(): k for k in d}
    for k in keys:
        if k in lowered:
            return lowered[k], d[lowered[k]]
    return None, None


def _key(obj: dict[str, Any], line: int) -> tuple[str | None, str]:
    ik, ident = _pick(obj, ID_KEYS)
    return ik, str(ident) if ident not in (None, "") else f"line-{line}"


def _prompt_only(obj: dict[str, Any], line: int, source: str) -> TranscriptRecord | None:
    _pk, prompt = _pick(obj, PROMPT_KEYS)
    if not isinstance(prompt, str):
        raise EvidenceError(
            f"{source}, line {line}: each record needs a prompt (a field "
            f"named one of {', '.join(PROMPT_KEYS)})."
        )
    if not prompt.strip():
        return None
    return TranscriptRecord(line, _key(obj, line)[1], prompt.strip(), "", None)


def _refuse_nul(obj: dict[str, Any], line: int, source: str) -> None:
    """EvidenceError naming the line when any text of the record (keys too) holds a NUL."""
    stack: list[Any] = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\0" in item:
                raise EvidenceError(
                    f"{source}, line {line}: the record contains a NUL character (code 0), "
                    "which cannot be stored or shown faithfully; nothing was imported. Remove "
                    "it from the file (or export the transcripts again) and retry."
                )
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _record(obj: dict[str, Any], line: int, source: str, mode: ReadMode) -> TranscriptRecord | None:
    _refuse_nul(obj, line, source)
    if mode == "prompts":
        return _prompt_only(obj, line, source)
    pk, prompt = _pick(obj, PROMPT_KEYS)
    rk, response = _pick(obj, RESPONSE_KEYS)
    if rk is None and mode == "any":
        response = ""
    if pk is None or (rk is None and mode == "answers"):
        raise EvidenceError(
            f"{source}, line {line}: each record needs a prompt and a response "
            f"(fields named one of {PROMPT_KEYS} and one of {RESPONSE_KEYS})."
        )
    if not isinstance(prompt, str) or not isinstance(response, str):
        raise EvidenceError(f"{source}, line {line}: prompt and response must be text.")
    if not prompt.strip():
        raise EvidenceError(f"{source}, line {line}: the prompt is empty.")
    ik, key = _key(obj, line)
    tk, when = _pick(obj, TIME_KEYS)
    collected = None
    if when not in (None, ""):
        try:
            collected = parse_iso(str(when))
        except ValueError as exc:
            raise EvidenceError(
                f"{source}, line {line}: timestamp {when!r} is not ISO-8601 "
                "(e.g. 2025-09-02T14:03:11Z)."
            ) from exc
    meta = {k: v for k, v in obj.items() if k not in {pk, rk, ik, tk}}
    return TranscriptRecord(line, key, prompt, response, collected, meta)


def _mode(require_response: bool) -> ReadMode:
    return "answers" if require_response else "any"


def _jsonl_records(path: Path, mode: ReadMode) -> Iterator[TranscriptRecord]:
    for number, text in read_lines(path):
        if not text.strip():
            continue
        obj = parse_json(text, f"{path.name}, line {number}")
        if not isinstance(obj, dict):
            raise EvidenceError(f"{path.name}, line {number}: expected a JSON object.")
        rec = _record(obj, number, path.name, mode)
        if rec is not None:
            yield rec


def _csv_records(path: Path, delimiter: str, mode: ReadMode) -> Iterator[TranscriptRecord]:
    lines = (text for _, text in read_lines(path))
    reader = csv.DictReader(lines, delimiter=delimiter)
    try:
        for row in reader:
            if reader.fieldnames is None:
                break
            if None in row:
                raise EvidenceError(
                    f"{path.name}, line {reader.line_num}: more fields than the header has."
                )
            rec = _record(dict(row), reader.line_num, path.name, mode)
            if rec is not None:
                yield rec
    except csv.Error as exc:
        raise EvidenceError(f"{path.name}, line {reader.line_num}: {exc}.") from exc


def _records(path: Path, mode: ReadMode) -> Iterator[TranscriptRecord]:
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return _jsonl_records(path, mode)
    if suffix in CSV_SUFFIXES:
        return _csv_records(path, "\t" if suffix == ".tsv" else ",", mode)
    raise EvidenceError(f"{path.name}: transcripts must be .jsonl or .csv files.")


def read_jsonl(path: Path, require_response: bool = True) -> Iterator[TranscriptRecord]:
    """Records of a JSON-lines file (one object per line), streamed."""
    return _jsonl_records(Path(path), _mode(require_response))


def read_csv(
    path: Path, delimiter: str = ",", require_response: bool = True
) -> Iterator[TranscriptRecord]:
    """Records of a CSV file (a header row naming the fields), streamed."""
    return _csv_records(Path(path), delimiter, _mode(require_response))


def read_transcripts(path: Path, require_response: bool = True) -> Iterator[TranscriptRecord]:
    """Records of a .jsonl / .json-lines / .csv file, streamed; raises on the first bad one.

    A probe set (questions to put to models) has prompts only: ``require_response=False``.
    """
    path = Path(path)
    if not path.is_file():
        raise EvidenceError(f"{path} is not a file.")
    if path.suffix.lower() not in TRANSCRIPT_SUFFIXES:
        raise EvidenceError(f"{path.name}: transcripts must be .jsonl or .csv files.")
    return _records(path, _mode(require_response))


def read_prompts(path: str | Path) -> Iterator[tuple[str, str]]:
    """``(key, prompt)`` of a prompt set, streamed: .txt (one prompt per line), .jsonl or .csv.

    JSONL and CSV records are read like transcripts but for their prompt only (a field
    named prompt, question, input or instruction); an answer or timestamp is ignored,
    prompts are stripped and blank ones skipped.
    """
    p = Path(path)
    if not p.is_file():
        raise EvidenceError(f"The prompt set {p} is not a file.")
    suffix = p.suffix.lower()
    if suffix in PROMPT_LIST_SUFFIXES:
        for number, line in read_lines(p):
            if line.strip():
                yield f"line-{number}", line.strip()
        return
    if suffix not in TRANSCRIPT_SUFFIXES:
        raise EvidenceError(f"{p.name}: a prompt set must be a .txt, .jsonl or .csv file.")
    for rec in _records(p, "prompts"):
        yield rec.key, rec.prompt
