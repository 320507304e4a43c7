"""``audit keygen``, ``audit sign`` and ``audit verify --signed``: the examiner's signed head.

``keygen`` writes an Ed25519 key (encrypted with the passphrase of
``$DISTILL_AUDIT_KEY_PASSPHRASE`` or the prompt; ``--unencrypted`` with a warning);
``sign`` writes the detached signed head; ``verify --signed`` checks its signature and
time-stamp with the file alone, and the case file's chain against it when ``--db`` is given.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Any

from cryptography import x509

from core.errors import DistillAuditError, OutputExistsError
from core.store.anchor import check_against_head
from core.store.audit import verify_case_file_chain
from core.store.keys import PASSPHRASE_ENV, key_is_encrypted, load_private_key, write_new_key
from core.store.signed_head import read_signed_head, sign_case_file_head, verify_signature
from core.store.timestamp import TimestampInfo, verify_token

from .common import emit, open_db


def add_parsers(asub: argparse._SubParsersAction) -> None:
    kg = asub.add_parser("keygen", help="create the examiner's Ed25519 signing key (PEM)")
    kg.add_argument("--out", required=True, metavar="KEY.pem")
    kg.add_argument(
        "--unencrypted",
        action="store_true",
        help="store the key without a passphrase (anyone who copies it can sign)",
    )
    kg.add_argument("--force", action="store_true", help="replace KEY.pem if it exists")
    kg.set_defaults(func=cmd_keygen)
    sg = asub.add_parser("sign", help="sign the audit chain's head with the examiner's key")
    sg.add_argument("--key", required=True, metavar="KEY.pem")
    sg.add_argument("--out", required=True, metavar="HEAD.sig.json")
    sg.add_argument("--case", default=None, help="name only this case's reference in the file")
    sg.add_argument(
        "--tsr",
        metavar="FILE",
        help="an RFC 3161 time-stamp response or token over the head hash, checked and attached",
    )
    sg.add_argument("--tsa-cert", metavar="CERT.pem", help="the TSA (or CA) certificate to trust")
    sg.add_argument("--force", action="store_true", help="replace the output if it exists")
    sg.set_defaults(func=cmd_sign)


def passphrase(prompt: str, *, confirm: bool = False) -> bytes | None:
    """The key passphrase: the environment, else the prompt on a terminal, else none."""
    env = os.environ.get(PASSPHRASE_ENV)
    if env:
        return env.encode("utf-8")
    if not sys.stdin.isatty():
        return None
    first = getpass.getpass(prompt)
    if confirm and getpass.getpass("Repeat the passphrase: ") != first:
        raise DistillAuditError("The two passphrases differ; no key was written.")
    return first.encode("utf-8") or None


def cmd_keygen(args: argparse.Namespace) -> int:
    out = Path(args.out)
    secret = None if args.unencrypted else passphrase("Passphrase for the new key: ", confirm=True)
    if secret is None and not args.unencrypted:
        raise DistillAuditError(
            f"Give the key's passphrase in ${PASSPHRASE_ENV} or at the prompt, or add "
            "--unencrypted to store the key without one."
        )
    public = write_new_key(out, secret, overwrite=args.force)
    if secret is None:
        print(
            f"distill-audit: warning: {out} is not encrypted; anyone who copies it can sign "
            "as you. Keep it on removable media or re-create it with a passphrase.",
            file=sys.stderr,
        )
    emit(
        args,
        {"file": str(out), "public_key": public, "encrypted": secret is not None},
        f"Wrote an Ed25519 signing key to {out} (public key {public}).",
    )
    return 0


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise DistillAuditError(f"Cannot read the {what} {path}: {exc.strerror}.") from exc


def _trusted(args: argparse.Namespace) -> x509.Certificate | None:
    if not getattr(args, "tsa_cert", None):
        return None
    data = _read(args.tsa_cert, "TSA certificate")
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise DistillAuditError(f"{args.tsa_cert} is not an X.509 certificate.") from exc


def cmd_sign(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.exists() and not args.force:
        raise OutputExistsError(f"{out} already exists; give --force to replace it.")
    key_path = Path(args.key)
    secret = passphrase(f"Passphrase for {key_path}: ") if key_is_encrypted(key_path) else None
    key = load_private_key(key_path, secret)
    token = _read(args.tsr, "time-stamp file") if args.tsr else None
    with open_db(args) as cf:
        signed = sign_case_file_head(cf, key, case_reference=args.case, timestamp_token=token)
    stamp = verify_token(token, signed.head.hash, _trusted(args)) if token else None
    out.write_text(signed.to_json(), encoding="utf-8")
    text = (
        f"Signed the audit chain's head (event {signed.head.event_id}, {signed.head.events} "
        f"event(s), hash {signed.head.hash}) with key {signed.public_key}; wrote {out}."
    )
    if stamp:
        text += f" Time-stamped by {stamp.tsa_subject} at {stamp.gen_time}."
    emit(args, {"file": str(out), **signed.to_dict()}, text)
    return 0


def cmd_verify_signed(args: argparse.Namespace) -> int:
    """Signature (and token) first, with the file alone; then the case file if given."""
    path = Path(args.signed)
    signed = read_signed_head(path)
    lines: list[str] = []
    data: dict[str, Any] = {"file": str(path), "public_key": signed.public_key}
    ok = True
    try:
        verify_signature(signed)
        lines.append(
            f"Signature valid: Ed25519 key {signed.public_key}, signed {signed.signed_at}, "
            f"head event {signed.head.event_id} ({signed.head.events} event(s)) hash "
            f"{signed.head.hash}, case(s) {', '.join(signed.case_references) or '—'}."
        )
        data["signature_ok"] = True
    except DistillAuditError as exc:
        ok = False
        lines.append(f"SIGNATURE INVALID: {exc}")
        data["signature_ok"] = False
    stamp: TimestampInfo | None = None
    if signed.timestamp_token:
        try:
            stamp = verify_token(signed.timestamp_token, signed.head.hash, _trusted(args))
            lines.append(
                f"Time-stamp valid: {stamp.tsa_subject} stamped the head hash at "
                f"{stamp.gen_time} (serial {stamp.serial_number})."
            )
        except DistillAuditError as exc:
            ok = False
            lines.append(f"TIME-STAMP INVALID: {exc}")
    data["timestamp"] = stamp.to_dict() if stamp else None
    if args.db:
        with open_db(args) as cf:
            chain = verify_case_file_chain(cf)
            with cf.read_session() as s:
                problems = check_against_head(s, signed.head)
        if not chain.ok:
            ok = False
            lines.append(f"AUDIT CHAIN BROKEN at event {chain.first_broken_id}: {chain.problem}.")
        lines += [f"ANCHOR {p.kind.upper()}: {p.message}." for p in problems]
        if chain.ok and not problems:
            lines.append(
                f"The case file {args.db} is consistent with the signed head "
                f"({chain.events} event(s) now)."
            )
        ok = ok and not problems
        data["chain_ok"] = chain.ok
        data["problems"] = [p.to_dict() for p in problems]
    data["ok"] = ok
    emit(args, data, "\n".join(lines))
    return 0 if ok else 1
