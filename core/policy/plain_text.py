"""Read .txt and .md policy files in bounded memory, refusing binaries in disguise.

The file is read in 1 MiB chunks: each chunk is hashed, decoded incrementally and
normalised as it arrives, so a 50 MB file costs the decoded string once plus one chunk.
Encodings: a BOM decides (UTF-8 or UTF-16); otherwise UTF-8, tolerating a few stray
bytes among valid UTF-8 (with a warning), and cp1252 only when the file is not UTF-8,
decodes cleanly as cp1252 and looks like text. A file with NUL or control bytes, or
undecodable bytes beyond a tiny fraction, is refused: it is a binary renamed ``.txt``
and importing it would put garbage in the case file.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import EvidenceError
from core.jobs import JobState
from core.policy.lead_ins import promote_bold_headings
from core.policy.normalise import ChunkNormaliser

CHUNK_BYTES = 1 << 20
TINY_FRACTION = 0.001  # undecodable or NUL bytes tolerated (with a warning)
ODD_FRACTION = 0.05  # control / unusual characters above this: not text

_MAGIC = {
    b"%PDF": "a PDF file",
    b"PK\x03\x04": "a ZIP container (e.g. .docx)",
    b"\x89PNG": "a PNG image",
    b"GIF8": "a GIF image",
    b"\xff\xd8\xff": "a JPEG image",
    b"\x7fELF": "an executable",
    b"MZ": "a Windows executable",
    b"\xd0\xcf\x11\xe0": "an old Office document (.doc)",
    b"SQLite format 3": "a SQLite database",
}
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
# Non-ASCII characters that are neither letters, digits, spaces nor usual punctuation.
_ODD_NON_ASCII = re.compile(
    "[^\x00-\x7f\\w\\s€£¥§–—…•·°©®™‘’‚“”„«»\u00ad\ufeff\u200b\u2010\u2011\u2212\ufffd]"
)


@dataclass
class DecodedText:
    """The normalised text of a file plus what was learnt while reading it."""

    text: str
    encoding: str
    sha256: str
    size_bytes: int
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Pass:
    """What one streaming decode of the file produced and counted."""

    text: str
    sha256: str
    chars: int = 0
    nul: int = 0  # NUL bytes
    bad: int = 0  # replacement characters produced by undecodable bytes
    odd: int = 0  # control or unusual characters
    non_ascii: int = 0  # decoded non-ASCII characters (valid multi-byte sequences)
    failed: bool = False  # strict decoding hit an undecodable byte


def read_text_file(
    path: Path, state: JobState, post: Callable[[str], str] | None = None
) -> DecodedText:
    """Decode, normalise and hash a text file; ``post`` cleans each normalised block.

    One pass normally suffices. A second (cp1252) pass happens only for a file that is
    not UTF-8, i.e. whose undecodable bytes are not just a few strays among valid
    UTF-8 accented characters.
    """
    size = path.stat().st_size
    if size == 0:
        raise EvidenceError(f"{path.name} is empty: there is no text to import.")
    with path.open("rb") as fh:
        head = fh.read(64 * 1024)
    refuse_known_binary(path, head)
    if head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        encoding = "utf-8"
    tiny = max(0.0, TINY_FRACTION * size)
    first = _decode_pass(path, size, encoding, state, post, strict=False, want_hash=True)
    result, warnings = first, []
    if first.nul > tiny or first.odd > ODD_FRACTION * max(1, first.chars):
        raise _not_text(path)
    if (
        first.bad
        and encoding == "utf-8"
        and not (first.bad <= tiny and first.non_ascii - first.bad > first.bad)
    ):
        first.text = ""  # free it before the second pass
        second = _decode_pass(
            path, size, "cp1252", state.sub(0, 100), post, strict=True, want_hash=False
        )
        if second.failed or second.odd > ODD_FRACTION * max(1, second.chars):
            raise _not_text(path)
        result, encoding = second, "cp1252"
        result.sha256 = first.sha256
        warnings.append(f"{path.name} is not UTF-8; it was read as Windows-1252 (cp1252).")
    elif first.bad > tiny:
        raise _not_text(path)
    if result.bad or result.nul:
        warnings.append(
            f"{result.bad + result.nul} undecodable or NUL byte(s) were replaced or dropped "
            f"while reading {path.name} as {encoding}."
        )
    if not result.text.strip():
        raise EvidenceError(f"{path.name} contains only blank space: there is no text.")
    return DecodedText(result.text, encoding, result.sha256, size, warnings)


def _not_text(path: Path) -> EvidenceError:
    return EvidenceError(
        f"{path.name} does not look like a text file (it contains binary data or an "
        "unknown encoding). Export the document as UTF-8 text, PDF, HTML or .docx and "
        "import that instead."
    )


def refuse_known_binary(path: Path, head: bytes) -> None:
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            raise EvidenceError(
                f"{path.name} is {what}, not a text file, although its name ends in "
                f"{path.suffix}. Rename it with the right extension or export it as text."
            )


def _decode_pass(
    path: Path,
    size: int,
    encoding: str,
    state: JobState,
    post: Callable[[str], str] | None,
    *,
    strict: bool,
    want_hash: bool,
) -> _Pass:
    """One streaming pass: hash, decode, count, normalise. Strict passes stop at the
    first undecodable byte (``failed``); others replace it and count it."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict" if strict else "replace")
    hasher = hashlib.sha256() if want_hash else None
    normaliser = ChunkNormaliser()
    parts: list[str] = []
    stats = _Pass("", "")
    done = 0
    with path.open("rb") as fh:
        while True:
            state.check_cancelled()
            raw = fh.read(CHUNK_BYTES)
            if hasher is not None:
                hasher.update(raw)
            final = not raw
            if encoding != "utf-16":
                stats.nul += raw.count(b"\x00")
            try:
                chunk = decoder.decode(raw, final)
            except UnicodeDecodeError:
                stats.failed = True
                return stats
            if chunk:
                stats.chars += len(chunk)
                if not chunk.isascii():
                    stats.bad += chunk.count("\ufffd")
                    stats.non_ascii += len(chunk) - len(chunk.encode("ascii", "ignore"))
                stats.odd += _odd_count(chunk)
                block = normaliser.feed(chunk)
                if block:
                    parts.append(post(block) if post else block)
            done += len(raw)
            state.set_progress(done, size)
            if final:
                break
    tail = normaliser.finish()
    if tail:
        parts.append(post(tail) if post else tail)
    stats.sha256 = hasher.hexdigest() if hasher else ""
    text = "".join(parts)
    parts.clear()
    stats.text = text.strip()
    return stats


def _odd_count(chunk: str) -> int:
    """Control characters, plus non-ASCII characters unusual in running text."""
    count = 0
    if _CONTROL.search(chunk):
        count = len(_CONTROL.findall(chunk)) - chunk.count("\x00")
    if not chunk.isascii():
        count += len(_ODD_NON_ASCII.findall(chunk))
    return count


_MD_IMAGE = re.compile(r"!\[([^\]\n]*)\]\([^)\n]*\)")
_MD_LINK = re.compile(r"\[([^\]\n]+)\]\([^)\n]*\)")
_MD_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!])")
_MD_COMMENT = re.compile(r"<!--.*?-->")


def clean_markdown(block: str) -> str:
    """Strip inline Markdown markup (links, bold, escapes) but keep headings and lists;
    bold headings and lead-ins become heading lines (:mod:`core.policy.lead_ins`)."""
    block = _MD_IMAGE.sub(r"\1", block)
    block = _MD_LINK.sub(r"\1", block)
    block = promote_bold_headings(block)
    block = _MD_STRONG.sub(r"\2", block)
    block = _MD_COMMENT.sub("", block)
    return _MD_ESCAPE.sub(r"\1", block)
