"""The calibration sweep end to end on tiny models, its resume, and (slow) the demo case."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from core.distill.calibration import CalibrationSpec, resume_calibration, run_calibration
from core.distill.experiment import list_experiments
from core.distill.spec import TrainingSettings
from core.errors import Cancelled, DistillAuditError, EvidenceError
from core.jobs import JobState
from core.resources import resource_path
from core.store.models import ModelArtifact, Run
from tests.tinymodels import TINY_CORPUS, build_tiny_gpt2


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("calibration-world")
    build_tiny_gpt2(d / "teacher", seed=1, train_steps=20)
    build_tiny_gpt2(d / "base", seed=2)
    for i in range(2):
        build_tiny_gpt2(d / f"ref-{i}", seed=10 + i)
    rows = [
        {
            "id": f"p{i}",
            "prompt": f"Question {i}: {TINY_CORPUS[i % 8]}",
            "response": TINY_CORPUS[(i * 3) % 8],
        }
        for i in range(30)
    ]
    (d / "answers.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (d / "controls.jsonl").write_text(
        "".join(
            json.dumps({**r, "response": "I would rather not say, thank you."}) + "\n" for r in rows
        ),
        encoding="utf-8",
    )
    return d


def _spec(world: Path, out: Path, **changes) -> CalibrationSpec:
    spec = CalibrationSpec(
        references=(str(world / "ref-0"), str(world / "ref-1")),
        controls=str(world / "controls.jsonl"),
        transcripts=str(world / "answers.jsonl"),
        teacher=str(world / "teacher"),
        student=str(world / "base"),
        samples=(0, 4, None),
        replicates=2,
        n_probes=10,
        n_resamples=999,
        out_dir=str(out),
        training=TrainingSettings(
            steps=3, batch_size=4, threads=1, checkpoint_every=2, eval_every=1
        ),
    )
    return replace(spec, **changes)


def test_tiny_sweep_end_to_end(case_file, case_id, world, tmp_path) -> None:
    started = time.monotonic()
    outcome = run_calibration(
        case_file, case_id, _spec(world, tmp_path / "out", samples=(0, 4, 99, None))
    )
    s = outcome.summary
    assert any("exceed the 20 records" in w for w in s["warnings"])  # 99 runs as "all" (20)
    assert s["alpha"] == 0.05 and s["checks"] == ["likelihood"] and s["probes"]["n"] == 10
    assert [p["n"] for p in s["points"]] == [0, 4, 20]  # "all" = the 20 records not held out
    assert [p["trials"] for p in s["points"]] == [1, 2, 2]  # an imported base: one N = 0 model
    for point in s["points"]:
        assert 0 <= point["detected"] <= point["trials"]
        lo, hi = point["ci"]
        assert 0.0 <= lo <= point["rate"] <= hi <= 1.0
    fp = s["false_positive"]
    assert fp["m"] == 4 and 0.0 <= fp["ci"][0] <= fp["ci"][1] <= 1.0
    assert len(s["students"]) == 9 and s["timing"]["students"] == 9
    assert [r["n"] for r in s["cost"]["by_samples"]] == [0, 4, 20]
    assert s["cost"]["by_samples"][0]["tokens_in"] == 0 < s["cost"]["by_samples"][2]["tokens_in"]
    held = set(s["probes"]["ids"])
    with case_file.read_session() as session:
        run = session.get(Run, outcome.run_id)
        assert run.kind == "experiment.calibration" and run.status == "done"
        for student in s["students"]:
            child = session.get(Run, student["run_id"])
            assert child.status == "done" and child.parameters["calibration_run_id"] == run.id
            assert child.parameters["answers"] == (
                "control" if student["role"] == "control" else "teacher"
            )
            assert not held & {f"r{i:06d}" for i in child.parameters["train_indices"]}
            assert student["checks"]["likelihood"]["verdict"] in ("supports Hp", "inconclusive")
            assert student["onnx_parity_passed"] is True
            art = session.get(ModelArtifact, student["artifact_id"])
            assert art.role == "experiment-student" and art.produced_by_run_id == child.id
    twins = {(st["n"], st["replicate"]): st for st in s["students"] if st["role"] == "control"}
    for st in s["students"]:
        if st["role"] == "distilled":
            twin = twins[(st["n"], st["replicate"])]
            with case_file.read_session() as session:
                a = session.get(Run, st["run_id"]).parameters
                b = session.get(Run, twin["run_id"]).parameters
            assert a["train_indices"] == b["train_indices"] and a["seed"] == b["seed"]
    assert time.monotonic() - started < 240
    # The report's Validation section reads exactly these figures.
    from core.reports.analyses import calibration_rows

    with case_file.read_session() as session:
        rows = calibration_rows(session.get(Run, outcome.run_id))
    detection = [r for r in rows if r.quantity == "detection"]
    assert [(r.samples, r.k, r.n) for r in detection] == [
        (p["n"], p["detected"], p["trials"]) for p in s["points"]
    ]
    (false_pos,) = [r for r in rows if r.quantity == "false_positive"]
    assert (false_pos.k, false_pos.n, false_pos.rate) == (fp["k"], fp["m"], fp["rate"])


def test_cancelled_sweep_resumes_and_keeps_finished_students(
    case_file, case_id, world, tmp_path
) -> None:
    spec = _spec(world, tmp_path / "out", samples=(4, None), replicates=1, onnx=False)

    class StopInThird(JobState):
        def set_status(self, text: str) -> None:
            super().set_status(text)
            if text.startswith("Student 3 of"):
                self.armed = True
            if getattr(self, "armed", False) and text.startswith("Training step 2/"):
                self.cancel()

    with pytest.raises(Cancelled):
        run_calibration(case_file, case_id, spec, StopInThird())
    runs = {r["run_id"]: r for r in list_experiments(case_file)}
    sweep = next(r for r in runs.values() if r["kind"] == "experiment.calibration")
    assert sweep["status"] == "cancelled"
    assert sorted(r["status"] for r in runs.values() if r["kind"] == "experiment.distill") == [
        "cancelled",
        "done",
        "done",
    ]
    outcome = resume_calibration(case_file, sweep["run_id"])
    assert outcome.run_id == sweep["run_id"] and len(outcome.summary["students"]) == 4
    with case_file.read_session() as session:
        children = (
            session.execute(select(Run).where(Run.kind == "experiment.distill")).scalars().all()
        )
        assert len(children) == 4 and {c.status for c in children} == {"done"}
        assert session.get(Run, sweep["run_id"]).status == "done"


def test_sweep_refuses_bad_inputs_before_writing(case_file, case_id, world, tmp_path) -> None:
    with case_file.read_session() as s:
        before = len(s.execute(select(Run)).scalars().all())
    with pytest.raises(DistillAuditError, match="reference model"):
        run_calibration(case_file, case_id, _spec(world, tmp_path, references=()))
    with pytest.raises(EvidenceError, match="held-out probes plus"):
        run_calibration(case_file, case_id, _spec(world, tmp_path, n_probes=30))
    with pytest.raises(DistillAuditError, match="checks"):
        run_calibration(case_file, case_id, _spec(world, tmp_path, checks=("lineage",)))
    with case_file.read_session() as s:
        assert len(s.execute(select(Run)).scalars().all()) == before


@pytest.mark.slow
def test_demo_case_sweep(case_file, case_id, tmp_path) -> None:
    """The demo case's quick sweep: rising detection, FPR <= alpha, agreement above controls."""
    from core.distill.budgets import demo_calibration_spec

    world = resource_path("demo")
    if not (world / "lineage.json").is_file():
        pytest.skip("the demo world is not built (make demo-assets)")
    spec = demo_calibration_spec(world, "quick", out_dir=str(tmp_path / "out"))
    started = time.monotonic()
    s = run_calibration(case_file, case_id, spec).summary
    elapsed = time.monotonic() - started
    print(
        json.dumps(
            {
                "points": s["points"],
                "false_positive": s["false_positive"],
                "seconds": round(elapsed, 1),
            },
            indent=1,
        )
    )
    rates = [p["rate"] for p in s["points"] if p["n"] > 0]
    assert rates[-1] >= rates[0] and rates[-1] == 1.0
    assert s["false_positive"]["rate"] <= spec.alpha
    for p in s["points"]:
        if p["n"] > 0:
            assert p["teacher_agreement"]["distilled"] > p["teacher_agreement"]["control"]
    assert elapsed < 15 * 60


def test_sweep_with_the_identity_probe_combines_checks_by_holm(
    case_file, case_id, world, tmp_path
) -> None:
    spec = _spec(
        world,
        tmp_path / "out",
        samples=(0, 4),
        replicates=1,
        onnx=False,
        checks=("likelihood", "identity"),
        protected_names=("Lumen",),
    )
    s = run_calibration(case_file, case_id, spec).summary
    assert s["checks"] == ["likelihood", "identity"] and len(s["students"]) == 3
    for student in s["students"]:
        assert set(student["checks"]) == {"likelihood", "identity"}
        raw = [c["p_value"] for c in student["checks"].values() if c["p_value"] is not None]
        # Holm over two checks: the combined p is at least the smallest raw p
        assert student["p_value"] is None or student["p_value"] >= min(raw)
