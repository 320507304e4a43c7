"""Weight lineage on a Llama-shaped pair built layer by layer at run time: time and peak RSS.

Each model is written one layer per safetensors shard (random bfloat16 weights; the
suspect is the base plus noise), so neither model is ever whole in this process's memory,
and the check reads them through :class:`core.checks.lineage.StreamedWeights`. The default
shape is 7B's width per layer (hidden 4096, MLP 11008) with 4 layers and a 32000 vocabulary;
the check reads at most ``max_layers`` = 4 layers whatever the depth, so a 32-layer 7B pair
costs the same reads per layer and the same peak (one layer of each model, the embeddings
and the matching's [units, units] matrix). Measured on 2 shared cores (N = 99): quarter
width (1024, 2752, 4 layers, vocab 8000) 122 s, peak RSS 1.06 GiB; at 7B's width the
Hungarian matching (cubic in the units) dominates, so expect roughly 30+ minutes and a few
GiB until the matching runs on a unit sample (not done yet). Run in a fresh process:
``.venv/bin/python -m tests.benchmarks.bench_lineage [hidden inner layers vocab]``.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import pytest


def build(folder: Path, hidden: int, inner: int, layers: int, vocab: int, seed: int) -> None:
    """Write a Llama-shaped model one layer (one shard) at a time."""
    import torch
    from safetensors.torch import save_file

    folder.mkdir(parents=True)
    gen = torch.Generator().manual_seed(0)  # the shared "base" stream
    noise = torch.Generator().manual_seed(seed)
    weight_map: dict[str, str] = {}

    def shard(name: str, tensors: dict[str, torch.Tensor]) -> None:
        out = {}
        for key, t in tensors.items():
            if seed:
                t = t + 0.01 * torch.randn(t.shape, generator=noise)
            out[key] = t.to(torch.bfloat16)
            weight_map[key] = name
        save_file(out, str(folder / name))

    shard(
        "embed.safetensors",
        {"model.embed_tokens.weight": torch.randn(vocab, hidden, generator=gen)},
    )
    for i in range(layers):
        p = f"model.layers.{i}."
        shard(
            f"layer-{i}.safetensors",
            {
                p + "mlp.gate_proj.weight": torch.randn(inner, hidden, generator=gen) / hidden**0.5,
                p + "mlp.up_proj.weight": torch.randn(inner, hidden, generator=gen) / hidden**0.5,
                p + "mlp.down_proj.weight": torch.randn(hidden, inner, generator=gen) / inner**0.5,
                p + "post_attention_layernorm.weight": torch.ones(hidden),
            },
        )
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {}, "weight_map": weight_map})
    )
    config = {
        "model_type": "llama",
        "architectures": ["LlamaForCausalLM"],
        "hidden_size": hidden,
        "intermediate_size": inner,
        "num_hidden_layers": layers,
        "vocab_size": vocab,
    }
    (folder / "config.json").write_text(json.dumps(config))


def run(folder: Path, hidden: int, inner: int, layers: int, vocab: int) -> dict[str, float]:
    from core.checks.lineage import lineage_check, read_config, read_weights

    start = time.perf_counter()
    build(folder / "base", hidden, inner, layers, vocab, seed=0)
    build(folder / "suspect", hidden, inner, layers, vocab, seed=1)
    built = time.perf_counter() - start
    start = time.perf_counter()
    result = lineage_check(
        read_weights(folder / "base"),
        read_weights(folder / "suspect"),
        read_config(folder / "base"),
        read_config(folder / "suspect"),
        seed=0,
        n_resamples=99,
    )
    checked = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    print(f"verdict: {result.verdict}")
    return {"build_s": built, "check_s": checked, "peak_rss_gib": peak}


@pytest.mark.bench
def test_bench_lineage(tmp_path: Path) -> None:
    print(run(tmp_path, 1024, 2752, 4, 8000))  # a quarter-width stand-in inside pytest


if __name__ == "__main__":
    shape = [int(a) for a in sys.argv[1:]] or [4096, 11008, 4, 32000]
    with tempfile.TemporaryDirectory() as tmp:
        print(shape, run(Path(tmp), *shape))
