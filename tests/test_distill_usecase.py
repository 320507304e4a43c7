"""run_distillation: one student and its twin, or a sweep; inputs checked before any work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.distill.spec import TrainingSettings
from core.distill.summaries import CalibrationSummary, ExperimentSummary
from core.distill.usecase import (
    DistillationRequest,
    SweepRequest,
    resume_distillation,
    run_distillation,
)
from core.errors import Cancelled, DistillAuditError, EvidenceError, NotFoundError
from core.jobs import JobState
from core.store import runs
from core.store.cases import list_cases
from core.store.models import AuditEvent, Case, ModelArtifact, Run
from tests.tinymodels import TINY_CORPUS, build_tiny_gpt2


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("usecase-world")
    build_tiny_gpt2(d / "teacher", seed=1, train_steps=10)
    build_tiny_gpt2(d / "base", seed=2)
    build_tiny_gpt2(d / "ref", seed=11)
    rows = [
        {
            "id": f"p{i}",
            "prompt": f"Question {i}: {TINY_CORPUS[i % 8]}",
            "response": TINY_CORPUS[(i * 3) % 8],
        }
        for i in range(20)
    ]
    (d / "answers.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (d / "controls.jsonl").write_text(
        "".join(json.dumps({**r, "response": "I would rather not say."}) + "\n" for r in rows),
        encoding="utf-8",
    )
    return d


def _request(world: Path, out: Path, **changes) -> DistillationRequest:
    values = {
        "teacher": str(world / "teacher"),
        "student": str(world / "base"),
        "transcripts": str(world / "answers.jsonl"),
        "controls": str(world / "controls.jsonl"),
        "samples": 6,
        "onnx": False,
        "out_dir": str(out),
        "label": "use case",
        "training": TrainingSettings(steps=2, batch_size=4, threads=1, eval_every=1),
    }
    return DistillationRequest(**(values | changes))


def _counts(cf) -> tuple[int, int, int]:
    with cf.read_session() as s:
        return tuple(  # type: ignore[return-value]
            s.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (Run, ModelArtifact, Case)
        )


def test_student_then_twin_into_a_new_case(case_file, world, tmp_path) -> None:
    made: list[int] = []

    def new_case() -> int:
        from core.store.cases import create_case

        made.append(create_case(case_file, "Experiments", f"EXP-{len(made) + 1}"))
        return made[-1]

    outcome = run_distillation(
        case_file, None, _request(world, tmp_path / "out"), JobState(), new_case=new_case
    )
    assert outcome.kind == "experiment" and len(made) == 1
    assert len(outcome.run_ids) == 2 and outcome.sweep_summary is None
    with case_file.read_session() as s:
        student, twin = (s.get(Run, i) for i in outcome.run_ids)
        assert (
            student.parameters["answers"] == "teacher" and twin.parameters["answers"] == "control"
        )
        assert student.parameters["label"] == "use case"
        assert twin.parameters["label"] == "use case control"
        assert student.case_id == twin.case_id == made[0]
        assert student.parameters["train_indices"] is None
        assert student.checkpoint_dir == str(tmp_path / "out" / "run-00001" / "checkpoints")
        stored = [ExperimentSummary.from_dict(r.summary) for r in (student, twin)]
        assert stored[0].to_dict() == student.summary  # the stored JSON reads back unchanged
    assert [s.data.train_records for s in stored if s.data] == [6, 6]
    first, second = outcome.summaries()
    assert first.cost is not None and second.cost is None  # the twin harvested nothing
    assert (
        first.student is not None
        and first.student.artifact_id == outcome.experiments[0].artifact_id
    )
    data = outcome.to_dict()
    assert data["kind"] == "experiment" and [e["run_id"] for e in data["experiments"]] == (
        outcome.run_ids
    )


def test_too_many_samples_are_refused_before_any_work(case_file, case_id, world, tmp_path) -> None:
    before = _counts(case_file)
    out = tmp_path / "out"
    called: list[int] = []
    with pytest.raises(EvidenceError, match="200 training samples were asked for, but the source"):
        run_distillation(
            case_file,
            None,
            _request(world, out, samples=200),
            new_case=lambda: called.append(1) or 0,
        )
    with pytest.raises(DistillAuditError, match="negative"):
        run_distillation(case_file, case_id, _request(world, out, samples=-3))
    assert called == [] and _counts(case_file) == before  # no run, no student, no case
    assert not [p for p in out.iterdir() if not p.name.startswith(".")]


def test_a_sweep_needs_control_answers_and_references_before_it_starts(
    case_file, case_id, world, tmp_path
) -> None:
    before = _counts(case_file)
    sweep = SweepRequest(references=(str(world / "ref"),), samples=(0, 4))
    with pytest.raises(DistillAuditError, match="needs control answers"):
        run_distillation(case_file, case_id, _request(world, tmp_path, controls=None, sweep=sweep))
    with pytest.raises(DistillAuditError, match="reference model"):
        run_distillation(case_file, case_id, _request(world, tmp_path, sweep=SweepRequest()))
    assert _counts(case_file) == before


def test_a_budget_sets_the_sizes_the_request_leaves_open(world, tmp_path) -> None:
    budget = SweepRequest(references=("r",), budget="quick", n_probes=12)
    spec = _request(world, tmp_path, sweep=budget).calibration_spec()
    assert spec.samples == (0, 2, 5, 10, 25, 50, None) and spec.replicates == 3
    assert spec.n_probes == 12  # explicit probes win over the budget's
    chosen = SweepRequest(references=("r",), budget="quick", samples=(0, 7), replicates=2)
    spec = _request(world, tmp_path, sweep=chosen).calibration_spec()
    assert (spec.samples, spec.replicates) == ((0, 7), 2)
    plain = _request(world, tmp_path, sweep=SweepRequest(references=("r",), samples=(None,)))
    assert plain.calibration_spec().samples == (None,) and plain.kind == "calibration"


def test_a_tiny_sweep_through_the_use_case(case_file, case_id, world, tmp_path) -> None:
    sweep = SweepRequest(
        references=(str(world / "ref"),), samples=(0, 4), replicates=1, n_probes=10
    )
    request = _request(world, tmp_path / "out", sweep=sweep)
    outcome = run_distillation(case_file, case_id, request)
    assert outcome.kind == "calibration" and outcome.experiments == ()
    rates = outcome.sweep_summary
    assert rates is not None and [p.n for p in rates.points] == [0, 4]
    assert rates.false_positive is not None and rates.false_positive.m == 1
    with case_file.read_session() as s:
        run = s.get(Run, outcome.run_ids[0])
        assert run.kind == "experiment.calibration" and run.status == "done"
        assert CalibrationSummary.from_dict(run.summary).to_dict() == run.summary
    assert outcome.to_dict()["run_id"] == outcome.run_ids[0]


def test_resume_goes_through_the_one_guard(case_file, case_id, world, tmp_path) -> None:
    class Stop(JobState):
        def set_status(self, text: str) -> None:
            if text.startswith("Training step 1/"):
                self.cancel()

    request = _request(world, tmp_path / "out", controls=None, samples=4)
    with pytest.raises(Cancelled):
        run_distillation(case_file, case_id, request, Stop())
    with case_file.read_session() as s:
        (run_id,) = s.execute(select(Run.id)).scalars().all()
    # A failed re-check inside the guard records no resumption and keeps the stop's error.
    with pytest.raises(EvidenceError), runs.resuming(case_file, run_id, "experiment.distill", "x"):
        raise EvidenceError("inputs changed")
    with case_file.read_session() as s:
        assert s.get(Run, run_id).error == "Cancelled by the user."
        assert not s.execute(select(AuditEvent).where(AuditEvent.action == "run.resumed")).all()
    outcome = resume_distillation(case_file, run_id)
    assert outcome.kind == "experiment" and outcome.run_ids == [run_id]
    (summary,) = outcome.summaries()
    assert summary.training is not None and summary.training.steps_done == 2
    with case_file.read_session() as s:
        assert s.get(Run, run_id).status == "done"
        assert (
            len(s.execute(select(AuditEvent).where(AuditEvent.action == "run.resumed")).all()) == 1
        )
    with pytest.raises(DistillAuditError, match="is done; only a cancelled"):
        resume_distillation(case_file, run_id)
    with pytest.raises(NotFoundError, match="No sweep run"):
        with runs.resuming(case_file, run_id, "experiment.calibration", "sweep"):
            pass
    assert [c.reference for c in list_cases(case_file)] == ["DA-TEST-1"]
