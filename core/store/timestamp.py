"""Offline check of an RFC 3161 time-stamp token over the audit chain's head hash.

A time-stamping authority (TSA) signs a TSTInfo that holds a message imprint (hash
algorithm and hash) and the time. For the audit chain the imprint is the head hash
itself (SHA-256, as hex in the head file): ``openssl ts -query -digest HEADHASH -sha256
-cert`` asks a TSA for one. :func:`verify_token` checks, without the network, that

* the token's imprint is SHA-256 and equals the head hash;
* the signed attributes' message digest is the hash of the TSTInfo;
* the TSA certificate in the token signed the attributes (RSA or ECDSA), and the
  certificate may be used for time-stamping (extended key usage);
* when a trusted TSA/CA certificate is given, the TSA certificate is it or was issued by it.

Accepted inputs: a TimeStampResp (``.tsr``) or the bare token (CMS ContentInfo).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from asn1crypto import cms, tsp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from core.errors import DistillAuditError

_HASHES: dict[str, Any] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


@dataclass(frozen=True)
class TimestampInfo:
    """What a verified token says: when, by which TSA, under which serial."""

    gen_time: str
    tsa_subject: str
    serial_number: int
    tsa_cert_sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "gen_time": self.gen_time,
            "tsa_subject": self.tsa_subject,
            "serial_number": self.serial_number,
            "tsa_cert_sha256": self.tsa_cert_sha256,
        }


def _fail(what: str) -> DistillAuditError:
    return DistillAuditError(f"The RFC 3161 time-stamp token does not verify: {what}.")


def _token(data: bytes) -> cms.ContentInfo:
    """The token's ContentInfo, from a TimeStampResp or a bare token."""
    try:
        resp = tsp.TimeStampResp.load(data)
        status = resp["status"]["status"].native
        if status not in ("granted", "granted_with_mods"):
            raise _fail(f"the TSA did not grant it (status {status})")
        token = resp["time_stamp_token"]
        if token.native is None:
            raise _fail("the response holds no token")
        return token
    except DistillAuditError:
        raise
    except Exception:
        pass
    try:
        info = cms.ContentInfo.load(data)
        if info["content_type"].native != "signed_data":
            raise ValueError("not signed data")
        return info
    except Exception as exc:
        raise DistillAuditError(
            "The time-stamp file is neither an RFC 3161 response (.tsr) nor a token."
        ) from exc


def verify_token(
    data: bytes, head_hash: str, trusted: x509.Certificate | None = None
) -> TimestampInfo:
    """Check ``data`` (.tsr or token) stamps ``head_hash``; DistillAuditError naming the flaw."""
    token = _token(data)
    try:
        signed = token["content"]
        encap = signed["encap_content_info"]
        if encap["content_type"].native != "tst_info":
            raise _fail("its content is not a TSTInfo")
        tst_der = encap["content"].contents
        tst = tsp.TSTInfo.load(tst_der)
        imprint = tst["message_imprint"]
        algo = imprint["hash_algorithm"]["algorithm"].native
        hashed = imprint["hashed_message"].native
        signer = signed["signer_infos"][0]
        certs = [c.chosen for c in signed["certificates"] or [] if c.name == "certificate"]
    except DistillAuditError:
        raise
    except Exception as exc:
        raise _fail(f"it is malformed ({exc})") from exc
    if algo != "sha256" or hashed != bytes.fromhex(head_hash):
        raise _fail(
            f"its message imprint ({algo}, {hashed.hex()[:16]}…) is not the head hash "
            f"{head_hash[:16]}… (SHA-256)"
        )
    cert = _signer_cert(signer, certs)
    digest_algo = signer["digest_algorithm"]["algorithm"].native
    if digest_algo not in _HASHES:
        raise _fail(f"it uses the digest {digest_algo}, which this version does not check")
    attrs = signer["signed_attrs"]
    if not attrs:
        raise _fail("it has no signed attributes")
    message_digest = next(
        (a["values"][0].native for a in attrs if a["type"].native == "message_digest"), None
    )
    if message_digest != hashlib.new(digest_algo, tst_der).digest():
        raise _fail("the signed message digest is not the hash of its TSTInfo")
    signed_bytes = b"\x31" + attrs.dump()[1:]  # the attributes as a DER SET OF, as signed
    _verify(cert, signer["signature"].native, signed_bytes, _HASHES[digest_algo]())
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound as exc:
        raise _fail("the TSA certificate has no extended key usage for time-stamping") from exc
    if ExtendedKeyUsageOID.TIME_STAMPING not in eku:
        raise _fail("the TSA certificate may not be used for time-stamping")
    if trusted is not None and cert != trusted:
        try:
            cert.verify_directly_issued_by(trusted)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise _fail(
                f"the TSA certificate ({cert.subject.rfc4514_string()}) was not issued by "
                f"the trusted certificate {trusted.subject.rfc4514_string()}"
            ) from exc
    return TimestampInfo(
        gen_time=tst["gen_time"].native.isoformat(),
        tsa_subject=cert.subject.rfc4514_string(),
        serial_number=int(tst["serial_number"].native),
        tsa_cert_sha256=cert.fingerprint(hashes.SHA256()).hex(),
    )


def _signer_cert(signer: cms.SignerInfo, certs: list[Any]) -> x509.Certificate:
    """The certificate the signer info names (issuer and serial, or key id)."""
    sid = signer["sid"]
    for c in certs:
        if sid.name == "issuer_and_serial_number":
            ias = sid.chosen
            if c.issuer == ias["issuer"] and c.serial_number == ias["serial_number"].native:
                return x509.load_der_x509_certificate(c.dump())
        elif c.key_identifier == sid.chosen.native:
            return x509.load_der_x509_certificate(c.dump())
    raise _fail("the token does not carry the TSA's certificate (ask with -cert)")


def _verify(cert: x509.Certificate, signature: bytes, data: bytes, algo: Any) -> None:
    key = cert.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), algo)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(algo))
        else:
            raise _fail(f"the TSA key type {type(key).__name__} is not supported")
    except InvalidSignature as exc:
        raise _fail("the TSA's signature over the TSTInfo is not valid") from exc
