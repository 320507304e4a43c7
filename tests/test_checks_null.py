"""Validity of the checks' tests on simulated data: uniform p-values and FPR <= alpha under the
null, detection of a known effect. Per-probe values are simulated with a shared probe effect
(probes differ in difficulty) and model noise; under the null the suspect is exchangeable
with the references (here with no model-level offsets; tests/test_checks_null_models.py
simulates independent models that differ systematically). Every simulation is seeded.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.checks.likelihood import AffinityScores, likelihood_check
from core.checks.similarity import SimilarityScores, similarity_check
from core.checks.stats import clopper_pearson

ALPHA = 0.05
N_SIM = 300
N_PROBES = 40


def _affinity(name: str, values: np.ndarray) -> AffinityScores:
    n = values.size
    ids = tuple(f"p{i}" for i in range(n))
    return AffinityScores(
        name,
        ids,
        protected_bpb=-values,
        control_bpb=np.zeros(n),
        protected_min_k=values * 0.5,
        control_min_k=np.zeros(n),
    )


def _similarity(name: str, values: np.ndarray) -> SimilarityScores:
    ids = tuple(f"p{i}" for i in range(values.size))
    return SimilarityScores(
        name, ids, {"rouge_l": values, "char_4gram_cosine": np.clip(values + 0.1, 0, 1)}
    )


def _likelihood_sim(rng: np.random.Generator, shift: float, n_refs: int, seed: int):
    probe = rng.normal(0.0, 1.0, N_PROBES)  # probe difficulty, shared by every model
    sus = _affinity("suspect", probe + shift + rng.standard_t(5, N_PROBES) * 0.5)
    refs = {
        f"r{j}": _affinity(f"r{j}", probe + rng.standard_t(5, N_PROBES) * 0.5)
        for j in range(n_refs)
    }
    return likelihood_check(sus, refs, seed=seed, n_resamples=999)


def _similarity_sim(rng: np.random.Generator, shift: float, n_refs: int, seed: int):
    probe = rng.beta(2, 5, N_PROBES)

    def model(extra: float) -> np.ndarray:
        return np.clip(probe + extra + rng.normal(0, 0.08, N_PROBES), 0, 1)

    sus = _similarity("suspect", model(shift))
    refs = {f"r{j}": _similarity(f"r{j}", model(0.0)) for j in range(n_refs)}
    return similarity_check(sus, refs, seed=seed, n_resamples=999)


def _fpr_ok(k: int, n: int, alpha: float = ALPHA) -> bool:
    """The observed false-positive rate is not significantly above alpha (99% exact interval)."""
    low, _ = clopper_pearson(k, n, level=0.99)
    return low <= alpha


@pytest.mark.parametrize(
    "simulate", [_likelihood_sim, _similarity_sim], ids=["likelihood", "similarity"]
)
def test_null_pvalues_are_valid_and_fpr_within_alpha(simulate) -> None:
    """Without model offsets the predictive test is conservative (its variance is at least
    the probes' sampling error), so P(p <= a) <= a at every level; its p-values are not
    uniform (they gather around 0.5)."""
    rng = np.random.default_rng(20250902)
    p = np.array([simulate(rng, 0.0, 3, seed=i).p_value for i in range(N_SIM)])
    rejections = int(np.sum(p <= ALPHA))
    low, high = clopper_pearson(rejections, N_SIM, level=0.99)
    print(
        f"\n{simulate.__name__}: FPR at 0.05 = {rejections}/{N_SIM} = {rejections / N_SIM:.3f} "
        f"(99% CI {low:.3f}-{high:.3f}); P(p <= 0.2) = {np.mean(p <= 0.2):.3f}"
    )
    for a in (0.01, 0.05, 0.1, 0.2):
        assert _fpr_ok(int(np.sum(p <= a)), N_SIM, a)
    assert np.mean(p <= 0.5) > 0.3  # the test is not degenerate (p = 1 always would pass)


@pytest.mark.parametrize(
    "simulate", [_likelihood_sim, _similarity_sim], ids=["likelihood", "similarity"]
)
def test_verdict_fpr_with_a_panel_is_at_most_alpha(simulate) -> None:
    rng = np.random.default_rng(7)
    res = [simulate(rng, 0.0, 3, seed=i) for i in range(200)]
    flagged = sum(r.verdict == "supports Hp" for r in res)
    assert all(r.n_references == 3 for r in res)
    assert _fpr_ok(flagged, len(res))  # the model-level verdict


def test_likelihood_detects_a_known_effect() -> None:
    rng = np.random.default_rng(3)
    res = _likelihood_sim(rng, 0.6, 3, seed=1)
    assert res.verdict == "supports Hp" and res.p_value <= 0.05
    assert res.effect_size > 0 and res.ci[0] < res.effect_size < res.ci[1]  # its own interval
    assert all(c.ci[0] < c.effect_size < c.ci[1] for c in res.comparisons)  # d_z's own CI
    assert res.details["secondary"]["min_20pct_tail"]["p_value_all"] <= 0.01


def test_similarity_detects_a_known_effect() -> None:
    rng = np.random.default_rng(4)
    res = _similarity_sim(rng, 0.15, 3, seed=1)
    assert res.verdict == "supports Hp" and res.p_value <= 0.05
    assert set(res.details["measures_ran"]) == {"rouge_l", "char_4gram_cosine"}


def test_one_reference_declines_the_verdict_but_keeps_the_comparison() -> None:
    res = _likelihood_sim(np.random.default_rng(2), 0.6, 1, seed=0)
    assert res.verdict == "declined" and res.p_value is None
    assert "at least 2 reference models" in res.reason and len(res.comparisons) == 1


def test_same_inputs_and_seed_give_identical_numbers() -> None:
    a = _likelihood_sim(np.random.default_rng(11), 0.2, 2, seed=5).to_dict()
    b = _likelihood_sim(np.random.default_rng(11), 0.2, 2, seed=5).to_dict()
    assert a == b
