"""The model-level test's null is Hd: independent models that *do* differ are not flagged.

Simulations draw every model (suspect and references) from one population of independent
models with their own systematic offsets, heteroscedastic probe noise and clustered probes;
the false-positive rate must stay at or below alpha within its exact binomial interval, and a
suspect shifted the way a distilled one is must still be detected.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.checks.model_level import cluster_se, model_level_test, panel_needed
from core.checks.stats import clopper_pearson
from core.errors import DeclinedError

N_PROBES, N_CLUSTERS = 60, 12


def _world(rng: np.random.Generator, n_refs: int, tau: float, shift: float = 0.0):
    clusters = np.repeat(np.arange(N_CLUSTERS), N_PROBES // N_CLUSTERS)
    probe = rng.normal(0, 1, N_PROBES) + rng.normal(0, 0.5, N_CLUSTERS)[clusters]

    def model(offset: float) -> np.ndarray:
        sd = rng.uniform(0.5, 1.5)  # models differ in how noisy they are, too
        by_cluster = rng.normal(0, 0.4 * sd, N_CLUSTERS)[clusters]
        return probe + offset + by_cluster + rng.normal(0, sd, N_PROBES)

    suspect = model(rng.normal(0, tau) + shift)
    refs = {f"ref{j}": model(rng.normal(0, tau)) for j in range(n_refs)}
    return suspect, refs, [f"c{c}" for c in clusters]


@pytest.mark.parametrize("n_refs", [3, 5, 20])
@pytest.mark.parametrize("tau", [0.3, 1.0])
def test_false_positive_rate_is_at_most_alpha_when_independent_models_differ(n_refs, tau):
    rng = np.random.default_rng(1000 + n_refs + int(10 * tau))
    reps, alpha = 300, 0.05
    flagged = 0
    for _ in range(reps):
        s, refs, cl = _world(rng, n_refs, tau)
        flagged += model_level_test(s, refs, clusters=cl, alpha=alpha, n_tests=4).p_value <= alpha
    low, _high = clopper_pearson(flagged, reps, level=0.99)
    assert low <= alpha, f"{flagged}/{reps} independent suspects flagged at alpha={alpha}"


@pytest.mark.parametrize("n_refs", [3, 5, 20])
def test_a_shifted_suspect_is_detected(n_refs):
    rng = np.random.default_rng(7 + n_refs)
    hits = sum(
        model_level_test(
            *_world(rng, n_refs, tau=0.3, shift=5.0)[:2], alpha=0.05, n_tests=4
        ).p_value
        <= 0.0125
        for _ in range(40)
    )
    assert hits >= 30


def test_the_old_per_probe_null_would_flag_these_independent_models():
    """The contrast that motivates the model-level test: with systematic offsets the suspect
    ranks first among R+1 exchangeable models about 1/(R+1) of the time."""
    rng = np.random.default_rng(3)
    first = 0
    for _ in range(400):
        s, refs, _cl = _world(rng, 3, tau=1.0)
        first += all(s.mean() > r.mean() for r in refs.values())
    assert 0.17 <= first / 400 <= 0.33


def test_panel_needed_is_one_number():
    assert panel_needed(0.05) == 19
    assert panel_needed(0.05, n_tests=4) == 79
    assert panel_needed(0.01) == 99


def test_rank_test_decides_for_a_large_panel_and_predictive_otherwise():
    rng = np.random.default_rng(5)
    s, refs, _ = _world(rng, 20, tau=0.3, shift=4.0)
    big = model_level_test(s, refs, alpha=0.05, n_tests=1)
    assert big.test_used == "rank" and big.p_value == pytest.approx(1 / 21)
    small = model_level_test(s, dict(list(refs.items())[:5]), alpha=0.05)
    assert small.test_used == "predictive" and small.df == 4
    assert small.min_rank_p == pytest.approx(1 / 6)
    lo, hi = small.difference_ci
    assert lo <= small.difference <= hi
    assert any("cannot be checked" in w for w in small.warnings)


def test_too_small_a_panel_declines():
    with pytest.raises(DeclinedError, match="at least 2 reference"):
        model_level_test([1.0, 2.0, 3.0], {"only": [0.0, 1.0, 2.0]})


def test_cluster_se_counts_a_cluster_once():
    x = np.array([1.0, 1.0, 1.0, -1.0, -1.0, -1.0])
    naive = cluster_se(x)
    clustered = cluster_se(x, ["a", "a", "a", "b", "b", "b"])
    assert naive == pytest.approx(x.std(ddof=1) / math.sqrt(6))
    assert clustered > naive  # perfectly correlated within clusters: 2 draws, not 6


def test_identical_models_with_no_noise_are_not_flagged():
    same = [0.5] * 12
    res = model_level_test(same, {"a": same, "b": same, "c": same})
    assert res.p_value == 1.0
