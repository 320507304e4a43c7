"""Import a terms-of-service file (.txt, .md, .html/.htm, .pdf, .docx) as normalised text.

``extract_text`` is the one entry point the wizard and the CLI call. It hashes the
file (SHA-256, streamed), extracts and normalises its text, and suggests a title,
effective dates and a version label for the user to confirm. The result is a plain
dataclass, ready to be stored as a Policy row; clause spans computed later refer to
``ExtractedDocument.text`` exactly.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from core.errors import DocumentLimitError, EvidenceError
from core.evidence.formats import POLICY_SUFFIXES
from core.jobs import JobState
from core.policy.dates import detect_dates
from core.policy.limits import MAX_FILE_BYTES, MAX_HTML_BYTES, REEXPORT, refuse
from core.policy.normalise import normalise_text
from core.policy.plain_text import CHUNK_BYTES, clean_markdown, read_text_file


@dataclass
class ExtractedDocument:
    """Normalised text of one policy file and what was detected about it."""

    text: str
    source_format: str  # "txt", "md", "html", "pdf" or "docx"
    sha256: str
    title_guess: str | None = None
    detected_effective_from: date | None = None
    detected_effective_to: date | None = None
    detected_version: str | None = None
    warnings: list[str] = field(default_factory=list)
    source_name: str = ""
    size_bytes: int = 0
    encoding: str | None = None
    pages: int | None = None


def extract_text(path: str | Path, state: JobState | None = None) -> ExtractedDocument:
    """Read ``path`` and return its normalised text, hash and detected metadata.

    Raises :class:`core.errors.EvidenceError` for anything a user can fix: an empty or
    unsupported file, a binary renamed ``.txt``, an encrypted or scanned PDF; and its
    subclass :class:`core.errors.DocumentLimitError` for a file over a resource limit
    of :mod:`core.policy.limits` (a zip bomb, absurd nesting).
    """
    path = Path(path)
    state = state or JobState()
    if not path.is_file():
        raise EvidenceError(f"{path} does not exist or is not a file.")
    suffix = path.suffix.lower()
    if suffix not in POLICY_SUFFIXES:
        raise EvidenceError(
            f"{path.name}: unsupported format '{suffix or '(none)'}'. Import a .txt, .md, "
            ".html, .pdf or .docx file."
        )
    size = path.stat().st_size
    if size == 0:
        raise EvidenceError(f"{path.name} is empty: there is no text to import.")
    if size > MAX_FILE_BYTES:
        raise EvidenceError(
            f"{path.name} is {size / 2**20:.0f} MiB; policy documents over "
            f"{MAX_FILE_BYTES // 2**20} MiB are not supported. Check that this is the right file."
        )
    state.set_status(f"Reading {path.name}")
    try:
        doc = _extract_by_format(path, suffix, state)
    except DocumentLimitError as exc:
        named = with_file_name(exc, path.name)
        if named is exc:
            raise
        raise named from exc
    if not doc.text.strip():
        raise EvidenceError(
            f"{path.name} contains no readable text. If it is a scan or an image, run OCR "
            "first; otherwise check that the right file was chosen."
        )
    doc.source_name, doc.size_bytes = path.name, size
    found = detect_dates(doc.text)
    doc.detected_effective_from = found.effective_from
    doc.detected_effective_to = found.effective_to
    doc.detected_version = found.version
    doc.warnings.extend(found.warnings)
    if not doc.title_guess:
        doc.title_guess = _first_line_title(doc.text)
    state.set_progress(100)
    return doc


def with_file_name(exc: DocumentLimitError, name: str) -> DocumentLimitError:
    """The same refusal, naming the file when the message does not already."""
    message = str(exc)
    return exc if message.startswith(f"{name}:") else DocumentLimitError(f"{name}: {message}")


def _extract_by_format(path: Path, suffix: str, state: JobState) -> ExtractedDocument:
    if suffix in (".txt", ".text", ".md", ".markdown"):
        fmt = "md" if suffix in (".md", ".markdown") else "txt"
        decoded = read_text_file(path, state, post=clean_markdown if fmt == "md" else None)
        return ExtractedDocument(
            text=decoded.text,
            source_format=fmt,
            sha256=decoded.sha256,
            warnings=decoded.warnings,
            encoding=decoded.encoding,
        )
    digest = sha256_file(path, state.sub(0, 10))
    rest = state.sub(10, 100)
    if suffix in (".html", ".htm"):
        from core.policy.html_text import html_to_text
        from core.policy.plain_text import refuse_known_binary

        size = path.stat().st_size
        if size > MAX_HTML_BYTES:
            raise refuse(
                path.name,
                f"is {size / 2**20:.0f} MiB; saved web pages of terms are a few MiB and "
                f"pages over {MAX_HTML_BYTES // 2**20} MiB are not read.",
                REEXPORT,
            )
        raw = path.read_bytes()
        refuse_known_binary(path, raw[:64])
        if raw.count(b"\x00") > len(raw) // 1000:
            raise EvidenceError(f"{path.name} contains binary data; it is not an HTML page.")
        text, title = html_to_text(raw)
        del raw
        rest.set_progress(100)
        return ExtractedDocument(normalise_text(text), "html", digest, title_guess=title)
    if suffix == ".pdf":
        from core.policy.pdf_text import read_pdf

        pdf = read_pdf(path, rest)
        return ExtractedDocument(
            pdf.text,
            "pdf",
            digest,
            title_guess=pdf.title,
            warnings=pdf.warnings,
            pages=pdf.pages,
        )
    from core.policy.docx_text import read_docx

    text, title = read_docx(path, rest)
    return ExtractedDocument(normalise_text(text), "docx", digest, title_guess=title)


def sha256_file(path: Path, state: JobState | None = None) -> str:
    """SHA-256 of a file, streamed in chunks (never the whole file in memory)."""
    hasher = hashlib.sha256()
    size = max(1, path.stat().st_size)
    done = 0
    with path.open("rb") as fh:
        for raw in iter(lambda: fh.read(CHUNK_BYTES), b""):
            hasher.update(raw)
            done += len(raw)
            if state is not None:
                state.check_cancelled()
                state.set_progress(done, size)
    return hasher.hexdigest()


def _first_line_title(text: str) -> str | None:
    for line in text[:5000].split("\n"):
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:150] if len(line) <= 150 else None
    return None
