"""Resource limits for importing terms documents, in one place, with their messages.

Every importer checks these before doing work that grows with the input, so a small
hostile file (a zip bomb, thousands of nested lists, an endless line) is refused in
seconds with a message saying what to do, instead of filling the disk or the memory.
The values are far above anything seen in real terms of service; each is explained
where it is defined. A refusal raises :class:`core.errors.DocumentLimitError` and
nothing is written to the case file.
"""

from __future__ import annotations

from core.errors import DocumentLimitError

# --- any format --------------------------------------------------------------------------
MAX_FILE_BYTES = 512 * 1024 * 1024  # no terms document is this large
# Text handed to segmentation and tagging: the longest published terms (cloud service
# terms) are well under 1 million characters; 2 million is about 1,000 printed pages.
MAX_POLICY_CHARS = 2_000_000
# One line (a paragraph once extracted): real paragraphs are a few thousand characters.
MAX_LINE_CHARS = 100_000
# Clauses in one document, counting every numbered sub-clause and list item.
MAX_CLAUSES = 10_000
# Levels of the clause tree ("Part > 3 > 3.3 > (b) > (ii)" is 5). Stored clause text and
# citation paths grow with depth, so the depth bound keeps the case file linear in size.
MAX_CLAUSE_DEPTH = 16
# Top-level decimal clause numbers up to this are read (clause 1 to clause 9999).
MAX_CLAUSE_NUMBER = 9_999

# --- HTML -------------------------------------------------------------------------------
MAX_HTML_BYTES = 64 * 1024 * 1024  # saved terms pages are a few MB even with scripts
MAX_HTML_DEPTH = 20_000  # open elements at once; real pages nest a few dozen deep

# --- Word (.docx, a ZIP package) ----------------------------------------------------------
MAX_DOCX_ENTRIES = 2_000  # files inside the package; Word writes a few dozen
MAX_DOCX_UNPACKED_BYTES = 256 * 1024 * 1024  # everything unpacked, images included
MAX_DOCX_XML_BYTES = 32 * 1024 * 1024  # all XML parts unpacked; 1,000 pages is ~10 MB
MAX_DOCX_RATIO = 100  # unpacked/packed size of one entry (Apache POI uses the same bound)
DOCX_RATIO_FLOOR = 1024 * 1024  # entries smaller than this unpacked are never "bombs"
MAX_DOCX_ELEMENTS = 2_000_000  # XML elements in all parts, counted before parsing
MAX_DOCX_BLOCKS = 100_000  # paragraphs plus table cells read one by one

# --- PDF --------------------------------------------------------------------------------
MAX_PDF_PAGES = 5_000


def refuse(name: str, what: str, advice: str) -> DocumentLimitError:
    """The error for a limit: which file, what is over the limit, and what to do."""
    prefix = f"{name}: " if name else ""
    return DocumentLimitError(f"{prefix}{what} {advice}")


REEXPORT = (
    "Check that this is the right file; if it is, export the terms again from the "
    "original (for example print the page or document to PDF) and import that."
)
