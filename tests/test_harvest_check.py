"""The harvest test end to end on real tiny models and real case files.

A student fine-tuned on the logged answers is detected; under Hd (a student distilled from
the same teacher on *other* samples, and an independent model) p is not small, and over
many seeded re-draws of which answer is "logged" the p-values are uniform (KS) with a
false-positive rate within alpha's binomial interval; excluded prompts carry their
reasons; regenerations from another model version are refused for those prompts; the CLI
routes (files, case file, --regenerate) run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats as sps
from sqlalchemy import select

from core.checks.harvest import harvest_check, score_harvest
from core.checks.harvest_pairing import HarvestPlan, pair_harvest
from core.checks.harvest_stats import rank_sum_null
from core.checks.regenerate import generate_regenerations
from core.checks.registry import get
from core.checks.runner import CheckInputs, CheckSettings, run_checks
from core.cli import main
from core.evidence.importer import import_model, import_transcripts
from core.store.audit import verify_chain
from core.store.cases import create_case
from core.store.db import open_case_file
from core.store.models import AuditEvent, Finding, TranscriptItem
from tests.conftest import write_jsonl
from tests.harvest_world import TEMPLATE, VERSION, build_world

K = 9


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build_world(tmp_path_factory.mktemp("harvest"), n=40, k=K)


@pytest.fixture
def case(tmp_path: Path, world: dict[str, Any]):
    with open_case_file(tmp_path / "case.dacase") as cf:
        case_id = create_case(cf, "Harvest", "H-1")
        ids = {
            name: import_model(cf, case_id, world[name], "suspect", name=name)
            for name in ("suspect", "other_party", "independent")
        }
        ids["teacher"] = import_model(cf, case_id, world["teacher"], "protected", name="teacher")
        ids["harvested"] = import_transcripts(
            cf, case_id, world["harvested"], "harvested-exchanges"
        )
        ids["regenerations"] = import_transcripts(
            cf, case_id, world["regenerations"], "regenerations"
        )
        yield cf, case_id, ids


def _run(cf, case_id, ids, suspect: str, **settings: Any):
    inputs = CheckInputs(
        ids[suspect],
        tuple(settings.pop("references", ())),
        None,
        harvested_id=ids["harvested"],
        regenerations_id=settings.pop("regenerations", ids["regenerations"]),
    )
    s = CheckSettings(**{"checks": ("harvest",), "harvest_min_regenerations": K, **settings})
    return run_checks(cf, case_id, inputs, s)


def test_a_student_of_the_logged_answers_is_detected_and_hd_models_are_not(case) -> None:
    cf, case_id, ids = case
    found = {}
    for name in ("suspect", "other_party", "independent"):
        report = _run(cf, case_id, ids, name)
        found[name] = r = report.results["harvest"]
        assert r.n_probes == 40 and r.details["k_values"] == [K]
        assert "N = 40" in r.reason and f"K = {K}" in r.reason
        assert sum(r.details["rank_histogram"]) == 40
    s = found["suspect"]
    assert s.verdict == "supports Hp" and s.p_value is not None and s.p_value < 1e-3
    assert s.details["top_share"] > s.details["expected_top_share"]
    assert s.effect_size is not None and s.ci is not None and s.ci[0] <= s.effect_size <= s.ci[1]
    for name in ("other_party", "independent"):
        r = found[name]
        assert r.verdict == "inconclusive" and r.p_value is not None and r.p_value > 0.05, name
    # A draft finding for the detected suspect, about the logged exchanges, and none otherwise.
    with cf.read_session() as ses:
        statements = [f.statement for f in ses.execute(select(Finding)).scalars()]
        assert verify_chain(ses).ok
    harvest = [t for t in statements if "Harvest test" in t]
    assert len(harvest) == 1 and "logged" in harvest[0] and "p = " in harvest[0]


def test_subtracting_a_reference_score_keeps_the_test_and_the_detection(case, world) -> None:
    cf, case_id, ids = case
    ref = import_model(cf, case_id, world["independent"], "reference", name="control-ref")
    report = _run(cf, case_id, ids, "suspect", references=(ref,), harvest_reference="control-ref")
    r = report.results["harvest"]
    assert r.verdict == "supports Hp" and r.n_references == 1
    assert r.details["harvest_reference"] == "control-ref" and "minus" in r.details["unit"]
    missing = _run(cf, case_id, ids, "suspect", harvest_reference="nobody")
    assert missing.results["harvest"].verdict == "declined"
    assert "not among this run's reference models" in missing.results["harvest"].reason


def test_regenerations_from_another_model_version_are_refused_for_those_prompts(
    case, world, tmp_path
) -> None:
    cf, case_id, ids = case
    records = [json.loads(line) for line in Path(world["regenerations"]).read_text().splitlines()]
    bad = {f"req-{i:04d}" for i in range(5)}
    for r in records:
        if r["request_id"] in bad and r["sample_index"] == 3:
            r["model_version"] = "teacher-2024-01"
        if r["request_id"] == "req-0005" and r["sample_index"] == 2:
            r["sampling"] = {**r["sampling"], "temperature": 0.7}
        if r["request_id"] == "req-0006" and r["sample_index"] > 4:
            r["request_id"] = "req-9999"  # names no logged exchange: orphan, too few left
    path = write_jsonl(tmp_path / "mixed.jsonl", records)
    regen = import_transcripts(cf, case_id, path, "regenerations")
    r = _run(cf, case_id, ids, "suspect", regenerations=regen).results["harvest"]
    by = r.details["excluded_by_reason"]
    assert by["version"] == 5 and by["sampling"] == 1 and by["too-few"] == 1
    assert r.n_probes == 33 and r.details["orphan_regenerations"] == K - 4
    reasons = {e["request_id"]: e["reason"] for e in r.details["excluded"]}
    assert "'teacher-2024-01'" in reasons["req-0000"] and repr(VERSION) in reasons["req-0000"]
    assert "refused" in reasons["req-0000"]
    assert any("7 of 40 logged prompts were left out" in w for w in r.warnings)
    assert r.verdict == "supports Hp"  # the other 33 prompts still show it


def test_without_the_two_sets_the_check_declines_with_its_reason(case) -> None:
    cf, case_id, ids = case
    inputs = CheckInputs(ids["suspect"], (), None, harvested_id=ids["harvested"])
    report = run_checks(cf, case_id, inputs, CheckSettings(checks=("harvest", "likelihood")))
    assert report.results["harvest"].verdict == "declined"
    assert "regenerations" in report.results["harvest"].reason
    assert "captured answers" in report.results["likelihood"].reason
    from core.checks.available import AvailableInputs

    assert get("harvest").fits(AvailableInputs(harvested=True, regenerations=True)) is None
    assert "--harvested" in (get("harvest").fits(AvailableInputs()) or "")


def _pool_scores(world: dict[str, Any], name: str) -> tuple[HarvestPlan, Any]:
    """The real pairing of the world's files, and one model's scores of the K+1 answers."""
    from core.backends.factory import load_model
    from core.checks.probes import TranscriptEntry
    from core.evidence.harvest_records import HarvestValidator
    from core.evidence.transcripts import read_transcripts

    def items(path: Path, role: str) -> list[TranscriptEntry]:
        check = HarvestValidator(role, path.name)
        return [
            TranscriptEntry(r.key, r.prompt, r.response, check(r)) for r in read_transcripts(path)
        ]

    plan = pair_harvest(
        items(world["harvested"], "harvested-exchanges"),
        items(world["regenerations"], "regenerations"),
        TEMPLATE,
        min_regenerations=K,
    )
    model = load_model(world[name], name=name)
    try:
        return plan, score_harvest(model, plan.groups, TEMPLATE.continuation)
    finally:
        model.release()


@pytest.mark.parametrize("name", ["other_party", "independent"])
def test_under_hd_the_p_values_are_uniform_and_the_false_positive_rate_is_alpha(
    world, name
) -> None:
    """Exchangeability made literal: which of the K+1 real answers is "logged" is drawn at
    random, again and again, and scored by a real model that never saw them."""
    from dataclasses import replace

    plan, scores = _pool_scores(world, name)
    assert len(plan.groups) >= 30  # duplicates among the K+1 (ties) are excluded by the pairing
    pmf, _ = rank_sum_null([g.k for g in plan.groups])
    below = np.concatenate([[0.0], np.cumsum(pmf)])  # below[t] = P(T < t)
    rng = np.random.default_rng(1)
    ps, randomised = [], []
    for rep in range(400):
        perms = [rng.permutation(g.k + 1) for g in plan.groups]
        groups = tuple(
            replace(g, answers=tuple(g.answers[j] for j in p))
            for g, p in zip(plan.groups, perms, strict=True)
        )
        shuffled = replace(scores, bpb=tuple(b[p] for b, p in zip(scores.bpb, perms, strict=True)))
        result = harvest_check(replace(plan, groups=groups), shuffled, seed=rep)
        assert result.details["ties"] == 0
        t = int(result.statistic or 0)
        assert result.p_value == pytest.approx(below[t + 1])
        ps.append(result.p_value)
        randomised.append(below[t] + rng.random() * pmf[t])  # exactly uniform under Hd
    assert sps.kstest(randomised, "uniform").pvalue > 0.01
    hits = int(np.sum(np.array(ps) <= 0.05))
    ci = sps.binomtest(hits, len(ps)).proportion_ci(0.95, "exact")
    assert ci.low <= 0.05  # the false-positive rate is alpha or below, within its interval
    assert hits / len(ps) <= 0.05 + 0.03


def test_regenerations_drawn_from_the_local_protected_model_are_evidence(
    case, world, tmp_path
) -> None:
    cf, case_id, ids = case
    with cf.read_session() as s:
        n_logged = len(
            s.execute(select(TranscriptItem).where(TranscriptItem.set_id == ids["harvested"]))
            .scalars()
            .all()
        )
    first = generate_regenerations(
        cf, case_id, ids["harvested"], ids["teacher"], 4, 7, out_dir=tmp_path / "a"
    )
    again = generate_regenerations(
        cf, case_id, ids["harvested"], ids["teacher"], 4, 7, out_dir=tmp_path / "b"
    )
    with cf.read_session() as s:
        items = (
            s.execute(select(TranscriptItem).where(TranscriptItem.set_id == first)).scalars().all()
        )
        assert len(items) == 4 * n_logged
        assert all(i.meta["model_version"] == VERSION and i.meta["request_id"] for i in items)
        from core.store.models import TranscriptSet

        sets = {t.id: t for t in s.execute(select(TranscriptSet)).scalars()}
        assert sets[first].role == "regenerations"
        assert sets[first].file_sha256 == sets[again].file_sha256  # same seed, same answers
        event = (
            s.execute(
                select(AuditEvent).where(AuditEvent.action == "evidence.regenerations_generated")
            )
            .scalars()
            .first()
        )
        assert event is not None and event.details["seed"] == 7 and event.details["k"] == 4
        assert event.details["protected_model"]["manifest_sha256"]
        assert verify_chain(s).ok
    r = _run(cf, case_id, ids, "suspect", regenerations=first, harvest_min_regenerations=4)
    assert r.results["harvest"].details["k_values"] == [4]
    assert r.results["harvest"].verdict == "supports Hp"


def test_the_cli_runs_the_harvest_test_from_files_a_case_file_and_by_regenerating(
    world, tmp_path
) -> None:
    out = tmp_path / "out.json"
    base = ["--quiet", "check", "--checks", "harvest", "--suspect", str(world["suspect"])]
    files = ["--harvested", str(world["harvested"]), "--regenerations", str(world["regenerations"])]
    assert main([*base, *files, "--min-regenerations", str(K), "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    h = data["checks"]["harvest"]
    assert h["verdict"] == "supports Hp" and h["n_probes"] == 40
    assert data["inputs"]["harvested_exchanges"]["file_sha256"]
    assert data["inputs"]["regenerations"]["items"] == 40 * K
    db = tmp_path / "cli.dacase"
    args = [*base, "--harvested", str(world["harvested"]), "--protected-model"]
    args += [str(world["teacher"]), "--regenerate", "3", "--db", str(db), "--json", str(out)]
    assert main(args) == 0
    data = json.loads(out.read_text())
    assert data["checks"]["harvest"]["details"]["k_values"] == [3]
    assert data["case_file"] == str(db.resolve())
    # Without the harvested exchanges (and no probes) the CLI says what to give.
    assert main([*base, "--json", str(out)]) != 0


def test_the_report_json_and_csv_carry_the_harvest_result(case, tmp_path) -> None:
    import csv
    import re

    from pypdf import PdfReader

    from core.reports.export import export_report

    cf, case_id, ids = case
    r = _run(cf, case_id, ids, "suspect").results["harvest"]
    out = export_report(
        cf, case_id, tmp_path / "report.pdf", json_path=tmp_path / "r.json", csv_dir=tmp_path
    )
    assert out.json_path is not None
    bundle = json.loads(Path(out.json_path).read_text())
    (check,) = [c for c in bundle["content"]["checks"] if c["key"] == "harvest"]
    assert check["p_value"] == pytest.approx(r.p_value)
    assert check["details"]["rank_histogram"] == list(r.details["rank_histogram"])
    jsonschema = pytest.importorskip("jsonschema")
    from core.reports.bundle import load_schema

    jsonschema.Draft202012Validator(load_schema()).validate(bundle)
    rows = list(csv.DictReader((tmp_path / "results.csv").read_text("utf-8-sig").splitlines()))
    (row,) = [x for x in rows if x["metric"] == "harvest.summary"]
    assert float(row["p_value"]) == pytest.approx(r.p_value, rel=1e-6) and row["n"] == "40"
    text = " ".join(
        re.sub(r"\s+", " ", p.extract_text() or "") for p in PdfReader(out.pdf_path).pages
    )
    assert "logged prompts by the rank of the logged answer" in text
    assert f"N = 40 logged prompts, K = {K}" in text
