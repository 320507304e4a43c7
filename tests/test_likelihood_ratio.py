"""The measured likelihood ratio: known answers on simulated scores, Cllr, PAV, bounds, ENFSI."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from core.checks.likelihood_ratio import (
    MeasuredLR,
    cllr,
    cllr_min,
    enfsi_level,
    fpr_upper_bound,
    loo_lrs,
    measure_lr,
    pav,
    rate_bound,
    twins_needed,
)
from core.checks.stats import clopper_pearson


def test_clopper_pearson_one_sided_bounds() -> None:
    assert fpr_upper_bound(0, 59) == pytest.approx(1 - 0.05 ** (1 / 59))
    assert fpr_upper_bound(0, 59) < 0.05 < fpr_upper_bound(0, 58)
    assert fpr_upper_bound(0, 12) == pytest.approx(0.2209, abs=1e-4)
    # the two-sided 95% interval's upper end is the one-sided 97.5% bound (0/12 -> 0.26)
    assert clopper_pearson(0, 12)[1] == pytest.approx(fpr_upper_bound(0, 12, 0.975))
    assert clopper_pearson(0, 12)[1] == pytest.approx(0.2646, abs=1e-4)
    # k > 0: P(X <= k | n, bound) = 5% exactly
    from scipy.stats import binom

    assert binom.cdf(2, 40, fpr_upper_bound(2, 40)) == pytest.approx(0.05)
    assert fpr_upper_bound(5, 5) == 1.0
    assert twins_needed(0.05) == 59 and twins_needed(0.10) == 29 and twins_needed(0.05, k=1) == 93
    b = rate_bound(0, 12)
    assert b.needed_for_target == 59 and "at most 0.221" in b.statement
    with pytest.raises(ValueError):
        fpr_upper_bound(3, 2)


def test_pav_is_monotone_least_squares() -> None:
    assert pav([1, 3, 2, 4]).tolist() == [1, 2.5, 2.5, 4]
    assert pav([3, 2, 1]).tolist() == [2, 2, 2]
    assert pav([0, 1], weights=[3, 1]).tolist() == [0, 1]
    assert pav([1, 0], weights=[3, 1]).tolist() == [0.75, 0.75]


def test_cllr_known_values() -> None:
    assert cllr([1.0, 1.0], [1.0]) == pytest.approx(1.0)  # always LR = 1: cost 1
    assert cllr([1e9], [1e-9]) == pytest.approx(0.0, abs=1e-8)
    assert cllr([1e-3], [1e3]) > 5  # confidently wrong ratios cost more than saying nothing
    # perfectly separated scores: the best monotone transform gives Cllr_min = 0
    assert cllr_min([5.0, 6.0, 7.0], [0.0, 1.0, 2.0]) == pytest.approx(0.0, abs=1e-9)
    # identical score sets: no discrimination, Cllr_min = 1
    assert cllr_min([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) == pytest.approx(1.0)


def test_lr_matches_the_known_gaussian_ratio() -> None:
    """Hp ~ N(2, 1), Hd ~ N(0, 1): the true LR at s is exp(2 s - 2)."""
    rng = np.random.default_rng(7)
    hp, hd = rng.normal(2, 1, 600), rng.normal(0, 1, 600)
    for s in (0.0, 1.0, 2.0):
        m = measure_lr(hp, hd, s, n_boot=200, seed=1)
        truth = math.exp(2 * s - 2)
        assert m.interval[0] <= m.lr <= m.interval[1]
        assert abs(m.log10_lr - math.log10(truth)) < 0.15, (s, m.lr, truth)
        assert m.interval[0] < truth * 1.3 and m.interval[1] > truth / 1.3
    m = measure_lr(hp, hd, 1.0, n_boot=100)
    # the best achievable cost for d' = 2 is about 0.47; KDE comes close, PAV below
    assert 0.4 < m.cllr_min <= m.cllr < 0.6
    assert m.n_hp == 600 and len(m.lr_hp) == 600 and not m.bounded


def test_lr_is_held_to_the_sample_size_bound() -> None:
    hp, hd = [5.0, 5.5, 6.0, 6.2], [0.0, 0.2, 0.4, 0.1, 0.3]
    m = measure_lr(hp, hd, 9.0, n_boot=50)
    assert m.bounded and m.lr == 6.0  # n_Hd + 1
    assert any("outside every calibration score" in w for w in m.warnings)
    low = measure_lr(hp, hd, -4.0, n_boot=50)
    assert low.lr == pytest.approx(1 / 5)  # 1 / (n_Hp + 1)
    assert enfsi_level(low).label.endswith("for Hd over the alternative")


def test_loo_needs_three_of_each_and_is_leave_one_out() -> None:
    with pytest.raises(ValueError):
        loo_lrs([1.0, 2.0], [0.0, 1.0, 2.0])
    hp, hd = [3.0, 3.1, 2.9, 3.3], [0.0, 0.1, -0.2, 0.2]
    lr_hp, lr_hd = loo_lrs(hp, hd)
    assert all(v > 1 for v in lr_hp) and all(v < 1 for v in lr_hd)


def test_enfsi_scale_only_for_a_measured_ratio() -> None:
    with pytest.raises(TypeError):
        enfsi_level(0.001)  # type: ignore[arg-type]  # a p-value never gets a support level
    rng = np.random.default_rng(3)
    hp, hd = rng.normal(4, 1, 300), rng.normal(0, 1, 300)
    m = measure_lr(hp, hd, 3.0, n_boot=50)
    assert isinstance(m, MeasuredLR) and 10 < m.lr < 100  # true LR exp(4) = 55
    assert m.verbal.supports_hp and m.verbal.label.startswith("moderate support for Hp")
    assert m.to_dict()["verbal"]["label"] == m.verbal.label and "Cllr" in m.statement
    # the words follow the interval's end nearest to 1: an interval across 1 says nothing
    wide = replace(m, interval=(0.8, 300.0))
    assert enfsi_level(wide).key == "enfsi_neutral"
    assert enfsi_level(replace(m, lr=5000.0, interval=(150.0, 9000.0))).label.startswith(
        "moderately strong support for Hp"
    )
    useless = measure_lr([0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 2.0, 3.0], 1.5, n_boot=20)
    assert useless.cllr >= 1 and not useless.verbal.supports_hp
    assert "not informative" in useless.verbal.label


def test_no_support_wording_from_a_p_value() -> None:
    """The p-value scale speaks of how unusual a result is, never of support."""
    from core.checks.verbal import LEVELS

    for level in LEVELS:
        assert "support" not in level.label.lower()
