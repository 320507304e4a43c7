"""The weight-lineage check's false-positive rate, by simulation with models that DO share
structure (convergent learning), and its power against fine-tunes.

Synthetic GPT-2-shaped weight sets: tokens carry shared meaning (features F), each model
embeds them through its own random basis A, and its MLP units are drawn from a shared
repertoire of unit types (read a feature direction u, write B·u) in a random order, as a
permutation-invariant initialisation gives. Independent models therefore align well and
their matched units resemble each other: a random pairing of units is the wrong null (it
rejects almost always), while the exact test of independent initialisation (Zhu et al.)
keeps its level because the units' order carries no information.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy.stats import binom

from core.checks import lineage

HIDDEN, VOCAB, FEATURES, TYPES, LAYERS = 24, 160, 12, 30, 2
INNER = 4 * HIDDEN
CONFIG: dict[str, Any] = {"model_type": "gpt2", "n_embd": HIDDEN}
ALPHA = 0.05


class World:
    """What independent models trained on the same language share."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.tokens = rng.standard_normal((VOCAB, FEATURES))
        self.types = rng.standard_normal((LAYERS, TYPES, FEATURES))
        self.write = rng.standard_normal((LAYERS, FEATURES, FEATURES)) / np.sqrt(FEATURES)


def independent_model(
    world: World, rng: np.random.Generator, noise: float
) -> dict[str, np.ndarray]:
    """A model of the world in its own residual basis, its units in a random order."""
    basis = rng.standard_normal((FEATURES, HIDDEN)) / np.sqrt(FEATURES)
    w: dict[str, np.ndarray] = {
        "transformer.wte.weight": world.tokens @ basis
        + noise * rng.standard_normal((VOCAB, HIDDEN))
    }
    for layer in range(LAYERS):
        kind = rng.integers(0, TYPES, INNER)
        reads = world.types[layer][kind]  # [units, features]
        w_in = reads @ basis + noise * rng.standard_normal((INNER, HIDDEN))
        w_out = (reads @ world.write[layer]) @ basis + noise * rng.standard_normal((INNER, HIDDEN))
        w[f"transformer.h.{layer}.mlp.c_fc.weight"] = w_in.T.astype(np.float32)  # Conv1D [in, out]
        w[f"transformer.h.{layer}.mlp.c_proj.weight"] = w_out.astype(np.float32)
        w[f"transformer.h.{layer}.ln_2.weight"] = np.ones(HIDDEN, dtype=np.float32)
    return w


def fine_tune(base: dict[str, np.ndarray], rng: np.random.Generator, step: float) -> dict:
    """The base's weights moved by training noise of relative size ``step``."""
    return {k: v + step * v.std() * rng.standard_normal(v.shape) for k, v in base.items()}


def _check(base: dict, suspect: dict, seed: int) -> Any:
    return lineage.lineage_check(
        base, suspect, CONFIG, CONFIG, seed=seed, alpha=ALPHA, n_resamples=199
    )


def _fp_bound(n: int) -> int:
    """The most false positives a level-alpha test gives in n runs, at 99% (binomial)."""
    return int(binom.ppf(0.99, n, ALPHA))


@pytest.mark.parametrize("noise", [1.0, 0.3])
def test_exact_test_holds_its_level_where_random_pairing_does_not(noise: float) -> None:
    """noise 1.0: independent models share some structure; 0.3: a lot. Either way the exact
    test rejects independent initialisation at no more than alpha (binomial 99% bound)."""
    rng = np.random.default_rng(int(noise * 10))
    n = 60
    exact = pairing = derived = 0
    matches = []
    for i in range(n):
        world = World(rng)
        res = _check(independent_model(world, rng, noise), independent_model(world, rng, noise), i)
        exact += res.details["exact_test"]["p_value"] <= ALPHA
        pairing += res.details["p_value_random_pairing"] <= ALPHA
        derived += res.verdict == "consistent with derivation"
        matches.append(res.effect_size)
    print(
        f"\nnoise {noise}: exact test FPR {exact}/{n}, random-pairing null 'rejects' {pairing}/{n},"
        f" verdict derived {derived}/{n}; aligned match of independent models "
        f"{np.mean(matches):.3f} (max {np.max(matches):.3f})"
    )
    assert exact <= _fp_bound(n)
    assert pairing >= n // 2  # the shared structure that makes a random pairing the wrong null
    assert derived <= _fp_bound(n)  # the verdict too: the exact test decides
    assert max(matches) < lineage.MIN_REALIGNED  # what a reordered copy must exceed
    if noise >= 1.0:  # modest convergence stays below the check's minimum match
        assert max(matches) < lineage.MIN_SIMILARITY


def test_fine_tunes_are_detected_even_when_rotated() -> None:
    rng = np.random.default_rng(7)
    n, hits, hits_rotated = 20, 0, 0
    for i in range(n):
        base = independent_model(World(rng), rng, 1.0)
        tuned = fine_tune(base, rng, 0.5)
        hits += _check(base, tuned, i).verdict == "consistent with derivation"
        q, _ = np.linalg.qr(rng.standard_normal((HIDDEN, HIDDEN)))  # RMSNorm-style: any rotation
        rotated = {
            k: (v @ q if "wte" in k or "c_proj" in k else q.T @ v if "c_fc" in k else v)
            for k, v in tuned.items()
        }
        res = _check(base, rotated, i)
        hits_rotated += res.verdict == "consistent with derivation" and res.p_value <= ALPHA
    print(
        f"\nfine-tunes found derived: {hits}/{n}; rotated fine-tunes (exact p <= alpha): "
        f"{hits_rotated}/{n}"
    )
    assert hits == n and hits_rotated == n


def test_the_p_floor_prints_as_a_bound() -> None:
    """At the floor (no resample reached the observed value) p is shown as ≤ 1/(N+1)."""
    from types import SimpleNamespace

    from core.reports.formatting import format_lineage_p

    assert lineage.p_text(1 / 1000, 999) == "≤ 0.001 (= 1/(N+1), N = 999)"
    assert lineage.p_text(0.25, 999) == "0.25 (N = 999)"
    rows = [SimpleNamespace(n_resamples=None), SimpleNamespace(n_resamples=199)]
    assert format_lineage_p(0.005, rows) == "≤ 0.005 (= 1/(N+1), N = 199)"
    assert "≤" not in format_lineage_p(0.01, rows)
