"""The harvest test's scoring throughput: K+1 answers per prompt, batched vs one at a time.

The same texts (each logged answer and its K regenerations, after the same context) are
scored twice in one run with the same model: (a) through the check's batched path
(:func:`core.checks.harvest.score_harvest`: whole prompts per ``model.score`` call, length-
bucketed by the backend), and (b) one text per ``model.score`` call. The two must give the
same bits per byte; the benchmark prints texts/s of each and the ratio.

Model: the demo's suspect when ``resources/demo`` is built (``DISTILL_AUDIT_DEMO`` may point
at another build), else a tiny GPT-2 built here. Texts: the demo's harvest files when they
are shipped (``transcripts/halcyon_harvest_log.jsonl`` and ``lumen_regenerations.jsonl``),
else the demo's protected answers with shuffled siblings. ``BENCH_PROMPTS`` (default 12)
and ``BENCH_K`` (default 19) set the size. Run with ``make bench`` or
``.venv/bin/python -m pytest tests/benchmarks/bench_harvest.py -m bench -s``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from core.checks.harvest import score_harvest
from core.checks.harvest_pairing import HarvestGroup
from core.checks.likelihood import _bpb
from core.checks.probes import ChatTemplate
from core.resources import resource_path

DEMO = Path(os.environ.get("DISTILL_AUDIT_DEMO") or resource_path("demo"))
TEMPLATE = ChatTemplate()


def _rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def _groups(n: int, k: int) -> list[HarvestGroup]:
    log = DEMO / "transcripts" / "halcyon_harvest_log.jsonl"
    regen = DEMO / "transcripts" / "lumen_regenerations.jsonl"
    if log.is_file() and regen.is_file():
        regens: dict[str, list[str]] = {}
        for r in _rows(regen):
            regens.setdefault(str(r["request_id"]), []).append(str(r["response"]))
        return [
            HarvestGroup(
                str(h["request_id"]),
                str(h["request_id"]),
                TEMPLATE.context(str(h["prompt"])),
                (str(h["response"]), *regens.get(str(h["request_id"]), [])[:k]),
            )
            for h in _rows(log)[:n]
        ]
    path = DEMO / "transcripts" / "protected_probe_answers.jsonl"
    answers = (
        [str(r["response"]) for r in _rows(path)]
        if path.is_file()
        else [f"Answer number {i} about the quick brown fox." for i in range(64)]
    )
    rng = np.random.default_rng(0)
    return [
        HarvestGroup(
            f"p{i}",
            f"req-{i}",
            TEMPLATE.context(f"Question {i}?"),
            tuple(answers[j] for j in rng.choice(len(answers), size=k + 1)),
        )
        for i in range(n)
    ]


def _model(tmp_path: Path):
    from core.backends.factory import load_model

    suspect = DEMO / "models" / "suspect-osprey"
    if suspect.is_dir():
        return load_model(suspect, name="suspect-osprey")
    from tests.tinymodels import build_tiny_gpt2

    return load_model(build_tiny_gpt2(tmp_path / "tiny", seed=0), name="tiny")


@pytest.mark.bench
def test_harvest_scoring_batched_vs_one_at_a_time(tmp_path: Path) -> None:
    n, k = int(os.environ.get("BENCH_PROMPTS", "12")), int(os.environ.get("BENCH_K", "19"))
    groups = _groups(n, k)
    texts = sum(len(g.answers) for g in groups)
    model = _model(tmp_path)
    model.load()
    try:
        score_harvest(model, groups[:1], TEMPLATE.continuation)  # warm-up
        t0 = time.perf_counter()
        batched = score_harvest(model, groups, TEMPLATE.continuation)
        t_batched = time.perf_counter() - t0
        t0 = time.perf_counter()
        single = [
            np.array(
                [_bpb(model.score([g.context], [TEMPLATE.continuation(a)])[0]) for a in g.answers]
            )
            for g in groups
        ]
        t_single = time.perf_counter() - t0
    finally:
        model.release()
    for a, b in zip(batched.bpb, single, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    print(
        f"\nharvest scoring, {model.name}: {len(groups)} prompts x {k + 1} answers = {texts} texts"
        f"\n  batched (score_harvest): {t_batched:.2f} s, {texts / t_batched:.1f} texts/s"
        f"\n  one text per call:       {t_single:.2f} s, {texts / t_single:.1f} texts/s"
        f"\n  ratio batched / one at a time: {t_single / t_batched:.2f}x"
    )
    assert t_batched > 0 and t_single > 0
