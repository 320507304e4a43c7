"""Traffic analysis on real DuckDB files: the simulator, the indicators against hand-counted
rows, campaigns, validation on seeds the thresholds were not set on, export → harvest
import, Cancel, and the CLI."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from sqlalchemy import select

from core.cli import main
from core.errors import Cancelled, EvidenceError, FileAccessError, OutputExistsError
from core.evidence.importer import import_transcripts
from core.jobs import JobState
from core.store.models import TranscriptItem
from core.store.vocabulary import HARVESTED_ROLE
from core.traffic.campaigns import TrafficAnalysis, analyse, load_price
from core.traffic.engine import open_engine
from core.traffic.export import export_harvest
from core.traffic.indicators import indicators
from core.traffic.schema import FIELD_NAMES, create_requests_sql
from core.traffic.simulate import GroundTruth, SimulationConfig, simulate
from core.traffic.thresholds import AnalysisParams
from core.traffic.validation import clopper_pearson, validate


def params_for(cfg: SimulationConfig) -> AnalysisParams:
    return AnalysisParams(
        release_dates=cfg.release_dates,
        served_regions=cfg.served_regions,
        rate_limit_per_hour=cfg.rate_limit_per_hour,
    )


def run_seed(folder: Path, seed: int) -> tuple[TrafficAnalysis, GroundTruth, Path]:
    cfg = SimulationConfig(seed=seed)
    path = folder / f"seed{seed}.logs.duckdb"
    truth = simulate(path, cfg)
    engine = open_engine(path)
    try:
        return analyse(engine, params_for(cfg)), truth, path
    finally:
        engine.close()


@pytest.fixture(scope="module")
def seed1(tmp_path_factory: pytest.TempPathFactory) -> tuple[TrafficAnalysis, GroundTruth, Path]:
    return run_seed(tmp_path_factory.mktemp("traffic"), 1)


def test_the_simulator_is_seeded_and_carries_its_labels(tmp_path: Path) -> None:
    a = simulate(tmp_path / "a.duckdb", SimulationConfig(seed=7, benign_accounts=20))
    b = simulate(tmp_path / "b.duckdb", SimulationConfig(seed=7, benign_accounts=20))
    assert a.rows == b.rows and a.accounts == b.accounts
    with duckdb.connect(str(tmp_path / "a.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT count(*), count(DISTINCT request_id) FROM requests").fetchone()
        kinds = dict(
            con.execute("SELECT kind, count(*) FROM simulated_labels GROUP BY 1").fetchall()
        )
    assert rows == (a.rows, a.rows)
    assert kinds["campaign"] == len(a.campaign_accounts()) > 0
    assert set(a.hard_negatives()) == {
        "evaluation company",
        "university class",
        "batch translation",
        "startup behind one NAT",
    }
    with pytest.raises(OutputExistsError):
        simulate(tmp_path / "a.duckdb")


def _write(path: Path, rows: list[dict]) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute(create_requests_sql())
        for i, row in enumerate(rows, start=1):
            full = {name: row.get(name) for name in FIELD_NAMES}
            con.execute(
                "INSERT INTO requests VALUES (" + ", ".join("?" * (len(FIELD_NAMES) + 2)) + ")",
                [*full.values(), "hand", i],
            )


def test_indicators_match_hand_counted_rows(tmp_path: Path) -> None:
    t0 = datetime(2025, 6, 10, 9, 0, tzinfo=UTC)
    rows = []
    for i in range(10):  # one hour, 10 requests: at the limit of 10/hour
        rows.append(
            {
                "timestamp": t0 + timedelta(minutes=i),
                "request_id": f"r{i}",
                "account_id": "A",
                "model": "m",
                "country": "CN" if i < 3 else "US",
                "prompt": f"Solve the equation {i}x + 2 = 9 for Alice. Explain step by step."
                if i < 6
                else "Who are you?",
                "input_tokens": 10,
                "output_tokens": 100,
            }
        )
    path = tmp_path / "hand.duckdb"
    _write(path, rows)
    params = AnalysisParams(
        release_dates=(date(2025, 6, 10),), served_regions=("US",), rate_limit_per_hour=10
    )
    engine = open_engine(path)
    result = analyse(engine, params)
    engine.close()
    found = {i.name: i for i in indicators(result.account_counts["A"], params)}
    assert found["reasoning_share"].numerator == 6 and found["reasoning_share"].value == 0.6
    assert found["identity_share"].value == pytest.approx(0.4)
    assert found["region_mismatch"].value == pytest.approx(0.3) and found["region_mismatch"].fired
    # "Solve the equation #x + # = # for N. N step by step." six times: one template.
    assert found["template_reuse"].numerator == 6
    assert found["under_rate_limit"].value == 1.0 and found["after_release"].value == 1.0
    assert found["tokens_out_per_in"].value == 10.0 and not found["tokens_out_per_in"].fired
    assert result.campaigns == []  # one account is not a campaign


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_detection_on_seeds_it_was_not_tuned_on(tmp_path: Path, seed: int) -> None:
    analysis, truth, _ = run_seed(tmp_path, seed)
    v = validate(analysis, truth)
    assert v.precision.value >= 0.95 and v.recall.value >= 0.9, (v.precision, v.recall)
    assert v.hard_negatives and not any(v.hard_negatives.values()), v.hard_negatives
    assert v.precision.low < v.precision.value <= v.precision.high
    assert set(v.ablation) >= {"reasoning_share", "template_reuse", "capability_coverage"}


def test_campaign_figures_trace_to_rows(seed1: tuple[TrafficAnalysis, GroundTruth, Path]) -> None:
    analysis, truth, path = seed1
    price = load_price("openai-gpt-4o")
    assert analysis.flagged
    with duckdb.connect(str(path), read_only=True) as con:
        for c in analysis.campaigns:
            marks = ", ".join("?" * len(c.accounts))
            found = con.execute(
                "SELECT count(*), sum(input_tokens), sum(output_tokens), "
                "floor(epoch(min(timestamp)))::BIGINT, floor(epoch(max(timestamp)))::BIGINT "
                f"FROM requests WHERE account_id IN ({marks})",
                list(c.accounts),
            ).fetchone()
            assert found is not None
            n, tin, tout, first, last = found
            assert (c.requests, c.input_tokens, c.output_tokens) == (n, tin, tout)
            assert len(c.request_ids) == n
            assert c.first_seen == datetime.fromtimestamp(first, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            assert c.last_seen == datetime.fromtimestamp(last, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            assert c.cost == pytest.approx(tin / 1e6 * price.input + tout / 1e6 * price.output)
            fired = [i for i in c.indicators if i.counts and i.fired]
            assert c.flagged == (len(fired) >= analysis.params.thresholds.min_fired)
            assert all(i.value >= i.threshold for i in fired)
            assert sum(c.links.values()) >= len(c.accounts) - 1


def test_clopper_pearson_exact_values() -> None:
    lo, hi = clopper_pearson(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.3085, abs=1e-4)
    lo, hi = clopper_pearson(5, 10)
    assert lo == pytest.approx(0.1871, abs=1e-4) and hi == pytest.approx(0.8129, abs=1e-4)


def test_export_is_accepted_by_the_harvest_importer(
    seed1: tuple[TrafficAnalysis, GroundTruth, Path], case_file, case_id, tmp_path: Path
) -> None:
    analysis, _, path = seed1
    campaign = analysis.flagged[0]
    engine = open_engine(path)
    out = tmp_path / "harvest.jsonl"
    done = export_harvest(engine, campaign, out)
    with pytest.raises(OutputExistsError):
        export_harvest(engine, campaign, out)
    engine.close()
    manifest = json.loads(done.manifest_path.read_text(encoding="utf-8"))
    assert manifest["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert manifest["rows"] == done.rows == campaign.requests
    assert manifest["accounts"] == list(campaign.accounts)
    import_transcripts(case_file, case_id, out, HARVESTED_ROLE)
    with case_file.read_session() as s:
        items = s.execute(select(TranscriptItem)).scalars().all()
    assert len(items) == done.rows
    assert {i.meta["request_id"] for i in items} == set(campaign.request_ids)
    assert {i.meta["account_id"] for i in items} <= set(campaign.accounts)


def test_cancel_stops_the_analysis_and_progress_reaches_the_end(
    seed1: tuple[TrafficAnalysis, GroundTruth, Path],
) -> None:
    _, _, path = seed1
    engine = open_engine(path)
    seen: list[str] = []

    class Stop(JobState):
        def on_status(self, text: str) -> None:
            seen.append(text)
            if len(seen) == 2:
                self.cancel()

    with pytest.raises(Cancelled):
        analyse(engine, AnalysisParams(), Stop())
    assert len(seen) == 2
    state = JobState()
    analyse(engine, AnalysisParams(), state)
    engine.close()
    assert state.progress == 100.0


def test_a_missing_or_foreign_store_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(FileAccessError):
        open_engine(tmp_path / "none.duckdb")
    with duckdb.connect(str(tmp_path / "empty.duckdb")) as con:
        con.execute("CREATE TABLE other (x INT)")
    with pytest.raises(EvidenceError, match="no requests table"):
        open_engine(tmp_path / "empty.duckdb")


def test_cli_campaigns_json_and_export(
    seed1: tuple[TrafficAnalysis, GroundTruth, Path], capsys, tmp_path: Path
) -> None:
    analysis, _, path = seed1
    cfg = SimulationConfig(seed=1)
    args = ["--logs", str(path), "--rate-limit", str(cfg.rate_limit_per_hour)]
    args += ["--served", ",".join(cfg.served_regions)]
    for day in cfg.release_dates:
        args += ["--release", day.isoformat()]
    assert main(["--quiet", "traffic", "campaigns", *args, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [c["id"] for c in listed] == [c.id for c in analysis.flagged]
    first = listed[0]
    assert {"id", "accounts", "requests", "first_seen", "last_seen", "indicators"} <= set(first)
    assert first["requests"] == analysis.flagged[0].requests
    out = tmp_path / "cli.jsonl"
    assert (
        main(["--quiet", "traffic", "export-harvest", first["id"], "--out", str(out), *args]) == 0
    )
    assert "Exported" in capsys.readouterr().out
    assert len(out.read_text(encoding="utf-8").splitlines()) == first["requests"]
    assert main(["--quiet", "traffic", "export-harvest", "TC-nope", "--out", str(out), *args]) == 2
    assert "no campaign TC-nope" in capsys.readouterr().err
