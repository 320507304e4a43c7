"""Check a .docx ZIP package before anything unpacks or parses it.

A 1 MB ZIP can declare gigabytes of content, and an XML part can carry a DTD whose
entities expand exponentially ("billion laughs"). Word never writes a DTD and never
needs more than a few dozen entries or a few MB of XML, so the package is refused, with
a message saying so, when its declared sizes or ratios, the XML actually unpacked, or
the number of XML elements exceed :mod:`core.policy.limits`. Reading stops at each
entry's declared size (the ``zipfile`` module enforces it and checks the CRC), so a
header that understates a bomb is caught as a damaged file, not unpacked.
"""

from __future__ import annotations

import codecs
import re
import zipfile
from pathlib import Path

from core.errors import EvidenceError
from core.policy.limits import (
    DOCX_RATIO_FLOOR,
    MAX_DOCX_ELEMENTS,
    MAX_DOCX_ENTRIES,
    MAX_DOCX_RATIO,
    MAX_DOCX_UNPACKED_BYTES,
    MAX_DOCX_XML_BYTES,
    REEXPORT,
    refuse,
)

_CHUNK = 1 << 20
_DTD = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_BOMB = "a ZIP archive built to unpack into far more data than it holds (a 'zip bomb')"


def check_package(path: Path) -> None:
    """Refuse ``path`` unless its package is within every .docx limit."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise EvidenceError(f"{path.name} is not a readable .docx file ({exc}).") from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_DOCX_ENTRIES:
            raise refuse(
                path.name,
                f"holds {len(infos):,} files; a Word document holds a few dozen (at most "
                f"{MAX_DOCX_ENTRIES:,} are accepted).",
                REEXPORT,
            )
        total = sum(info.file_size for info in infos)
        if total > MAX_DOCX_UNPACKED_BYTES:
            raise refuse(
                path.name,
                f"would unpack to {total / 2**20:,.0f} MiB (at most "
                f"{MAX_DOCX_UNPACKED_BYTES // 2**20} MiB are accepted); it is probably "
                f"{_BOMB}.",
                REEXPORT,
            )
        for info in infos:
            ratio = info.file_size / max(1, info.compress_size)
            if info.file_size > DOCX_RATIO_FLOOR and ratio > MAX_DOCX_RATIO:
                raise refuse(
                    path.name,
                    f"contains {info.filename!r}, compressed {ratio:,.0f} to 1 (real "
                    f"documents stay under {MAX_DOCX_RATIO} to 1); it is probably {_BOMB}.",
                    REEXPORT,
                )
        _scan_xml(zf, infos, path.name)


def _scan_xml(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], name: str) -> None:
    """Unpack every XML part once, in chunks: no DTD, bounded size and element count."""
    xml_bytes = 0
    elements = 0
    for info in infos:
        if info.is_dir():
            continue
        try:
            with zf.open(info) as fh:
                chunk = fh.read(_CHUNK)
                decoder = _xml_decoder(chunk)
                if decoder is None:
                    continue  # not XML (an image, a font): python-docx keeps it as bytes
                tail = b""
                while chunk:
                    xml_bytes += len(chunk)
                    if xml_bytes > MAX_DOCX_XML_BYTES:
                        raise refuse(
                            name,
                            f"contains more than {MAX_DOCX_XML_BYTES // 2**20} MiB of XML; "
                            "the text of a long contract is a few MiB.",
                            REEXPORT,
                        )
                    text = decoder(chunk)
                    if _DTD.search(tail + text):
                        raise refuse(
                            name,
                            f"contains a document type definition (DTD) in "
                            f"{info.filename!r}. Word never writes one; DTDs are how "
                            "'entity expansion' attacks make a small file exhaust memory.",
                            "Open the file in Word and save it again as .docx, or export it "
                            "to PDF, and import that.",
                        )
                    elements += text.count(b"<") - text.count(b"</")
                    if elements > MAX_DOCX_ELEMENTS:
                        raise refuse(
                            name,
                            f"contains more than {MAX_DOCX_ELEMENTS:,} XML elements (empty "
                            "paragraphs, runs or cells); a long contract has a small "
                            "fraction of that.",
                            REEXPORT,
                        )
                    tail = text[-16:]
                    chunk = fh.read(_CHUNK)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as exc:
            raise EvidenceError(
                f"{name} is damaged: {info.filename!r} cannot be unpacked ({exc})."
            ) from exc
        except NotImplementedError as exc:  # an unsupported compression method
            raise EvidenceError(f"{name} is not a readable .docx file ({exc}).") from exc


def _xml_decoder(head: bytes) -> _Recode | None:
    """How to turn this part's bytes into ASCII-compatible bytes, or None if not XML."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or head[:2] in (
        b"<\x00",
        b"\x00<",
    ):
        return _Recode("utf-16-be" if head[:2] in (codecs.BOM_UTF16_BE, b"\x00<") else "utf-16-le")
    stripped = head[3:] if head.startswith(codecs.BOM_UTF8) else head
    return _Recode(None) if stripped.lstrip()[:1] == b"<" else None


class _Recode:
    """Incrementally re-encodes UTF-16 XML as UTF-8 so the byte patterns above apply."""

    def __init__(self, encoding: str | None) -> None:
        self._decoder = (
            codecs.getincrementaldecoder(encoding)(errors="replace") if encoding else None
        )

    def __call__(self, chunk: bytes) -> bytes:
        if self._decoder is None:
            return chunk
        return self._decoder.decode(chunk).encode("utf-8")
