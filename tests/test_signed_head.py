"""The examiner's signed audit-chain head: keygen, sign, verify alone and against the case
file, an attached RFC 3161 time-stamp from an offline test TSA, and what tampering shows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli import main
from core.store import audit
from core.store.keys import PASSPHRASE_ENV
from core.store.timestamp import verify_token
from tests.testpki import build_tsa


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> Path:
    monkeypatch.setenv(PASSPHRASE_ENV, "correct horse")
    path = tmp_path / "examiner.pem"
    code, out, _ = _run(capsys, "audit", "keygen", "--out", str(path))
    assert code == 0 and "public key" in out
    assert b"ENCRYPTED" in path.read_bytes()
    return path


def _sign(capsys, db: str, key: Path, out: Path, *extra: str) -> tuple[int, str, str]:
    return _run(capsys, "--db", db, "audit", "sign", "--key", str(key), "--out", str(out), *extra)


def test_sign_and_verify_with_and_without_the_case_file(case_file, case_id, key, tmp_path, capsys):
    db = str(case_file.path)
    sig = tmp_path / "head.sig.json"
    code, out, err = _sign(capsys, db, key, sig)
    assert code == 0, err
    data = json.loads(sig.read_text())
    assert data["case_references"] == ["DA-TEST-1"] and len(data["public_key"]) == 64
    assert data["head"]["events"] >= 1 and len(data["signature"]) == 128
    code, out, _ = _run(capsys, "audit", "verify", "--signed", str(sig))
    assert code == 0 and "Signature valid" in out
    code, out, _ = _run(capsys, "--db", db, "audit", "verify", "--signed", str(sig))
    assert code == 0 and "consistent with the signed head" in out
    # Appending is fine; the signed head still anchors the older part of the chain.
    with case_file.session() as s:
        audit.record(s, "case.note", "case", case_id, case_id=case_id, details={"n": 1})
    assert _run(capsys, "--db", db, "audit", "verify", "--signed", str(sig))[0] == 0
    # One changed digit of the signed event count: the signature no longer verifies.
    data["head"]["events"] += 1
    forged = tmp_path / "forged.sig.json"
    forged.write_text(json.dumps(data))
    code, out, _ = _run(capsys, "audit", "verify", "--signed", str(forged))
    assert code == 1 and "SIGNATURE INVALID" in out


def test_signed_head_detects_a_rewritten_chain(case_file, case_id, key, tmp_path, capsys):
    db = str(case_file.path)
    sig = tmp_path / "head.sig.json"
    assert _sign(capsys, db, key, sig)[0] == 0
    head_id = json.loads(sig.read_text())["head"]["head_event_id"]
    case_file.engine.dispose()
    import sqlite3

    con = sqlite3.connect(case_file.path)
    con.execute("DROP TRIGGER audit_events_no_update")
    con.execute("UPDATE audit_events SET hash = ? WHERE id = ?", ("0" * 64, head_id))
    con.commit()
    con.close()
    code, out, _ = _run(capsys, "--db", db, "audit", "verify", "--signed", str(sig))
    assert code == 1 and "Signature valid" in out and "ANCHOR RECOMPUTED" in out


def test_wrong_passphrase_and_unencrypted_key(
    case_file, case_id, key, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv(PASSPHRASE_ENV, "wrong")
    code, _, err = _sign(capsys, str(case_file.path), key, tmp_path / "h.json")
    assert code == 2 and "wrong passphrase" in err and not (tmp_path / "h.json").exists()
    monkeypatch.delenv(PASSPHRASE_ENV)
    plain = tmp_path / "plain.pem"
    code, _, err = _run(capsys, "audit", "keygen", "--out", str(plain), "--unencrypted")
    assert code == 0 and "not encrypted" in err
    assert _sign(capsys, str(case_file.path), plain, tmp_path / "h.json")[0] == 0


def test_rfc3161_token_over_the_head(case_file, case_id, key, tmp_path, capsys):
    db = str(case_file.path)
    plain = tmp_path / "head.sig.json"
    assert _sign(capsys, db, key, plain)[0] == 0
    head_hash = json.loads(plain.read_text())["head"]["head_hash"]
    tsa = build_tsa()
    tsr = tmp_path / "head.tsr"
    tsr.write_bytes(tsa.response(bytes.fromhex(head_hash)))
    ca = tsa.ca_pem(tmp_path / "ca.pem")
    stamped = tmp_path / "stamped.sig.json"
    code, out, err = _sign(capsys, db, key, stamped, "--tsr", str(tsr), "--tsa-cert", str(ca))
    assert code == 0, err
    assert "Time-stamped by CN=Test TSA" in out
    code, out, _ = _run(capsys, "audit", "verify", "--signed", str(stamped), "--tsa-cert", str(ca))
    assert code == 0 and "Time-stamp valid" in out and "serial 4711" in out
    # A token over another hash, or whose TSTInfo was altered after the TSA signed it.
    from core.errors import DistillAuditError

    with pytest.raises(DistillAuditError, match="message imprint"):
        verify_token(tsa.response(b"\x01" * 32), head_hash)
    with pytest.raises(DistillAuditError, match="message digest"):
        verify_token(tsa.response(bytes.fromhex(head_hash), tamper_tst=True), head_hash)
    other = build_tsa()  # a TSA whose CA the verifier does not trust
    with pytest.raises(DistillAuditError, match="not issued by"):
        verify_token(other.response(bytes.fromhex(head_hash)), head_hash, tsa.ca_cert)
    data = json.loads(stamped.read_text())
    data["timestamp_token"] = __import__("base64").b64encode(tsa.response(b"\x02" * 32)).decode()
    swapped = tmp_path / "swapped.sig.json"
    swapped.write_text(json.dumps(data))
    code, out, _ = _run(capsys, "audit", "verify", "--signed", str(swapped))
    assert code == 1 and "TIME-STAMP INVALID" in out
