"""The harvest test's power, measured (slow): the preset sweep on a tiny harvest world.

Students fine-tuned on the logged answers for 1, 2 and 3 epochs, on other samples of the
same teacher, on another model's answers (null twins) and on paraphrased logged answers,
each through the case's own harvest check run. Run with ``-s`` to print the table.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from core.checks.runner import CheckInputs, CheckSettings, run_checks
from core.distill.calibration import run_calibration
from core.distill.experiment_harvest import format_table, harvest_power_spec, power_table
from core.distill.spec import TrainingSettings
from core.evidence.importer import import_model, import_transcripts
from tests.conftest import write_jsonl
from tests.harvest_world import (
    harvest_records,
    prompts,
    regeneration_records,
    sample_answers,
)
from tests.tinymodels import build_tiny_gpt2

K = 9
N = int(os.environ.get("HARVEST_POWER_PROMPTS", "30"))
REPLICATES = int(os.environ.get("HARVEST_POWER_REPLICATES", "2"))


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_harvest_power_table(case_file, case_id, tmp_path: Path) -> None:
    root = tmp_path / "world"
    teacher = build_tiny_gpt2(root / "teacher", seed=0)
    base = build_tiny_gpt2(root / "student-base", seed=5)
    independent = build_tiny_gpt2(root / "independent", seed=6)
    items = prompts(N)
    logged = sample_answers(teacher, items, seed=1)
    regen = [sample_answers(teacher, items, seed=100 + j) for j in range(K)]
    harvest_file = write_jsonl(root / "harvest.jsonl", harvest_records(items, logged))
    regen_file = write_jsonl(root / "regen.jsonl", regeneration_records(items, regen))
    twins = sample_answers(independent, items, seed=3)  # another model's answers
    other = sample_answers(teacher, items, seed=2)  # same teacher, other samples

    def rows(answers: list[str]) -> list[dict[str, str]]:
        return [
            {"id": f"x{i:03d}", "prompt": p, "response": a}
            for i, (p, a) in enumerate(zip(items, answers, strict=True))
        ]

    twins_file = write_jsonl(tmp_path / "twins.jsonl", rows(twins))
    other_file = write_jsonl(tmp_path / "other.jsonl", rows(other))
    logged_file = write_jsonl(tmp_path / "logged.jsonl", rows(logged))
    # the case's suspect: any model will do; its procedure is what the sweep replays
    suspect = import_model(case_file, case_id, independent, "suspect", name="suspect")
    import_model(case_file, case_id, teacher, "protected", name="teacher")
    harvested = import_transcripts(case_file, case_id, harvest_file, "harvested-exchanges")
    regen_set = import_transcripts(case_file, case_id, regen_file, "regenerations")
    case_run = run_checks(
        case_file,
        case_id,
        CheckInputs(suspect, (), None, harvested_id=harvested, regenerations_id=regen_set),
        CheckSettings(checks=("harvest",), harvest_min_regenerations=K),
    )
    spec = harvest_power_spec(
        procedure_run=case_run.run_id,
        logged=str(logged_file),
        twins_answers=str(twins_file),
        other_samples=str(other_file),
        student=str(base),
        replicates=REPLICATES,
        training=TrainingSettings(epochs=1.0, batch_size=4, lr=3e-3, threads=1, eval_every=50),
        null_source="an independent tiny model's sampled answers to the same prompts",
        out_dir=str(tmp_path / "out"),
    )
    s = run_calibration(case_file, case_id, spec).summary
    table = power_table(s)
    print("\ncase:", case_run.combined.statement)
    print(format_table(table))
    print("twins:", (s["false_positive_bound"] or {}).get("statement"))
    lr = s["likelihood_ratio"]
    print("LR:", lr and lr.get("statement"))
    print("warnings:", json.dumps(s["warnings"], indent=1))
    groups = {(r["group"], r["epochs"]) for r in table}
    assert groups == {
        ("distilled", 1),
        ("distilled", 2),
        ("distilled", 3),
        ("control", None),
        ("laundered", None),
        ("other", None),
    }
    for r in table:
        assert r["n"] == REPLICATES and 0 <= r["k"] <= r["n"]
        lo, hi = r["ci"]
        assert 0 <= lo <= r["rate"] <= hi <= 1
    assert all(x["procedure"]["checks"] == ["harvest"] for x in s["students"])
