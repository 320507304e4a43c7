"""``report verify``: does an exported report still say what it said, and who signed it?

Each check is one line, passed or failed, named so a reader can act on a failure:

* ``signature``: the PAdES signature (if the PDF has one) is intact, verifies and covers
  the whole file; by which certificate (trusted only against ``--trust`` certificates).
* ``footer hash``: every page's footer prints the same report content hash.
* ``bundle``: the JSON bundle's content hashes to the SHA-256 it states and to the footer's
  (one changed number in the bundle changes its hash).
* ``export record``: the case file's ``report.exported`` event of that content hash
  recorded this PDF's SHA-256 (one changed byte of an unsigned PDF shows here).
* ``chain head``: the audit-chain head the report quotes (from the bundle, else the
  export event) is still in the case file's intact chain with the same hash, and/or is
  the head signed in a file written by ``audit sign``.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from core.errors import DistillAuditError
from core.reports.bundle import content_sha256
from core.reports.gather import EXPORT_ACTION
from core.reports.pades import check_pdf_signature
from core.store.anchor import ChainHead, check_against_head
from core.store.audit import verify_case_file_chain
from core.store.db import CaseFile
from core.store.models import AuditEvent
from core.store.signed_head import read_signed_head, verify_signature

# The footer's label (core.reports.pdf_layout.numbered_canvas); tolerant of the line and
# space breaks text extraction puts into a 64-digit hash.
_FOOTER = re.compile(r"content SHA-256:?\s*((?:[0-9a-f]\s*){64})", re.IGNORECASE)


@dataclass(frozen=True)
class Outcome:
    name: str
    ok: bool
    message: str

    def line(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'} {self.name}: {self.message}"


@dataclass
class ReportVerification:
    pdf: Path
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes)

    @property
    def failed(self) -> list[str]:
        return [o.name for o in self.outcomes if not o.ok]

    def to_dict(self) -> dict[str, Any]:
        return {
            "pdf": str(self.pdf),
            "ok": self.ok,
            "failed": self.failed,
            "checks": [{"name": o.name, "ok": o.ok, "message": o.message} for o in self.outcomes],
        }


@dataclass(frozen=True)
class _Head:
    event_id: int | None
    hash: str
    events: int
    source: str


def footer_hashes(pdf: bytes) -> list[str]:
    """The report content hash printed in each page's footer ('' where a page has none)."""
    from pypdf import PdfReader

    out = []
    for page in PdfReader(io.BytesIO(pdf)).pages:
        m = _FOOTER.search(page.extract_text() or "")
        out.append(re.sub(r"\s+", "", m.group(1)).lower() if m else "")
    return out


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DistillAuditError(f"Cannot read the {what} {path}: {exc.strerror}.") from exc


def verify_report(
    pdf_path: Path,
    *,
    bundle_path: Path | None = None,
    cf: CaseFile | None = None,
    signed_head_path: Path | None = None,
    trust: list[Path] | None = None,
    require_signature: bool = False,
) -> ReportVerification:
    """Run every check the given inputs allow; DistillAuditError only for unreadable inputs."""
    pdf = _read(pdf_path, "report")
    result = ReportVerification(pdf_path)
    add = result.outcomes.append
    add(_signature(pdf, trust, require_signature))
    footer = _footer(pdf)
    add(footer[0])
    digest = footer[1]
    head: _Head | None = None
    if bundle_path is not None:
        outcome, head = _bundle(bundle_path, digest)
        add(outcome)
    if cf is not None:
        outcome, recorded = _export_record(cf, pdf, digest)
        add(outcome)
        head = head or recorded
    signed = read_signed_head(signed_head_path) if signed_head_path is not None else None
    if cf is not None or signed is not None:
        if head is None:
            add(
                Outcome(
                    "chain head",
                    False,
                    "the head the report quotes is unknown: give --bundle, or --db with the "
                    "case file that recorded the export",
                )
            )
        else:
            add(_chain(head, cf, signed))
    return result


def _signature(pdf: bytes, trust: list[Path] | None, required: bool) -> Outcome:
    sig = check_pdf_signature(pdf, trust)
    if not sig.signed:
        return Outcome("signature", not required, "the PDF is not signed")
    if not sig.ok:
        return Outcome("signature", False, f"INVALID: {sig.problem}")
    trusted = (
        "trusted (chains to a --trust certificate)"
        if sig.trusted
        else "signer not trusted (give --trust CERT.pem)"
    )
    if trust and not sig.trusted:
        return Outcome("signature", False, f"intact, but by {sig.signer}: {trusted}")
    return Outcome(
        "signature",
        True,
        f"PAdES intact, covers the whole file, by {sig.signer} (certificate SHA-256 "
        f"{sig.cert_sha256[:16]}…, signed {sig.signing_time or 'at an unstated time'}); "
        f"{trusted}",
    )


def _footer(pdf: bytes) -> tuple[Outcome, str]:
    try:
        hashes = footer_hashes(pdf)
    except Exception as exc:  # a damaged PDF: pypdf's errors are many
        return Outcome("footer hash", False, f"the PDF cannot be read ({exc})"), ""
    found = {h for h in hashes if h}
    if not hashes or len(found) != 1 or "" in hashes:
        missing = sum(1 for h in hashes if not h)
        return (
            Outcome(
                "footer hash",
                False,
                f"the pages print {len(found)} different content hash(es); {missing} of "
                f"{len(hashes)} page(s) print none",
            ),
            "",
        )
    digest = found.pop()
    return Outcome("footer hash", True, f"all {len(hashes)} pages print {digest}"), digest


def _bundle(path: Path, digest: str) -> tuple[Outcome, _Head | None]:
    try:
        data = json.loads(_read(path, "bundle"))
        content = data["content"]
        stated = str(data["content_sha256"])
    except (ValueError, KeyError, TypeError) as exc:
        return Outcome("bundle", False, f"{path} is not a report bundle ({exc})"), None
    actual = content_sha256(content)
    chain = content.get("chain") if isinstance(content, dict) else None
    head = (
        _Head(
            chain.get("head_event_id"),
            str(chain.get("head_hash") or ""),
            int(chain.get("events") or 0),
            "the bundle",
        )
        if isinstance(chain, dict)
        else None
    )
    if actual != stated:
        return (
            Outcome(
                "bundle",
                False,
                f"its content hashes to {actual[:16]}…, not the {stated[:16]}… it states: "
                "the bundle was changed after export",
            ),
            head,
        )
    if digest and actual != digest:
        return (
            Outcome(
                "bundle",
                False,
                f"its content hash {actual[:16]}… is not the PDF's {digest[:16]}…: "
                "the PDF and the bundle describe different content",
            ),
            head,
        )
    return Outcome("bundle", True, f"content hashes to {actual}, as the PDF's footer"), head


def _export_record(cf: CaseFile, pdf: bytes, digest: str) -> tuple[Outcome, _Head | None]:
    sha = hashlib.sha256(pdf).hexdigest()
    with cf.read_session() as s:
        events = list(
            s.scalars(
                select(AuditEvent).where(AuditEvent.action == EXPORT_ACTION).order_by(AuditEvent.id)
            )
        )
    matching = [e for e in events if (e.details or {}).get("content_sha256") == digest]
    if not matching:
        return (
            Outcome(
                "export record",
                False,
                f"the case file {cf.path.name} records no export of content {digest[:16]}…",
            ),
            None,
        )
    for ev in matching:
        details = ev.details or {}
        if (details.get("pdf") or {}).get("sha256") == sha:
            chain = details.get("chain") or {}
            head = _Head(
                chain.get("head_event_id"),
                str(chain.get("head_hash") or ""),
                int(chain.get("events") or 0),
                f"export event #{ev.id}",
            )
            return (
                Outcome(
                    "export record",
                    True,
                    f"audit event #{ev.id} recorded report {details.get('report_id')} with "
                    f"this PDF's SHA-256 {sha[:16]}…",
                ),
                head,
            )
    recorded = ", ".join(
        f"#{e.id}: {((e.details or {}).get('pdf') or {}).get('sha256', '')[:16]}…" for e in matching
    )
    return (
        Outcome(
            "export record",
            False,
            f"the PDF's SHA-256 {sha[:16]}… is not the one recorded at export ({recorded}): "
            "the file was changed after export",
        ),
        None,
    )


def _chain(head: _Head, cf: CaseFile | None, signed: Any) -> Outcome:
    parts: list[str] = []
    if signed is not None:
        try:
            verify_signature(signed)
        except DistillAuditError as exc:
            return Outcome("chain head", False, str(exc))
        s_head = signed.head
        if s_head.event_id == head.event_id and s_head.hash != head.hash:
            return Outcome(
                "chain head",
                False,
                f"{head.source} quotes head {head.hash[:16]}… of event {head.event_id}, the "
                f"signed head {s_head.hash[:16]}…: they do not match",
            )
        if s_head.event_id != head.event_id and cf is None:
            return Outcome(
                "chain head",
                False,
                f"the signed head is of event {s_head.event_id}, {head.source} quotes event "
                f"{head.event_id}: give --db to check both against the case file",
            )
        parts.append(f"signed by key {signed.public_key[:16]}… ({signed.signed_at})")
    if cf is not None:
        chain = verify_case_file_chain(cf)
        if not chain.ok:
            return Outcome(
                "chain head",
                False,
                f"the case file's audit chain is broken at event {chain.first_broken_id}",
            )
        quoted = ChainHead(head.event_id, head.hash, head.events, None, "", "", "")
        with cf.read_session() as s:
            problems = check_against_head(s, quoted)
            if signed is not None:
                problems += check_against_head(s, signed.head)
        if problems:
            return Outcome("chain head", False, "; ".join(p.message for p in problems))
        parts.append(f"in the intact chain of {cf.path.name} ({chain.events} event(s) now)")
    return Outcome(
        "chain head",
        True,
        f"event {head.event_id}, hash {head.hash[:16]}… from {head.source}: " + ", ".join(parts),
    )
