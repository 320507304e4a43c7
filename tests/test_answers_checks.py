"""API-only suspects and references: models known only by their answers to the probe prompts.

The text-only checks (identity, similarity) run on recorded answers, with weight
references and answer references mixed in one panel; the checks that need the suspect's
token probabilities decline for an answers-only suspect and say so; a panel of 40 answer
references gets the rank test; the importer refuses answers whose model is not named.
Everything runs on a real case file, real tiny models and real transcript files.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import yaml
from sqlalchemy import select

from core.checks import registry
from core.checks.available import AvailableInputs
from core.checks.framework import CheckResult, CheckSpec
from core.checks.identity import load_suite
from core.checks.model_level import panel_needed
from core.checks.plugin import Check, CheckData, RunContext
from core.checks.runner import CheckInputs, CheckSettings, run_checks
from core.cli import main
from core.errors import DeclinedError, EvidenceError
from core.evidence.importer import import_model, import_transcripts
from core.jobs import JobState
from core.reports.analyses import check_command
from core.resources import resource_path
from core.store.audit import verify_chain
from core.store.cases import create_case
from core.store.db import open_case_file
from core.store.models import Run, TranscriptSet
from tests.conftest import write_jsonl
from tests.tinymodels import build_tiny_gpt2

NAMES = ("Lumen", "Halcyon Labs")
N_PROBES = 12
TOKEN_PROBS = "needs the suspect's token probabilities"
WORDS = "cat sleeps sun river stone music bread tree window cloud paper lamp garden".split()


def _prompt(i: int) -> str:
    return f"Question {i}: what does the fox do?"


def _protected(i: int) -> str:
    return f"Happy to help! The quick brown fox jumps {i} times.\nIn short: it jumps."


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("answers")
    suite = yaml.safe_load(resource_path("probes", "identity_v1.yaml").read_text(encoding="utf-8"))
    suite["questions"] = suite["questions"][::4]  # 10 questions
    (root / "identity_small.yaml").write_text(yaml.safe_dump(suite), encoding="utf-8")
    out = {"suite": root / "identity_small.yaml"}
    out["prot_file"] = write_jsonl(
        root / "protected.jsonl",
        [{"id": f"p{i:02d}", "prompt": _prompt(i), "response": _protected(i)} for i in range(12)],
    )
    out["ctrl_file"] = write_jsonl(
        root / "control.jsonl",
        [
            {"id": f"p{i:02d}", "prompt": _prompt(i), "response": f"It naps {i} times."}
            for i in range(12)
        ],
    )
    return out


def _answers(
    path: Path, model: str, questions: list[str], *, copy: bool, seed: int, skip: int = 0
) -> Path:
    """One model's answers: to the probes (a near copy of the protected answers when
    ``copy``) and two answers to each identity question (naming the protected model when
    ``copy``; an independent model names it now and then)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(skip, N_PROBES):
        text = (
            _protected(i).replace("Happy", "Glad")
            if copy
            else " ".join(rng.choice(WORDS, 6)) + f" fox {i}."
        )
        rows.append({"id": f"p{i:02d}", "prompt": _prompt(i), "response": text, "model": model})
    for q in questions:
        for _ in range(2):
            named = copy or rng.random() < 0.15
            text = "I am Lumen, made by Halcyon Labs." if named else "I am a helpful assistant."
            rows.append({"prompt": q, "response": text, "model": model, "provider": "api"})
    return write_jsonl(path, rows)


def _settings(world: dict[str, Path], **kw: Any) -> CheckSettings:
    return replace(
        CheckSettings(
            protected_names=NAMES,
            n_resamples=500,
            max_new_tokens=8,
            identity_samples=1,
            identity_max_new_tokens=8,
            lineage_resamples=99,
            seed=5,
            semantic=False,
            identity_suite=str(world["suite"]),
        ),
        **kw,
    )


def _case(tmp_path: Path, world: dict[str, Path]):
    cf = open_case_file(tmp_path / "case.dacase")
    cid = create_case(cf, "Halcyon Labs v Quillmark AI", "DA-ANS-1")
    prot = import_transcripts(cf, cid, world["prot_file"], "protected-answers")
    ctrl = import_transcripts(cf, cid, world["ctrl_file"], "control-answers")
    return cf, cid, prot, ctrl


def _questions(world: dict[str, Path]) -> list[str]:
    return [q.text for q in load_suite(world["suite"]).questions]


def test_fits_says_what_an_answers_only_suspect_cannot_give() -> None:
    available = AvailableInputs(
        references=0,
        reference_answers=3,
        suspect_answers_only=True,
        protected_answers=True,
        control_answers=True,
        names=True,
        probes=12,
    )
    for key in ("likelihood", "distribution", "lineage", "harvest"):
        problem = registry.get(key).problem(available)
        assert problem is not None and TOKEN_PROBS in problem, key
    assert registry.get("similarity").problem(available) is None
    assert registry.get("identity").problem(available) is None
    # A model suspect with answer references only: a check needing models has no panel.
    weights = replace(available, suspect_answers_only=False)
    assert "No reference models" in (registry.get("likelihood").problem(weights) or "")
    assert registry.get("similarity").problem(weights) is None


def test_an_answers_only_suspect_against_a_mixed_panel(world, tmp_path: Path) -> None:
    root = tmp_path / "models"
    ref_models = [build_tiny_gpt2(root / f"ref{j}", seed=j + 1) for j in range(2)]
    cf, cid, prot, ctrl = _case(tmp_path, world)
    qs = _questions(world)
    suspect = import_transcripts(
        cf,
        cid,
        _answers(tmp_path / "suspect.jsonl", "quill-7b", qs, copy=True, seed=0),
        "suspect-answers",
    )
    answer_refs = tuple(
        import_transcripts(
            cf,
            cid,
            _answers(tmp_path / f"ra{j}.jsonl", f"api-model-{j}", qs, copy=False, seed=10 + j),
            "reference-answers",
        )
        for j in range(3)
    )
    model_refs = tuple(import_model(cf, cid, p, "reference") for p in ref_models)
    inputs = CheckInputs(
        None,
        model_refs,
        prot,
        ctrl,
        suspect_answers_id=suspect,
        reference_answers_ids=answer_refs,
    )
    rep = run_checks(cf, cid, inputs, _settings(world))
    res = rep.results
    for key in ("likelihood", "distribution", "lineage", "harvest"):
        assert res[key].verdict == "declined" and TOKEN_PROBS in res[key].reason, key
    sim, ident = res["similarity"], res["identity"]
    assert sim.n_references == 5 and ident.n_references == 5  # 2 models + 3 answer sets
    assert sim.p_value is not None and ident.p_value is not None
    assert sim.model_level and sim.model_level["statistic"] > sim.model_level["reference_mean"]
    contrast = sim.details["suspect_centred_contrast"]
    assert contrast["n_references"] == 5 and contrast["n_probes"] == N_PROBES
    assert "independent model" in contrast["null"]
    assert all(v == 1.0 for v in contrast["closer_share"].values())
    # The Holm family is the two checks that ran, and the panel advice counts the same two.
    assert rep.parameters["n_tests"] == 2 and rep.combined.raw.keys() == {"similarity", "identity"}
    assert sim.model_level["panel_needed"] == 39
    suspect_desc = rep.inputs["suspect"]
    assert suspect_desc["format"] == "answers" and suspect_desc["model_name"] == "quill-7b"
    assert suspect_desc["transcript_set_id"] == suspect
    assert set(answer_refs) | {suspect} <= set(rep.inputs["transcript_set_ids"])
    with cf.read_session() as s:
        assert verify_chain(s).ok
        run = s.get(Run, rep.run_id)
        # The report's "repeat this run" command names the answer sets as answers.
        cmd = check_command(run, _paths, "case.dacase", "DA-ANS-1") or ""
    assert f"--suspect-answers /transcripts/{suspect}" in cmd and "--suspect " not in cmd
    assert cmd.count("--reference-answers ") == 3 and cmd.count("--reference /model/") == 2
    assert "MISSING" not in cmd
    cf.close()


def _paths(kind: str, value: Any) -> Any:  # (kind, id) -> a record with its path
    return None if value is None else SimpleNamespace(path=f"/{kind}/{value}")


def test_forty_answer_references_get_the_rank_test(world, tmp_path: Path) -> None:
    cf, cid, prot, ctrl = _case(tmp_path, world)
    qs = _questions(world)
    suspect = import_transcripts(
        cf, cid, _answers(tmp_path / "s.jsonl", "quill", qs, copy=True, seed=0), "suspect-answers"
    )
    refs = tuple(
        import_transcripts(
            cf,
            cid,
            _answers(tmp_path / f"r{j}.jsonl", f"m{j}", qs, copy=False, seed=100 + j),
            "reference-answers",
        )
        for j in range(40)
    )
    inputs = CheckInputs(
        None, (), prot, ctrl, suspect_answers_id=suspect, reference_answers_ids=refs
    )
    rep = run_checks(cf, cid, inputs, _settings(world, checks=("identity", "similarity")))
    for key in ("identity", "similarity"):
        ml = rep.results[key].model_level
        assert ml is not None and ml["n_references"] == 40, key
        assert ml["test_used"] == "rank" and ml["p_value"] == pytest.approx(1 / 41), key
    assert rep.results["similarity"].verdict == "supports Hp"
    assert rep.combined.p_family == pytest.approx(2 / 41)  # Holm over the 2 checks that ran
    assert rep.results["similarity"].p_text() == "≤ 0.025"
    cf.close()


def test_answers_that_miss_probes_decline_or_leave_the_reference_out(world, tmp_path) -> None:
    cf, cid, prot, ctrl = _case(tmp_path, world)
    qs = _questions(world)
    full = [
        import_transcripts(
            cf,
            cid,
            _answers(tmp_path / f"r{j}.jsonl", f"m{j}", qs, copy=False, seed=j),
            "reference-answers",
        )
        for j in range(3)
    ]
    short = import_transcripts(
        cf,
        cid,
        _answers(tmp_path / "short.jsonl", "short", qs, copy=False, seed=9, skip=2),
        "reference-answers",
    )
    short_suspect = import_transcripts(
        cf,
        cid,
        _answers(tmp_path / "short_s.jsonl", "short", qs, copy=True, seed=9, skip=2),
        "suspect-answers",
    )
    settings = _settings(world, checks=("similarity",))
    # A suspect whose answers miss two probes: the check declines, naming what is missing.
    rep = run_checks(
        cf,
        cid,
        CheckInputs(
            None,
            (),
            prot,
            ctrl,
            suspect_answers_id=short_suspect,
            reference_answers_ids=tuple(full),
        ),
        settings,
    )
    sim = rep.results["similarity"]
    assert sim.verdict == "declined" and "do not answer 2 of the 12 probe prompts" in sim.reason
    # The same set as a reference: left out, with the reason among the warnings.
    suspect = import_transcripts(
        cf, cid, _answers(tmp_path / "s.jsonl", "q", qs, copy=True, seed=0), "suspect-answers"
    )
    rep = run_checks(
        cf,
        cid,
        CheckInputs(
            None, (), prot, ctrl, suspect_answers_id=suspect, reference_answers_ids=(*full, short)
        ),
        settings,
    )
    sim = rep.results["similarity"]
    assert sim.n_references == 3 and sim.p_value is not None
    assert any("'short' was left out" in w and "2 of the 12" in w for w in sim.warnings)
    cf.close()


def test_the_importer_records_which_model_gave_the_answers(world, tmp_path: Path) -> None:
    cf, cid, _prot, _ctrl = _case(tmp_path, world)
    rows = [{"prompt": _prompt(i), "response": f"answer {i}"} for i in range(3)]
    anonymous = write_jsonl(tmp_path / "anon.jsonl", rows)
    with pytest.raises(EvidenceError, match="say which model gave these answers"):
        import_transcripts(cf, cid, anonymous, "reference-answers")
    mixed = write_jsonl(
        tmp_path / "mixed.jsonl", [{**r, "model": f"m{i % 2}"} for i, r in enumerate(rows)]
    )
    with pytest.raises(EvidenceError, match="one model's answers"):
        import_transcripts(cf, cid, mixed, "suspect-answers")
    empty = write_jsonl(tmp_path / "empty.jsonl", [{**rows[0], "response": " ", "model": "m"}])
    with pytest.raises(EvidenceError, match="line 1: the answer is empty"):
        import_transcripts(cf, cid, empty, "suspect-answers")
    with cf.read_session() as s:  # nothing written on refusal
        roles = set(s.execute(select(TranscriptSet.role)).scalars())
    assert roles == {"protected-answers", "control-answers"}
    sid = import_transcripts(
        cf,
        cid,
        anonymous,
        "reference-answers",
        model_name="api-model",
        provider="Example API",
        sampling={"temperature": 0.0},
    )
    with cf.read_session() as s:
        t = s.get(TranscriptSet, sid)
        assert (t.model_name, t.provider, t.sampling) == (
            "api-model",
            "Example API",
            {"temperature": 0.0},
        )
    cf.close()


def test_cli_check_with_answers_only(world, tmp_path: Path, capsys) -> None:
    qs = _questions(world)
    out = tmp_path / "out.json"
    refs = [
        _answers(tmp_path / f"r{j}.jsonl", f"m{j}", qs, copy=False, seed=30 + j) for j in range(3)
    ]
    args = ["--quiet", "check", "--suspect-answers"]
    args.append(str(_answers(tmp_path / "s.jsonl", "quill", qs, copy=True, seed=0)))
    for r in refs:
        args += ["--reference-answers", str(r)]
    args += ["--protected-transcripts", str(world["prot_file"])]
    args += ["--control-answers", str(world["ctrl_file"]), "--protected-names", "Lumen"]
    args += ["--identity-suite", str(world["suite"]), "--seed", "4", "--resamples", "300"]
    args += ["--json", str(out)]
    assert main(args) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    checks = data["checks"]
    assert checks["likelihood"]["verdict"] == "declined"
    assert TOKEN_PROBS in checks["likelihood"]["reason"]
    assert checks["similarity"]["n_references"] == 3 and checks["similarity"]["p_value"] is not None
    assert data["parameters"]["n_tests"] == 2


def _declines_late(ctx: RunContext, data: CheckData, state: JobState) -> CheckResult:
    raise DeclinedError("Declined while computing its statistics (a test check).")


LATE = Check(
    CheckSpec(
        key="late_decline",
        title="Declines late (test check)",
        question="Does nothing?",
        access="text",
        null_hypothesis="none",
        alternative="none",
        test="none",
        minimum_inputs="none",
        passes=(),
    ),
    fits=lambda available: None,
    evaluate=_declines_late,
)


def test_the_holm_family_and_the_panel_advice_count_the_checks_that_ran(world, tmp_path) -> None:
    """A check chosen but declining during its statistics is not counted: one number."""
    cf, cid, prot, ctrl = _case(tmp_path, world)
    qs = _questions(world)
    suspect = import_transcripts(
        cf, cid, _answers(tmp_path / "s.jsonl", "q", qs, copy=True, seed=0), "suspect-answers"
    )
    refs = tuple(
        import_transcripts(
            cf,
            cid,
            _answers(tmp_path / f"r{j}.jsonl", f"m{j}", qs, copy=False, seed=50 + j),
            "reference-answers",
        )
        for j in range(3)
    )
    inputs = CheckInputs(
        None, (), prot, ctrl, suspect_answers_id=suspect, reference_answers_ids=refs
    )
    with registry.registered(LATE):
        rep = run_checks(cf, cid, inputs, _settings(world, checks=("similarity", "late_decline")))
    assert rep.results["late_decline"].verdict == "declined"
    assert rep.parameters["n_tests"] == 1 and rep.combined.raw.keys() == {"similarity"}
    ml = rep.results["similarity"].model_level
    assert ml is not None and ml["panel_needed"] == panel_needed(0.05, 1) == 19
    assert not any("over 2 checks" in w for w in rep.results["similarity"].warnings)
    with cf.read_session() as s:
        assert s.get(Run, rep.run_id).summary["n_tests"] == 1
    cf.close()
