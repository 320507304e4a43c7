"""The demo's request log: Quillmark's campaign among benign traffic and hard negatives."""

from __future__ import annotations

import json
from pathlib import Path

from core.demo import demo_dir, demo_traffic
from core.store.cases import create_case
from core.store.db import open_case_file
from core.traffic.demo_logs import read_harvest_log, write_demo_log
from core.traffic.simulate import CAMPAIGN


def _harvest() -> Path:
    return demo_dir() / "transcripts" / "halcyon_harvest_log.jsonl"


def test_demo_log_holds_every_harvest_exchange_under_campaign_accounts(tmp_path: Path) -> None:
    drawn = write_demo_log(_harvest(), tmp_path / "log.jsonl")
    shipped = read_harvest_log(_harvest())
    rows = [json.loads(line) for line in drawn.path.read_text(encoding="utf-8").splitlines()]
    by_id = {r["request_id"]: r for r in rows}
    assert len(rows) == drawn.truth.rows and len(by_id) == len(rows)
    for h in shipped:
        assert by_id[h["request_id"]]["response"] == h["response"]
        assert drawn.truth.accounts[h["account_id"]].kind == CAMPAIGN
    assert drawn.truth.campaign_accounts() == {h["account_id"] for h in shipped}
    assert drawn.truth.hard_negatives()  # the four hard negatives are there
    again = write_demo_log(_harvest(), tmp_path / "again.jsonl")
    assert again.path.read_bytes() == drawn.path.read_bytes()  # seeded


def test_demo_traffic_finds_the_campaign_and_its_export_holds_the_harvest_log(
    tmp_path: Path,
) -> None:
    lines: list[str] = []
    with open_case_file(tmp_path / "demo.dacase") as cf:
        case_id = create_case(cf, "Demo traffic", "DEMO-T-1")
        found = demo_traffic(cf, case_id, _harvest(), lines.append)
    accounts = {h["account_id"] for h in read_harvest_log(_harvest())}
    assert found.accounts == len(accounts)
    assert found.harvest_rows_found == 200
    assert found.precision.startswith("1.000") and found.recall.startswith("1.000")
    assert found.hard_negatives_flagged == []
    exported = [json.loads(x) for x in found.export.read_text(encoding="utf-8").splitlines()]
    assert {r["account_id"] for r in exported} == accounts
    assert any("precision" in line and "recall" in line for line in lines)


def test_demo_traffic_records_the_analysis_in_the_audit_chain(tmp_path: Path) -> None:
    from core.store.audit import verify_case_file_chain
    from core.traffic.conduct import categories, latest_analysis

    with open_case_file(tmp_path / "demo.dacase") as cf:
        case_id = create_case(cf, "Demo traffic", "DEMO-T-2")
        found = demo_traffic(cf, case_id, _harvest(), lambda _m: None)
        with cf.read_session() as s:
            recorded = latest_analysis(s, case_id)
        assert verify_case_file_chain(cf).ok
    assert recorded is not None
    (camp,) = recorded["campaigns"]
    assert camp["id"] == found.campaign_id
    assert sum(camp["daily_requests"].values()) == camp["requests"] == found.requests
    assert recorded["validation"]["precision"]["k"] == found.accounts
    cats = {c.category for c in categories(camp)}
    assert {"accounts-keys", "competing-model-ban", "rate-limits"} <= cats
