"""``report``: export a case's forensic report (PDF, optional JSON bundle and CSV tables),
sign it (PAdES), verify an exported one, or create a self-signed examiner certificate.

``distill-audit report --case … --out …`` (the original form) and ``report export …``
are the same command; ``report verify REPORT.pdf`` and ``report keygen`` are the others.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import DistillAuditError
from core.reports.data import ExaminerDetails
from core.reports.pades import SigningCredentials

from .common import emit, open_db, progress
from .signing import passphrase

if TYPE_CHECKING:
    from core.store.db import CaseFile

ACTIONS = ("export", "verify", "keygen")


def _export_options(p: argparse.ArgumentParser, *, required: bool) -> None:
    p.add_argument("--case", required=required, help="case id or reference")
    p.add_argument("--out", required=required, metavar="REPORT.pdf", help="the PDF to write")
    p.add_argument(
        "--json",
        dest="bundle",
        metavar="BUNDLE.json",
        help="also write the JSON bundle (validates against "
        "resources/schemas/report_bundle.schema.json)",
    )
    p.add_argument(
        "--csv", dest="csv_dir", metavar="FOLDER", help="also write the CSV tables into this folder"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace the PDF, JSON bundle or CSV tables if they already exist "
        "(default: refuse and write nothing)",
    )
    p.add_argument(
        "--prepared-by",
        default=None,
        help="name printed as the report's author (default: your user name)",
    )
    p.add_argument(
        "--generated-at",
        default=None,
        metavar="ISO-8601",
        help="fix the report's date (UTC), e.g. 2025-11-03T12:00:00Z, to re-export "
        "a byte-identical report from the same case-file state",
    )
    p.add_argument(
        "--runs",
        default=None,
        metavar="1,3",
        help="the check runs the report covers, by id (default: every completed run that no "
        "later run on the same model supersedes)",
    )
    p.add_argument("--examiner", default="", help="the examiner's name (page one, signature)")
    p.add_argument("--qualifications", default="", help="the examiner's qualifications, one line")
    p.add_argument("--organisation", default="", help="the examiner's organisation")
    p.add_argument("--instructions", default="", help="the instructions received, in brief")
    p.add_argument(
        "--examiner-file",
        default=None,
        metavar="EXAMINER.yaml",
        help="YAML with name, qualifications, organisation, instructions, independence "
        "(flags given as well take precedence)",
    )
    p.add_argument(
        "--sign-key",
        metavar="KEY.pem",
        help="sign the PDF (PAdES B-B) with this private key (passphrase: "
        "$DISTILL_AUDIT_KEY_PASSPHRASE or the prompt)",
    )
    p.add_argument("--sign-cert", metavar="CERT.pem", help="the examiner's certificate")
    p.add_argument("--sign-p12", metavar="FILE.p12", help="key and certificate as PKCS#12")


def _db_option(p: argparse.ArgumentParser) -> None:
    # Also accepted after the command name: distill-audit report --db CASEFILE ...
    p.add_argument(
        "--db",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="case file (as the global --db option)",
    )


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="export, sign or verify the forensic report of a case",
        description="Export the report (PDF) of a case, optionally with the "
        "machine-readable JSON bundle and CSV tables. The export is recorded "
        "in the audit log with the SHA-256 of every file written. "
        "`report verify REPORT.pdf` checks an exported report.",
    )
    _db_option(p)
    _export_options(p, required=False)
    p.set_defaults(func=cmd_report)
    rsub = p.add_subparsers(dest="report_command", metavar="ACTION")
    ex = rsub.add_parser("export", help="export the report (the default action)")
    _db_option(ex)
    _export_options(ex, required=True)
    ex.set_defaults(func=cmd_report)
    v = rsub.add_parser(
        "verify",
        help="check an exported report: signature, footer hash, bundle, export record, chain head",
    )
    v.add_argument("pdf", metavar="REPORT.pdf")
    _db_option(v)
    v.add_argument("--bundle", metavar="REPORT.json", help="the JSON bundle exported with it")
    v.add_argument("--signed-head", metavar="FILE", help="a head signed by `audit sign`")
    v.add_argument(
        "--trust",
        action="append",
        metavar="CERT.pem",
        help="a certificate to trust as the signer's anchor (repeatable)",
    )
    v.add_argument(
        "--require-signature", action="store_true", help="fail when the PDF is not signed"
    )
    v.set_defaults(func=cmd_verify)
    kg = rsub.add_parser(
        "keygen", help="create a self-signed examiner certificate and key for signing reports"
    )
    kg.add_argument("--name", required=True, help="the examiner's name (certificate subject)")
    kg.add_argument("--key-out", required=True, metavar="KEY.pem")
    kg.add_argument("--cert-out", required=True, metavar="CERT.pem")
    kg.add_argument("--unencrypted", action="store_true", help="store the key without passphrase")
    kg.add_argument("--force", action="store_true", help="replace existing files")
    kg.set_defaults(func=cmd_keygen)


def _runs(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        return [int(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError as exc:
        raise DistillAuditError(
            f"--runs {text!r} is not a list of run ids (e.g. --runs 1,3)."
        ) from exc


def _examiner(args: argparse.Namespace) -> ExaminerDetails:
    from core.reports.examiner import load_examiner

    base = load_examiner(args.examiner_file) if args.examiner_file else ExaminerDetails()
    for name in ("examiner", "qualifications", "organisation", "instructions"):
        value = getattr(args, name, "") or ""
        if value:
            setattr(base, "name" if name == "examiner" else name, value)
    return base


def _parse_when(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise DistillAuditError(
            f"--generated-at {text!r} is not an ISO-8601 date and time (e.g. 2025-11-03T12:00:00Z)."
        ) from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _credentials(args: argparse.Namespace) -> SigningCredentials | None:
    key, cert, p12 = args.sign_key, args.sign_cert, args.sign_p12
    if not (key or cert or p12):
        return None
    if p12 and (key or cert):
        raise DistillAuditError("Give either --sign-p12, or --sign-key with --sign-cert; not both.")
    if not p12 and not (key and cert):
        raise DistillAuditError("--sign-key and --sign-cert go together; give both.")
    encrypted = bool(p12) or b"ENCRYPTED" in _read_key(Path(key))
    secret = passphrase(f"Passphrase for {p12 or key}: ") if encrypted else None
    return SigningCredentials(
        key=Path(key) if key else None,
        cert=Path(cert) if cert else None,
        pkcs12=Path(p12) if p12 else None,
        passphrase=secret,
    )


def _read_key(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DistillAuditError(f"Cannot read the signing key {path}: {exc.strerror}.") from exc


def cmd_report(args: argparse.Namespace) -> int:
    from core.reports.export import export_report

    if not args.case or not args.out:
        raise DistillAuditError(
            "`report` needs --case and --out (or `report verify REPORT.pdf`, `report keygen`)."
        )
    when = _parse_when(args.generated_at)
    sign = _credentials(args)
    with open_db(args) as cf, progress(args, "Exporting report") as state:
        result = export_report(
            cf,
            args.case,
            args.out,
            json_path=args.bundle,
            csv_dir=args.csv_dir,
            generated_at=when,
            prepared_by=args.prepared_by,
            state=state,
            overwrite=args.force,
            sign=sign,
            runs=_runs(args.runs),
            examiner=_examiner(args),
        )
    lines = [
        f"Wrote report {result.report_id} ({result.pages} pages) to {result.pdf_path}",
        f"  PDF SHA-256:            {result.pdf_sha256}",
        f"  Report content SHA-256: {result.content_sha256}",
    ]
    if sign is not None:
        lines.append(f"  Signed (PAdES B-B) with {sign.describe()}")
    if result.json_path:
        lines.append(f"  JSON bundle:            {result.json_path} ({result.json_sha256})")
    if result.csv_files:
        lines.append(f"  CSV tables:             {len(result.csv_files)} file(s) in {args.csv_dir}")
    lines.append(f"  Recorded as audit event #{result.audit_event_id} (report.exported).")
    emit(args, result.to_dict(), "\n".join(lines))
    if not result.evidence_ok:
        print(
            "distill-audit: warning: some evidence files no longer match their recorded "
            "hashes; the report says which (Section 2).",
            file=sys.stderr,
        )
    if not result.chain_ok:
        print(
            "distill-audit: warning: the audit chain is broken; the report says where.",
            file=sys.stderr,
        )
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from core.reports.verify import ReportVerification, verify_report

    def run(cf: CaseFile | None) -> ReportVerification:
        return verify_report(
            Path(args.pdf),
            bundle_path=Path(args.bundle) if args.bundle else None,
            cf=cf,
            signed_head_path=Path(args.signed_head) if args.signed_head else None,
            trust=[Path(t) for t in args.trust or []],
            require_signature=args.require_signature,
        )

    if args.db:
        with open_db(args) as cf:
            result = run(cf)
    else:
        result = run(None)
    lines = [o.line() for o in result.outcomes]
    lines.append(
        f"Report {args.pdf} verified: all {len(result.outcomes)} check(s) passed."
        if result.ok
        else f"Report {args.pdf} FAILED: {', '.join(result.failed)}."
    )
    emit(args, result.to_dict(), "\n".join(lines))
    return 0 if result.ok else 1


def cmd_keygen(args: argparse.Namespace) -> int:
    from core.reports.pades import make_examiner_certificate

    secret = None if args.unencrypted else passphrase("Passphrase for the key: ", confirm=True)
    if secret is None and not args.unencrypted:
        raise DistillAuditError(
            "Give the key's passphrase in $DISTILL_AUDIT_KEY_PASSPHRASE or at the prompt, or "
            "add --unencrypted to store the key without one."
        )
    fingerprint = make_examiner_certificate(
        args.name, Path(args.key_out), Path(args.cert_out), secret, overwrite=args.force
    )
    if secret is None:
        print(
            f"distill-audit: warning: {args.key_out} is not encrypted; anyone who copies it "
            "can sign reports as you.",
            file=sys.stderr,
        )
    emit(
        args,
        {"key": args.key_out, "cert": args.cert_out, "cert_sha256": fingerprint},
        f"Wrote a self-signed examiner certificate for {args.name} to {args.cert_out} "
        f"(SHA-256 {fingerprint}) and its key to {args.key_out}. Readers see the signer as "
        "untrusted until they trust this certificate (`report verify --trust`).",
    )
    return 0
