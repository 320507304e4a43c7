"""The demo world's harvest evidence: Halcyon's log, Lumen's regenerations, the other party.

Claims checked on the shipped world (resources/demo):

* the harvest log and the regenerations parse and agree: unique request ids, every
  regeneration names a logged exchange, K = 19 per exchange with sample indices 1..19 and
  distinct seeds, the same prompt, model, model version and sampling as its exchange;
  accounts, ids and timestamps look like a serving log of the conduct period;
* the logged answers are Lumen's own samples: a few are sampled again from the shipped
  Lumen with the recorded seed rule and come out identical, and so does a regeneration;
* the build proved the log is the suspect's training data (recorded fingerprint match);
* the other-party student loads and scores through the product's backend, and lineage.json
  names it as distilled on other samples;
* the manifest covers the new files and verifies.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from core.demo import demo_dir, verify_manifest

WORLD = demo_dir()
BUILD_DIR = Path(__file__).resolve().parents[1] / "resources" / "demo_build"
LOG = "transcripts/halcyon_harvest_log.jsonl"
REGEN = "transcripts/lumen_regenerations.jsonl"
pytestmark = pytest.mark.skipif(
    not (WORLD / LOG).is_file(), reason="the demo world has no harvest log (harvest.py)"
)


def _rows(rel: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (WORLD / rel).read_text(encoding="utf-8").splitlines() if x]


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return json.loads((WORLD / "build_report.json").read_text(encoding="utf-8"))


def test_log_records_are_a_serving_log_of_the_conduct_period() -> None:
    log = _rows(LOG)
    assert len(log) == 200
    assert len({r["request_id"] for r in log}) == len(log)
    terms_v2 = dt.datetime(2025, 6, 17, tzinfo=dt.UTC)
    for r in log:
        assert {"prompt", "response", "account_id", "request_id", "timestamp", "model",
                "model_version", "sampling"} <= set(r)  # fmt: skip
        assert re.fullmatch(r"acct-qm-\d{3}", r["account_id"])
        assert re.fullmatch(r"req-[0-9a-f]{16}", r["request_id"])
        t = dt.datetime.strptime(r["timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        assert terms_v2 < t < dt.datetime(2025, 9, 1, tzinfo=dt.UTC)
        assert r["model"] == "lumen-1" and r["model_version"]
        assert set(r["sampling"]) == {"temperature", "top_p", "max_new_tokens"}
        assert r["sampling"]["temperature"] > 0  # sampled, not greedy
        assert not r["prompt"].startswith("User:") and r["response"]
    assert [r["timestamp"] for r in log] == sorted(r["timestamp"] for r in log)
    assert 12 <= len({r["account_id"] for r in log}) <= 60  # a campaign of a few dozen accounts


def test_every_regeneration_matches_its_logged_exchange() -> None:
    logged = {r["request_id"]: r for r in _rows(LOG)}
    regens = _rows(REGEN)
    per_request = Counter(r["request_id"] for r in regens)
    assert set(per_request) == set(logged)
    assert set(per_request.values()) == {19}
    seen: dict[str, set[int]] = {}
    for r in regens:
        x = logged[r["request_id"]]
        assert r["prompt"] == x["prompt"]
        assert (r["model"], r["model_version"], r["sampling"]) == (
            x["model"], x["model_version"], x["sampling"],
        )  # fmt: skip
        seen.setdefault(r["request_id"], set()).add(r["sample_index"])
    assert all(s == set(range(1, 20)) for s in seen.values())
    assert len({r["seed"] for r in regens}) == len(regens)


def test_logged_answers_and_regenerations_are_lumens_samples(report: dict[str, Any]) -> None:
    """A few log lines and one regeneration, sampled again from the shipped Lumen."""
    if str(BUILD_DIR) not in sys.path:
        sys.path.insert(0, str(BUILD_DIR))
    from lm_tools import Sampling, generate, load_model

    hp, h = report["hyperparameters"], report["harvest"]
    log, regens = _rows(LOG), _rows(REGEN)
    model, tok = load_model(WORLD / "models" / "protected-lumen")
    s = hp["sampling"]
    sampling = Sampling(s["temperature"], s["top_p"], s["max_new_tokens"])
    picks = [0, 1, len(log) - 1]
    seeds = [hp["harvest_seed"] + h["shipped_indices"][j] for j in picks]
    again = generate(model, tok, [log[j]["prompt"] for j in picks], sampling, seeds)
    assert again == [log[j]["response"] for j in picks]
    r = regens[5]
    assert generate(model, tok, [r["prompt"]], sampling, [r["seed"]]) == [r["response"]]


def test_build_proved_the_log_is_the_suspects_training_data(report: dict[str, Any]) -> None:
    proof = report["harvest"]["proof"]
    assert proof["match"] is True
    assert proof["tokens_trained"]["reproduced"] == proof["tokens_trained"]["recorded"]
    assert (
        proof["tokens_trained"]["recorded"]
        == (report["training"]["suspect-osprey"]["sft"]["tokens_trained"])
    )
    control = proof["control_other_samples"]  # other samples of the same prompts do not match
    assert control["tokens_trained"] != proof["tokens_trained"]["recorded"]


def test_build_figures_flag_the_suspect_and_clear_the_other_party(report: dict[str, Any]) -> None:
    models = report["harvest"]["figures"]["models"]
    assert models["suspect-osprey"]["minus_protected"]["p_value"] < 0.01
    for name in ("other-party-osprey", "clean-osprey"):
        assert models[name]["minus_protected"]["p_value"] > 0.05, name
    sanity = report["sanity"]["tests_vs_references"]
    assert sanity["other-party-osprey"]["flagged"] is True  # the panel cannot tell them apart


def test_other_party_model_loads_and_lineage_names_it() -> None:
    from core.backends.factory import load_model

    lineage = json.loads((WORLD / "lineage.json").read_text(encoding="utf-8"))
    info = lineage["models"]["other-party-osprey"]
    assert info["role"] == "suspect" and info["distilled_from_protected"] is True
    assert info["base_model"] == "osprey-base"
    truth = lineage["ground_truth"]
    assert truth["trained_on_logged_harvest"] == ["suspect-osprey"]
    assert truth["distilled_on_other_samples"] == ["other-party-osprey"]
    assert lineage["transcripts"]["harvested_exchanges"] == LOG
    assert lineage["transcripts"]["regenerations"] == REGEN
    folder = WORLD / info["path"]
    assert "Lineage" in (folder / "README.md").read_text(encoding="utf-8")
    model = load_model(folder, num_threads=1)
    scored = model.score(["User: Who are you?\nAssistant:"], [" Happy to help!"])
    assert scored[0].n_tokens > 0 and scored[0].total_logprob < 0


def test_manifest_covers_the_harvest_files() -> None:
    assert verify_manifest(WORLD) >= 60
    listed = {
        line.split("  ", 1)[1]
        for line in (WORLD / "MANIFEST.sha256").read_text(encoding="utf-8").splitlines()
    }
    assert {LOG, REGEN, "models/other-party-osprey/model.safetensors"} <= listed
    size = sum(p.stat().st_size for p in WORLD.rglob("*") if p.is_file())
    assert size < 25 * 1024 * 1024
