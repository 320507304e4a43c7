"""The harvest test's rank-sum p-value is exact under Hd and detects a suspect that learned
the logged answers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats as sps

from core.checks import harvest_stats as hs
from core.checks.stats import clopper_pearson
from core.errors import DeclinedError


def test_null_distribution_matches_brute_force():
    ks = [2, 3, 3, 1]
    pmf, exact = hs.rank_sum_null(ks)
    counts = np.zeros(sum(ks) + 1)
    for combo in itertools.product(*(range(k + 1) for k in ks)):
        counts[sum(combo)] += 1
    assert exact
    np.testing.assert_allclose(pmf, counts / counts.sum(), rtol=1e-12)


def test_fft_path_agrees_with_direct(monkeypatch):
    ks = [19] * 40 + [9] * 25
    direct, exact = hs.rank_sum_null(ks)
    monkeypatch.setattr(hs, "DIRECT_LIMIT", 10)
    fft, approx = hs.rank_sum_null(ks)
    assert exact and not approx
    np.testing.assert_allclose(fft, direct, atol=1e-13)


def _null_ranks(rng, n_prompts, k, ties=False):
    out = []
    for j in range(n_prompts):
        scores = rng.normal(size=k + 1)
        if ties:
            scores = np.round(scores, 1)  # coarse scores: ties happen
        out.append(hs.rank_of_logged(float(scores[0]), scores[1:], f"p{j}"))
    return out


@pytest.mark.parametrize("ties", [False, True])
def test_p_values_are_uniform_or_conservative_under_the_null(ties):
    rng = np.random.default_rng(11)
    ps = np.array([hs.harvest_test(_null_ranks(rng, 40, 19, ties)).p_value for _ in range(600)])
    k = int(np.count_nonzero(ps <= 0.05))
    low, _ = clopper_pearson(k, ps.size, level=0.99)
    assert low <= 0.05
    if not ties:  # continuous scores: exact, so uniform
        assert sps.kstest(ps, "uniform").pvalue > 0.01


def test_a_suspect_that_learned_the_logged_answers_is_detected():
    rng = np.random.default_rng(5)
    ranks = []
    for j in range(60):
        scores = rng.normal(size=20)
        scores[0] += 1.5  # the suspect finds the logged answer likelier than its twins
        ranks.append(hs.rank_of_logged(float(scores[0]), scores[1:], f"p{j}"))
    res = hs.harvest_test(ranks)
    assert res.p_value < 1e-6 and res.exact and not res.p_is_bound
    assert res.top_share > res.expected_top_share
    lo, hi = res.top_share_ci
    assert lo <= res.top_share <= hi
    lo, hi = res.mean_normalised_rank_ci
    assert lo <= res.mean_normalised_rank <= hi < 0.5
    assert sum(res.histogram) == 60 and res.histogram[0] > 6


def test_ties_count_against_the_logged_answer():
    r = hs.rank_of_logged(1.0, [1.0, 0.5, 2.0])
    assert (r.rank, r.k, r.ties) == (2, 3, 1)
    assert "conservative" in hs.harvest_test([r]).warnings[0]


def test_nothing_to_rank_declines():
    with pytest.raises(DeclinedError):
        hs.harvest_test([])
    with pytest.raises(DeclinedError):
        hs.rank_of_logged(0.0, [])
    with pytest.raises(DeclinedError):
        hs.rank_of_logged(float("nan"), [0.0])
