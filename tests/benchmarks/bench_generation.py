"""Generation throughput: naive recompute, ours (fp32, bf16), ONNX (fp32, int8), and
transformers' own ``generate`` on the issue's shape (3-layer, 128-wide GPT-2, 128-token
context, 150 prompts, 96 new tokens), one thread. Prints tokens/s and the ratio to
``generate`` for each. Run with ``make bench`` or
``.venv/bin/python -m tests.benchmarks.bench_generation``.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

import pytest

from tests.benchmarks.genspeed import build, hf_generate_seconds, prompts

N_PROMPTS, NEW_TOKENS, NAIVE_PROMPTS = 150, 96, 10


def run(folder: Path) -> list[tuple[str, float]]:
    """(label, tokens per second) for each configuration, ``generate`` first."""
    import torch

    from core.backends import export_onnx, load_model
    from core.backends.batched_model import RecomputeDecoder

    logging.disable(logging.WARNING)  # every prompt is left-truncated, by design
    torch.set_num_threads(1)
    hf = build(folder / "hf")
    onnx = export_onnx(hf, folder / "onnx")
    texts = prompts(N_PROMPTS)
    prompt_tokens = 128 - NEW_TOKENS
    reference = load_model(hf, num_threads=1, dtype="float32")
    rows = [
        (
            "transformers generate fp32",
            N_PROMPTS
            * NEW_TOKENS
            / hf_generate_seconds(reference, texts, prompt_tokens, NEW_TOKENS),
        )
    ]
    for label, path, dtype, n in (
        ("naive recompute fp32", hf, "float32", NAIVE_PROMPTS),
        ("ours fp32", hf, "float32", N_PROMPTS),
        ("ours bf16", hf, "bfloat16", N_PROMPTS),
        ("onnx fp32", onnx, "float32", N_PROMPTS),
        ("onnx int8", onnx, "int8", N_PROMPTS),
    ):
        model = load_model(path, num_threads=1, dtype=dtype)
        model.load()
        if label.startswith("naive"):
            model._decoder = lambda r, m=model: RecomputeDecoder(m, r)  # type: ignore[attr-defined]
        start = time.perf_counter()
        model.generate(texts[:n], NEW_TOKENS, seed=1)
        rows.append((label, n * NEW_TOKENS / (time.perf_counter() - start)))
        model.release()
    return rows


def report(rows: list[tuple[str, float]]) -> None:
    base = rows[0][1]
    for label, rate in rows:
        print(f"{label:>28}: {rate:9.0f} tokens/s  ({rate / base:.2f}x generate)")


@pytest.mark.bench
def test_bench_generation(tmp_path: Path) -> None:
    report(run(tmp_path))


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        report(run(Path(tmp)))
