"""PAdES signatures on a finished report PDF, and the examiner's certificate for them.

The report is rendered first (``core.reports.pdf``); :func:`sign_pdf_bytes` then appends
a PAdES B-B signature (pyHanko, an incremental update: the rendered bytes stay as they
are, byte for byte, in front of the signature) with the examiner's key and certificate
(PEM key + certificate, or one PKCS#12 file). :func:`check_pdf_signature` reports whether
the signature is intact, covers the whole file, and whose certificate made it.
:func:`make_examiner_certificate` creates a self-signed ECDSA P-256 certificate for an
examiner who has none from a CA (``report keygen``); a reader then sees the signature as
valid but the signer as untrusted until the certificate is trusted explicitly.
"""

from __future__ import annotations

import io
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from core.errors import DistillAuditError, OutputExistsError

FIELD_NAME = "ExaminerSignature"


@dataclass(frozen=True)
class SigningCredentials:
    """Where the examiner's key and certificate are: PEM key + cert, or one PKCS#12 file."""

    key: Path | None = None
    cert: Path | None = None
    pkcs12: Path | None = None
    passphrase: bytes | None = None

    def describe(self) -> str:
        return str(self.pkcs12) if self.pkcs12 else f"{self.key} + {self.cert}"


@dataclass(frozen=True)
class PdfSignatureCheck:
    """What the signature of a PDF says (``signed`` false: the PDF has none)."""

    signed: bool
    intact: bool = False
    valid: bool = False
    entire_file: bool = False
    trusted: bool = False
    signer: str = ""
    cert_sha256: str = ""
    signing_time: str | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.signed and self.intact and self.valid and self.entire_file

    def to_dict(self) -> dict[str, Any]:
        return {
            "signed": self.signed,
            "intact": self.intact,
            "valid": self.valid,
            "entire_file": self.entire_file,
            "trusted": self.trusted,
            "signer": self.signer,
            "cert_sha256": self.cert_sha256,
            "signing_time": self.signing_time,
            "problem": self.problem,
        }


def _signer(creds: SigningCredentials) -> Any:
    from pyhanko.sign import signers

    try:
        if creds.pkcs12 is not None:
            signer = signers.SimpleSigner.load_pkcs12(str(creds.pkcs12), creds.passphrase)
        elif creds.key is not None and creds.cert is not None:
            signer = signers.SimpleSigner.load(
                str(creds.key), str(creds.cert), key_passphrase=creds.passphrase
            )
        else:
            raise DistillAuditError(
                "To sign the report give --sign-key KEY.pem with --sign-cert CERT.pem, or "
                "--sign-p12 FILE.p12."
            )
    except DistillAuditError:
        raise
    except (OSError, ValueError, TypeError) as exc:
        signer = None
        reason = str(exc)
    else:
        reason = ""
    if signer is None:
        raise DistillAuditError(
            f"Cannot read the signing key and certificate {creds.describe()}: wrong "
            f"passphrase, or not a PEM/DER key and certificate{f' ({reason})' if reason else ''}."
        )
    return signer


def sign_pdf_bytes(pdf: bytes, creds: SigningCredentials, *, reason: str) -> bytes:
    """``pdf`` with a PAdES B-B signature appended as an incremental update."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    signer = _signer(creds)
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason=reason,
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    return bytes(signers.sign_pdf(writer, meta, signer=signer).getvalue())


def signer_summary(creds: SigningCredentials) -> dict[str, str]:
    """Subject and SHA-256 fingerprint of the signing certificate (for the audit event)."""
    cert = _signer(creds).signing_cert
    return {"subject": cert.subject.human_friendly, "cert_sha256": cert.sha256.hex()}


def check_pdf_signature(pdf: bytes, trust: list[Path] | None = None) -> PdfSignatureCheck:
    """Validate the PDF's (last) signature; ``trust``: certificates to trust as anchors."""
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        sigs = reader.embedded_signatures
    except Exception as exc:  # a damaged file: pyHanko's parser errors are many
        return PdfSignatureCheck(True, problem=f"the PDF cannot be read ({exc})")
    if not sigs:
        return PdfSignatureCheck(False)
    roots = [load_cert_from_pemder(str(p)) for p in trust or []]
    quiet = logging.getLogger("pyhanko")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # an untrusted signer is reported here, not logged
    try:
        status = validate_pdf_signature(sigs[-1], ValidationContext(trust_roots=roots))
    except Exception as exc:
        return PdfSignatureCheck(True, problem=f"the signature cannot be validated ({exc})")
    finally:
        quiet.setLevel(level)
    cert = status.signing_cert
    coverage = getattr(status.coverage, "name", str(status.coverage))
    entire = coverage == "ENTIRE_FILE"
    problems = []
    if not status.intact:
        problems.append("the signed bytes were changed after signing")
    if not status.valid:
        problems.append("the signature value does not verify")
    if not entire:
        problems.append(f"it does not cover the whole file ({coverage.lower()})")
    when = status.signer_reported_dt
    return PdfSignatureCheck(
        signed=True,
        intact=bool(status.intact),
        valid=bool(status.valid),
        entire_file=entire,
        trusted=bool(status.trusted),
        signer=cert.subject.human_friendly if cert is not None else "",
        cert_sha256=cert.sha256.hex() if cert is not None else "",
        signing_time=when.isoformat() if when else None,
        problem="; ".join(problems),
    )


def make_examiner_certificate(
    name: str,
    key_out: Path,
    cert_out: Path,
    passphrase: bytes | None,
    *,
    days: int = 825,
    overwrite: bool = False,
) -> str:
    """A self-signed ECDSA P-256 examiner certificate and its key; the cert's SHA-256."""
    for p in (key_out, cert_out):
        if p.exists() and not overwrite:
            raise OutputExistsError(f"{p} already exists; give --force to replace it.")
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    fd = os.open(key_out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key_pem)
    cert_out.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert.fingerprint(hashes.SHA256()).hex()
