"""``distill-audit experiment run | resume | list`` on tiny models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli import main
from core.distill.experiment import run_experiment
from core.distill.spec import ExperimentSpec, TrainingSettings
from core.errors import Cancelled
from core.jobs import JobState
from core.store.cases import create_case
from core.store.db import open_case_file
from tests.tinymodels import TINY_CORPUS, build_tiny_gpt2


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("cli-world")
    build_tiny_gpt2(d / "teacher", seed=1, train_steps=10)
    build_tiny_gpt2(d / "base", seed=2)
    rows = [
        {
            "id": f"p{i}",
            "prompt": f"Q{i}: {TINY_CORPUS[i % 8]}",
            "response": TINY_CORPUS[(i * 3) % 8],
        }
        for i in range(20)
    ]
    (d / "answers.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (d / "controls.jsonl").write_text(
        "".join(json.dumps({**r, "response": "No idea."}) + "\n" for r in rows), encoding="utf-8"
    )
    return d


def test_run_with_controls_trains_a_twin_and_lists_both(world, tmp_path, capsys) -> None:
    db, out = tmp_path / "case.dacase", tmp_path / "out.json"
    code = main(
        [
            "--db",
            str(db),
            "--quiet",
            "experiment",
            "run",
            "--teacher",
            str(world / "teacher"),
            "--student",
            str(world / "base"),
            "--transcripts",
            str(world / "answers.jsonl"),
            "--controls",
            str(world / "controls.jsonl"),
            "--samples",
            "8",
            "--steps",
            "3",
            "--threads",
            "1",
            "--no-onnx",
            "--price-in",
            "1",
            "--price-out",
            "2",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["kind"] == "experiment" and len(data["experiments"]) == 2
    first, twin = data["experiments"]
    assert first["cost"]["presets"][0]["key"] == "custom" and twin["cost"] is None
    capsys.readouterr()
    assert main(["--db", str(db), "--json", "experiment", "list"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["answers"], r["status"]) for r in rows] == [("control", "done"), ("teacher", "done")]


def test_resume_command_continues_a_cancelled_run(world, tmp_path, capsys) -> None:
    db = tmp_path / "case.dacase"

    class Stop(JobState):
        def set_status(self, text: str) -> None:
            if text.startswith("Training step 2/"):
                self.cancel()

    with open_case_file(db) as cf:
        case = create_case(cf, "CLI", "CLI-1")
        spec = ExperimentSpec(
            teacher=str(world / "teacher"),
            student=str(world / "base"),
            transcripts=str(world / "answers.jsonl"),
            samples=8,
            onnx=False,
            training=TrainingSettings(steps=4, threads=1),
            out_dir=str(tmp_path / "o"),
        )
        with pytest.raises(Cancelled):
            run_experiment(cf, case, spec, Stop())
    out = tmp_path / "resumed.json"
    assert main(["--db", str(db), "--quiet", "experiment", "resume", "1", "--json", str(out)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["experiments"][0]["training"]["resumed_from"] == [2]
    assert main(["--db", str(db), "experiment", "resume", "1"]) == 2
    assert "only a cancelled, interrupted or failed" in capsys.readouterr().err


def test_bad_input_is_one_line_on_stderr_and_leaves_no_run(world, tmp_path, capsys) -> None:
    db = tmp_path / "case.dacase"
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    code = main(
        [
            "--db",
            str(db),
            "experiment",
            "run",
            "--student",
            str(world / "base"),
            "--transcripts",
            str(empty),
            "--json",
            str(tmp_path / "x.json"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("distill-audit: error:") and "empty" in err
    assert main(["--db", str(db), "--json", "experiment", "list"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["--db", str(db), "--json", "case", "list"]) == 0
    assert json.loads(capsys.readouterr().out) == []  # no case was created for a failed run
