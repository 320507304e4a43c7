"""Streaming readers for captured prompt→response transcripts (JSONL and CSV).

A transcript is what someone collected from a provider's API: one prompt and one
response per record, optionally an id, a timestamp, sampling settings and other
metadata. Readers stream (constant memory apart from the records kept), and any bad
record stops the import with its line number, so nothing partial reaches a case.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from core.errors import EvidenceError
from core.store.types import parse_iso

PROMPT_KEYS = ("prompt", "question", "input", "instruction")
RESPONSE_KEYS = ("response", "answer", "output", "completion")
TIME_KEYS = ("collected_at", "timestamp", "time", "created_at")
ID_KEYS = ("id", "item_id", "key")


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


def _record(
    obj: dict[str, Any], line: int, source: str, require_response: bool = True
) -> TranscriptRecord:
    pk, prompt = _pick(obj, PROMPT_KEYS)
    rk, response = _pick(obj, RESPONSE_KEYS)
    if rk is None and not require_response:
        response = ""
    if pk is None or (rk is None and require_response):
        raise EvidenceError(
            f"{source}, line {line}: each record needs a prompt and a response "
            f"(fields named one of {PROMPT_KEYS} and one of {RESPONSE_KEYS})."
        )
    if not isinstance(prompt, str) or not isinstance(response, str):
        raise EvidenceError(f"{source}, line {line}: prompt and response must be text.")
    if not prompt.strip():
        raise EvidenceError(f"{source}, line {line}: the prompt is empty.")
    ik, ident = _pick(obj, ID_KEYS)
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
    return TranscriptRecord(
        line,
        str(ident) if ident not in (None, "") else f"line-{line}",
        prompt,
        response,
        collected,
        meta,
    )


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Decode strictly as UTF-8, line by line, naming the line of any bad byte."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                yield number, decoder.decode(raw)
            except UnicodeDecodeError as exc:
                raise EvidenceError(
                    f"{path.name}, line {number}: not valid UTF-8 text ({exc.reason} at byte "
                    f"{exc.start}). Re-save the file as UTF-8."
                ) from exc


def read_jsonl(path: Path, require_response: bool = True) -> Iterator[TranscriptRecord]:
    for number, text in _lines(path):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise EvidenceError(f"{path.name}, line {number}: not valid JSON ({exc.msg}).") from exc
        if not isinstance(obj, dict):
            raise EvidenceError(f"{path.name}, line {number}: expected a JSON object.")
        yield _record(obj, number, path.name, require_response)


def read_csv(
    path: Path, delimiter: str = ",", require_response: bool = True
) -> Iterator[TranscriptRecord]:
    lines = (text for _, text in _lines(path))
    reader = csv.DictReader(lines, delimiter=delimiter)
    try:
        for row in reader:
            if reader.fieldnames is None:
                break
            if None in row:
                raise EvidenceError(
                    f"{path.name}, line {reader.line_num}: more fields than the header has."
                )
            yield _record(dict(row), reader.line_num, path.name, require_response)
    except csv.Error as exc:
        raise EvidenceError(f"{path.name}, line {reader.line_num}: {exc}.") from exc


def read_transcripts(path: Path, require_response: bool = True) -> Iterator[TranscriptRecord]:
    """Records of a .jsonl / .json-lines / .csv file, streamed; raises on the first bad one.

    A probe set (questions to put to models) has prompts only: ``require_response=False``.
    """
    path = Path(path)
    if not path.is_file():
        raise EvidenceError(f"{path} is not a file.")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return read_jsonl(path, require_response)
    if suffix in (".csv", ".tsv"):
        return read_csv(path, "\t" if suffix == ".tsv" else ",", require_response)
    raise EvidenceError(f"{path.name}: transcripts must be .jsonl or .csv files.")
