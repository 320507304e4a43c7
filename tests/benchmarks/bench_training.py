"""Distillation throughput: training tokens/s of the student presets (torch eager vs
torch.compile) and scoring speed of an exported student (ONNX Runtime vs torch).

Run with ``make bench`` or directly: ``.venv/bin/python -m tests.benchmarks.bench_training``.
torch.compile needs a C++ compiler on CPU; where it is missing or fails, the line says so.
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

THREADS = 2
WORDS = (
    "model answer token teacher student protected output prompt distil terms service "
    "court evidence reference control check sample byte weight layer"
).split()


def _texts(n: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [
        (" ".join(rng.choices(WORDS, k=12)) + "?", " ".join(rng.choices(WORDS, k=60)) + ".")
        for _ in range(n)
    ]


def _student(preset_name: str, folder: Path) -> tuple[Any, Any]:
    from core.distill.presets import new_student, preset, train_bpe

    chosen = preset(preset_name)
    tokenizer = train_bpe((t for pair in _texts(400) for t in pair), min(chosen.vocab_size, 2048))
    model = new_student(chosen, tokenizer, seed=0)
    tokenizer.save_pretrained(folder)
    return model, tokenizer


def _examples(tokenizer: Any) -> list:
    from core.checks.probes import ChatTemplate
    from core.distill.data import ChatEncoder

    return ChatEncoder(tokenizer, ChatTemplate(), max_len=128).encode(_texts(256, seed=1))


def training_throughput(preset_name: str, folder: Path, steps: int = 20) -> dict[str, Any]:
    """Tokens trained per second, eager and compiled (after a warm-up that compiles)."""
    import torch

    from core.distill.presets import pad_id
    from core.distill.train import TrainConfig, train_causal_lm

    out: dict[str, Any] = {}
    for label in ("eager", "compile"):
        model, tokenizer = _student(preset_name, folder / f"{preset_name}-{label}")
        examples = _examples(tokenizer)
        runnable = model
        if label == "compile":
            try:
                runnable = torch.compile(model)
            except Exception as exc:
                out[label] = f"unavailable ({type(exc).__name__})"
                continue
        config = TrainConfig(steps=steps, batch_size=16, warmup_steps=2, seed=0, threads=THREADS)
        try:
            started = time.perf_counter()
            train_causal_lm(
                runnable,
                examples,
                TrainConfig(steps=3, batch_size=16, seed=0, threads=THREADS),
                pad_id(tokenizer),
            )
            warmup = time.perf_counter() - started
            result = train_causal_lm(runnable, examples, config, pad_id(tokenizer))
        except Exception as exc:
            out[label] = f"unavailable ({type(exc).__name__}: {str(exc)[:80]})"
            continue
        out[label] = {
            "tokens_per_second": result.tokens_trained / result.seconds,
            "warmup_seconds": warmup,
        }
        if label == "eager":
            model.save_pretrained(folder / f"{preset_name}-student", safe_serialization=True)
            tokenizer.save_pretrained(folder / f"{preset_name}-student")
    return out


def inference_speed(student: Path, folder: Path) -> dict[str, float]:
    """Scored tokens per second of the student with torch and with its ONNX export."""
    from core.backends import load_model
    from core.distill.student import export_and_check

    pairs = _texts(96, seed=2)
    contexts, answers = [p for p, _ in pairs], [" " + a for _, a in pairs]
    info = export_and_check(
        student, folder / "onnx", [c + a for c, a in zip(contexts[:4], answers[:4], strict=True)]
    )
    speeds = {"parity_max_abs_diff": info["parity"]["max_abs_diff"]}
    for label, path in (("torch", student), ("onnxruntime", folder / "onnx")):
        model = load_model(path, num_threads=THREADS)
        model.score(contexts[:4], answers[:4])  # load and warm up
        started = time.perf_counter()
        scored = model.score(contexts, answers)
        speeds[label] = sum(s.n_tokens for s in scored) / (time.perf_counter() - started)
        model.release()
    return speeds


def run(folder: Path) -> list[str]:
    lines = []
    for name in ("tiny", "small"):
        t = training_throughput(name, folder)
        eager = t["eager"]["tokens_per_second"]
        comp = t["compile"]
        if isinstance(comp, dict):
            ratio = comp["tokens_per_second"] / eager
            comp_text = (
                f"compile {comp['tokens_per_second']:8.0f} tok/s ({ratio:.2f}x eager, "
                f"first steps incl. compilation {comp['warmup_seconds']:.1f} s)"
            )
        else:
            comp_text = f"compile {comp}"
        lines.append(f"train {name:>5}: eager {eager:8.0f} tok/s | {comp_text}")
        s = inference_speed(folder / f"{name}-student", folder / f"{name}-export")
        lines.append(
            f"score {name:>5}: torch {s['torch']:8.0f} tok/s | onnxruntime "
            f"{s['onnxruntime']:8.0f} tok/s ({s['onnxruntime'] / s['torch']:.2f}x), "
            f"parity max |diff| {s['parity_max_abs_diff']:.1e}"
        )
    return lines


@pytest.mark.bench
def test_bench_training(tmp_path: Path) -> None:
    for line in run(tmp_path):
        print(line)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        for line in run(Path(tmp)):
            print(line)
