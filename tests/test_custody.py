"""Custody (issue 19, items 2 and 4): evidence is verified before use, the case file's records
of it are bound to the audit chain, and an exported head anchors the chain.

Every tampering case is done as an adversary with the case file would do it: raw SQL on a
real case file (dropping the append-only triggers where the audit log itself is edited),
then the command that should catch it is run through the real CLI and must exit 1 naming
what changed. The honest case must pass.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from core.cli import main
from core.errors import EvidenceChangedError
from core.evidence.custody import HashCache, hash_cache, verify_artifact
from core.evidence.hashing import FileHash, manifest_digest
from core.evidence.importer import find_or_import_model, import_model, import_transcripts
from core.store.audit import event_hash
from core.store.cases import create_case
from core.store.db import open_case_file

WEIGHTS = "model.safetensors"


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def world(tmp_path: Path, tiny_model: Path, transcript_file: Path) -> dict[str, Any]:
    """A real case file with two model folders (suspect, reference) and a transcript set."""
    db = tmp_path / "case.dacase"
    suspect = shutil.copytree(tiny_model, tmp_path / "suspect")
    reference = shutil.copytree(tiny_model, tmp_path / "reference")
    # Another model's folder, not the suspect's files again (a check refuses the suspect as
    # its own reference): its config names it.
    config = json.loads((reference / "config.json").read_text(encoding="utf-8"))
    (reference / "config.json").write_text(
        json.dumps({**config, "_name_or_path": "reference"}), encoding="utf-8"
    )
    with open_case_file(db) as cf:
        case_id = create_case(cf, "Halcyon v Quillmark", "DA-C1")
        sus = import_model(cf, case_id, suspect, "suspect")
        ref = import_model(cf, case_id, reference, "reference")
        tset = import_transcripts(cf, case_id, transcript_file, "protected-answers")
    return {
        "db": db,
        "case": "DA-C1",
        "case_id": case_id,
        "suspect": suspect,
        "reference": reference,
        "suspect_id": sus,
        "reference_id": ref,
        "set_id": tset,
        "transcripts": transcript_file,
    }


def _sql(db: Path, *statements: str | tuple[str, tuple[Any, ...]], audit: bool = False) -> None:
    """Tamper with the case file directly; ``audit=True`` first drops the append-only
    triggers, as someone rewriting the audit log would."""
    con = sqlite3.connect(db)
    if audit:
        con.execute("DROP TRIGGER audit_events_no_update")
        con.execute("DROP TRIGGER audit_events_no_delete")
    for st in statements:
        if isinstance(st, tuple):
            con.execute(st[0], st[1])
        else:
            con.execute(st)
    con.commit()
    con.close()


def _swap_weights(folder: Path) -> str:
    """Change the weights in place (same size, other bytes); returns the new SHA-256."""
    path = folder / WEIGHTS
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    return hashlib.sha256(bytes(data)).hexdigest()


def _forge_manifest(db: Path, artifact_id: int, new_sha: str) -> None:
    """Update the artifact's manifest (and its digest) in SQL to agree with swapped weights."""
    con = sqlite3.connect(db)
    (manifest_text,) = con.execute(
        "SELECT manifest FROM model_artifacts WHERE id=?", (artifact_id,)
    ).fetchone()
    manifest = json.loads(manifest_text)
    for e in manifest:
        if e["path"] == WEIGHTS:
            e["sha256"] = new_sha
    digest = manifest_digest([FileHash(e["path"], e["sha256"], e["size"]) for e in manifest])
    con.execute(
        "UPDATE model_artifacts SET manifest=?, manifest_sha256=? WHERE id=?",
        (json.dumps(manifest), digest, artifact_id),
    )
    con.commit()
    con.close()


def _rechain(db: Path, edit: Any = None) -> None:
    """Recompute every event's links and hashes (after ``edit(rows)``), as a forger would."""
    con = sqlite3.connect(db)
    con.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
    con.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
    cols = "id, at, actor, case_id, action, entity, entity_id, details"
    rows = [
        dict(zip(cols.split(", "), r, strict=True))
        for r in con.execute(f"SELECT {cols} FROM audit_events ORDER BY id")
    ]
    for r in rows:
        r["details"] = json.loads(r["details"]) if r["details"] else {}
    if edit is not None:
        edit(rows)
    prev = "0" * 64
    for r in rows:
        h = event_hash(prev, r)
        con.execute(
            "UPDATE audit_events SET details=?, prev_hash=?, hash=? WHERE id=?",
            (json.dumps(r["details"], sort_keys=True), prev, h, r["id"]),
        )
        prev = h
    con.commit()
    con.close()


def _counts(db: Path) -> tuple[int, int]:
    con = sqlite3.connect(db)
    runs = con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    results = con.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    con.close()
    return runs, results


# --- the honest case ---------------------------------------------------------------------


def test_honest_case_passes_every_check(world: dict[str, Any], tmp_path: Path, capsys) -> None:
    db, case = str(world["db"]), world["case"]
    code, out, _ = cli(capsys, "--db", db, "evidence", "verify", "--case", case)
    assert code == 0, out
    assert "match their import events" in out and "NOTE" not in out
    head = tmp_path / "head.json"
    code, out, _ = cli(capsys, "--db", db, "audit", "head", "--out", str(head))
    assert code == 0 and head.is_file()
    anchor = json.loads(head.read_text())
    assert anchor["events"] >= 5 and anchor["case_file_name"] == "case.dacase"
    assert anchor["signature"] is None  # the signing hook, unused here
    code, out, _ = cli(capsys, "--db", db, "--json", "audit", "verify", "--head", str(head))
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["chain_ok"] and report["records_ok"]
    assert report["anchor"]["problems"] == []
    # Honest work after the anchor (a later event, dated later) is consistent with it.
    cli(capsys, "--db", db, "evidence", "verify", "--case", case)
    code, out, _ = cli(capsys, "--db", db, "audit", "verify", "--head", str(head))
    assert code == 0 and "Consistent with the anchor" in out
    # The anchor file is never overwritten silently.
    code, _, err = cli(capsys, "--db", db, "audit", "head", "--out", str(head))
    assert code == 2 and "--force" in err


def test_import_events_bind_the_records(world: dict[str, Any]) -> None:
    con = sqlite3.connect(world["db"])
    rows = con.execute(
        "SELECT action, details FROM audit_events WHERE action LIKE 'evidence.%_imported'"
    ).fetchall()
    con.close()
    by_action = {a: json.loads(d) for a, d in rows}
    model = by_action["evidence.model_imported"]["binding"]
    assert model["version"] == 1 and model["record"]["role"] == "reference"
    tset = by_action["evidence.transcripts_imported"]["binding"]
    assert tset["record"]["item_count"] == 20 and len(tset["item_blocks"]) == 1
    assert len(tset["items_sha256"]) == 64


# --- tampering with the evidence and its records -----------------------------------------


def test_swapped_weights_with_forged_manifest_are_named(world: dict[str, Any], capsys) -> None:
    db, case = str(world["db"]), world["case"]
    new_sha = _swap_weights(world["suspect"])
    _forge_manifest(world["db"], world["suspect_id"], new_sha)
    # The files agree with the forged manifest now; the import event still disagrees.
    code, out, _ = cli(capsys, "--db", db, "evidence", "verify", "--case", case)
    assert code == 1
    assert f"ALTERED: model {world['suspect_id']} suspect: {WEIGHTS}" in out
    assert "the import recorded" in out
    code, out, _ = cli(capsys, "--db", db, "audit", "verify")
    assert code == 1
    assert "Audit chain intact" in out  # the chain alone cannot see it ...
    assert f"RECORD ALTERED: model {world['suspect_id']} (suspect): {WEIGHTS}" in out  # ...


def test_edited_transcript_response_is_named(world: dict[str, Any], capsys) -> None:
    db, case = str(world["db"]), world["case"]
    _sql(
        world["db"],
        "UPDATE transcript_items SET response='I was made by Quillmark.' WHERE item_key='p003'",
    )
    code, out, _ = cli(capsys, "--db", db, "evidence", "verify", "--case", case)
    assert code == 1 and "ALTERED: transcripts" in out and "item p003" in out
    code, out, _ = cli(capsys, "--db", db, "audit", "verify")
    assert code == 1 and "item p003" in out and "edited after import" in out


def test_edited_response_with_rewritten_item_hash_is_caught_by_the_binding(
    world: dict[str, Any], capsys
) -> None:
    from core.evidence.custody import item_hash

    forged = item_hash("p003", "Question number 3?", "I was made by Quillmark.")
    _sql(
        world["db"],
        (
            "UPDATE transcript_items SET response='I was made by Quillmark.', sha256=? "
            "WHERE item_key='p003'",
            (forged,),
        ),
    )
    code, out, _ = cli(capsys, "--db", str(world["db"]), "audit", "verify")
    assert code == 1 and "items 0-999" in out and "bound at import" in out


def test_swapped_weights_alone_are_named(world: dict[str, Any], capsys) -> None:
    _swap_weights(world["suspect"])
    code, out, _ = cli(capsys, "--db", str(world["db"]), "evidence", "verify", "--case", "DA-C1")
    assert code == 1 and f"CHANGED: model {world['suspect_id']} suspect:" in out
    assert out.count("CHANGED") == 1 and WEIGHTS in out


# --- verify before use -------------------------------------------------------------------


def test_check_on_changed_evidence_refuses_before_computing(world: dict[str, Any]) -> None:
    from core.checks.runner import CheckInputs, CheckSettings, run_checks

    _swap_weights(world["reference"])
    with open_case_file(world["db"]) as cf:
        inputs = CheckInputs(world["suspect_id"], (world["reference_id"],), world["set_id"])
        with pytest.raises(EvidenceChangedError) as err:
            run_checks(cf, world["case_id"], inputs, CheckSettings(n_resamples=99))
    message = str(err.value)
    assert f"model {world['reference_id']} (reference)" in message and WEIGHTS in message
    assert "no check was run" in message and "\n" not in message
    assert _counts(world["db"]) == (0, 0)  # no Run, no Result


def test_check_on_edited_transcript_refuses_before_computing(world: dict[str, Any]) -> None:
    from core.checks.runner import CheckInputs, CheckSettings, run_checks

    _sql(world["db"], "UPDATE transcript_items SET prompt='Who made you?' WHERE item_key='p007'")
    with open_case_file(world["db"]) as cf:
        inputs = CheckInputs(world["suspect_id"], (world["reference_id"],), world["set_id"])
        with pytest.raises(EvidenceChangedError, match="item p007"):
            run_checks(cf, world["case_id"], inputs, CheckSettings(n_resamples=99))
    assert _counts(world["db"]) == (0, 0)


def test_check_db_reusing_a_changed_model_refuses(world: dict[str, Any], capsys) -> None:
    _swap_weights(world["suspect"])
    code, _, err = cli(
        capsys,
        "check",
        "--db",
        str(world["db"]),
        "--case",
        world["case"],
        "--suspect",
        str(world["suspect"]),
        "--reference",
        str(world["reference"]),
        "--protected-transcripts",
        str(world["transcripts"]),
        "--json",
        str(world["db"].parent / "out.json"),
    )
    assert code == 1 and WEIGHTS in err and "the suspect model suspect was not used" in err
    assert err.strip().count("\n") == 0
    assert _counts(world["db"]) == (0, 0)
    assert not (world["db"].parent / "out.json").exists()


def test_find_or_import_verifies_the_model_it_reuses(world: dict[str, Any]) -> None:
    with open_case_file(world["db"]) as cf:
        found = find_or_import_model(cf, world["case_id"], world["suspect"], "suspect")
        assert found == world["suspect_id"]  # unchanged: reused
        (world["suspect"] / "config.json").unlink()
        with pytest.raises(EvidenceChangedError, match=r"config\.json: the file is no longer"):
            find_or_import_model(cf, world["case_id"], world["suspect"], "suspect")


def test_experiment_inputs_are_verified_before_use(world: dict[str, Any]) -> None:
    from core.distill.experiment import model_input

    with open_case_file(world["db"]) as cf:
        ok = model_input(cf, world["case_id"], world["suspect"])
        assert ok["artifact_id"] == world["suspect_id"]
        _swap_weights(world["suspect"])
        with pytest.raises(EvidenceChangedError, match="the experiment did not use suspect"):
            model_input(cf, world["case_id"], world["suspect"])


def test_experiment_source_that_is_changed_case_evidence_is_refused(
    world: dict[str, Any],
) -> None:
    from core.evidence.custody import verify_source

    with open_case_file(world["db"]) as cf:
        before = verify_source(cf, world["case_id"], world["transcripts"])
        assert before == hashlib.sha256(world["transcripts"].read_bytes()).hexdigest()
        world["transcripts"].write_text(world["transcripts"].read_text() + "\n")
        with pytest.raises(EvidenceChangedError, match="answers.jsonl"):
            verify_source(cf, world["case_id"], world["transcripts"])


def test_report_shows_a_forged_manifest(world: dict[str, Any]) -> None:
    from core.reports.gather import gather_report_data

    _forge_manifest(world["db"], world["suspect_id"], _swap_weights(world["suspect"]))
    with open_case_file(world["db"]) as cf:
        data = gather_report_data(cf, world["case"])
    assert not data.verification.ok
    named = [p for p in data.verification.problems if p["file"] == WEIGHTS]
    assert named and named[0]["status"] == "altered" and named[0]["label"] == "M1"
    assert [e.verification for e in data.evidence if e.kind == "model"] == ["changed", "ok"]


def test_a_file_read_twice_in_a_run_is_hashed_once(world: dict[str, Any]) -> None:
    with open_case_file(world["db"]) as cf, hash_cache() as cache:
        verify_artifact(cf, world["suspect_id"])
        files = cache.hashed
        assert files >= 3
        verify_artifact(cf, world["suspect_id"])  # e.g. --db reuse, then the run itself
        assert cache.hashed == files
        _swap_weights(world["suspect"])  # rewritten in place: a new mtime/ctime
        with pytest.raises(EvidenceChangedError):
            verify_artifact(cf, world["suspect_id"])
        assert cache.hashed == files + 1
    fresh = HashCache()
    assert (
        fresh.sha256(world["suspect"] / "config.json")
        == hashlib.sha256((world["suspect"] / "config.json").read_bytes()).hexdigest()
    )


# --- the audit chain and its anchor -------------------------------------------------------


def _anchor(world: dict[str, Any], capsys) -> Path:
    head = world["db"].parent / "head.json"
    assert cli(capsys, "--db", str(world["db"]), "audit", "head", "--out", str(head))[0] == 0
    return head


def test_tail_truncation_is_detected_against_the_anchor(world: dict[str, Any], capsys) -> None:
    head = _anchor(world, capsys)
    _sql(world["db"], "DELETE FROM audit_events WHERE id >= 4", audit=True)
    db = str(world["db"])
    code, out, _ = cli(capsys, "--db", db, "audit", "verify")
    assert "Audit chain intact" in out  # a cut-off chain still links ...
    code, out, _ = cli(capsys, "--db", db, "audit", "verify", "--head", str(head))
    assert code == 1 and "ANCHOR TRUNCATED" in out and "removed from the end" in out


def test_full_recomputation_is_detected_against_the_anchor(world: dict[str, Any], capsys) -> None:
    head = _anchor(world, capsys)

    def rename(rows: list[dict[str, Any]]) -> None:
        rows[0]["details"]["title"] = "Someone else v Quillmark"

    _rechain(world["db"], rename)
    db = str(world["db"])
    code, out, _ = cli(capsys, "--db", db, "audit", "verify")
    assert "Audit chain intact" in out  # every link recomputed ...
    code, out, _ = cli(capsys, "--db", db, "audit", "verify", "--head", str(head))
    assert code == 1 and "ANCHOR RECOMPUTED" in out and "rewritten" in out


def test_backdated_append_is_detected_against_the_anchor(world: dict[str, Any], capsys) -> None:
    head = _anchor(world, capsys)
    con = sqlite3.connect(world["db"])
    last_id, last_hash = con.execute(
        "SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1"
    ).fetchone()
    fields = {
        "id": last_id + 1,
        "at": "2020-01-01T00:00:00.000000Z",
        "actor": "mallory",
        "case_id": world["case_id"],
        "action": "evidence.verified",
        "entity": "case",
        "entity_id": str(world["case_id"]),
        "details": {"items": 3, "files": 9, "problems": []},
    }
    con.execute(
        "INSERT INTO audit_events (id, at, actor, case_id, action, entity, entity_id, details, "
        "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            *(fields[k] for k in ("id", "at", "actor", "case_id", "action", "entity")),
            fields["entity_id"],
            json.dumps(fields["details"], sort_keys=True),
            last_hash,
            event_hash(last_hash, fields),
        ),
    )
    con.commit()
    con.close()
    db = str(world["db"])
    code, out, _ = cli(capsys, "--db", db, "audit", "verify")
    assert code == 0 and "Audit chain intact" in out  # the append links correctly ...
    code, out, _ = cli(capsys, "--db", db, "audit", "verify", "--head", str(head))
    assert code == 1 and "ANCHOR BACKDATED" in out and f"event {last_id + 1}" in out


def test_a_damaged_anchor_file_is_one_clear_error(world: dict[str, Any], capsys) -> None:
    bad = world["db"].parent / "head.json"
    bad.write_text('{"format": "something else"}')
    code, _, err = cli(capsys, "--db", str(world["db"]), "audit", "verify", "--head", str(bad))
    assert code == 2 and "not an audit-chain head" in err


# --- case files made before records were bound ----------------------------------------------


def test_case_file_without_bindings_still_verifies_with_a_note(
    world: dict[str, Any], capsys
) -> None:
    def unbind(rows: list[dict[str, Any]]) -> None:
        for r in rows:
            r["details"].pop("binding", None)

    _rechain(world["db"], unbind)  # what an older version of the tool wrote
    db, case = str(world["db"]), world["case"]
    code, out, _ = cli(capsys, "--db", db, "audit", "verify")
    assert code == 0 and "NOTE" in out and "before records were bound" in out
    code, out, _ = cli(capsys, "--db", db, "evidence", "verify", "--case", case)
    assert code == 0 and "NOTE" in out
    # What the old events did record is still compared: the manifest's file list.
    _forge_manifest(world["db"], world["suspect_id"], _swap_weights(world["suspect"]))
    code, out, _ = cli(capsys, "--db", db, "audit", "verify")
    assert code == 1 and f"RECORD ALTERED: model {world['suspect_id']} (suspect): {WEIGHTS}" in out
