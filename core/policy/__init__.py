"""Terms-of-service analysis: import, clause segmentation, taxonomy tagging, versions.

Pure functions over plain dataclasses; persistence (Policy / Clause rows) lives in
core.store and is built on top of these types:

- :func:`extract_text` (file → :class:`ExtractedDocument`),
- :func:`segment` (text → list of :class:`Clause`),
- :func:`tag_clause` / :func:`tag_clauses` (text or clauses → :class:`Tag` lists),
- :func:`in_force` and :func:`diff_clauses` (versions and changes).
"""

from __future__ import annotations

from core.policy.extract import ExtractedDocument, extract_text
from core.policy.segment import Clause, segment
from core.policy.tagging import Tag, tag_clause, tag_clauses
from core.policy.taxonomy import Taxonomy, load_taxonomy
from core.policy.versions import ClauseChange, VersionInfo, diff_clauses, in_force

__all__ = [
    "Clause",
    "ClauseChange",
    "ExtractedDocument",
    "Tag",
    "Taxonomy",
    "VersionInfo",
    "diff_clauses",
    "extract_text",
    "in_force",
    "load_taxonomy",
    "segment",
    "tag_clause",
    "tag_clauses",
]
