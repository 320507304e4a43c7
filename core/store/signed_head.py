"""A signed audit-chain head: the head (:mod:`core.store.anchor`) signed by the examiner.

``audit sign`` writes a detached JSON file holding the case reference(s), the head (hash,
event count, time), when it was signed, the examiner's Ed25519 public key (raw, hex) and
the signature over the canonical JSON of all of that (:meth:`SignedHead.payload`). Anyone
can check the signature with the file alone (:func:`verify_signature`), and against the
case file with :func:`core.store.anchor.check_against_head`, since ``head`` is an ordinary
exported head. An RFC 3161 time-stamp token over the head hash, obtained from a
time-stamping authority elsewhere, can ride along (``timestamp``) and is checked offline
by :mod:`core.store.timestamp`.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import DistillAuditError, NotFoundError
from core.store.anchor import ChainHead, chain_head
from core.store.db import CaseFile
from core.store.keys import public_from_hex, public_hex
from core.store.models import Case
from core.store.types import iso, utcnow

SIGNED_FORMAT = "distill-audit/signed-audit-chain-head"
SIGNED_VERSION = 1
ALGORITHM = "Ed25519"


@dataclass(frozen=True)
class SignedHead:
    """A chain head, who signed it and when, and the signature; optionally a TSA token."""

    case_references: tuple[str, ...]
    head: ChainHead
    signed_at: str
    public_key: str  # raw Ed25519 public key, hex
    signature: str  # hex; over payload()
    timestamp_token: bytes | None = None  # DER RFC 3161 token or response (.tsr)

    def payload(self) -> bytes:
        """The canonical bytes the signature covers (everything but signature and token)."""
        fields = {
            "format": SIGNED_FORMAT,
            "version": SIGNED_VERSION,
            "algorithm": ALGORITHM,
            "case_references": list(self.case_references),
            "head": json.loads(self.head.signed_payload()),
            "signed_at": self.signed_at,
            "public_key": self.public_key,
        }
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("utf-8")

    def to_dict(self) -> dict[str, Any]:
        head = {k: v for k, v in self.head.to_dict().items() if k != "signature"}
        return {
            "format": SIGNED_FORMAT,
            "version": SIGNED_VERSION,
            "algorithm": ALGORITHM,
            "case_references": list(self.case_references),
            "head": head,
            "signed_at": self.signed_at,
            "public_key": self.public_key,
            "signature": self.signature,
            "timestamp_token": (
                base64.b64encode(self.timestamp_token).decode("ascii")
                if self.timestamp_token
                else None
            ),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"


def sign_head(
    head: ChainHead,
    key: Ed25519PrivateKey,
    case_references: tuple[str, ...],
    *,
    timestamp_token: bytes | None = None,
) -> SignedHead:
    """Sign ``head`` with the examiner's key now."""
    unsigned = SignedHead(
        case_references=case_references,
        head=head,
        signed_at=iso(utcnow()) or "",
        public_key=public_hex(key.public_key()),
        signature="",
        timestamp_token=timestamp_token,
    )
    signature = key.sign(unsigned.payload()).hex()
    return SignedHead(
        unsigned.case_references,
        head,
        unsigned.signed_at,
        unsigned.public_key,
        signature,
        timestamp_token,
    )


def verify_signature(signed: SignedHead) -> None:
    """Raise DistillAuditError unless the signature is the public key's, over the payload."""
    key = public_from_hex(signed.public_key)
    try:
        key.verify(bytes.fromhex(signed.signature), signed.payload())
    except (InvalidSignature, ValueError) as exc:
        raise DistillAuditError(
            "The signature on the audit-chain head does not verify: the file was altered "
            f"after signing, or was not signed by the key {signed.public_key[:16]}…."
        ) from exc


def read_signed_head(path: Path) -> SignedHead:
    """Parse a file written by ``audit sign``; errors name the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DistillAuditError(f"Cannot read {path}: {exc.strerror}.") from exc
    except (UnicodeError, json.JSONDecodeError) as exc:
        raise DistillAuditError(
            f"{path} is not a signed audit-chain head written by `distill-audit audit sign` "
            "(it is not JSON)."
        ) from exc
    if not isinstance(data, dict) or data.get("format") != SIGNED_FORMAT:
        raise DistillAuditError(
            f"{path} is not a signed audit-chain head written by `distill-audit audit sign`."
        )
    if data.get("version") != SIGNED_VERSION or data.get("algorithm") != ALGORITHM:
        raise DistillAuditError(
            f"{path} is a signed head of version {data.get('version')!r} "
            f"({data.get('algorithm')!r}); this version reads {SIGNED_VERSION} ({ALGORITHM})."
        )
    try:
        token = data.get("timestamp_token")
        return SignedHead(
            case_references=tuple(str(r) for r in data["case_references"]),
            head=ChainHead.from_dict(data["head"], str(path)),
            signed_at=str(data["signed_at"]),
            public_key=str(data["public_key"]),
            signature=str(data["signature"]),
            timestamp_token=base64.b64decode(token, validate=True) if token else None,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise DistillAuditError(
            f"{path} is damaged: a field of the signed head is missing or invalid ({exc})."
        ) from exc


def case_references(session: Session, only: str | None = None) -> tuple[str, ...]:
    """The case references the case file holds (or ``only``, checked to be one of them)."""
    refs = tuple(session.scalars(select(Case.reference).order_by(Case.id)))
    if only is None:
        return refs
    if only not in refs:
        raise NotFoundError(f"The case file holds no case {only!r} (it holds {', '.join(refs)}).")
    return (only,)


def sign_case_file_head(
    cf: CaseFile,
    key: Ed25519PrivateKey,
    *,
    case_reference: str | None = None,
    timestamp_token: bytes | None = None,
) -> SignedHead:
    """Take the case file's chain head now and sign it (the case file is not changed)."""
    with cf.read_session() as s:
        head = chain_head(s, cf.path)
        refs = case_references(s, case_reference)
    return sign_head(head, key, refs, timestamp_token=timestamp_token)
