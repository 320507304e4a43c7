"""Read the text layer of a PDF, page by page, without running anything in it.

pdfplumber (pdfminer) opens the file with an empty password, so a password-protected
file gives a clear message rather than a parser stack trace, and extracts each page's
text. Running headers,
footers and page numbers are removed, and a PDF whose pages carry no text at all is
refused as a scan that needs OCR: importing it would store an empty policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import EvidenceError
from core.jobs import JobState
from core.policy.limits import MAX_PDF_PAGES, REEXPORT, refuse
from core.policy.normalise import normalise_block, remove_page_furniture

MIN_CHARS_PER_PAGE = 20  # fewer characters than this on a page: treat it as image-only


@dataclass
class PdfText:
    """Text of a PDF plus its metadata title and anything the reader should know."""

    text: str
    title: str | None
    pages: int
    warnings: list[str] = field(default_factory=list)


def read_pdf(path: Path, state: JobState) -> PdfText:
    """Extract, clean and join the text of every page of ``path``."""
    import pdfplumber
    from pdfminer.pdfparser import PDFSyntaxError
    from pdfminer.psparser import PSException
    from pdfplumber.utils.exceptions import MalformedPDFException, PdfminerException

    pages: list[str] = []
    warnings: list[str] = []
    title: str | None = None
    try:
        pdf = pdfplumber.open(str(path), password="")
    except PdfminerException as exc:  # pdfplumber wraps pdfminer's own errors
        cause = exc.args[0] if exc.args and isinstance(exc.args[0], Exception) else exc
        raise _pdf_error(path, cause) from exc
    except (MalformedPDFException, PDFSyntaxError, PSException, ValueError) as exc:
        raise _pdf_error(path, exc) from exc
    try:
        with pdf:
            title = _metadata_title(pdf.metadata)
            if getattr(pdf.doc, "encryption", None):
                warnings.append(
                    f"{path.name} is encrypted with an owner password only; its text was "
                    "read without a password, as any PDF viewer would."
                )
            total = _declared_pages(pdf)  # cheap: creating page objects is not
            if total <= MAX_PDF_PAGES:
                total = len(pdf.pages)
            if total > MAX_PDF_PAGES:
                raise refuse(
                    path.name,
                    f"has {total:,} pages; terms documents have at most a few hundred "
                    f"(at most {MAX_PDF_PAGES:,} are read).",
                    REEXPORT,
                )
            for i, page in enumerate(pdf.pages):
                state.check_cancelled()
                pages.append(normalise_block(page.extract_text() or ""))
                page.close()  # frees the page's cached layout objects
                state.set_progress(i + 1, total)
    except (MalformedPDFException, PdfminerException, PSException, ValueError, KeyError) as exc:
        raise _pdf_error(path, exc) from exc
    if not pages:
        raise EvidenceError(f"{path.name} has no pages.")
    empty = [i + 1 for i, p in enumerate(pages) if len(p.strip()) < MIN_CHARS_PER_PAGE]
    if len(empty) == len(pages):
        raise EvidenceError(
            f"This PDF has no text layer (it is a scan): {path.name} contains only images. "
            "Run OCR first (for example with your PDF software's 'Recognise text' "
            "function), check the recognised text against the original, and import the "
            "OCR'd PDF."
        )
    if empty:
        warnings.append(
            f"Page(s) {', '.join(map(str, empty))} of {path.name} have no text layer "
            "(scanned images?); their content is missing from the imported text."
        )
    cleaned, removed = remove_page_furniture(pages)
    if removed:
        shown = "; ".join(repr(r) for r in removed[:5])
        more = f" and {len(removed) - 5} more" if len(removed) > 5 else ""
        warnings.append(f"Removed repeated page headers/footers and page numbers: {shown}{more}.")
    text = "\n\n".join(p.strip() for p in cleaned if p.strip())
    return PdfText(normalise_block(text).strip(), title, len(pages), warnings)


def _declared_pages(pdf: Any) -> int:
    """The page count the PDF's page tree declares (0 when it cannot be read)."""
    from pdfminer.pdftypes import resolve1
    from pdfminer.psparser import PSException

    try:
        count = resolve1(resolve1(pdf.doc.catalog["Pages"]).get("Count"))
    except (PSException, KeyError, TypeError, ValueError, AttributeError):
        return 0  # a damaged tree: the real page list decides
    return count if isinstance(count, int) else 0


def _pdf_error(path: Path, exc: Exception) -> EvidenceError:
    """Translate a pdfminer failure into a message a reviewer can act on."""
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect

    if isinstance(exc, PDFPasswordIncorrect):
        return EvidenceError(
            f"{path.name} is password-protected (an encrypted PDF), so its text cannot be "
            "read. Ask whoever supplied it for an unprotected copy, or open it with the "
            "password and save an unprotected copy; import that and note in the case file "
            "how it was obtained."
        )
    if isinstance(exc, PDFEncryptionError):
        return EvidenceError(
            f"{path.name} is encrypted with a method that cannot be opened here ({exc}). "
            "Save an unencrypted copy and import that."
        )
    return EvidenceError(f"{path.name} is not a readable PDF ({type(exc).__name__}: {exc}).")


def _metadata_title(meta: dict[str, object] | None) -> str | None:
    raw = (meta or {}).get("Title")
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    title = " ".join(str(raw).split()) if raw else ""
    return title or None
