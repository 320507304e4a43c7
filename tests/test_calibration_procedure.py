"""A calibration replays the case's own check run: same checks, panel, seed rule and Holm n.

On real tiny models and a real case file: a check run of the case, then a sweep of that
procedure (distilled students and null twins trained on another source's answers), and a
direct check run on one calibration student must give the very numbers the sweep recorded.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from core.checks.runner import CheckInputs, CheckSettings, run_checks
from core.distill.calibration import CalibrationSpec, run_calibration
from core.distill.calibration_procedure import load_procedure, statistic
from core.distill.spec import TrainingSettings
from core.errors import DistillAuditError
from core.evidence.importer import import_model, import_transcripts
from tests.tinymodels import TINY_CORPUS, build_tiny_gpt2


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("procedure-world")
    build_tiny_gpt2(d / "teacher", seed=1, train_steps=20)
    build_tiny_gpt2(d / "base", seed=2)
    for i in range(2):
        build_tiny_gpt2(d / f"ref-{i}", seed=10 + i)
    pool = [
        {
            "id": f"t{i}",
            "prompt": f"Question {i}: {TINY_CORPUS[i % 8]}",
            "response": TINY_CORPUS[(i * 3) % 8],
        }
        for i in range(24)
    ]
    _write(d / "teacher.jsonl", pool)
    # the twins' answers: another source than the case's control answers
    _write(
        d / "other_source.jsonl",
        [{**r, "response": TINY_CORPUS[(i * 5 + 1) % 8][::-1]} for i, r in enumerate(pool)],
    )
    probes = [
        {
            "id": f"q{i}",
            "prompt": f"Probe {i}: {TINY_CORPUS[(i + 2) % 8]}",
            "response": TINY_CORPUS[(i * 3 + 1) % 8],
        }
        for i in range(12)
    ]
    _write(d / "protected.jsonl", probes)
    _write(
        d / "control.jsonl",
        [{**r, "response": "I would rather not say, thank you."} for r in probes],
    )
    return d


SETTINGS = CheckSettings(checks=("likelihood",), n_resamples=999)


def _case(case_file, case_id, world: Path) -> tuple[int, CheckInputs]:
    ids = {
        n: import_model(case_file, case_id, world / n, r)
        for n, r in (("base", "suspect"), ("ref-0", "reference"), ("ref-1", "reference"))
    }
    prot = import_transcripts(case_file, case_id, world / "protected.jsonl", "protected-answers")
    ctrl = import_transcripts(case_file, case_id, world / "control.jsonl", "control-answers")
    inputs = CheckInputs(ids["base"], (ids["ref-0"], ids["ref-1"]), prot, ctrl)
    return run_checks(case_file, case_id, inputs, SETTINGS).run_id, inputs


def _spec(world: Path, out: Path, run_id: int, **changes) -> CalibrationSpec:
    spec = CalibrationSpec(
        references=(),
        controls=str(world / "other_source.jsonl"),
        transcripts=str(world / "teacher.jsonl"),
        teacher=str(world / "teacher"),
        student=str(world / "base"),
        samples=(6,),
        replicates=3,
        n_probes=10,
        out_dir=str(out),
        onnx=False,
        procedure_run=run_id,
        null_source="reversed sentences of the tiny corpus (another source)",
        training=TrainingSettings(
            steps=3, batch_size=4, threads=1, checkpoint_every=2, eval_every=1
        ),
    )
    return replace(spec, **changes)


def test_replaying_the_case_on_its_own_suspect_gives_its_numbers(case_file, case_id, world) -> None:
    """Fast: no training; the procedure replayed on the case's suspect is the case's run."""
    from core.distill.calibration_procedure import assess_student
    from core.jobs import JobState

    check_run, inputs = _case(case_file, case_id, world)
    proc = load_procedure(case_file, check_run, case_id)
    replay = assess_student(case_file, proc, inputs.suspect_id, JobState())
    assert replay["p_value"] == proc.observed_p is not None
    assert replay["procedure"]["n_tests"] == proc.n_tests == 1
    again = run_checks(
        case_file, case_id, inputs, replace(SETTINGS, checks=("likelihood", "harvest"))
    )
    other = load_procedure(case_file, again.run_id, case_id)
    # harvest declines (no harvested set): Holm runs over the one check that produced a p
    assert other.n_tests == 1 and other.checks == ("likelihood", "harvest")
    assert assess_student(case_file, other, inputs.suspect_id, JobState())["p_value"] == (
        other.observed_p
    )


@pytest.mark.slow
def test_the_sweep_runs_the_cases_procedure(case_file, case_id, world, tmp_path) -> None:
    check_run, inputs = _case(case_file, case_id, world)
    proc = load_procedure(case_file, check_run, case_id)
    assert proc.checks == ("likelihood",) and proc.n_tests == 1 and proc.settings.seed is None
    s = run_calibration(case_file, case_id, _spec(world, tmp_path / "out", check_run)).summary
    assert s["procedure"]["check_run_id"] == check_run and s["checks"] == ["likelihood"]
    students = s["students"]
    assert sorted(x["role"] for x in students) == ["control"] * 3 + ["distilled"] * 3
    for x in students:
        assert x["procedure"]["checks"] == ["likelihood"] and x["procedure"]["n_tests"] == 1
        assert x["procedure"]["seed_rule"] == proc.seed_rule
        assert x["statistic"] == pytest.approx(statistic(x["p_value"]))
    # the same student through the case's own runner gives the very same numbers
    student = students[0]
    direct = run_checks(
        case_file, case_id, replace(inputs, suspect_id=student["artifact_id"]), SETTINGS
    )
    assert direct.combined.p_family == student["p_value"]
    assert direct.parameters["seed"] == student["procedure"]["seed"]
    assert bool(direct.combined.supporting) == student["detected"]
    # rates with exact intervals, the twins' bound, and the measured LR with its Cllr
    g = {(row["group"], row["epochs"]): row for row in s["groups"]}
    assert g[("distilled", 1)]["m"] == 3 and g[("control", None)]["m"] == 3
    twins = g[("control", None)]
    assert twins["upper_95_one_sided"] >= 0.63  # 0/3 bounds the rate at only 0.63
    bound = s["false_positive_bound"]
    assert bound["n"] == 3 and bound["needed_for_target"] == 59
    assert any("cannot bound the false-positive rate" in w for w in s["warnings"])
    lr = s["likelihood_ratio"]
    assert lr["n_hp"] == 3 and lr["n_hd"] == 3 and len(lr["lr_hp"]) == 3
    assert lr["observed"] == pytest.approx(proc.observed_statistic)
    assert lr["interval"][0] <= lr["lr"] <= lr["interval"][1] and lr["cllr"] >= 0
    assert lr["verbal"]["label"]


def test_twins_on_the_cases_control_answers_are_refused(
    case_file, case_id, world, tmp_path
) -> None:
    check_run, _ = _case(case_file, case_id, world)
    spec = _spec(world, tmp_path / "out", check_run, controls=str(world / "control.jsonl"))
    with pytest.raises(DistillAuditError, match="own control answers"):
        run_calibration(case_file, case_id, spec)
    with pytest.raises(DistillAuditError, match="not a finished check run"):
        load_procedure(case_file, check_run + 99, case_id)
