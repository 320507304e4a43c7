"""Scoring throughput of the protected transcripts: naive transformers loop vs our backends.

For each model, the same (prompt, protected answer) pairs are scored three ways, in one run:

(a) a naive loop: one text at a time through ``AutoModelForCausalLM``, full log-softmax;
(b) our torch backend (``TorchModel.score``: length-bucketed batches, no padding waste);
(c) our onnxruntime backend (``OnnxModel.score`` on an ONNX export of the same weights).

Models: a synthetic model with the dimensions of a 0.5B-parameter Qwen2 (hidden 896, 24
layers, 14 heads, 2 KV heads, MLP 4864, vocabulary 151936; random weights built from a
``Qwen2Config``, nothing downloaded) and, when ``resources/demo`` is built, the demo's
suspect (torch folder and its ONNX export). Prints tokens/s, the ratios to the naive loop,
and the share of the machine's float32 FLOP peak (measured here with a large torch matmul;
model FLOPs taken as 2 x parameters x tokens). Run with ``make bench`` or
``.venv/bin/python -m pytest tests/benchmarks/bench_scoring.py -m bench -s``;
``BENCH_TEXTS`` sets how many transcripts are scored (default 12); ``DISTILL_AUDIT_DEMO`` may
point at another build of the demo world.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from core.resources import resource_path
from tests.tinymodels import TINY_CORPUS, build_tiny_tokenizer

QWEN2_05B = {
    "hidden_size": 896,
    "num_hidden_layers": 24,
    "num_attention_heads": 14,
    "num_key_value_heads": 2,
    "intermediate_size": 4864,
    "vocab_size": 151936,
    "max_position_embeddings": 32768,
    "tie_word_embeddings": True,
    "rope_theta": 1_000_000.0,
}
TEMPLATE = "User: {prompt}\nAssistant:"
DEMO = Path(
    os.environ.get("DISTILL_AUDIT_DEMO") or resource_path("demo")
)  # another build of the world


def transcripts(n: int) -> tuple[list[str], list[str]]:
    """(contexts, continuations) of the demo's protected answers, or a synthetic stand-in."""
    path = DEMO / "transcripts" / "protected_probe_answers.jsonl"
    if path.is_file():
        rows = [
            json.loads(line)
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        rows = rows[:n]
        return (
            [TEMPLATE.replace("{prompt}", r["prompt"]) for r in rows],
            [" " + r["response"] for r in rows],
        )
    ctx = [TEMPLATE.replace("{prompt}", TINY_CORPUS[i % 8]) for i in range(n)]
    return ctx, [
        " " + " ".join(TINY_CORPUS[(i + j) % 8] for j in range(1 + i % 4)) for i in range(n)
    ]


def peak_gflops(seconds: float = 2.0, size: int = 2048) -> float:
    """float32 matmul throughput of this machine with torch's default threads (GFLOP/s)."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(2):
        a @ b
    reps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        reps += 1
    return 2 * size**3 * reps / (time.perf_counter() - start) / 1e9


def build_qwen_sized(folder: Path) -> Path:
    """A Qwen2 model with 0.5B dimensions and random weights, with a small BPE tokenizer."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tok = build_tiny_tokenizer()
    config = Qwen2Config(**QWEN2_05B, bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config).eval()
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    return folder


def naive_loop(folder: Path, contexts: list[str], continuations: list[str]) -> float:
    """Seconds to score every continuation one text at a time, the plain transformers way."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()

    def one(ctx: str, cont: str) -> None:
        n_ctx = len(tok(ctx)["input_ids"])
        ids = torch.tensor([tok(ctx)["input_ids"] + tok(cont)["input_ids"]])
        with torch.no_grad():
            logits = model(ids).logits
        logp = torch.log_softmax(logits[0, :-1].float(), dim=-1)
        logp[n_ctx - 1 :].gather(-1, ids[0, n_ctx:, None]).sum()

    one(contexts[0], continuations[0])  # warm-up
    start = time.perf_counter()
    for ctx, cont in zip(contexts, continuations, strict=True):
        one(ctx, cont)
    return time.perf_counter() - start


def backend_seconds(folder: Path, contexts: list[str], continuations: list[str]) -> float:
    from core.backends.factory import load_model

    model = load_model(folder)
    model.load()
    model.score(contexts[:1], continuations[:1])  # warm-up
    start = time.perf_counter()
    model.score(contexts, continuations)
    seconds = time.perf_counter() - start
    model.release()
    return seconds


def n_tokens(folder: Path, contexts: list[str], continuations: list[str]) -> tuple[int, int]:
    """(tokens fed to the model, parameters) for the FLOP estimate."""
    from safetensors import safe_open
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder))
    tokens = sum(
        len(tok(c)["input_ids"]) + len(tok(x)["input_ids"])
        for c, x in zip(contexts, continuations, strict=True)
    )
    params, seen = 0, set()
    for f in folder.glob("*.safetensors"):
        with safe_open(str(f), framework="pt") as fh:
            for key in fh.keys():
                shape = fh.get_slice(key).get_shape()
                size = 1
                for d in shape:
                    size *= d
                params += size if key not in seen else 0
                seen.add(key)
    return tokens, params


def measure(
    name: str, hf: Path, onnx: Path, contexts: list[str], continuations: list[str], peak: float
) -> dict[str, Any]:
    tokens, params = n_tokens(hf, contexts, continuations)
    times = {
        "naive loop": naive_loop(hf, contexts, continuations),
        "torch backend": backend_seconds(hf, contexts, continuations),
        "onnx backend": backend_seconds(onnx, contexts, continuations),
    }
    rows = {
        k: {
            "seconds": round(v, 3),
            "tokens_per_s": round(tokens / v, 1),
            "vs_naive": round(times["naive loop"] / v, 2),
            "peak_fraction": round(2 * params * tokens / v / 1e9 / peak, 4),
        }
        for k, v in times.items()
    }
    print(f"\n== {name}: {len(contexts)} texts, {tokens} tokens, {params / 1e6:.1f}M parameters ==")
    for k, r in rows.items():
        print(
            f"  {k:14s} {r['tokens_per_s']:9.1f} tok/s  x{r['vs_naive']:5.2f} vs naive  "
            f"{100 * r['peak_fraction']:5.1f}% of the measured FLOP peak ({peak:.0f} GFLOP/s)"
        )
    best = max(("torch backend", "onnx backend"), key=lambda k: rows[k]["vs_naive"])
    verdict = "met" if rows[best]["vs_naive"] >= 2 else "NOT met"
    print(
        f"  best backend: {best}, x{rows[best]['vs_naive']} vs the naive loop "
        f"(target >= x2: {verdict})"
    )
    return {
        "model": name,
        "texts": len(contexts),
        "tokens": tokens,
        "parameters": params,
        "peak_gflops": round(peak, 1),
        "results": rows,
        "best": best,
    }


@pytest.mark.bench
def test_scoring_throughput(tmp_path_factory: pytest.TempPathFactory) -> None:
    from core.backends.onnx_export import export_onnx

    n = int(os.environ.get("BENCH_TEXTS", "12"))
    contexts, continuations = transcripts(n)
    peak = peak_gflops()
    print(f"\nMeasured float32 matmul peak: {peak:.1f} GFLOP/s ({os.cpu_count()} CPUs)")
    report = []
    root = tmp_path_factory.mktemp("bench")
    started = time.perf_counter()
    hf = build_qwen_sized(root / "qwen2-0.5b-dims")
    onnx = export_onnx(hf, root / "qwen2-0.5b-dims-onnx")
    print(f"built and exported the Qwen2-0.5B-sized model in {time.perf_counter() - started:.0f} s")
    report.append(
        measure(
            "synthetic Qwen2 0.5B dimensions (random weights)",
            hf,
            onnx,
            contexts,
            continuations,
            peak,
        )
    )
    demo = DEMO / "models"
    if (demo / "suspect-osprey").is_dir() and (demo / "suspect-osprey-onnx").is_dir():
        report.append(
            measure(
                "demo suspect-osprey",
                demo / "suspect-osprey",
                demo / "suspect-osprey-onnx",
                contexts,
                continuations,
                peak,
            )
        )
    else:
        print("(demo models not built: resources/demo/models/suspect-osprey[-onnx] missing)")
    print("\n" + json.dumps(report, indent=2))
    assert all(r["results"]["torch backend"]["tokens_per_s"] > 0 for r in report)
