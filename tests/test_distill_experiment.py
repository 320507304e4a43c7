"""Distillation experiments as Runs: students, ONNX parity, resume, declines and bad inputs."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from safetensors.torch import load_file
from sqlalchemy import func, select

from core.distill.experiment import list_experiments, resume_experiment, run_experiment
from core.distill.logit import LogitSettings
from core.distill.sequence import GenerationSettings
from core.distill.spec import ExperimentSpec, TrainingSettings
from core.errors import Cancelled, DeclinedError, DistillAuditError, EvidenceError, ModelLoadError
from core.jobs import JobState
from core.store.models import ModelArtifact, Run
from tests.tinymodels import TINY_CORPUS, build_tiny_gpt2

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny teacher (trained), a base, a differently-tokenized model, answers and controls."""
    d = tmp_path_factory.mktemp("distill-world")
    build_tiny_gpt2(d / "teacher", seed=1, train_steps=30)
    build_tiny_gpt2(d / "base", seed=2)
    build_tiny_gpt2(
        d / "other-tok",
        seed=3,
        corpus=("Completely different words here.", "Another vocabulary entirely, friend."),
    )
    rows = [
        {
            "id": f"p{i}",
            "prompt": f"Question {i}: {TINY_CORPUS[i % 8]}",
            "response": TINY_CORPUS[(i * 3) % 8],
        }
        for i in range(40)
    ]
    (d / "answers.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (d / "controls.jsonl").write_text(
        "".join(
            json.dumps({**r, "response": TINY_CORPUS[(i * 5 + 1) % 8]}) + "\n"
            for i, r in enumerate(rows)
        ),
        encoding="utf-8",
    )
    (d / "prompts.txt").write_text("".join(r["prompt"] + "\n" for r in rows[:12]), encoding="utf-8")
    return d


def _spec(world: Path, out: Path, **changes) -> ExperimentSpec:
    base = ExperimentSpec(
        teacher=str(world / "teacher"),
        student=str(world / "base"),
        transcripts=str(world / "answers.jsonl"),
        samples=24,
        eval_count=6,
        seed=5,
        training=TrainingSettings(
            steps=8, batch_size=4, checkpoint_every=3, eval_every=2, threads=1
        ),
        out_dir=str(out),
        parity_texts=4,
    )
    return replace(base, **changes)


def _counts(cf) -> tuple[int, int]:
    with cf.read_session() as s:
        return (
            s.execute(select(func.count()).select_from(Run)).scalar_one(),
            s.execute(select(func.count()).select_from(ModelArtifact)).scalar_one(),
        )


def _weights(path: str | Path) -> dict:
    return load_file(str(Path(path) / "model.safetensors"))


def test_experiment_records_student_curves_parity_and_cost(
    case_file, case_id, world, tmp_path
) -> None:
    outcome = run_experiment(case_file, case_id, _spec(world, tmp_path / "out"))
    with case_file.read_session() as s:
        run = s.get(Run, outcome.run_id)
        art = s.get(ModelArtifact, outcome.artifact_id)
        assert run.status == "done" and run.kind == "experiment.distill" and run.seed == 5
        assert run.parameters["samples"] == 24 and run.software["torch"]
        assert run.inputs["source"]["sha256"] and run.inputs["teacher"]["manifest_sha256"]
        assert run.checkpoint_dir and not Path(run.checkpoint_dir).exists()  # removed when done
        assert art.role == "experiment-student" and art.produced_by_run_id == run.id
        assert art.manifest_sha256 and any(f["path"] == "model.safetensors" for f in art.manifest)
        summary = run.summary
    training = summary["training"]
    assert len(training["losses"]) == 8 and training["steps_done"] == 8
    assert [e["step"] for e in training["evals"]] == [0, 2, 4, 6, 8]
    assert all(0.0 <= e["agreement"] <= 1.0 for e in training["evals"])
    parity = summary["onnx"]["parity"]
    assert parity["passed"] and parity["max_abs_diff"] < 1e-3 and parity["n_texts"] == 4
    assert (Path(summary["onnx"]["path"]) / "model.onnx").is_file()
    cost = summary["cost"]
    assert cost["counted_with"] == "teacher tokenizer" and cost["measured"]["samples"] == 24
    assert cost["by_samples"][0]["prices"]["openai-gpt-4o"] > 0
    student = Path(outcome.student_path)
    assert not list(student.glob("*.bin")) and (student / "README.md").is_file()
    assert not [p for p in student.parent.iterdir() if ".partial-" in p.name]


def test_cancelled_experiment_resumes_to_the_same_weights(
    case_file, case_id, world, tmp_path
) -> None:
    spec = _spec(world, tmp_path / "a")
    straight = run_experiment(case_file, case_id, spec)

    class StopAfter(JobState):
        def set_status(self, text: str) -> None:
            super().set_status(text)
            if text.startswith("Training step 5/"):
                self.cancel()

    stopped = replace(spec, out_dir=str(tmp_path / "b"))
    with pytest.raises(Cancelled):
        run_experiment(case_file, case_id, stopped, StopAfter())
    runs = list_experiments(case_file)
    cancelled = runs[0]
    assert cancelled["status"] == "cancelled" and cancelled["artifact_id"] is None
    with case_file.read_session() as s:
        run = s.get(Run, cancelled["run_id"])
        assert run.summary["training"]["steps_done"] == 5  # checkpointed on cancel
        assert [p.name for p in Path(run.checkpoint_dir).glob("step-*")] == ["step-000005"]
        assert (
            s.execute(
                select(func.count())
                .select_from(ModelArtifact)
                .where(ModelArtifact.produced_by_run_id == run.id)
            ).scalar_one()
            == 0
        )
    resumed = resume_experiment(case_file, cancelled["run_id"])
    assert resumed.run_id == cancelled["run_id"]
    a, b = _weights(straight.student_path), _weights(resumed.student_path)
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)
    with case_file.read_session() as s:
        run = s.get(Run, resumed.run_id)
        assert run.status == "done" and run.error is None
        assert run.summary["training"]["resumed_from"] == [5]
        assert (
            run.summary["training"]["losses"]
            == s.get(Run, straight.run_id).summary["training"]["losses"]
        )
    with pytest.raises(DistillAuditError, match="is done"):
        resume_experiment(case_file, resumed.run_id)


KILL_SCRIPT = """
import sys, time
from core.distill.experiment import run_experiment
from core.distill.spec import ExperimentSpec
from core.jobs import JobState
from core.store.db import open_case_file

class Slow(JobState):
    def set_status(self, text):
        if text.startswith("Training step"):
            time.sleep(0.4)

spec = ExperimentSpec.from_dict(__import__("json").loads(sys.argv[2]))
with open_case_file(sys.argv[1]) as cf:
    run_experiment(cf, 1, spec, Slow())
"""


def test_killed_experiment_is_interrupted_and_resumes(tmp_path, world) -> None:
    from core.store.cases import create_case
    from core.store.db import open_case_file

    db = tmp_path / "case.dacase"
    with open_case_file(db) as cf:
        create_case(cf, "Kill test", "KILL-1")
        reference = run_experiment(cf, 1, _spec(world, tmp_path / "ref"))
    spec = _spec(world, tmp_path / "killed")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(db), json.dumps(spec.to_dict())],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    checkpoints = tmp_path / "killed" / "run-00002" / "checkpoints"
    deadline = time.monotonic() + 120
    while (
        not any(checkpoints.glob("step-*")) and proc.poll() is None and time.monotonic() < deadline
    ):
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert any(checkpoints.glob("step-*")), "the child never wrote a checkpoint"
    with open_case_file(db) as cf:  # opening marks the dead process's run interrupted
        assert list_experiments(cf)[0]["status"] == "interrupted"
        resumed = resume_experiment(cf, 2)
    a, b = _weights(reference.student_path), _weights(resumed.student_path)
    assert all((a[k] == b[k]).all() for k in a)


def test_logit_distillation_runs_with_a_shared_tokenizer(
    case_file, case_id, world, tmp_path
) -> None:
    spec = _spec(
        world,
        tmp_path / "kd",
        method="logit",
        student=None,
        student_preset="tiny",
        tokenizer="teacher",
        logit=LogitSettings(temperature=2.0, alpha=0.7),
        onnx=False,
    )
    outcome = run_experiment(case_file, case_id, spec)
    losses = outcome.summary["training"]["losses"]
    assert len(losses) == 8 and all(x == x and x > 0 for x in losses)
    assert outcome.summary["training"]["logit"] == {"temperature": 2.0, "alpha": 0.7}


def test_logit_distillation_declines_a_tokenizer_mismatch(
    case_file, case_id, world, tmp_path
) -> None:
    before = _counts(case_file)
    for changes in (
        {"student": str(world / "other-tok")},
        {"student": None, "student_preset": "tiny", "tokenizer": "fresh"},
    ):
        with pytest.raises(DeclinedError, match="share one tokenizer"):
            run_experiment(
                case_file, case_id, _spec(world, tmp_path / "x", method="logit", **changes)
            )
    assert _counts(case_file) == before


def test_teacher_answers_a_prompt_set_for_a_fresh_student(
    case_file, case_id, world, tmp_path
) -> None:
    spec = _spec(
        world,
        tmp_path / "gen",
        transcripts=None,
        prompts=str(world / "prompts.txt"),
        student=None,
        student_preset="tiny",
        tokenizer="fresh",
        samples=8,
        eval_count=4,
        generation=GenerationSettings(max_new_tokens=12, chunk=5),
        onnx=False,
    )
    outcome = run_experiment(case_file, case_id, spec)
    folder = Path(outcome.student_path).parent
    answers = (folder / "data" / "teacher.jsonl").read_text(encoding="utf-8").splitlines()
    # 8 training prompts and 2 held out (at most a fifth of the 12 prompts)
    assert len(answers) == 10 and all("answer" in json.loads(a) for a in answers)
    assert outcome.summary["training"]["steps_done"] == 8
    assert (folder / "data" / "tokenizer" / "tokenizer.json").is_file()


@pytest.mark.parametrize("problem", ["empty prompts", "broken teacher", "read-only output"])
def test_bad_inputs_fail_cleanly_before_anything_is_written(
    case_file, case_id, world, tmp_path, problem
) -> None:
    out = tmp_path / "out"
    if problem == "empty prompts":
        empty = tmp_path / "empty.txt"
        empty.write_text("\n   \n\n", encoding="utf-8")
        spec, error = _spec(world, out, transcripts=None, prompts=str(empty)), EvidenceError
        match = "no usable prompts"
    elif problem == "broken teacher":
        broken = tmp_path / "broken"
        broken.mkdir()
        for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
            (broken / name).write_bytes((world / "teacher" / name).read_bytes())
        (broken / "model.safetensors").write_bytes(b"not really safetensors")
        spec, error, match = (
            _spec(world, out, teacher=str(broken)),
            ModelLoadError,
            # refused when its header is read (core/evidence/safetensors_header.py)
            "Could not load|not a valid safetensors file",
        )
    else:
        out.mkdir()
        out.chmod(stat.S_IRUSR | stat.S_IXUSR)
        if os.access(out, os.W_OK):  # running as root: permissions are not enforced
            out.chmod(0o755)
            out = tmp_path / "file-not-folder"
            out.write_text("x", encoding="utf-8")
        spec, error, match = _spec(world, out), DistillAuditError, "not writable"
    before = _counts(case_file)
    with pytest.raises(error, match=match):
        run_experiment(case_file, case_id, spec)
    assert _counts(case_file) == before
    if out.is_dir():
        assert not [p for p in out.iterdir() if not p.name.startswith(".")]
        out.chmod(0o755)
