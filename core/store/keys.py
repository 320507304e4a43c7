"""The examiner's Ed25519 signing key: create it, read it, name it by its public key.

One key file (PKCS#8 PEM) signs the audit chain's head (:mod:`core.store.signed_head`).
It is encrypted with a passphrase when one is given (``DISTILL_AUDIT_KEY_PASSPHRASE`` or
a prompt in the CLI); an unencrypted key is allowed but the CLI warns about it, since
anyone who copies the file can then sign as the examiner.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from core.errors import DistillAuditError, OutputExistsError

PASSPHRASE_ENV = "DISTILL_AUDIT_KEY_PASSPHRASE"


def public_hex(key: Ed25519PublicKey) -> str:
    """The raw 32-byte public key as lower-case hex: how signed files name the signer."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return raw.hex()


def public_from_hex(text: str) -> Ed25519PublicKey:
    """The public key a signed file names; DistillAuditError when it is not one."""
    try:
        raw = bytes.fromhex(text)
        if len(raw) != 32:
            raise ValueError("not 32 bytes")
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise DistillAuditError(
            f"The public key {text[:20]!r}… is not a raw Ed25519 key (64 hex digits)."
        ) from exc


def write_new_key(path: Path, passphrase: bytes | None, *, overwrite: bool = False) -> str:
    """Create a key at ``path`` (mode 0600), encrypted when ``passphrase``; its public hex."""
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} already exists; give --force to replace it.")
    key = Ed25519PrivateKey.generate()
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return public_hex(key.public_key())


def key_is_encrypted(path: Path) -> bool:
    """Whether the PEM key file at ``path`` needs a passphrase."""
    return b"ENCRYPTED" in _read(path)


def load_private_key(path: Path, passphrase: bytes | None) -> Ed25519PrivateKey:
    """The Ed25519 key in ``path``; one-line errors for a wrong passphrase or key type."""
    pem = _read(path)
    try:
        key = serialization.load_pem_private_key(pem, password=passphrase or None)
    except TypeError as exc:  # encrypted but no passphrase, or the other way round
        raise DistillAuditError(
            f"{path} is encrypted: give its passphrase in ${PASSPHRASE_ENV} or at the prompt."
            if passphrase is None
            else f"{path} is not encrypted; do not give a passphrase for it."
        ) from exc
    except ValueError as exc:
        raise DistillAuditError(
            f"Cannot read the key in {path}: wrong passphrase, or not a PEM private key."
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise DistillAuditError(
            f"{path} holds a {type(key).__name__.removesuffix('PrivateKey') or 'non'} key; "
            "the audit chain is signed with an Ed25519 key (`audit keygen`)."
        )
    return key


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DistillAuditError(f"Cannot read the key file {path}: {exc.strerror}.") from exc
