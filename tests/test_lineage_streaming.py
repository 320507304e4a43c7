"""The lineage check streams weights: same result as on fully read weights, and it reads
each tensor only when a layer needs it (shapes come from the safetensors headers)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.checks.lineage import StreamedWeights, lineage_check, read_config, read_weights
from tests.benchmarks.bench_lineage import build


class CountingWeights(StreamedWeights):
    reads: list[str]

    def __getitem__(self, name: str) -> np.ndarray:
        self.reads.append(name)
        return super().__getitem__(name)


def test_streamed_equals_eager_and_reads_lazily(tmp_path: Path) -> None:
    build(tmp_path / "base", 32, 64, 6, 200, seed=0)
    build(tmp_path / "suspect", 32, 64, 6, 200, seed=1)
    cb, cs = read_config(tmp_path / "base"), read_config(tmp_path / "suspect")
    wb, ws = read_weights(tmp_path / "base"), read_weights(tmp_path / "suspect")
    streamed = wb, ws
    assert streamed[0].shape("model.layers.0.mlp.down_proj.weight") == (32, 64)
    eb, es = ({k: w[k] for k in w} for w in streamed)
    a = lineage_check(wb, ws, cb, cs, seed=3, n_resamples=49, max_layers=2)
    b = lineage_check(eb, es, cb, cs, seed=3, n_resamples=49, max_layers=2)
    assert a.verdict == b.verdict
    assert a.details["p_value_random_pairing"] == b.details["p_value_random_pairing"]
    assert a.details["exact_test"] == b.details["exact_test"]

    files = sorted((tmp_path / "base").glob("*.safetensors"))
    counting = CountingWeights(files)
    counting.reads = []
    assert len(counting) == len(wb)
    assert counting.shape("model.embed_tokens.weight") == (200, 32)
    assert counting.reads == []  # names and shapes without reading a tensor
    lineage_check(counting, ws, cb, cs, seed=3, n_resamples=9, max_layers=2)
    assert "model.layers.0.mlp.up_proj.weight" in counting.reads
