"""``report verify`` and PAdES-signed exports: a report passes as exported, and one changed
byte of the PDF, one changed number of the bundle or a chain head that does not match
fails with the check named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli import main
from core.reports.export import export_report
from core.reports.pades import SigningCredentials, check_pdf_signature, make_examiner_certificate
from core.reports.verify import footer_hashes, verify_report
from core.store import audit
from core.store.keys import PASSPHRASE_ENV
from tests.test_report import answers_file
from tests.test_report_case import GENERATED_AT, build_report_case


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def examiner(tmp_path: Path) -> SigningCredentials:
    key, cert = tmp_path / "examiner.key.pem", tmp_path / "examiner.cert.pem"
    make_examiner_certificate("Dr. E. Example", key, cert, b"s3cret")
    return SigningCredentials(key=key, cert=cert, passphrase=b"s3cret")


@pytest.fixture
def exported(case_file, tiny_model, tmp_path: Path, examiner: SigningCredentials):
    """A demo-like case (evidence, a check run, findings) exported signed, with its bundle."""
    built = build_report_case(
        case_file,
        tiny_model,
        tmp_path,
        answers_file(tmp_path),
        n_findings=1,
        n_probes=8,
        calibration=False,
    )
    result = export_report(
        case_file,
        built.reference,
        tmp_path / "r.pdf",
        json_path=tmp_path / "r.json",
        generated_at=GENERATED_AT,
        prepared_by="Dr. E. Example",
        sign=examiner,
    )
    return result


def test_signed_export_verifies_and_a_changed_byte_fails(case_file, exported, tmp_path, examiner):
    pdf = exported.pdf_path.read_bytes()
    assert set(footer_hashes(pdf)) == {exported.content_sha256}
    sig = check_pdf_signature(pdf)
    assert sig.ok and "Dr. E. Example" in sig.signer and not sig.trusted
    assert check_pdf_signature(pdf, [examiner.cert]).trusted  # type: ignore[list-item]
    full = verify_report(exported.pdf_path, bundle_path=exported.json_path, cf=case_file)
    assert full.ok, full.to_dict()
    assert [o.name for o in full.outcomes] == [
        "signature",
        "footer hash",
        "bundle",
        "export record",
        "chain head",
    ]
    # One byte of the rendered (signed) part changed: the signature breaks.
    bad = bytearray(pdf)
    at = len(pdf) // 3
    bad[at] = (bad[at] + 1) % 256
    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(bytes(bad))
    result = verify_report(tampered, cf=case_file)
    assert not result.ok and "signature" in result.failed and "export record" in result.failed


def test_cli_verify_bundle_number_and_chain_head(
    case_file, exported, tmp_path, capsys, monkeypatch
):
    db = str(case_file.path)
    pdf, bundle = str(exported.pdf_path), str(exported.json_path)
    code, out, _ = _run(capsys, "report", "verify", pdf, "--bundle", bundle, "--db", db)
    assert code == 0, out
    assert out.count("PASS ") == 5 and "verified: all 5 check(s) passed" in out
    # One number of the bundle changed.
    data = json.loads(Path(bundle).read_text(encoding="utf-8"))
    data["content"]["chain"]["events"] += 1
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(data), encoding="utf-8")
    code, out, _ = _run(capsys, "report", "verify", pdf, "--bundle", str(changed))
    assert code == 1 and "FAIL bundle" in out and "FAILED: bundle" in out
    # A head signed by the examiner after the export: a later event than the report's.
    monkeypatch.setenv(PASSPHRASE_ENV, "pw")
    key = tmp_path / "head.pem"
    assert _run(capsys, "audit", "keygen", "--out", str(key))[0] == 0
    head = tmp_path / "head.sig.json"
    assert _run(capsys, "--db", db, "audit", "sign", "--key", str(key), "--out", str(head))[0] == 0
    code, out, _ = _run(
        capsys, "report", "verify", pdf, "--bundle", bundle, "--signed-head", str(head)
    )
    assert code == 1 and "FAIL chain head" in out and "give --db" in out
    code, out, _ = _run(
        capsys, "report", "verify", pdf, "--bundle", bundle, "--signed-head", str(head), "--db", db
    )
    assert code == 0 and "PASS chain head" in out
    from core.reports.bundle import content_sha256

    # A chain head that does not match: the bundle's quoted head hash changed, and its
    # content hash recomputed to hide it.
    data = json.loads(Path(bundle).read_text(encoding="utf-8"))
    data["content"]["chain"]["head_hash"] = "f" * 64
    data["content_sha256"] = content_sha256(data["content"])
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(data), encoding="utf-8")
    code, out, _ = _run(capsys, "report", "verify", pdf, "--bundle", str(forged), "--db", db)
    assert code == 1 and "FAIL chain head" in out and "rewritten" in out
    assert "FAIL bundle" in out  # its content is no longer the PDF's


def test_unsigned_export_changed_byte_fails_the_export_record(case_file, case_id, tmp_path, capsys):
    with case_file.session() as s:
        audit.record(s, "case.note", "case", case_id, case_id=case_id, details={"n": 1})
    result = export_report(case_file, "DA-TEST-1", tmp_path / "u.pdf", generated_at=GENERATED_AT)
    db = str(case_file.path)
    code, out, _ = _run(capsys, "report", "verify", str(result.pdf_path), "--db", db)
    assert code == 0 and "PASS signature: the PDF is not signed" in out
    code, out, _ = _run(capsys, "report", "verify", str(result.pdf_path), "--require-signature")
    assert code == 1 and "FAILED: signature" in out
    pdf = bytearray(result.pdf_path.read_bytes())
    i = pdf.index(b"/Producer")
    pdf[i + 1] = ord("p")  # one byte of the metadata: the text still reads, the hash differs
    (tmp_path / "u2.pdf").write_bytes(bytes(pdf))
    code, out, _ = _run(capsys, "report", "verify", str(tmp_path / "u2.pdf"), "--db", db)
    assert code == 1 and "FAIL export record" in out and "changed after export" in out


def test_cli_keygen_signed_export_and_trust(case_file, case_id, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(PASSPHRASE_ENV, "examiner pass")
    key, cert = tmp_path / "k.pem", tmp_path / "c.pem"
    code, out, _ = _run(
        capsys,
        "report",
        "keygen",
        "--name",
        "Dr. E. Example",
        "--key-out",
        str(key),
        "--cert-out",
        str(cert),
    )
    assert code == 0 and "self-signed examiner certificate" in out
    db, pdf = str(case_file.path), str(tmp_path / "signed.pdf")
    code, out, err = _run(
        capsys,
        "--db",
        db,
        "report",
        "export",
        "--case",
        "DA-TEST-1",
        "--out",
        pdf,
        "--sign-key",
        str(key),
        "--sign-cert",
        str(cert),
    )
    assert code == 0, err
    assert "Signed (PAdES B-B)" in out
    code, out, _ = _run(capsys, "report", "verify", pdf, "--trust", str(cert), "--db", db)
    assert code == 0 and "trusted (chains to a --trust certificate)" in out
    other_key, other = tmp_path / "k2.pem", tmp_path / "c2.pem"
    make_examiner_certificate("Someone Else", other_key, other, None)
    code, out, _ = _run(capsys, "report", "verify", pdf, "--trust", str(other))
    assert code == 1 and "FAIL signature" in out and "not trusted" in out
    monkeypatch.setenv(PASSPHRASE_ENV, "wrong")
    code, _, err = _run(
        capsys,
        "--db",
        db,
        "report",
        "--case",
        "DA-TEST-1",
        "--out",
        str(tmp_path / "x.pdf"),
        "--sign-key",
        str(key),
        "--sign-cert",
        str(cert),
    )
    assert code == 2 and "Cannot read the signing key" in err and "Traceback" not in err
    assert not (tmp_path / "x.pdf").exists()
