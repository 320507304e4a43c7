"""The harvest test's two record kinds at import: validated with line numbers, stored with
normalised metadata, all-or-nothing; and the pairing's exclusions, each with its reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core.checks.harvest_pairing import harvest_context, pair_harvest
from core.checks.probes import ChatTemplate, TranscriptEntry
from core.errors import EvidenceError
from core.evidence.formats import HARVESTED_ROLE, REGENERATIONS_ROLE, TRANSCRIPT_ROLES
from core.evidence.importer import import_transcripts
from core.store.models import TranscriptItem, TranscriptSet
from tests.conftest import write_jsonl

SAMPLING = {"temperature": 0.8, "top_p": 0.95, "max_new_tokens": 64}


def logged(i: int, **over: Any) -> dict[str, Any]:
    return {
        "id": f"h{i}",
        "prompt": f"Question {i}?",
        "response": f"Logged answer {i}.",
        "request_id": f"req-{i}",
        "account_id": "acct-qm-001",
        "timestamp": "2025-07-02T10:00:00Z",
        "model_version": "lumen-1.0",
        "sampling": dict(SAMPLING),
        **over,
    }


def regen(i: int, k: int, **over: Any) -> dict[str, Any]:
    return {
        "request_id": f"req-{i}",
        "prompt": f"Question {i}?",
        "response": f"Regenerated answer {i}.{k}",
        "model_version": "lumen-1.0",
        "sampling": dict(SAMPLING),
        "sample_index": k,
        **over,
    }


def test_the_roles_exist() -> None:
    assert HARVESTED_ROLE in TRANSCRIPT_ROLES and REGENERATIONS_ROLE in TRANSCRIPT_ROLES


def test_a_log_is_stored_with_its_normalised_metadata(case_file, case_id, tmp_path) -> None:
    path = write_jsonl(
        tmp_path / "log.jsonl",
        [
            logged(1, system_prompt="You are Lumen.", extra="kept"),
            logged(2, messages=[{"role": "user", "content": "Hi"}]),
        ],
    )
    sid = import_transcripts(case_file, case_id, path, HARVESTED_ROLE)
    with case_file.read_session() as s:
        items = s.execute(select(TranscriptItem).order_by(TranscriptItem.ordinal)).scalars().all()
        assert s.get(TranscriptSet, sid).role == HARVESTED_ROLE
    first = items[0].meta
    assert first["request_id"] == "req-1" and first["account_id"] == "acct-qm-001"
    assert first["sampling"] == {**SAMPLING, "greedy": False}
    assert first["system_prompt"] == "You are Lumen." and first["extra"] == "kept"
    assert items[0].collected_at is not None
    assert items[1].meta["messages"] == [{"role": "user", "content": "Hi"}]


def test_csv_logs_carry_sampling_as_json_or_as_columns(case_file, case_id, tmp_path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(
        "id,prompt,response,request_id,account_id,timestamp,model_version,temperature,top_p\n"
        "h1,Q?,A.,req-1,acct-1,2025-07-02T10:00:00Z,v1,0.7,0.9\n",
        encoding="utf-8",
    )
    import_transcripts(case_file, case_id, path, HARVESTED_ROLE)
    with case_file.read_session() as s:
        item = s.execute(select(TranscriptItem)).scalars().one()
    assert item.meta["sampling"]["temperature"] == 0.7 and item.meta["sampling"]["top_p"] == 0.9


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (logged(2, request_id=""), "line 2: request_id is missing"),
        (logged(2, account_id=None), "line 2: account_id is missing"),
        (logged(2, model_version=""), "line 2: model_version is missing"),
        (logged(2, timestamp=""), "line 2: timestamp is missing"),
        ({**logged(2), "sampling": None}, "line 2: the sampling settings are missing"),
        (logged(2, sampling={"top_p": 0.9}), "must give the temperature"),
        (logged(2, sampling={"temperature": "hot"}), "temperature must be a number"),
        (logged(2, sampling={"temperature": 1, "top_p": 2}), "top_p in (0, 1]"),
        (logged(2, messages=[{"role": "bot", "content": 1}]), "line 2: message 1 must be"),
        (logged(2, request_id="req-1"), "request_id 'req-1' repeats line 1"),
    ],
)
def test_malformed_logs_stop_the_import_with_the_line(
    case_file, case_id, tmp_path, record, message
) -> None:
    path = write_jsonl(tmp_path / "log.jsonl", [logged(1), record])
    with pytest.raises(EvidenceError, match=message.replace("(", r"\(").replace(")", r"\)")):
        import_transcripts(case_file, case_id, path, HARVESTED_ROLE)
    with case_file.read_session() as s:  # nothing partial reached the case
        assert s.execute(select(TranscriptSet)).scalars().first() is None


def test_a_regeneration_must_name_the_exchange_it_regenerates(case_file, case_id, tmp_path) -> None:
    bad = regen(1, 2)
    del bad["request_id"]
    path = write_jsonl(tmp_path / "regen.jsonl", [regen(1, 1), bad])
    with pytest.raises(EvidenceError, match="line 2: a regeneration must name the logged"):
        import_transcripts(case_file, case_id, path, REGENERATIONS_ROLE)
    ok = write_jsonl(tmp_path / "ok.jsonl", [regen(1, k) for k in range(1, 4)])
    sid = import_transcripts(case_file, case_id, ok, REGENERATIONS_ROLE)
    with case_file.read_session() as s:
        assert s.get(TranscriptSet, sid).duplicate_prompts == 0  # K per prompt by design


def _items(records: list[dict[str, Any]], role: str, tmp: Path) -> list[TranscriptEntry]:
    from core.evidence.harvest_records import HarvestValidator
    from core.evidence.transcripts import read_transcripts

    path = write_jsonl(tmp / f"{role}.jsonl", records)
    check = HarvestValidator(role, path.name)
    return [TranscriptEntry(r.key, r.prompt, r.response, check(r)) for r in read_transcripts(path)]


def test_every_prompt_that_is_not_exchangeable_is_excluded_with_its_reason(tmp_path) -> None:
    log = [logged(i) for i in range(8)]
    log[1]["sampling"] = {"temperature": 0}
    regs = [regen(i, k) for i in range(8) for k in range(1, 4) if not (i == 2 and k == 3)]
    for r in regs:
        if r["request_id"] == "req-3" and r["sample_index"] == 1:
            r["model_version"] = "lumen-0.9"
        if r["request_id"] == "req-4" and r["sample_index"] == 2:
            r["sampling"] = {**SAMPLING, "top_p": 1.0}
        if r["request_id"] == "req-5":
            r["prompt"] = "Another question?"
        if r["request_id"] == "req-6" and r["sample_index"] == 2:
            r["response"] = "Logged answer 6."
    regs.append(regen(99, 1))  # names no logged exchange
    plan = pair_harvest(
        _items(log, HARVESTED_ROLE, tmp_path),
        _items(regs, REGENERATIONS_ROLE, tmp_path),
        ChatTemplate(),
        min_regenerations=3,
    )
    reasons = {e.request_id: e.reason_key for e in plan.excluded}
    assert reasons == {
        "req-1": "greedy",
        "req-2": "too-few",
        "req-3": "version",
        "req-4": "sampling",
        "req-5": "prompt",
        "req-6": "duplicates",
    }
    assert [g.request_id for g in plan.groups] == ["req-0", "req-7"]
    assert plan.groups[0].answers[0] == "Logged answer 0." and plan.groups[0].k == 3
    assert plan.orphans == 1 and plan.record()["prompts_excluded"]["version"] == 1
    assert any("6 of 8 logged prompts were left out" in w for w in plan.warnings)
    assert all(e.reason for e in plan.excluded)


def test_the_context_holds_the_system_prompt_and_earlier_turns() -> None:
    text = harvest_context(
        ChatTemplate(),
        "And now?",
        "You are Lumen.",
        [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}],
    )
    assert text == "You are Lumen.\nUser: Hi\nAssistant: Hello.\nUser: And now?\nAssistant:"
