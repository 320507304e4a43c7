"""Which files are which evidence: the suffix lists, the roles, the kind of a path, one line reader.

Every reader, importer, file dialog and drop handler asks this module, so a new format
(or a new evidence source) is added in one place. Names alone decide here; nothing is
opened except by :func:`read_lines`, the one strict UTF-8 line reader every line-based
evidence format goes through, so a bad byte is always reported with its line number, and
by :func:`parse_json` / :func:`read_json_file`, the one JSON reader of evidence (configs,
indexes, safetensors headers, JSONL records): it bounds nesting depth *before* parsing
(Python's parser recurses, so a file of 100,000 ``[`` would end in RecursionError) and
refuses text SQLite cannot store (a lone surrogate such as ``\\ud800``).

The two record kinds of the harvest test (roles :data:`HARVESTED_ROLE` and
:data:`REGENERATIONS_ROLE`; validated at import by :mod:`core.evidence.harvest_records`)
are JSONL (one object per line) or CSV (``sampling`` and ``messages`` then as JSON text, or
``temperature`` / ``top_p`` / ``max_new_tokens`` as their own columns). Field names:

``harvested-exchanges`` — one record per answer the provider's API sent:
    ``prompt`` (text, required), ``response`` (the logged answer, required),
    ``request_id`` (required, unique in the file), ``account_id`` (required),
    ``timestamp`` (ISO-8601, required), ``model_version`` (required), ``sampling``
    (required: ``{"temperature": float, "top_p": float, "max_new_tokens": int}``;
    temperature 0 or ``"greedy": true`` means greedy decoding), optional ``model``,
    ``system_prompt`` (text) and ``messages`` (earlier turns before ``prompt``:
    ``[{"role": "user" | "assistant", "content": text}, ...]``), optional ``id``
    (the item id; default ``line-N``). Other fields are kept as metadata.

``regenerations`` — one record per fresh answer to a logged prompt:
    ``request_id`` (of the harvested exchange it regenerates) or ``harvested_id`` (that
    exchange's ``id``), ``prompt`` (the same prompt, required), ``response`` (required),
    ``model_version`` and ``sampling`` (required: what it was drawn with, compared with
    the logged answer's), optional ``model``, ``sample_index`` (1..K), ``seed``,
    ``system_prompt``. Other fields are kept as metadata.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from core.errors import DocumentLimitError, EvidenceError
from core.store.vocabulary import (
    ARTIFACT_ROLES,
    CASE_FILE_SUFFIX,
    HARVESTED_ROLE,
    REGENERATIONS_ROLE,
    TRANSCRIPT_ROLES,
)

__all__ = [
    "ARTIFACT_ROLES",
    "CASE_FILE_SUFFIX",
    "CSV_SUFFIXES",
    "DIALOG_KINDS",
    "HARVESTED_ROLE",
    "JSONL_SUFFIXES",
    "KINDS",
    "MAX_JSON_DEPTH",
    "MAX_JSON_FILE_BYTES",
    "MODEL",
    "ONNX_SUFFIX",
    "PICKLE_SUFFIXES",
    "POLICY",
    "POLICY_SUFFIXES",
    "PROMPT_LIST_SUFFIXES",
    "PROMPT_SET_SUFFIXES",
    "REGENERATIONS_ROLE",
    "TRANSCRIPTS",
    "TRANSCRIPT_ROLES",
    "TRANSCRIPT_SUFFIXES",
    "EvidenceKind",
    "detect_kind",
    "dialog_filters",
    "json_too_deep",
    "parse_json",
    "read_json_file",
    "read_lines",
]

EvidenceKind = Literal["model", "transcripts", "policy"]
MODEL: EvidenceKind = "model"
TRANSCRIPTS: EvidenceKind = "transcripts"
POLICY: EvidenceKind = "policy"
KINDS: tuple[EvidenceKind, ...] = (MODEL, TRANSCRIPTS, POLICY)

ONNX_SUFFIX = ".onnx"
# Weights stored with Python pickle can run code when loaded: refused everywhere.
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")  # one JSON object per line
CSV_SUFFIXES = (".csv", ".tsv")  # a header row, then one record per row
TRANSCRIPT_SUFFIXES = (*JSONL_SUFFIXES, *CSV_SUFFIXES)
PROMPT_LIST_SUFFIXES = (".txt",)  # a prompt set may also be one prompt per line
PROMPT_SET_SUFFIXES = (*PROMPT_LIST_SUFFIXES, *TRANSCRIPT_SUFFIXES)
POLICY_SUFFIXES = (".txt", ".text", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")

DIALOG_KINDS = ("transcripts", "evidence", "policy", "case-file")  # what a file dialog asks for


def detect_kind(path: Path) -> EvidenceKind | None:
    """model | transcripts | policy from the name (a folder is a model), None if unknown."""
    path = Path(path)
    if path.is_dir():
        return MODEL
    suffix = path.suffix.lower()
    if suffix == ONNX_SUFFIX:
        return MODEL
    if suffix in TRANSCRIPT_SUFFIXES:
        return TRANSCRIPTS
    if suffix in POLICY_SUFFIXES:
        return POLICY
    return None


def _patterns(suffixes: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f"*{s}" for s in suffixes))


def dialog_filters(kind: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The name filters of a file dialog choosing ``kind``: ``(label, ("*.x", ...))`` pairs.

    The last pair is always "All files" (a model folder is chosen as a folder, with no
    filter). The GUI formats these for its toolkit.
    """
    chosen: dict[str, tuple[str, tuple[str, ...]]] = {
        "transcripts": ("Transcripts", TRANSCRIPT_SUFFIXES),
        "evidence": ("Evidence", (ONNX_SUFFIX, *TRANSCRIPT_SUFFIXES, *POLICY_SUFFIXES)),
        "policy": ("Terms documents", POLICY_SUFFIXES),
        "case-file": ("Case files", (CASE_FILE_SUFFIX,)),
    }
    if kind not in chosen:
        raise ValueError(f"No file dialog for {kind!r}; one of {', '.join(chosen)}.")
    label, suffixes = chosen[kind]
    return ((label, _patterns(suffixes)), ("All files", ("*",)))


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of a file decoded strictly as UTF-8 (a leading BOM is dropped).

    Streams (constant memory); the text keeps its line ending. A byte that is not UTF-8
    raises EvidenceError naming the file, the line and the byte, with the fix.
    """
    path = Path(path)
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    with open(path, "rb") as fh:
        number = 0
        for number, raw in enumerate(fh, start=1):
            try:
                yield number, decoder.decode(raw)
            except UnicodeDecodeError as exc:
                raise _not_utf8(path, number, exc) from exc
        try:
            tail = decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise _not_utf8(path, max(number, 1), exc) from exc
        if tail:
            yield max(number, 1), tail


def _not_utf8(path: Path, number: int, exc: UnicodeDecodeError) -> EvidenceError:
    return EvidenceError(
        f"{path.name}, line {number}: not valid UTF-8 text ({exc.reason} at byte "
        f"{exc.start}). Re-save the file as UTF-8."
    )


# --- JSON -----------------------------------------------------------------------------------
# Nesting of any JSON evidence: model configs and tokenizer files nest 3-6 levels, transcript
# records a few more; 64 is far above real files and far below Python's recursion limit, so
# whatever is accepted can also be stored (SQLite's JSON) and re-serialised safely.
MAX_JSON_DEPTH = 64
# One JSON file of a model folder (config, index, tokenizer.json): the largest real
# tokenizer.json files are about 35 MB.
MAX_JSON_FILE_BYTES = 256 * 1024 * 1024

# A JSON string (skipped whole, so brackets inside text do not count) or one bracket.
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def json_too_deep(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether JSON ``text`` nests arrays and objects more than ``limit`` deep: a linear
    scan, no recursion, nothing parsed; brackets inside strings do not count."""
    if text.count("[") + text.count("{") <= limit:
        return False  # not enough brackets to be that deep
    depth = 0
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > limit:
                return True
        elif token in "]}":
            depth -= 1
    return False


def parse_json(raw: str | bytes, source: str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """JSON ``raw`` parsed, or a typed error naming ``source`` ("config.json", "x.jsonl,
    line 4"): DocumentLimitError when nested deeper than ``max_depth`` (checked before
    parsing), EvidenceError when it is not UTF-8, not JSON, or holds a lone surrogate
    escape (``"\\ud800"``: valid JSON, but not text that can be stored or shown)."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise EvidenceError(
                f"{source}: not valid UTF-8 text ({exc.reason} at byte {exc.start})."
            ) from exc
    else:
        text = raw
    if json_too_deep(text, max_depth):
        raise DocumentLimitError(
            f"{source}: JSON nested too deeply (more than {max_depth} levels of brackets). "
            "No real file nests this deep (it may have been made to crash the tool); nothing "
            "was imported. Keep the file as evidence and ask for a plain copy."
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EvidenceError(f"{source}: not valid JSON ({exc.msg}).") from exc
    except RecursionError as exc:  # pragma: no cover - the depth scan runs first
        raise DocumentLimitError(f"{source}: JSON nested too deeply to read.") from exc
    if _SURROGATE_ESCAPE.search(text) and _has_surrogate(data):
        raise EvidenceError(
            f"{source}: holds a lone UTF-16 surrogate escape (such as \\ud800), which is not "
            "text; nothing was imported. Export the file again from its source."
        )
    return data


def _has_surrogate(data: Any) -> bool:
    """Whether any string (or key) in parsed JSON holds an unpaired surrogate."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def read_json_file(
    path: Path,
    *,
    max_bytes: int = MAX_JSON_FILE_BYTES,
    max_depth: int = MAX_JSON_DEPTH,
) -> Any:
    """A JSON file of evidence, parsed by :func:`parse_json` after a size check (a 10 GB
    ``config.json`` is refused, not read into memory)."""
    path = Path(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise DocumentLimitError(
            f"{path.name} in {path.parent} is {size:,} bytes, more than the {max_bytes:,} "
            "a JSON file of a model can reasonably be; nothing was imported."
        )
    with open(path, "rb") as fh:
        raw = fh.read(max_bytes + 1)
    return parse_json(raw, f"{path.name} in {path.parent}", max_depth=max_depth)
