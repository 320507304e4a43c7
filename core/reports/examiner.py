"""The examiner's details for a report, read from an optional YAML file.

The case file has no fields for the examiner (no migration for them), so they travel
with the export: CLI flags, this YAML file, or the GUI's export options. Keys: ``name``,
``qualifications``, ``organisation``, ``instructions``, ``independence``; all optional.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from core.errors import DistillAuditError
from core.reports.data import ExaminerDetails

FIELDS = ("name", "qualifications", "organisation", "instructions", "independence")
MAX_BYTES = 64 * 1024


def load_examiner(path: str | Path) -> ExaminerDetails:
    """The details in ``path``; a typed one-line error if the file cannot be used."""
    p = Path(path).expanduser()
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise DistillAuditError(
            f"Cannot read the examiner file {p}: {exc.strerror or exc}. Nothing was written."
        ) from exc
    if len(raw) > MAX_BYTES:
        raise DistillAuditError(f"The examiner file {p} is larger than 64 KiB; shorten it.")
    try:
        doc = yaml.safe_load(raw.decode("utf-8")) or {}
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DistillAuditError(
            f"The examiner file {p} is not valid UTF-8 YAML; fix it or use --examiner."
        ) from exc
    if not isinstance(doc, dict):
        raise DistillAuditError(
            f"The examiner file {p} must map keys ({', '.join(FIELDS)}) to text."
        )
    unknown = sorted(str(k) for k in doc if k not in FIELDS)
    if unknown:
        raise DistillAuditError(
            f"The examiner file {p} has unknown keys: {', '.join(unknown)}; allowed: "
            f"{', '.join(FIELDS)}."
        )
    return ExaminerDetails(**{k: str(doc[k] or "").strip() for k in FIELDS if k in doc})
