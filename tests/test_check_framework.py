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
    with_family_p,
)
from core.checks.model_level import model_level_test
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


def _ml(shift: float, n_refs: int = 5, seed: int = 0):
    """A model-level test of a suspect ``shift`` above 5 references that differ by model."""
    rng = np.random.default_rng(seed)
    probe = rng.normal(size=40)
    refs = {f"r{j}": probe + rng.normal(0, 0.3) + rng.normal(0, 0.5, 40) for j in range(n_refs)}
    return model_level_test(probe + shift + rng.normal(0, 0.5, 40), refs)


def test_verdict_is_the_model_level_test_and_per_probe_tests_only_describe() -> None:
    comps = [_comp("a", 0.001), _comp("b", 0.004), _comp("c", 0.02)]
    ml = _ml(3.0)
    res = build_result(SPEC, comps, n_probes=40, seed=7, model_level=ml)
    assert res.verdict == "supports Hp" and res.p_value == ml.p_value < 0.05
    assert res.effect_size == ml.difference and res.ci == ml.difference_ci
    assert res.ci[0] <= res.effect_size <= res.ci[1]  # the estimate lies in its own interval
    assert res.model_level == ml.to_dict() and res.null_hypothesis == ml.null
    assert res.p_per_probe == 0.02  # the old intersection-union p, kept as a description
    assert [c.p_holm for c in res.comparisons] == pytest.approx([0.003, 0.008, 0.02])
    assert res.p_value_any == pytest.approx(0.003)
    assert (
        "model-level test" in res.reason and "independent model like the references" in res.reason
    )
    assert "descriptive" in res.reason
    # per-probe p-values that all reach alpha decide nothing when the suspect is not unusual
    plain = build_result(SPEC, comps, n_probes=40, seed=7, model_level=_ml(0.0))
    assert plain.verdict == "inconclusive" and plain.p_value > 0.05
    assert plain.strength == verbal.INCONCLUSIVE.label and plain.p_per_probe == 0.02


def test_small_panel_says_how_far_the_result_goes() -> None:
    res = build_result(SPEC, [_comp("a", 0.001)], n_probes=40, seed=1, model_level=_ml(3.0))
    text = " ".join(res.warnings)
    assert "predictive test" in text and "19 independent reference models" in text
    four = build_result(
        SPEC, [_comp("a", 0.001)], n_probes=40, seed=1, model_level=_ml(3.0), n_tests=4
    )
    assert "79 independent reference models" in " ".join(four.warnings)


def test_without_the_model_level_test_there_is_no_verdict() -> None:
    """The legacy per-probe intersection-union verdict is gone: its null is not Hd."""
    comps = [_comp("a", 0.001), _comp("b", 0.004), _comp("c", 0.02)]
    res = build_result(SPEC, comps, n_probes=50, seed=7)
    assert res.verdict == "declined" and res.p_value is None and res.model_level is None
    assert "not Hd" in res.reason and "no verdict" in res.reason
    assert len(res.comparisons) == 3 and res.p_per_probe == 0.02  # kept, descriptive only
    assert res.strength == verbal.NOT_ASSESSED.label
    combined = combine_holm({"x": res.p_value}, alpha=0.05)
    assert combined.p_family is None  # a declined check takes no part in Holm


def test_strict_alpha_and_wrong_direction_never_read_as_support() -> None:
    ml = _ml(0.5)
    assert 0.001 < ml.p_value < 0.05  # between a strict and the usual alpha
    strict = build_result(
        SPEC, [_comp("a", 0.03)], n_probes=40, seed=1, model_level=ml, alpha=0.001
    )
    assert strict.verdict == "inconclusive" and strict.strength == verbal.INCONCLUSIVE.label
    wrong = build_result(SPEC, [_comp("a", 0.001)], n_probes=40, seed=1, model_level=_ml(-3.0))
    assert wrong.verdict == "inconclusive" and wrong.p_value > 0.5
    assert "not distinguishable" in wrong.reason


def test_family_p_sets_the_verbal_level() -> None:
    ml = _ml(1.0)
    res = build_result(SPEC, [_comp("a", 0.001)], n_probes=40, seed=1, model_level=ml)
    assert res.strength != verbal.INCONCLUSIVE.label
    after_holm = with_family_p(res, 0.2, SPEC)  # reached alpha alone, not over the family
    assert after_holm.p_family == 0.2 and after_holm.strength == verbal.INCONCLUSIVE.label
    assert after_holm.verdict == "supports Hp"  # the check's own verdict is unchanged
    assert with_family_p(res, 0.0005, SPEC).strength == verbal.STRONG.label


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
        SPEC,
        [comp, inf_comp],
        n_probes=30,
        seed=5,
        probe_details=details,
        effect_size=float("nan"),
        model_level=_ml(1.0),
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


def test_model_level_verdict_keeps_its_size_where_the_per_probe_iut_does_not() -> None:
    """Independent models that differ systematically (model offsets): the suspect is one more
    of them. The per-probe IUT flags it about 1/(R+1) of the time; the model-level verdict
    at most alpha (both printed)."""
    rng = np.random.default_rng(21)
    sims, iut, verdict = 300, 0, 0
    for i in range(sims):
        probe = rng.normal(size=30)
        models = [probe + rng.normal(0, 1.0) + rng.normal(0, 0.5, 30) for _ in range(4)]
        suspect, refs = models[0], models[1:]
        comps = [
            ReferenceComparison.from_paired(
                f"r{j}", paired_comparison(suspect, ref, seed=i * 10 + j, n_resamples=199)
            )
            for j, ref in enumerate(refs)
        ]
        iut += max(c.p_value for c in comps) <= 0.05
        ml = model_level_test(suspect, {f"r{j}": r for j, r in enumerate(refs)})
        verdict += build_result(SPEC, comps, n_probes=30, seed=i, model_level=ml).verdict == (
            "supports Hp"
        )
    low, high = clopper_pearson(verdict, sims, level=0.99)
    print(
        f"\n[model offsets, R = 3] per-probe IUT flags {iut / sims:.3f}; model-level verdict "
        f"{verdict / sims:.3f} 99% CI [{low:.3f}, {high:.3f}]"
    )
    assert iut / sims > 0.12  # the old verdict: far above alpha (up to 1/(R+1))
    assert low <= 0.05


@pytest.mark.parametrize(
    ("p", "effect", "key"),
    [
        (None, None, "not_assessed"),
        (float("nan"), 1.0, "not_assessed"),
        (0.0005, None, "very_unusual"),
        (0.001, 0.5, "very_unusual"),
        (0.005, 0.5, "unusual"),
        (0.01, 0.5, "unusual"),
        (0.04, 0.5, "somewhat_unusual"),
        (0.05, 0.5, "somewhat_unusual"),
        (0.0501, 3.0, "not_distinguishable"),
        (0.0001, 0.1, "unusual_small_effect"),
        (0.0001, -0.5, "not_distinguishable"),
        (0.0001, 0.0, "not_distinguishable"),
    ],
)
def test_verbal_scale_mapping(p: float | None, effect: float | None, key: str) -> None:
    assert verbal.strength(p, effect).key == key


def test_verbal_min_effect_is_configurable_and_p_checked() -> None:
    assert verbal.strength(0.0001, 0.3, min_effect=0.5).key == "unusual_small_effect"
    assert verbal.family_level(None) is verbal.NOT_ASSESSED
    assert verbal.family_level(0.004) is verbal.MODERATELY_STRONG
    with pytest.raises(ValueError):
        verbal.strength(1.5)


def test_wording_never_claims_proof_or_a_probability_of_distillation() -> None:
    texts = [t for level in verbal.LEVELS for t in (level.label, level.definition)]
    texts += [
        NO_DETECTION_LIMIT,
        combine_holm({"a": 0.001}).statement,
        combine_holm({"a": 0.5}).statement,
    ]
    texts += [
        build_result(SPEC, [_comp("a", 0.001)], n_probes=40, seed=1, model_level=_ml(s)).reason
        for s in (3.0, 0.0)
    ]
    for text in texts:
        assert not FORBIDDEN.search(text), text
        assert "over hd" not in text.lower(), text  # support for Hp over Hd needs an LR
    assert [d["key"] for d in verbal.definitions()] == [lvl.key for lvl in verbal.LEVELS]
    assert all("Hd" in level.definition or level is verbal.NOT_ASSESSED for level in verbal.LEVELS)
