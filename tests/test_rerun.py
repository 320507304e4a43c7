"""``rerun RUN``: a demo check run (the demo's tiny models, few probes) re-run on a scratch
copy reproduces every number; evidence changed since the run is refused by custody and
the re-run says it did not reproduce. Each outcome is an audit event on the original."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.checks.rerun import RERUN_ACTION, compare
from core.checks.runner import CheckInputs, CheckSettings, run_checks
from core.cli import main
from core.evidence.importer import import_model, import_transcripts
from core.resources import resource_path
from core.store.cases import create_case
from core.store.models import AuditEvent, Result

SETTINGS = CheckSettings(
    checks=("likelihood",),
    n_resamples=500,
    max_probes=12,
    seed=11,
)


@pytest.fixture
def demo_run(case_file, tmp_path: Path) -> tuple[int, Path]:
    """A finished likelihood check run on the demo's suspect, two references and the
    protected answers (12 probes)."""
    demo = resource_path("demo")
    models = tmp_path / "models"
    for name in ("suspect-osprey", "ref-a-wren", "ref-b-tern"):
        shutil.copytree(Path(str(demo)) / "models" / name, models / name)
    answers = tmp_path / "protected_probe_answers.jsonl"
    shutil.copy(Path(str(demo)) / "transcripts" / "protected_probe_answers.jsonl", answers)
    cid = create_case(case_file, "Halcyon Labs v Quillmark AI", "DA-RERUN")
    suspect = import_model(case_file, cid, models / "suspect-osprey", "suspect")
    refs = tuple(
        import_model(case_file, cid, models / n, "reference") for n in ("ref-a-wren", "ref-b-tern")
    )
    prot = import_transcripts(case_file, cid, answers, "protected-answers")
    inputs = CheckInputs(suspect, refs, prot)
    rep = run_checks(case_file, cid, inputs, SETTINGS)
    assert {r.verdict for r in rep.results.values()} != {"declined"}
    return rep.run_id, models


def _events(cf) -> list[AuditEvent]:
    with cf.read_session() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == RERUN_ACTION)))


def test_rerun_reproduces_then_refuses_changed_evidence(case_file, demo_run, capsys) -> None:
    run_id, models = demo_run
    db = str(case_file.path)
    with case_file.read_session() as s:
        before = int(s.scalar(select(func.count()).select_from(AuditEvent)) or 0)
    code = main(["--db", db, "--json", "rerun", str(run_id)])
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out
    assert out["outcome"] == "match" and out["compared"] >= 19 and out["differences"] == []
    with case_file.read_session() as s:  # real numbers were compared, not empty rows
        rows = list(s.scalars(select(Result).where(Result.run_id == run_id)))
    assert len(rows) >= 2 and any(r.p_value is not None and r.n for r in rows)
    [ev] = _events(case_file)
    assert ev.entity_id == str(run_id) and ev.details["outcome"] == "match"
    with case_file.read_session() as s:  # the scratch run did not land in the original
        assert int(s.scalar(select(func.count()).select_from(AuditEvent)) or 0) == before + 1
    from core.reports.gather import gather_report_data

    steps = gather_report_data(case_file, "DA-RERUN").reproduction  # the report quotes it
    assert any(f"Run {run_id} " in st.label and "reproduced, all" in st.label for st in steps)
    # The suspect's weights changed since the run: custody refuses before anything runs.
    weights = next((models / "suspect-osprey").glob("*.safetensors"))
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01
    weights.write_bytes(bytes(data))
    code = main(["--db", db, "rerun", str(run_id)])
    printed = capsys.readouterr().out
    assert code == 1 and "NOT reproduced" in printed and "custody refused" in printed
    assert [e.details["outcome"] for e in _events(case_file)] == ["match", "refused"]


def test_compare_names_each_differing_field() -> None:
    old = {
        "likelihood": {
            "value": 0.5,
            "ci_low": 0.1,
            "ci_high": 0.9,
            "p_value": 0.01,
            "p_adjusted": 0.02,
            "n": 8,
        }
    }
    new = {"likelihood": {**old["likelihood"], "p_value": 0.0100000000001, "n": 7}}
    compared, diffs = compare(old, new, ({"likelihood": "supports"}, {"likelihood": "neutral"}))
    assert compared == 7
    assert [(d["field"]) for d in diffs] == ["n", "verdict"]  # p within 1e-9 is the same


def test_rerun_refuses_unknown_and_unfinished_runs(case_file, case_id, capsys) -> None:
    code = main(["--db", str(case_file.path), "rerun", "99"])
    assert code == 2 and "no run 99" in capsys.readouterr().err


def test_cli_run_records_its_command_with_relative_paths(tmp_path, monkeypatch) -> None:
    from core.store.runs import recorded_action, recorded_invocation, relative_argv

    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    argv = ["check", "--db", str(tmp_path / "case.dacase"), "--suspect", "models/s", "--seed=3"]
    assert relative_argv(argv) == [
        "distill-audit",
        "check",
        "--db",
        "case.dacase",
        "--suspect",
        "models/s",
        "--seed=3",
    ]
    assert relative_argv(["--out=/elsewhere/x.json"])[1] == "--out=/elsewhere/x.json"
    from core.store.db import open_case_file
    from core.store.models import Run
    from core.store.runs import create_run

    with open_case_file(tmp_path / "c.dacase") as cf:
        cid = create_case(cf, "t", "DA-CLI")
        with recorded_invocation(argv):
            rid = create_run(cf, cid, "check", {"alpha": 0.05}, {}, 3)
        plain = create_run(cf, cid, "check", {"alpha": 0.05}, {}, 3)
        with recorded_action("GUI: Analysis > Run a check (wizard), by A. Analyst"):
            gui = create_run(cf, cid, "check", {"alpha": 0.05}, {}, 3)
        with cf.read_session() as s:
            assert s.get(Run, rid).parameters["cli"][:4] == [
                "distill-audit",
                "check",
                "--db",
                "case.dacase",
            ]
            assert "cli" not in s.get(Run, plain).parameters
            assert s.get(Run, gui).parameters["gui_action"].endswith("by A. Analyst")
