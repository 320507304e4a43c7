"""The check records (core.checks.framework) and the verbal scale (core.checks.verbal)."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from core.checks import verbal
from core.checks.framework import (
    CheckResult,
    CheckSpec,
    Declined,
    ProbeDetail,
    ReferenceComparison,
    build_result,
    declined,
)
from core.checks.stats import NO_DETECTION_LIMIT, clopper_pearson, combine_holm, paired_comparison

SPEC = CheckSpec(
    key="teacher_affinity",
    title="Teacher-text affinity",
    question="Does the suspect assign unusually high likelihood to the protected model's answers?",
    access="log-probs",
    null_hypothesis="On each probe the suspect's and a reference's affinity are exchangeable.",
    alternative="The suspect's affinity is higher than every reference's.",
    test="Paired sign-flip permutation test per reference; intersection-union over references",
    minimum_inputs="At least 20 probes and 1 reference model scored on the same probes",
)

FORBIDDEN = re.compile(r"probability of distillation|prove|distilled|derived from", re.I)


def _comp(name: str, p: float, effect: float = 0.8) -> ReferenceComparison:
    return ReferenceComparison(
        reference=name,
        statistic=0.3,
        p_value=p,
        n=50,
        effect_size=effect,
        ci=(0.1, 0.5),
        n_resamples=9999,
    )


def test_spec_rejects_unknown_access_level() -> None:
    with pytest.raises(ValueError, match="access"):
        CheckSpec("k", "t", "q", "api", "h0", "h1", "test", "inputs")  # type: ignore[arg-type]


def test_iut_uses_largest_raw_p_and_holm_per_reference() -> None:
    res = build_result(
        SPEC, [_comp("a", 0.001), _comp("b", 0.004), _comp("c", 0.02)], n_probes=50, seed=7
    )
    assert res.verdict == "supports Hp" and res.p_value == 0.02
    assert [c.p_holm for c in res.comparisons] == pytest.approx([0.003, 0.008, 0.02])
    assert res.p_value_any == pytest.approx(0.003)
    assert res.strength == verbal.MODERATE.label and res.n_references == 3
    assert "each of the 3 reference models" in res.reason and "'c'" in res.reason


def test_one_unbeaten_reference_makes_it_inconclusive() -> None:
    res = build_result(SPEC, [_comp("a", 0.0001), _comp("b", 0.3)], n_probes=50, seed=7)
    assert res.verdict == "inconclusive" and res.p_value == 0.3
    assert res.strength == verbal.INCONCLUSIVE.label
    assert "1 of the 2" in res.reason and "'b'" in res.reason


def test_strict_alpha_and_wrong_direction_never_read_as_support() -> None:
    strict = build_result(SPEC, [_comp("a", 0.03)], n_probes=50, seed=1, alpha=0.01)
    assert strict.verdict == "inconclusive" and strict.strength == verbal.INCONCLUSIVE.label
    wrong = build_result(SPEC, [_comp("a", 0.001, effect=-0.4)], n_probes=50, seed=1)
    assert wrong.verdict == "inconclusive" and "does not point towards Hp" in wrong.reason
    small = build_result(SPEC, [_comp("a", 0.0001, effect=0.05)], n_probes=5000, seed=1)
    assert small.verdict == "supports Hp" and small.strength == verbal.LIMITED.label


def test_no_references_and_declined_helper() -> None:
    res = build_result(SPEC, [], n_probes=50, seed=3)
    assert res.verdict == "declined" and "reference" in res.reason and res.p_value is None
    d = Declined(SPEC, "Only 4 probes; the check needs at least 20.", n_probes=4)
    assert d == declined(SPEC, "Only 4 probes; the check needs at least 20.", n_probes=4)
    assert d.strength == verbal.NOT_ASSESSED.label and d.null_hypothesis == SPEC.null_hypothesis
    assert json.loads(json.dumps(d.to_dict(), allow_nan=False))["verdict"] == "declined"


def test_to_dict_is_strict_json() -> None:
    rng = np.random.default_rng(0)
    s, r = rng.normal(1.0, 1.0, 30), rng.normal(0.0, 1.0, 30)
    comp = ReferenceComparison.from_paired(
        "ref-1", paired_comparison(s, r, seed=5, n_resamples=999)
    )
    inf_comp = ReferenceComparison(
        "ref-2",
        statistic=1.0,
        p_value=0.001,
        n=12,
        effect_size=math.inf,
        ci=(1.0, 1.0),
        n_resamples="exact",
    )
    details = [
        ProbeDetail(f"p{i}", {"suspect": np.float64(s[i]), "hit": np.bool_(True)}) for i in range(3)
    ]
    res = build_result(
        SPEC, [comp, inf_comp], n_probes=30, seed=5, probe_details=details, effect_size=float("nan")
    )
    data = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert (
        data["comparisons"][0]["reference"] == "ref-1"
        and data["comparisons"][1]["effect_size"] is None
    )
    assert data["probe_details"][0]["values"]["hit"] is True and data["seed"] == 5
    assert data["effect_size"] is None and isinstance(data["ci"], list)
    assert (
        data["comparisons"][0]["n_resamples"] == 999
        and data["comparisons"][1]["n_resamples"] == "exact"
    )
    assert set(data) == {f for f in CheckResult.__dataclass_fields__}


def test_iut_size_at_least_favourable_null() -> None:
    """Least favourable null: the suspect equals one reference and beats the others.
    The IUT rejects no more often than alpha (the FPR is printed)."""
    rng = np.random.default_rng(21)
    sims, rejected = 400, 0
    for i in range(sims):
        base = rng.normal(size=30)
        suspect = base + rng.normal(size=30)
        refs = [
            base + rng.normal(size=30),
            base - 2 + rng.normal(size=30),
            base - 3 + rng.normal(size=30),
        ]
        comps = [
            ReferenceComparison.from_paired(
                f"r{j}", paired_comparison(suspect, ref, seed=i * 10 + j, n_resamples=499)
            )
            for j, ref in enumerate(refs)
        ]
        rejected += build_result(SPEC, comps, n_probes=30, seed=i).verdict == "supports Hp"
    low, high = clopper_pearson(rejected, sims, level=0.99)
    print(f"\n[IUT null] P(supports Hp) = {rejected / sims:.3f} 99% CI [{low:.3f}, {high:.3f}]")
    assert low <= 0.05


@pytest.mark.parametrize(
    ("p", "effect", "key"),
    [
        (None, None, "not_assessed"),
        (float("nan"), 1.0, "not_assessed"),
        (0.0005, None, "strong"),
        (0.001, 0.5, "strong"),
        (0.005, 0.5, "moderately_strong"),
        (0.01, 0.5, "moderately_strong"),
        (0.04, 0.5, "moderate"),
        (0.05, 0.5, "moderate"),
        (0.0501, 3.0, "inconclusive"),
        (0.0001, 0.1, "limited"),
        (0.0001, -0.5, "inconclusive"),
        (0.0001, 0.0, "inconclusive"),
    ],
)
def test_verbal_scale_mapping(p: float | None, effect: float | None, key: str) -> None:
    assert verbal.strength(p, effect).key == key


def test_verbal_min_effect_is_configurable_and_p_checked() -> None:
    assert verbal.strength(0.0001, 0.3, min_effect=0.5).key == "limited"
    with pytest.raises(ValueError):
        verbal.strength(1.5)


def test_wording_never_claims_proof_or_a_probability_of_distillation() -> None:
    texts = [t for level in verbal.LEVELS for t in (level.label, level.definition)]
    texts += [
        NO_DETECTION_LIMIT,
        combine_holm({"a": 0.001}).statement,
        combine_holm({"a": 0.5}).statement,
    ]
    texts += [build_result(SPEC, [_comp("a", p)], n_probes=50, seed=1).reason for p in (0.001, 0.5)]
    for text in texts:
        assert not FORBIDDEN.search(text), text
    assert [d["key"] for d in verbal.definitions()] == [lvl.key for lvl in verbal.LEVELS]
    assert all("Hd" in level.definition or level is verbal.NOT_ASSESSED for level in verbal.LEVELS)
