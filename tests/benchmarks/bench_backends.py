"""Scoring throughput of the backends on a small GPT-2: torch vs ONNX, bucketed vs unbatched.

Run with ``make bench`` (when benchmarks are collected) or directly:
``.venv/bin/python -m tests.benchmarks.bench_backends``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest

from tests.tinymodels import TINY_CORPUS, build_tiny_gpt2


def _texts(n: int) -> tuple[list[str], list[str]]:
    contexts = [TINY_CORPUS[i % len(TINY_CORPUS)] * (1 + i % 4) for i in range(n)]
    continuations = [" " + TINY_CORPUS[(i * 3) % len(TINY_CORPUS)] * (1 + i % 3) for i in range(n)]
    return contexts, continuations


def run(folder: Path, n: int = 128) -> dict[str, float]:
    """Seconds per 1000 scored tokens for each configuration."""
    from core.backends import export_onnx, load_model

    hf = build_tiny_gpt2(folder / "hf", n_layer=4, n_embd=256, n_head=8, n_positions=512)
    onnx = export_onnx(hf, folder / "onnx")
    contexts, continuations = _texts(n)
    timings = {}
    for label, path, options in (
        ("torch bucketed", hf, {}),
        ("torch one at a time", hf, {"max_batch_size": 1}),
        ("onnx bucketed", onnx, {}),
        ("onnx one at a time", onnx, {"max_batch_size": 1}),
    ):
        model = load_model(path, **options)
        model.score(contexts[:4], continuations[:4])  # load and warm up
        start = time.perf_counter()
        scored = model.score(contexts, continuations)
        elapsed = time.perf_counter() - start
        timings[label] = 1000 * elapsed / sum(s.n_tokens for s in scored)
        model.release()
    return timings


@pytest.mark.bench
def test_bench_scoring(tmp_path: Path) -> None:
    for label, seconds in run(tmp_path).items():
        print(f"{label:>22}: {seconds:.4f} s per 1000 scored tokens")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        for label, seconds in run(Path(tmp)).items():
            print(f"{label:>22}: {seconds:.4f} s per 1000 scored tokens")
