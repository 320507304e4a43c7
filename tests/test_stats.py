"""The statistics of core.checks: p-values valid under the null, power against a known
positive, exact values against hand-worked examples, determinism given a seed.

Simulations use fixed seeds, so every assertion is deterministic. Where an assertion is a
statistical one (a rate within a binomial interval, a KS p-value) it is made at a strict
level (99% Clopper-Pearson intervals, KS p > 0.001) so that it guards against a broken
test rather than against sampling noise. Measured figures are printed (run with -s).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats as sps

from core.checks.stats import (
    NO_DETECTION_LIMIT,
    bootstrap_ci,
    clopper_pearson,
    combine_holm,
    empirical_p,
    fisher_exact_greater,
    fisher_exact_greater_pooled,
    holm,
    min_achievable_p,
    paired_comparison,
    panel_adequacy,
    sign_flip_test,
)
from core.errors import DeclinedError

N_SIMS = 1000
FAST_RESAMPLES = 999


def _null_diffs(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Paired differences under the null: symmetric about 0."""
    if kind == "normal":
        return rng.normal(size=n)
    if kind == "heavy-tailed":  # Student t with 2 df: infinite variance
        return rng.standard_t(2, size=n)
    if kind == "skewed-exchangeable":
        # Realistic pairs: a skewed per-probe difficulty shared by both models, plus skewed
        # noise that is i.i.d. between the two models. Scores are skewed, differences are
        # symmetric (difference of two i.i.d. values), which is exactly the test's null.
        base = rng.lognormal(0.0, 1.0, size=n)
        return (base + rng.gamma(0.5, 2.0, size=n)) - (base + rng.gamma(0.5, 2.0, size=n))
    if kind == "tied-discrete":  # hit-minus-hit counts: many exact zeros and ties
        return (rng.random(n) < 0.3).astype(float) - (rng.random(n) < 0.3)
    raise AssertionError(kind)


def _null_pvalues(kind: str, n: int, n_sims: int, seed: int, n_resamples: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.array(
        [
            sign_flip_test(_null_diffs(kind, n, rng), n_resamples=n_resamples, seed=i).p_value
            for i in range(n_sims)
        ]
    )


def _rate_ci(hits: int, n: int) -> tuple[float, float]:
    return clopper_pearson(hits, n, level=0.99)


@pytest.mark.parametrize("kind", ["normal", "heavy-tailed", "skewed-exchangeable"])
@pytest.mark.parametrize("n", [30, 150])
def test_monte_carlo_sign_flip_uniform_under_null(kind: str, n: int) -> None:
    p = _null_pvalues(kind, n, N_SIMS, seed=1000 + n, n_resamples=FAST_RESAMPLES)
    ks = sps.kstest(p, "uniform")
    hits = int(np.sum(p <= 0.05))
    low, high = _rate_ci(hits, N_SIMS)
    print(
        f"\n[null MC] {kind:20s} n={n:3d}: FPR(0.05) = {hits / N_SIMS:.3f} "
        f"99% CI [{low:.3f}, {high:.3f}], KS p = {ks.pvalue:.3f}"
    )
    assert ks.pvalue > 0.001
    assert low <= 0.05 <= high
    assert p.min() >= 1 / (FAST_RESAMPLES + 1)  # never 0


@pytest.mark.parametrize("kind", ["normal", "heavy-tailed", "skewed-exchangeable", "tied-discrete"])
def test_exact_sign_flip_valid_under_null(kind: str) -> None:
    """n = 10 is enumerated exactly; p is discrete, so check P(p <= a) <= a instead of KS."""
    p = _null_pvalues(kind, 10, N_SIMS, seed=7, n_resamples=FAST_RESAMPLES)
    for alpha in (0.01, 0.05, 0.10):
        hits = int(np.sum(p <= alpha))
        low, high = _rate_ci(hits, N_SIMS)
        print(
            f"\n[null exact] {kind:20s} n=10: P(p <= {alpha}) = {hits / N_SIMS:.3f} "
            f"99% CI [{low:.3f}, {high:.3f}]"
        )
        assert low <= alpha


def test_tied_discrete_monte_carlo_not_anticonservative() -> None:
    p = _null_pvalues("tied-discrete", 60, N_SIMS, seed=11, n_resamples=FAST_RESAMPLES)
    low, _ = _rate_ci(int(np.sum(p <= 0.05)), N_SIMS)
    assert low <= 0.05


def test_default_resamples_uniform_under_null() -> None:
    p = _null_pvalues("normal", 40, 300, seed=3, n_resamples=10_000)
    ks = sps.kstest(p, "uniform")
    hits = int(np.sum(p <= 0.05))
    low, high = _rate_ci(hits, 300)
    print(
        f"\n[null default N=10000] n=40: FPR(0.05) = {hits / 300:.3f} "
        f"99% CI [{low:.3f}, {high:.3f}], KS p = {ks.pvalue:.3f}"
    )
    assert ks.pvalue > 0.001 and low <= 0.05 <= high


def _power(n: int, alpha: float, n_sims: int = 500) -> float:
    rng = np.random.default_rng(2024 + n)
    p = [
        sign_flip_test(rng.normal(0.5, 1.0, size=n), n_resamples=FAST_RESAMPLES, seed=i).p_value
        for i in range(n_sims)
    ]
    return float(np.mean(np.asarray(p) <= alpha))


def test_power_known_positive_matches_the_t_test_bound() -> None:
    """Shift 0.5 sd, n = 50, p <= 0.01. No test can exceed the one-sided t-test's power here,
    which is 0.867 (noncentral t), so "at least 90%" is unattainable at this n; the
    sign-flip test must come close to that bound."""
    t_power = sps.nct.sf(sps.t.ppf(0.99, 49), 49, 0.5 * math.sqrt(50))
    power = _power(50, 0.01)
    low, high = _rate_ci(round(power * 500), 500)
    print(f"\n[power] shift 0.5 sd, n=50, p<=0.01: {power:.3f} (t-test bound {t_power:.3f})")
    assert power >= 0.80 and low <= t_power <= high


@pytest.mark.parametrize(("n", "alpha"), [(50, 0.05), (70, 0.01)])
def test_power_known_positive_at_least_90_percent(n: int, alpha: float) -> None:
    power = _power(n, alpha)
    print(f"\n[power] shift 0.5 sd, n={n}, p<={alpha}: {power:.3f}")
    assert power >= 0.90


def test_exact_and_monte_carlo_agree() -> None:
    d = np.random.default_rng(5).normal(0.4, 1.0, size=14)
    exact = sign_flip_test(d, seed=0)
    mc = sign_flip_test(d, seed=0, exact_max_n=0, n_resamples=20_000)
    assert exact.n_resamples == "exact" and mc.n_resamples == 20_000
    assert abs(exact.p_value - mc.p_value) < 0.01


def test_sign_flip_hand_worked_exact() -> None:
    # diffs 1, 2, 3: of the 8 sign patterns only (+,+,+) reaches the observed sum 6.
    res = sign_flip_test([1.0, 2.0, 3.0], seed=0)
    assert res.p_value == pytest.approx(1 / 8) and res.n == 3 and res.statistic == 2.0
    assert sign_flip_test([1.0, 2.0, 3.0], seed=0, alternative="less").p_value == 1.0
    assert sign_flip_test([1.0, 2.0, 3.0], seed=0, alternative="two-sided").p_value == 0.25
    # ties: 1, 1, -1 sum 1; patterns with sum >= 1 are 4 of 8 (+++, ++-, +-+, -++).
    assert sign_flip_test([1.0, 1.0, -1.0], seed=0).p_value == pytest.approx(0.5)
    assert "symmetric about 0" in res.null and "exact" in res.method


def test_p_value_never_zero_and_reports_n() -> None:
    res = sign_flip_test(np.full(100, 5.0) + np.arange(100) * 1e-3, n_resamples=99, seed=1)
    assert res.p_value == pytest.approx(1 / 100) and res.n_resamples == 99 and res.n == 100
    assert "N = 99" in res.method and "(1+k)/(N+1)" in res.method


def test_determinism_same_seed_same_numbers() -> None:
    rng = np.random.default_rng(9)
    s, r = rng.normal(0.2, 1, 60), rng.normal(0, 1, 60)
    a = paired_comparison(s, r, seed=42, n_resamples=2000)
    b = paired_comparison(s, r, seed=42, n_resamples=2000)
    assert a == b
    c = sign_flip_test(s - r, seed=43, n_resamples=2000)
    assert c.p_value != a.test.p_value  # a different seed draws different patterns
    assert tuple(bootstrap_ci(s, seed=1)) == tuple(bootstrap_ci(s, seed=1))


def test_paired_comparison_detects_and_describes() -> None:
    rng = np.random.default_rng(4)
    base = rng.lognormal(size=80)
    res = paired_comparison(base + 1.0 + rng.normal(0, 1, 80), base + rng.normal(0, 1, 80), seed=0)
    assert res.test.p_value < 0.001 and res.n == 80
    # the interval is of d_z itself, so it contains the effect size (not the raw mean)
    assert res.ci.low < res.effect_size < res.ci.high and res.effect_size > 0.5
    assert res.mean_difference > res.ci.high  # here the raw mean (~1.07) lies above d_z's CI
    assert "suspect" in res.test.null
    with pytest.raises(DeclinedError, match="different numbers of probes"):
        paired_comparison([1, 2, 3], [1, 2], seed=0)
    with pytest.raises(DeclinedError, match="positions \\[1\\]"):
        paired_comparison([1, float("nan"), 3], [1, 2, 3], seed=0)


def test_holm_hand_worked_example() -> None:
    # sorted: .005*4 = .02, .01*3 = .03, .03*2 = .06, .04*1 = .04 -> running max .06
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.5, 0.4]), [0.8, 0.8])
    np.testing.assert_allclose(holm([0.9, 0.8, 0.7]), [1.0, 1.0, 1.0])  # capped at 1
    assert holm([0.02]).tolist() == [0.02] and holm([]).size == 0
    with pytest.raises(ValueError):
        holm([0.1, float("nan")])


def test_holm_monotone_and_bounded() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        p = rng.random(rng.integers(1, 12)) ** 3
        adj = holm(p)
        order = np.argsort(p)
        assert np.all(np.diff(adj[order]) >= 0)
        assert np.all(adj >= p) and np.all(adj <= 1)
        assert np.all(adj <= np.minimum(1, p * p.size) + 1e-15)  # never worse than Bonferroni


def test_holm_controls_family_wise_error() -> None:
    rng = np.random.default_rng(1)
    fw = sum(bool(np.any(holm(rng.random(5)) <= 0.05)) for _ in range(4000))
    assert clopper_pearson(fw, 4000, level=0.99)[0] <= 0.05


def test_fisher_and_clopper_pearson_known_values() -> None:
    # P(X >= 5), X hypergeometric(12 answers, 6 hits, 6 suspect answers) = (36 + 1) / 924
    res = fisher_exact_greater(5, 6, 1, 6)
    assert res.p_value == pytest.approx(37 / 924) and res.odds_ratio == pytest.approx(25.0)
    assert res.table == ((5, 1), (1, 5)) and "Fisher" in res.method
    assert clopper_pearson(0, 10) == pytest.approx((0.0, 1 - 0.025 ** (1 / 10)))
    assert clopper_pearson(5, 10) == pytest.approx((0.187086, 0.812914), abs=1e-6)
    assert clopper_pearson(10, 10)[1] == 1.0
    with pytest.raises(DeclinedError):
        fisher_exact_greater(3, 2, 0, 5)


def test_fisher_pooled_and_known_positive() -> None:
    pooled = fisher_exact_greater_pooled(12, 40, {"a": (1, 40), "b": (2, 40), "c": (0, 40)})
    assert pooled.table == ((12, 28), (3, 117)) and pooled.p_value < 1e-4
    assert "3 references pooled" in pooled.method
    rng = np.random.default_rng(8)
    detected = [
        fisher_exact_greater(rng.binomial(40, 0.35), 40, rng.binomial(120, 0.05), 120).p_value
        <= 0.01
        for _ in range(300)
    ]
    assert np.mean(detected) >= 0.9


@pytest.mark.parametrize("rate", [0.02, 0.1, 0.3])
def test_fisher_valid_under_null(rate: float) -> None:
    rng = np.random.default_rng(int(rate * 1000))
    sims = 1500
    p = np.array(
        [
            fisher_exact_greater(rng.binomial(40, rate), 40, rng.binomial(40, rate), 40).p_value
            for _ in range(sims)
        ]
    )
    pooled = np.array(
        [
            fisher_exact_greater_pooled(
                rng.binomial(40, rate), 40, {r: (int(rng.binomial(40, rate)), 40) for r in "abc"}
            ).p_value
            for _ in range(sims)
        ]
    )
    for name, values in (("single", p), ("pooled", pooled)):
        hits = int(np.sum(values <= 0.05))
        low, high = _rate_ci(hits, sims)
        print(
            f"\n[fisher null] {name} rate={rate}: P(p <= 0.05) = {hits / sims:.3f} "
            f"99% CI [{low:.3f}, {high:.3f}]"
        )
        assert low <= 0.05


@pytest.mark.parametrize("method", ["percentile", "BCa"])
def test_bootstrap_ci_coverage(method: str) -> None:
    rng = np.random.default_rng(12)
    sims = 300
    covered = 0
    for i in range(sims):
        x = rng.exponential(1.0, size=40) if i % 2 else rng.normal(1.0, 1.0, size=40)
        low, high = bootstrap_ci(x, n_resamples=999, seed=i, method=method)
        covered += low <= 1.0 <= high
    print(f"\n[bootstrap] {method}: coverage of the true mean {covered / sims:.3f}")
    assert 0.88 <= covered / sims <= 0.99


def test_bootstrap_ci_paired_and_degenerate() -> None:
    a, b = np.arange(10.0), np.arange(10.0) - 2.0
    ci = bootstrap_ci(a, paired_with=b, seed=0)
    assert (ci.low, ci.high) == (2.0, 2.0) and ci.method.startswith("degenerate")
    ci = bootstrap_ci([0, 0, 0, 0, 0, 0, 0, 0, 0, 1], seed=0)
    assert math.isfinite(ci.low) and ci.low <= 0.1 <= ci.high and ci.level == 0.95
    with pytest.raises(DeclinedError, match="at least 2"):
        bootstrap_ci([1.0], seed=0)


def test_empirical_p_and_panel_size() -> None:
    assert empirical_p(10.0, [1.0, 2.0, 3.0]) == 0.25
    assert empirical_p(2.0, [1.0, 2.0, 3.0]) == 0.75  # the tie counts (conservative)
    assert empirical_p(0.0, [1.0, 2.0, 3.0], alternative="less") == 0.25
    assert min_achievable_p(3) == 0.25 and min_achievable_p(19) == 0.05
    small = panel_adequacy(3, 0.05)
    assert not small.adequate and small.min_p == 0.25 and small.needed == 19
    assert "0.25" in small.message and "19" in small.message
    assert "predictive test" in small.message and "normally" in small.message
    assert panel_adequacy(19, 0.05).adequate
    assert not panel_adequacy(19, 0.05, n_tests=3).adequate
    assert panel_adequacy(19, 0.05, n_tests=3).needed == 59
    # one number everywhere: the adequacy reads panel_needed (4 Hp checks: 79 references)
    from core.checks.model_level import panel_needed

    for alpha, n_tests in ((0.05, 1), (0.05, 4), (0.01, 3)):
        assert panel_adequacy(5, alpha, n_tests=n_tests).needed == panel_needed(alpha, n_tests)
    assert panel_adequacy(79, 0.05, n_tests=4).adequate


def test_empirical_p_valid_under_exchangeability() -> None:
    rng = np.random.default_rng(2)
    draws = rng.normal(size=(4000, 20))
    p = np.array([empirical_p(row[0], row[1:]) for row in draws])
    assert p.min() == pytest.approx(1 / 20)
    assert clopper_pearson(int(np.sum(p <= 0.05)), 4000, level=0.99)[0] <= 0.05


def test_combine_holm_statement_and_limit() -> None:
    res = combine_holm({"affinity": 0.004, "identity": 0.03, "similarity": 0.2, "weights": None})
    assert res.adjusted == pytest.approx({"affinity": 0.012, "identity": 0.06, "similarity": 0.2})
    assert res.supporting == ("affinity",) and res.not_tested == ("weights",)
    assert res.p_family == pytest.approx(0.012)
    assert res.statement.startswith("family-wise p = 0.012 (Holm over 3 checks")
    assert "if the suspect were an independent model like the references" in res.statement
    assert res.level == "somewhat unusual for an independent model"
    none = combine_holm({"affinity": 0.03, "identity": 0.04})  # Holm: 0.06, 0.06
    assert none.supporting == () and "none of the 2 checks" in none.statement
    assert none.level == "not distinguishable from the independent references"
    assert none.limit == NO_DETECTION_LIMIT
    assert "no detection does not show independence" in NO_DETECTION_LIMIT.lower()
    empty = combine_holm({"weights": None})
    assert empty.statement.startswith("not assessed") and empty.adjusted == {}
    assert empty.p_family is None
    assert json.loads(json.dumps(res.to_dict(), allow_nan=False))["supporting"] == ["affinity"]
    for r in (res, none, empty):  # a p-value never reads as support for Hp over Hd
        assert "over hd" not in r.statement.lower() and "support" not in r.level


def test_combine_holm_names_checks_driven_by_the_same_signal() -> None:
    signals = {
        "likelihood": ("protected answers' text", "persona phrases"),
        "similarity": ("protected answers' text", "persona phrases"),
        "identity": ("persona names", "persona phrases"),
        "distribution": ("next-token distributions",),
    }
    res = combine_holm(
        {"likelihood": 0.01, "similarity": 0.02, "identity": 0.5, "distribution": None},
        signals=signals,
    )
    assert res.shared_signals == {
        "protected answers' text": ["likelihood", "similarity"],
        "persona phrases": ["likelihood", "similarity", "identity"],
    }  # distribution declined: it takes no part
    assert "not independent lines of evidence" in res.signal_note
    assert "likelihood, similarity, identity share persona phrases" in res.signal_note
    assert combine_holm({"a": 0.01, "b": 0.5}, signals=signals).signal_note == ""


@pytest.mark.parametrize(
    ("p", "floor", "text"),
    [
        (1 / 10_001, 1 / 10_001, "≤ 1e-4"),
        (1 / 1000, 1 / 1000, "≤ 0.001"),
        (0.25, 0.25, "≤ 0.25"),
        (1 / 3, 0.25, "0.333"),
        (0.012345, None, "0.0123"),
        (0.00012, None, "1.20e-4"),
        (None, None, "—"),
    ],
)
def test_format_p_prints_the_floor_as_an_upper_bound(p, floor, text) -> None:
    from core.checks.stats import format_p

    assert format_p(p, floor=floor) == text


def test_sign_flip_by_cluster_flips_one_sign_per_cluster() -> None:
    # 3 clusters of 10 probes: only 2**3 = 8 sign patterns, exact; the p cannot go below 1/8
    d = np.repeat([1.0, 2.0, 3.0], 10) + np.tile(np.linspace(-0.1, 0.1, 10), 3)
    clusters = [f"c{i // 10}" for i in range(30)]
    per_probe = sign_flip_test(d, seed=0, n_resamples=999)
    by_cluster = sign_flip_test(d, seed=0, clusters=clusters)
    assert per_probe.p_value < 0.01
    assert by_cluster.p_value == pytest.approx(1 / 8) and by_cluster.n_resamples == "exact"
    assert by_cluster.n == 30 and "3 probe clusters" in by_cluster.null
    assert by_cluster.statistic == pytest.approx(d.mean())
    # labels that make every probe its own cluster change nothing
    own = sign_flip_test(d, seed=0, n_resamples=999, clusters=[str(i) for i in range(30)])
    assert own == per_probe


def test_clustered_sign_flip_is_valid_when_probes_share_a_cluster_effect() -> None:
    """Clustered probes (a shared cluster effect, symmetric about 0): the per-probe test is
    anticonservative, the per-cluster test keeps its size."""
    rng = np.random.default_rng(13)
    clusters = [f"c{i // 8}" for i in range(64)]
    p_probe, p_cluster = [], []
    for i in range(300):
        d = np.repeat(rng.normal(0, 1, 8), 8) + rng.normal(0, 0.3, 64)
        p_probe.append(sign_flip_test(d, seed=i, n_resamples=199).p_value)
        p_cluster.append(sign_flip_test(d, seed=i, clusters=clusters).p_value)
    fpr_probe = float(np.mean(np.array(p_probe) <= 0.05))
    k = int(np.sum(np.array(p_cluster) <= 0.05))
    print(f"\nclustered null: FPR per probe {fpr_probe:.3f}, per cluster {k / 300:.3f}")
    assert fpr_probe > 0.15  # the per-probe null ignores the clusters
    assert clopper_pearson(k, 300, level=0.99)[0] <= 0.05
