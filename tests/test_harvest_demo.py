"""The demo's harvest test through the product's own runner, as `make demo` runs it: the
suspect (trained on the logged answers) is flagged with its N printed; the other-party
student (distilled from Lumen on other samples) and the clean twin are not."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.checks.runner import CheckInputs, CheckSettings, run_checks
from core.demo import build_demo_case
from core.store.db import open_case_file


@pytest.fixture(scope="module")
def harvest_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    path = Path(tmp_path_factory.mktemp("harvest-demo")) / "demo.dacase"
    out: dict[str, object] = {}
    with open_case_file(path) as cf:
        demo = build_demo_case(cf)
        for name in ("suspect-osprey", "other-party-osprey", "clean-osprey"):
            report = run_checks(
                cf,
                demo.case_id,
                CheckInputs(
                    suspect_id=demo.artifacts[name],
                    reference_ids=(),
                    protected_answers_id=None,
                    harvested_id=demo.transcripts["harvested_exchanges"],
                    regenerations_id=demo.transcripts["regenerations"],
                ),
                CheckSettings(checks=("harvest",), seed=20250902),
            )
            out[name] = report.results["harvest"]
    return out


def test_the_suspect_is_flagged_and_the_others_are_not(harvest_results) -> None:
    suspect = harvest_results["suspect-osprey"]
    assert suspect.verdict == "supports Hp" and suspect.p_value < 1e-4
    assert suspect.n_probes == 91  # 109 of 200 prompts excluded: Lumen's answers repeat
    details = suspect.details
    assert details["top_share"] > details["expected_top_share"]
    for name in ("other-party-osprey", "clean-osprey"):
        result = harvest_results[name]
        assert result.verdict == "inconclusive" and result.p_value > 0.05, name
