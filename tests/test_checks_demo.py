"""The checks on the demonstration world (resources/demo), whose lineage is known.

Ground truth (resources/demo/lineage.json): suspect-osprey was fine-tuned on the protected
model's harvested answers; clean-osprey is the same base fine-tuned on human answers; the
three reference vendors never saw a protected output. Claims checked here:

* the distilled suspect is flagged (p <= 0.01) by the likelihood and identity checks with
  the full reference panel; the likelihood check's p is the model-level test's (the
  suspect against the spread of the 3 references), and the family-wise p reaches alpha;
* the clean model is not (p > 0.01) with the full panel, and no draft finding is proposed;
* (slow) each reference model, taken as the suspect with the other references as its
  panel, is not flagged either.

The case file is built once per session from the demo's own files, through the importer.
``DISTILL_AUDIT_DEMO`` may point at another build of the world (e.g. a ``--quick`` one).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from core.checks.runner import CheckInputs, CheckSettings, run_checks
from core.resources import resource_path

DEMO = Path(os.environ.get("DISTILL_AUDIT_DEMO") or resource_path("demo"))
pytestmark = [
    pytest.mark.skipif(
        not (DEMO / "lineage.json").is_file(),
        reason="the demo world is not built (resources/demo/lineage.json)",
    ),
    # Every test scores the same reference panel: measured once, reused as a re-run would.
    pytest.mark.shares_measurements,
]
FLAG = 0.01
ROLES = {
    "protected": "protected",
    "base": "base",
    "suspect": "suspect",
    "clean-control": "suspect",
    "reference": "reference",
}


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from core.evidence.importer import import_model, import_transcripts
    from core.store.cases import create_case
    from core.store.db import open_case_file

    lineage = json.loads((DEMO / "lineage.json").read_text(encoding="utf-8"))
    cf = open_case_file(tmp_path_factory.mktemp("demo") / "demo.dacase")
    cid = create_case(cf, "Halcyon Labs v Quillmark AI (demo)", "DEMO-CHECKS")
    ids = {
        name: import_model(
            cf, cid, DEMO / info["path"], ROLES.get(info["role"], "reference"), name=name
        )
        for name, info in lineage["models"].items()
    }
    t = lineage["transcripts"]
    sets = {
        "protected": import_transcripts(
            cf, cid, DEMO / t["protected_probe_answers"], "protected-answers"
        ),
        "control": import_transcripts(cf, cid, DEMO / t["human_probe_answers"], "control-answers"),
    }
    refs = [n for n, i in lineage["models"].items() if i["role"] == "reference"]
    tmpl = lineage["chat_template"]
    settings = CheckSettings(
        checks=("likelihood", "identity"),
        seed=20250902,
        template=tmpl["prompt"],
        response_prefix=tmpl.get("response_prefix", " "),
        protected_names=("Lumen", "Halcyon Labs", "Halcyon"),
    )
    yield {
        "cf": cf,
        "case": cid,
        "ids": ids,
        "sets": sets,
        "refs": refs,
        "settings": settings,
        "lineage": lineage,
    }
    cf.close()


def _run(demo: dict[str, Any], suspect: str, panel: list[str]):
    ids = demo["ids"]
    inputs = CheckInputs(
        ids[suspect],
        tuple(ids[r] for r in panel),
        demo["sets"]["protected"],
        demo["sets"]["control"],
    )
    report = run_checks(demo["cf"], demo["case"], inputs, demo["settings"])
    figures = {k: (r.p_text(), r.effect_size, r.verdict) for k, r in report.results.items()}
    print(
        f"\n{suspect} vs {panel}: "
        + ", ".join(f"{k} p = {p} (effect {e:.3g}, {v})" for k, (p, e, v) in figures.items())
        + f"; {report.combined.statement}"
    )
    return report


def test_distilled_suspect_is_flagged_with_the_full_panel(demo) -> None:
    suspect = demo["lineage"]["ground_truth"]["distilled"][0]
    report = _run(demo, suspect, demo["refs"])
    for key in ("likelihood", "identity"):
        r = report.results[key]
        assert r.n_references == len(demo["refs"]) == 3
        assert r.p_value <= FLAG and r.verdict == "supports Hp", (key, r.p_value, r.reason)
    like = report.results["likelihood"]
    assert like.model_level is not None and like.p_value == like.model_level["p_value"]
    assert like.ci[0] <= like.effect_size <= like.ci[1]  # the difference in its own interval
    assert report.combined.supporting and report.finding_ids
    assert report.combined.p_family <= 0.05
    assert report.parameters["seed_rule"] == "given by the user"


def test_clean_model_is_not_flagged(demo) -> None:
    report = _run(demo, "clean-osprey", demo["refs"])
    for key in ("likelihood", "identity"):
        assert report.results[key].p_value > FLAG, (key, report.results[key].reason)
    assert not report.combined.supporting and not report.finding_ids


@pytest.mark.slow
@pytest.mark.parametrize("left_out", ["ref-a-wren", "ref-b-tern", "ref-c-kestrel"])
def test_each_reference_left_out_of_the_panel_is_not_flagged(demo, left_out: str) -> None:
    panel = [r for r in demo["refs"] if r != left_out]
    report = _run(demo, left_out, panel)
    for key in ("likelihood", "identity"):
        assert report.results[key].p_value > FLAG, (key, report.results[key].reason)


@pytest.mark.slow  # two runs of the demo panel (fast version: tests/test_backends_realshapes.py)
def test_bfloat16_gives_the_float32_verdicts_on_the_demo(demo) -> None:
    """Reduced precision: per-probe score differences stay small and the verdicts agree."""
    from dataclasses import replace

    ids = demo["ids"]
    suspect = demo["lineage"]["ground_truth"]["distilled"][0]
    inputs = CheckInputs(
        ids[suspect],
        tuple(ids[r] for r in demo["refs"]),
        demo["sets"]["protected"],
        demo["sets"]["control"],
    )
    results = {}
    for dtype in ("float32", "bfloat16"):
        settings = replace(demo["settings"], checks=("likelihood",), dtype=dtype)
        report = run_checks(demo["cf"], demo["case"], inputs, settings)
        assert report.parameters["model_loading"][suspect]["dtype"] == dtype
        results[dtype] = report.results["likelihood"]
    full, half = results["float32"], results["bfloat16"]
    assert half.verdict == full.verdict == "supports Hp"
    assert abs(half.p_value - full.p_value) < 0.01, (full.p_value, half.p_value)
    diffs = [  # per probe, per value (affinity, …), per model: float32 minus bfloat16
        abs(a.values[name][model] - b.values[name][model])
        for a, b in zip(full.probe_details, half.probe_details, strict=True)
        for name in a.values
        for model in a.values[name]
    ]
    assert diffs and max(diffs) < 0.1, max(diffs)
    print(
        f"\nbfloat16 vs float32: {len(diffs)} per-probe values, largest difference "
        f"{max(diffs):.4f}; verdicts {full.verdict!r} / {half.verdict!r}"
    )
