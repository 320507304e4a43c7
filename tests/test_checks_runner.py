"""A check run end to end on real tiny models and a real case file: storage, findings, audit,
determinism, cancellation with partial results, declines, and the ``check`` CLI command."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from core.checks.registry import check_names
from core.checks.runner import CheckInputs, CheckSettings, derive_seed, run_checks
from core.cli import build_parser, main
from core.errors import Cancelled
from core.evidence.importer import import_model, import_transcripts
from core.jobs import JobState
from core.resources import resource_path
from core.store.audit import verify_chain
from core.store.cases import create_case
from core.store.db import open_case_file
from core.store.models import Finding, FindingRun, Result, Run
from tests.conftest import write_jsonl
from tests.tinymodels import build_tiny_gpt2

FAST = CheckSettings(
    protected_names=("Lumen", "Halcyon Labs"),
    n_resamples=2000,
    max_new_tokens=12,
    identity_samples=1,
    identity_max_new_tokens=10,
    lineage_resamples=199,
    seed=3,
)
FORBIDDEN = re.compile(r"probability of distillation|\bproves?\b|distilled", re.I)
SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "A language model assigns a probability.",
    "Terms of service forbid using outputs.",
    "Hello world! Numbers like 42 appear.",
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("world")
    out = {
        "protected": build_tiny_gpt2(root / "protected", seed=0),
        "ref1": build_tiny_gpt2(root / "ref1", seed=1),
        "ref2": build_tiny_gpt2(root / "ref2", seed=2),
        "other_tok": build_tiny_gpt2(
            root / "other", seed=4, corpus=SENTENCES + ("Other words here.",)
        ),
    }
    prot, ctrl = [], []
    for i in range(12):
        prompt = f"Question {i}: what does the fox do?"
        prot.append(
            {
                "id": f"p{i:02d}",
                "prompt": prompt,
                "response": f"Happy to help! The quick brown fox jumps {i} times.\n"
                "In short: it jumps.",
            }
        )
        ctrl.append(
            {
                "id": f"p{i:02d}",
                "prompt": prompt,
                "response": f"It jumps over the lazy dog {i} times.",
            }
        )
    suite = yaml.safe_load(resource_path("probes", "identity_v1.yaml").read_text(encoding="utf-8"))
    suite["questions"] = suite["questions"][::4]  # 10 of the 40 questions keep the tests fast
    (root / "identity_small.yaml").write_text(yaml.safe_dump(suite), encoding="utf-8")
    out["suite"] = root / "identity_small.yaml"
    out["prot_file"] = write_jsonl(root / "protected.jsonl", prot)
    out["ctrl_file"] = write_jsonl(root / "control.jsonl", ctrl)
    return out


@pytest.fixture
def fast(world) -> CheckSettings:
    return replace(FAST, identity_suite=str(world["suite"]))


@pytest.fixture
def case(world, tmp_path: Path):
    cf = open_case_file(tmp_path / "case.dacase")
    cid = create_case(cf, "Halcyon Labs v Quillmark AI", "DA-CHECK-1")
    ids = {
        name: import_model(cf, cid, world[name], role)
        for name, role in (
            ("protected", "protected"),
            ("ref1", "reference"),
            ("ref2", "reference"),
            ("other_tok", "reference"),
        )
    }
    ids["prot_set"] = import_transcripts(cf, cid, world["prot_file"], "protected-answers")
    ids["ctrl_set"] = import_transcripts(cf, cid, world["ctrl_file"], "control-answers")
    yield cf, cid, ids
    cf.close()


def _inputs(ids: dict[str, int], suspect: str = "protected", **kw) -> CheckInputs:
    # The protected model itself plays the suspect: a model that produced the protected answers.
    return CheckInputs(
        ids[suspect], (ids["ref1"], ids["ref2"]), ids["prot_set"], ids["ctrl_set"], **kw
    )


def test_cli_and_runner_agree_on_the_check_names() -> None:
    args = build_parser().parse_args(
        ["check", "--suspect", "s", "--reference", "r", "--protected-transcripts", "p"]
        + ["--json", "out.json"]
    )
    assert str(args.checks) == ",".join(check_names()) and CheckSettings().checks == check_names()


def test_a_run_stores_results_findings_and_audit(case, fast) -> None:
    cf, cid, ids = case
    rep = run_checks(
        cf,
        cid,
        _inputs(ids, protected_model_id=ids["protected"], base_model_id=ids["protected"]),
        fast,
    )
    out = rep.to_json()
    assert list(out["checks"]) == list(check_names())
    for key, c in out["checks"].items():
        assert {
            "name",
            "question",
            "statistic",
            "effect_size",
            "ci",
            "p_value",
            "n_probes",
            "n_references",
            "verdict",
            "reason",
        } <= set(c), key
        assert c["verdict"] in (
            ("consistent with derivation", "no evidence of derivation", "declined")
            if key == "lineage"  # its own scale: it never speaks of Hp or Hd
            else ("supports Hp", "inconclusive", "declined")
        )
    lin = out["checks"]["lineage"]
    assert lin["verdict"] == "consistent with derivation"  # the suspect *is* the base here
    assert "Hp" not in lin["reason"] + lin["strength"] and "≤" in lin["reason"]
    assert out["checks"]["distribution"]["verdict"] == "supports Hp"  # and the protected model
    assert (
        out["checks"]["likelihood"]["n_probes"] == 12
        and out["checks"]["likelihood"]["n_references"] == 2
    )
    assert "lineage" in out["combined"]["excluded"] and "lineage" not in out["combined"]["raw"]
    assert out["combined"]["limit"].startswith("No detection does not show independence")
    json.dumps(out, allow_nan=False)
    with cf.read_session() as s:
        run = s.get(Run, rep.run_id)
        assert run.status == "done" and run.kind == "check" and run.seed == 3
        assert run.parameters["template"] == "User: {prompt}\nAssistant:"
        assert run.parameters["identity_suite"]["version"] == "identity_v1"
        assert run.parameters["identity_suite"]["questions"] == 10
        assert len(run.parameters["identity_suite"]["sha256"]) == 64
        assert (
            "learned_phrases" in run.parameters and run.parameters["probes_matched_by"] == "prompt"
        )
        assert (
            run.inputs["suspect"]["manifest_sha256"]
            and run.inputs["protected_answers"]["file_sha256"]
        )
        assert run.software["numpy"] and set(run.summary["partial"]) >= {"likelihood", "identity"}
        metrics = [
            r.metric for r in s.execute(select(Result).where(Result.run_id == rep.run_id)).scalars()
        ]
        assert metrics.count("likelihood.vs_reference") == 2 and "combined.holm" in metrics
        per_ref = (
            s.execute(select(Result).where(Result.metric == "likelihood.vs_reference"))
            .scalars()
            .first()
        )
        assert len(per_ref.details["per_probe"]) == 12
        findings = s.execute(select(Finding)).scalars().all()
        assert len(findings) == len(rep.finding_ids) >= 2 and all(
            f.status == "draft" for f in findings
        )
        assert {fr.run_id for fr in s.execute(select(FindingRun)).scalars()} == {rep.run_id}
        for f in findings:
            assert not FORBIDDEN.search(f.statement), f.statement
            if "Weight lineage" not in f.statement:
                assert "not the chance that Hp is true" in f.statement
                assert "derived from" not in f.statement
            else:  # the weight check's own scale, with its own meaning of p
                assert "Hp" not in f.statement and "Hd" not in f.statement
                assert "not the chance that the suspect was derived" in f.statement
        assert verify_chain(s).ok


def test_same_inputs_and_seed_give_identical_numbers_and_reuse_is_exact(case, fast) -> None:
    cf, cid, ids = case
    settings = replace(fast, checks=("likelihood", "similarity", "identity"), seed=11)
    fresh = run_checks(cf, cid, _inputs(ids), replace(settings, reuse_measurements=False)).to_json()
    again = run_checks(
        cf, cid, _inputs(ids), settings
    ).to_json()  # measures again, keeps the values
    assert again["checks"] == fresh["checks"]
    reused = run_checks(cf, cid, _inputs(ids), settings)
    assert reused.to_json()["checks"] == fresh["checks"]
    with cf.read_session() as s:
        summary = s.get(Run, reused.run_id).summary
    assert len(summary["reused_measurements"]) == 9  # 3 checks x 3 models, none recomputed


class _CancelAfterFirstModel(JobState):
    """Presses Cancel as soon as the first model's per-probe values are handed over."""

    def on_partial_result(self, value: object) -> None:
        self.cancel()


def test_cancel_keeps_partial_per_probe_results(case, fast) -> None:
    cf, cid, ids = case
    settings = replace(fast, checks=("likelihood",), reuse_measurements=False)
    with pytest.raises(Cancelled):
        run_checks(cf, cid, _inputs(ids), settings, _CancelAfterFirstModel())
    with cf.read_session() as s:
        run = s.execute(select(Run).order_by(Run.id.desc())).scalars().first()
        assert run.status == "cancelled"
        partial = run.summary["partial"]["likelihood"]
        assert list(partial) == ["protected"]  # the suspect was scored, then the user cancelled
        assert len(partial["protected"]["probe_ids"]) == 12
        assert all(v is not None for v in partial["protected"]["affinity"])
        assert not s.execute(select(Result).where(Result.run_id == run.id)).scalars().all()


def test_distribution_declines_for_a_suspect_with_another_tokenizer(case, fast) -> None:
    cf, cid, ids = case
    settings = replace(fast, checks=("distribution", "lineage"))
    rep = run_checks(
        cf, cid, _inputs(ids, suspect="other_tok", protected_model_id=ids["protected"]), settings
    )
    d = rep.results["distribution"]
    assert d.verdict == "declined" and "different tokenizer" in d.reason
    assert (
        rep.results["lineage"].verdict == "declined"
        and "--base-model" in rep.results["lineage"].reason
    )
    assert rep.combined.not_tested == ("distribution",)


def test_checks_decline_without_references_or_names(case, fast) -> None:
    cf, cid, ids = case
    settings = replace(
        fast, checks=("likelihood", "identity"), protected_names=(), learn_phrases=False
    )
    rep = run_checks(
        cf, cid, CheckInputs(ids["protected"], (), ids["prot_set"], ids["ctrl_set"]), settings
    )
    assert (
        rep.results["likelihood"].verdict == "declined"
        and "reference" in rep.results["likelihood"].reason
    )
    assert rep.results["identity"].verdict == "declined"
    assert rep.combined.statement.startswith("not assessed") and rep.combined.p_family is None


def test_the_default_seed_is_derived_from_the_evidence_and_recorded(case, fast) -> None:
    cf, cid, ids = case
    settings = replace(fast, checks=("likelihood",), seed=None)
    rep = run_checks(cf, cid, _inputs(ids), settings)
    with cf.read_session() as s:
        run = s.get(Run, rep.run_id)
        assert run.parameters["seed_rule"].startswith("derived from the evidence hashes")
        assert run.seed == run.parameters["seed"] == derive_seed(run.inputs, settings)
    assert rep.results["likelihood"].seed == run.seed
    again = run_checks(cf, cid, _inputs(ids), settings)
    assert again.parameters["seed"] == rep.parameters["seed"]  # same evidence, same seed
    other = derive_seed(run.inputs, replace(settings, alpha=0.01))
    assert other != run.seed  # the settings take part
    assert derive_seed(run.inputs, replace(settings, num_threads=3)) == run.seed
    given = run_checks(cf, cid, _inputs(ids), replace(settings, seed=7))
    assert given.parameters["seed"] == 7 and given.parameters["seed_rule"] == "given by the user"
    assert rep.parameters["n_tests"] == 1 and rep.parameters["probe_subset"] is None


def test_cli_check_without_a_case_file(world, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out" / "result.json"
    code = main(
        [
            "--quiet",
            "check",
            "--suspect",
            str(world["protected"]),
            "--reference",
            str(world["ref1"]),
            "--reference",
            str(world["ref2"]),
            "--protected-transcripts",
            str(world["prot_file"]),
            "--control-answers",
            str(world["ctrl_file"]),
            "--protected-names",
            "Lumen,Halcyon Labs",
            "--checks",
            "likelihood,identity",
            "--seed",
            "5",
            "--resamples",
            "999",
            "--identity-suite",
            str(world["suite"]),
            "--json",
            str(out),
        ]
    )
    assert code == 0
    data = json.loads(out.read_text())
    assert set(data["checks"]) == {"likelihood", "identity"} and data["case_file"] is None
    assert data["checks"]["likelihood"]["n_probes"] == 12
    assert "Combined:" in capsys.readouterr().out


def test_cli_check_into_a_case_file_reuses_models(world, tmp_path: Path) -> None:
    db, out = tmp_path / "kept.dacase", tmp_path / "r.json"
    args = [
        "--quiet",
        "check",
        "--suspect",
        str(world["protected"]),
        "--reference",
        str(world["ref1"]),
        "--protected-transcripts",
        str(world["prot_file"]),
        "--checks",
        "likelihood",
        "--resamples",
        "999",
        "--db",
        str(db),
        "--json",
        str(out),
    ]
    assert main(args) == 0
    first = json.loads(out.read_text())
    assert first["case_file"] == str(db.resolve())
    assert any("No control answers" in w for w in first["checks"]["likelihood"]["warnings"])
    assert main([*args, "--case", str(first["case_id"])]) == 0
    second = json.loads(out.read_text())
    assert second["inputs"]["suspect"]["artifact_id"] == first["inputs"]["suspect"]["artifact_id"]
    assert (
        main(
            [
                "--quiet",
                "check",
                "--suspect",
                "/nonexistent",
                "--reference",
                str(world["ref1"]),
                "--protected-transcripts",
                str(world["prot_file"]),
                "--json",
                str(out),
            ]
        )
        != 0
    )
