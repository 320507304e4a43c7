"""The check registry: a check registered once is picked up by the runner, the CLI, the wizard
and the report with no other edit; and the list of check names is written in one place.

The throw-away check here ("answer length") is small but real: each model answers the probe
prompts, and the suspect's answer lengths are compared with the protected answers' lengths
against each reference model by the same paired sign-flip test the shipped checks use.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from core.backends.base import LanguageModel
from core.checks import registry
from core.checks.available import (
    AvailableInputs,
    first_problem,
    needs_probes,
    needs_protected_answers,
    needs_references,
)
from core.checks.evidence import ModelRef
from core.checks.framework import CheckResult, CheckSpec
from core.checks.paired import compare_with_panel
from core.checks.plugin import Check, CheckData, Keep, RunContext
from core.checks.probes import Probe
from core.checks.runner import CheckInputs, CheckSettings, run_checks
from core.checks.similarity import GeneratedAnswers, generate_answers
from core.cli import build_parser, main
from core.errors import DistillAuditError
from core.evidence.importer import import_model, import_transcripts
from core.jobs import JobState
from core.reports.analyses import check_records
from core.store.cases import create_case
from core.store.db import open_case_file
from core.store.models import Result, Run
from tests.gui import fixtures as gui_fixtures
from tests.gui.fixtures import demo_world, needs_demo, wait_page
from tests.gui.fixtures import no_dangling_threads as _thread_check

no_dangling_threads = _thread_check  # autouse: fails a test that leaves a thread running

demo_case_master = gui_fixtures.demo_case_master
demo_window = gui_fixtures.demo_window

ROOT = Path(__file__).resolve().parents[1]
MIN_PROBES = 10

# --- the throw-away check --------------------------------------------------------------------

SPEC = CheckSpec(
    key="answer_length",
    title="Answer length (test check)",
    question="Are the suspect's answers closer in length to the protected model's answers than "
    "independent reference models' answers are?",
    access="text",
    null_hypothesis="On each probe, how close the suspect's answer length is to the protected "
    "answer's is exchangeable with each reference model's.",
    alternative="The suspect's answer lengths are closer to the protected answers' than every "
    "reference model's.",
    test="Paired sign-flip permutation test of minus the absolute length difference against "
    "each reference; intersection-union over the references.",
    minimum_inputs=f"At least {MIN_PROBES} probes and 1 reference model that can generate text.",
    can_show="Can show that the suspect answers at the protected model's length; cannot show "
    "anything about what it says.",
    uses_probes=True,
    inputs=("references", "protected_answers"),
    effect_name="Cohen's d_z of the per-probe differences",
)


def fits(available: AvailableInputs) -> str | None:
    return first_problem(
        needs_protected_answers(available),
        needs_probes(available, MIN_PROBES),
        needs_references(available),
    )


def measure(
    ctx: RunContext,
    data: CheckData,
    model: LanguageModel,
    ref: ModelRef,
    state: JobState,
    keep: Keep,
) -> GeneratedAnswers:
    return generate_answers(
        model,
        ctx.probes,
        ctx.template,
        seed=ctx.settings.seed,
        max_new_tokens=ctx.settings.max_new_tokens,
        state=state,
        on_chunk=lambda done, part: keep(part.to_dict()),
    )


def cache_parts(ctx: RunContext, data: CheckData) -> dict[str, Any]:
    s = ctx.settings
    return {
        "seed": s.seed,
        "max_new_tokens": s.max_new_tokens,
        "probes": [(p.probe_id, p.prompt) for p in ctx.probes],
    }


def closeness(answers: GeneratedAnswers, probes: Sequence[Probe]) -> np.ndarray:
    """Minus the absolute difference in characters from the protected answer, per probe."""
    return -np.abs(
        np.array([len(a) - len(p.protected) for a, p in zip(answers.answers, probes, strict=True)])
    ).astype(np.float64)


def length_check(
    suspect: GeneratedAnswers,
    references: dict[str, GeneratedAnswers],
    probes: Sequence[Probe],
    *,
    seed: int,
    alpha: float = 0.05,
    n_resamples: int = 2000,
) -> CheckResult:
    return compare_with_panel(
        SPEC,
        closeness(suspect, probes),
        {k: closeness(v, probes) for k, v in references.items()},
        probe_ids=suspect.probe_ids,
        seed=seed,
        alpha=alpha,
        n_resamples=n_resamples,
        min_probes=MIN_PROBES,
        value_name="minus_length_difference",
    )


def evaluate(ctx: RunContext, data: CheckData, state: JobState) -> CheckResult:
    return length_check(data.suspect(ctx), data.references(ctx), ctx.probes, **ctx.common())


ANSWER_LENGTH = Check(SPEC, fits=fits, evaluate=evaluate, measure=measure, cache_parts=cache_parts)


@pytest.fixture
def answer_length() -> Iterator[Check]:
    with registry.registered(ANSWER_LENGTH):
        yield ANSWER_LENGTH
    assert "answer_length" not in registry.CHECKS


# --- the check itself can pass and fail --------------------------------------------------------


def _answers(name: str, texts: Sequence[str]) -> GeneratedAnswers:
    return GeneratedAnswers(name, tuple(f"p{i}" for i in range(len(texts))), tuple(texts))


def test_the_throwaway_check_can_support_hp_and_be_inconclusive() -> None:
    probes = [Probe(f"p{i}", f"Q{i}?", "x" * (10 + 7 * i), None) for i in range(16)]
    like = _answers("suspect", ["y" * (10 + 7 * i) for i in range(16)])
    off = {
        "ref1": _answers("ref1", ["z" * (40 + 3 * i) for i in range(16)]),
        "ref2": _answers("ref2", ["z" * (42 + 3 * i) for i in range(16)]),
        "ref3": _answers("ref3", ["z" * (38 + 3 * i) for i in range(16)]),
    }
    supports = length_check(like, off, probes, seed=1)  # far outside the references' spread
    assert supports.verdict == "supports Hp" and supports.n_references == 3
    reverse = length_check(
        off["ref1"], {"ref1": like, "ref2": off["ref2"], "ref3": off["ref3"]}, probes, seed=1
    )
    assert reverse.verdict == "inconclusive"
    assert fits(AvailableInputs(references=2, protected_answers=True)) is None
    assert "at least 10" in (fits(AvailableInputs(2, True, probes=4)) or "")


# --- registration -----------------------------------------------------------------------------


def test_registering_lists_the_check_everywhere_and_unregistering_removes_it(answer_length):
    assert registry.check_names()[-1] == "answer_length"
    assert (
        "answer_length" in registry.hp_checks() and registry.get("answer_length") is answer_length
    )
    assert registry.SPECS["answer_length"] is SPEC
    assert CheckSettings().checks == registry.check_names()  # the default: every check
    with pytest.raises(ValueError, match="already registered"):
        registry.register(answer_length)
    unregister = registry.register(
        Check(
            CheckSpec("tmp", "t", "q", "text", "h0", "h1", "test", "inputs"),
            fits=fits,
            evaluate=evaluate,
            measure=measure,
        )
    )
    assert "tmp" in registry.check_names()
    unregister()
    assert "tmp" not in registry.check_names()
    with pytest.raises(DistillAuditError, match="Unknown check"):
        registry.get("tmp")


def test_a_check_must_state_what_it_needs() -> None:
    with pytest.raises(ValueError, match="measure"):
        Check(SPEC, fits=fits, evaluate=evaluate)  # model passes, but nothing to measure
    with pytest.raises(ValueError, match="inputs"):
        CheckSpec("k", "t", "q", "text", "h0", "h1", "test", "in", inputs=("weights_file",))
    with pytest.raises(ValueError, match="not_hp_reason"):
        CheckSpec("k", "t", "q", "text", "h0", "h1", "test", "in", addresses_hp=False)


# --- the runner and the CLI pick it up -----------------------------------------------------------


def _demo(*parts: str) -> str:
    return str(demo_world().joinpath(*parts))


@pytest.fixture
def demo_case(tmp_path: Path):
    cf = open_case_file(tmp_path / "case.dacase")
    cid = create_case(cf, "Halcyon Labs v Quillmark AI", "DA-REG-1")
    ids = {
        name: import_model(cf, cid, _demo("models", name), role)
        for name, role in (
            ("suspect-osprey", "suspect"),
            ("ref-a-wren", "reference"),
            ("ref-b-tern", "reference"),
        )
    }
    prot = import_transcripts(
        cf, cid, _demo("transcripts", "protected_probe_answers.jsonl"), "protected-answers"
    )
    ctrl = import_transcripts(
        cf, cid, _demo("transcripts", "human_probe_answers.jsonl"), "control-answers"
    )
    yield cf, cid, ids, prot, ctrl
    cf.close()


FAST = CheckSettings(max_probes=12, n_resamples=999, max_new_tokens=24, seed=2)


@needs_demo
def test_the_runner_runs_a_registered_check_and_declines_it_for_the_same_reason_as_fits(
    answer_length, demo_case
) -> None:
    cf, cid, ids, prot, ctrl = demo_case
    refs = (ids["ref-a-wren"], ids["ref-b-tern"])
    settings = replace(FAST, checks=("answer_length", "likelihood"))
    rep = run_checks(cf, cid, CheckInputs(ids["suspect-osprey"], refs, prot, ctrl), settings)
    assert list(rep.results) == ["likelihood", "answer_length"]  # registry order
    res = rep.results["answer_length"]
    assert res.verdict in ("supports Hp", "inconclusive") and res.n_probes == 12
    assert res.n_references == 2 and res.p_value is not None
    assert set(rep.combined.raw) == {"likelihood", "answer_length"}  # it addresses Hp
    out = rep.to_json()
    assert out["checks"]["answer_length"]["title"] == SPEC.title
    json.dumps(out, allow_nan=False)
    with cf.read_session() as s:
        metrics = {r.metric for r in s.execute(select(Result)).scalars()}
        assert {"answer_length.summary", "answer_length.vs_reference"} <= metrics
    with cf.read_session() as s:
        records = check_records(s.get(Run, rep.run_id), lambda kind, key: None)
    assert [r.key for r in records] == ["likelihood", "answer_length"]  # the report's order

    alone = replace(FAST, checks=("answer_length",))
    lone = run_checks(cf, cid, CheckInputs(ids["suspect-osprey"], (), prot, ctrl), alone)
    expected = fits(AvailableInputs(references=0, protected_answers=True, probes=12))
    assert lone.results["answer_length"].verdict == "declined"
    assert lone.results["answer_length"].reason == expected


@needs_demo
def test_the_cli_offers_and_runs_a_registered_check(answer_length, tmp_path: Path) -> None:
    args = build_parser().parse_args(
        ["check", "--suspect", "s", "--reference", "r", "--protected-transcripts", "p"]
        + ["--json", "o.json"]
    )
    assert str(args.checks).split(",") == list(registry.check_names())
    out = tmp_path / "out.json"
    code = main(
        [
            "--quiet",
            "check",
            "--suspect",
            _demo("models", "suspect-osprey"),
            "--reference",
            _demo("models", "ref-a-wren"),
            "--reference",
            _demo("models", "ref-b-tern"),
            "--protected-transcripts",
            _demo("transcripts", "protected_probe_answers.jsonl"),
            "--checks",
            "answer_length",
            "--max-probes",
            "12",
            "--resamples",
            "999",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    data = json.loads(out.read_text())
    assert list(data["checks"]) == ["answer_length"]
    assert data["checks"]["answer_length"]["n_probes"] == 12
    assert data["combined"]["raw"].keys() == {"answer_length"}


# --- the wizard offers it, with its sentence and its reason --------------------------------------


@needs_demo
def test_the_check_wizard_offers_a_registered_check(answer_length, demo_window, qtbot) -> None:
    wizard = demo_window.analysis.run_check()
    wait_page(wizard, wizard.question_page, qtbot)
    wizard.next()
    ev = wizard.evidence
    ids = ev.reference_ids()
    wizard.next()
    page = wizard.checks_page
    outputs = ["likelihood", "identity", "similarity", "distribution", "harvest"]
    assert list(page.boxes) == [*outputs, SPEC.key]
    box, note = page.boxes[SPEC.key], page.notes[SPEC.key]
    assert box.isEnabled() and box.isChecked() and SPEC.title in box.text()
    assert note.text() == SPEC.can_show
    wizard.back()
    ev.set_references([])
    wizard.next()
    box, note = page.boxes[SPEC.key], page.notes[SPEC.key]
    reason = fits(ev.available())
    assert reason and reason.startswith("No reference models were given")
    assert not box.isEnabled() and note.text() == f"{SPEC.can_show} Not available. {reason}"
    wizard.back()
    ev.set_references(list(ids))
    wizard.next()
    for key, b in page.boxes.items():
        b.setChecked(key == SPEC.key)
    assert page.chosen() == (SPEC.key,)
    wizard.next()  # the settings page counts it in the Holm family (it addresses Hp)
    assert wizard.context is not None and wizard.context.hp_count(page.chosen()) == 1
    wizard.reject()


# --- the names are written once ---------------------------------------------------------------


def _literals_naming_checks(tree: ast.AST, names: set[str]) -> list[int]:
    """Lines of tuple/list/set literals (or dict keys) naming three or more checks."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            items: list[ast.expr | None] = list(node.elts)
        elif isinstance(node, ast.Dict):
            items = list(node.keys)
        else:
            continue
        strings = {i.value for i in items if isinstance(i, ast.Constant)}
        if len(strings & names) >= 3:
            lines.append(node.lineno)
    return lines


def test_the_check_names_are_written_in_one_place() -> None:
    names = set(registry.check_names())
    found = {}
    for package in ("core", "app"):
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            lines = _literals_naming_checks(tree, names)
            if lines:
                found[str(path.relative_to(ROOT))] = lines
    assert found == {}, f"check names listed outside the registry: {found}"
    source = (ROOT / "core" / "checks" / "registry.py").read_text(encoding="utf-8")
    assert all(f"{k}.CHECK" in source for k in names)  # the one place: the registry's order


def test_the_wizard_derives_its_checks_and_evidence_rows_from_the_registry() -> None:
    from app.wizards.check_context import QUESTIONS, CheckContext
    from core.checks.framework import QUESTION_KEYS

    assert tuple(q.key for q in QUESTIONS) == QUESTION_KEYS
    ctx = CheckContext([], [], checks=dict(registry.CHECKS))
    by_key = {q.key: q for q in QUESTIONS}
    assert [c.key for c in ctx.checks_for(by_key["outputs"])] == list(registry.hp_checks())
    assert [c.key for c in ctx.checks_for(by_key["weights"])] == ["lineage"]
    assert [c.key for c in ctx.checks_for(by_key["same"])] == ["distribution", "lineage"]
    common = {"suspect", "protected_answers"}
    assert ctx.evidence_rows(by_key["outputs"]) == common | {
        "references",
        "control_answers",
        "protected_model",
        "names",
        "harvested",
        "regenerations",
    }
    assert ctx.evidence_rows(by_key["weights"]) == common | {"base_model"}
    assert ctx.evidence_rows(by_key["same"]) == common | {
        "references",
        "control_answers",
        "base_model",  # the protected model is chosen there for this question
    }
    assert ctx.hp_count(["likelihood", "lineage", "identity"]) == 2
    gui = AvailableInputs(references=2, protected_answers=True, hints={"base_model": "tick it"})
    assert ctx.fit_problem("lineage", gui) == (
        "The weight-lineage check needs the base model the suspect may be derived from: tick it."
    )
    assert "give --base-model" in (ctx.fit_problem("lineage", AvailableInputs()) or "")
