"""The machine-readable forms of a report: the JSON bundle and the CSV tables.

The bundle wraps the report's content (``ReportData.to_dict()``) with its content hash:
the SHA-256 of the content's canonical JSON (keys sorted, UTF-8, no insignificant white
space). That hash is the "report content hash" printed in the PDF's footer, so anyone can
check that a PDF and a bundle describe the same content. The bundle's layout is fixed by
``resources/schemas/report_bundle.schema.json``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any

from core.reports.csv_safety import neutralise
from core.reports.data import ReportData
from core.resources import resource_path

BUNDLE_FORMAT = "distill-audit-report-bundle/1"
SCHEMA_NAME = "report_bundle.schema.json"
HASH_METHOD = (
    "SHA-256 of the UTF-8 bytes of json.dumps(content, sort_keys=True, "
    "ensure_ascii=False, separators=(',', ':'), allow_nan=False)"
)


def canonical_json(value: Any) -> bytes:
    """The canonical byte form hashed for the report content hash."""
    return json.dumps(
        value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")


def content_sha256(data: ReportData | dict[str, Any]) -> str:
    """The report content hash (footer of every PDF page, ``content_sha256`` of the bundle)."""
    content = data.to_dict() if isinstance(data, ReportData) else data
    return hashlib.sha256(canonical_json(content)).hexdigest()


def schema_path() -> Any:
    return resource_path("schemas", SCHEMA_NAME)


def load_schema() -> dict[str, Any]:
    return json.loads(schema_path().read_text(encoding="utf-8"))


def bundle_dict(data: ReportData) -> dict[str, Any]:
    content = data.to_dict()
    return {
        "$schema": SCHEMA_NAME,
        "format": BUNDLE_FORMAT,
        "content_sha256": content_sha256(content),
        "content_hash_method": HASH_METHOD,
        "content": content,
    }


def bundle_json(data: ReportData) -> bytes:
    """The JSON bundle file: readable (indented, sorted keys) and byte-for-byte reproducible."""
    text = json.dumps(
        bundle_dict(data), sort_keys=True, ensure_ascii=False, indent=2, allow_nan=False
    )
    return (text + "\n").encode("utf-8")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "; ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def _cell(value: Any) -> str:
    """A CSV cell: numbers as written, text never something a spreadsheet would evaluate."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    return neutralise(_text(value))


def _csv(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """RFC 4180 CSV (CRLF), UTF-8 with a byte-order mark so spreadsheet programs read it right.

    Every text cell goes through :func:`core.reports.csv_safety.neutralise` (CSV injection).
    """
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([neutralise(h) for h in headers])
    for row in rows:
        w.writerow([_cell(v) for v in row])
    return buf.getvalue().encode("utf-8-sig")


def csv_tables(data: ReportData) -> dict[str, bytes]:
    """The report's tables as CSV files, by file name."""
    links = {c.id: c for c in data.clause_links}
    return {
        "results_per_probe.csv": _csv(
            ["run_id", "check_key", "check", "probe_id", "measure", "model", "value"],
            (
                [c.run_id, c.key, c.title, v.probe_id, v.measure, v.model, v.value]
                for c in data.checks
                for v in c.probe_values
            ),
        ),
        "results.csv": _csv(
            [
                "run_id",
                "check_key",
                "check",
                "run_status",
                "result_id",
                "metric",
                "comparison",
                "value",
                "effect_size",
                "effect_ci_low",
                "effect_ci_high",
                "effect_name",
                "p_value",
                "n",
                "p_adjusted_within_check",
                "check_p_value",
                "check_p_holm_across_checks",
                "check_verdict",
                "check_strength",
                "method",
            ],
            chain(
                (
                    [
                        c.run_id,
                        c.key,
                        c.title,
                        c.status,
                        r.id,
                        r.metric,
                        r.comparison,
                        r.value,
                        r.effect_size,
                        r.ci_low,
                        r.ci_high,
                        r.effect_name,
                        r.p_value,
                        r.n,
                        r.p_adjusted,
                        c.p_value,
                        c.p_family,
                        c.verdict,
                        c.strength,
                        r.method,
                    ]
                    for c in data.checks
                    for r in c.results
                ),
                # Every check's model-level result (the verdict's statistic, effect with its
                # own interval and p), whether or not it has per-reference comparisons.
                (
                    [
                        c.run_id,
                        c.key,
                        c.title,
                        c.status,
                        "",
                        f"{c.key}.summary",
                        "",
                        c.statistic,
                        c.effect_size,
                        c.ci_low,
                        c.ci_high,
                        "difference from the references' mean",
                        c.p_value,
                        c.n_probes,
                        "",
                        c.p_value,
                        c.p_family,
                        c.verdict,
                        c.strength,
                        c.test,
                    ]
                    for c in data.checks
                    if c.p_value is not None
                ),
            ),
        ),
        "findings.csv": _csv(
            [
                "finding_id",
                "status",
                "strength",
                "statement",
                "reviewer",
                "reviewer_notes",
                "run_ids",
                "clauses",
                "created_at",
                "updated_at",
            ],
            (
                [
                    f.id,
                    f.status,
                    f.strength,
                    f.statement,
                    f.reviewer,
                    f.reviewer_notes,
                    f.run_ids,
                    [
                        f"{links[i].provider} {links[i].document} v{links[i].version} "
                        f"clause {links[i].clause_number}"
                        for i in f.clause_link_ids
                        if i in links
                    ],
                    f.created_at,
                    f.updated_at,
                ]
                for f in data.findings
            ),
        ),
        "evidence_inventory.csv": _csv(
            [
                "label",
                "kind",
                "evidence_id",
                "name",
                "role",
                "format",
                "item_sha256",
                "file",
                "file_sha256",
                "file_size",
                "verification",
                "actual_sha256",
                "source",
                "collector",
                "collected_at",
                "imported_by",
                "imported_at",
                "path",
            ],
            (
                [
                    e.label,
                    e.kind,
                    e.id,
                    e.name,
                    e.role,
                    e.format,
                    e.sha256,
                    f.path,
                    f.sha256,
                    f.size,
                    f.status,
                    f.actual_sha256,
                    e.source,
                    e.collector,
                    e.collected_at,
                    e.imported_by,
                    e.imported_at,
                    e.path,
                ]
                for e in data.evidence
                for f in e.files
            ),
        ),
        "clause_mapping.csv": _csv(
            [
                "link_id",
                "finding_id",
                "finding_status",
                "provider",
                "document",
                "version",
                "effective_from",
                "effective_to",
                "conduct_date",
                "clause_number",
                "heading",
                "categories",
                "quotation",
                "quotation_truncated",
                "in_force_note",
                "note",
            ],
            (
                [
                    c.id,
                    c.finding_id,
                    c.finding_status,
                    c.provider,
                    c.document,
                    c.version,
                    c.effective_from,
                    c.effective_to,
                    c.conduct_date,
                    c.clause_number,
                    c.clause_heading,
                    c.categories,
                    c.quotation,
                    c.quotation_truncated,
                    c.in_force_note,
                    c.note,
                ]
                for c in data.clause_links
            ),
        ),
        "calibration.csv": _csv(
            [
                "run_id",
                "check",
                "quantity",
                "condition",
                "samples",
                "k",
                "n",
                "rate",
                "ci_low",
                "ci_high",
                "ci_method",
            ],
            (
                [
                    r.run_id,
                    r.check,
                    r.quantity,
                    r.condition,
                    r.samples,
                    r.k,
                    r.n,
                    r.rate,
                    r.ci_low,
                    r.ci_high,
                    r.ci_method,
                ]
                for r in data.calibration
            ),
        ),
    }
