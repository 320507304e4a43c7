"""The combined verdict's false-positive rate when independent models DIFFER, as they do.

The null of Hd is "the suspect is one more independent model like the references", not
"the suspect scores the same as each reference on every probe". So the simulation draws
the suspect and the R references from one population of independent models that differ
systematically:

* model-level offsets (each model is better or worse at every statistic, and the same
  offset drives likelihood and similarity, which share a signal);
* heteroscedastic noise (each model has its own per-probe noise level);
* clustered probes (8 topics of 5 probes; each model has its own topic effects, so the
  probes of a topic are not independent draws; the clusters are passed to the checks);
* identity: per-question tendencies to name the protected model, shifted by the model.

The per-probe values go through the checks' own functions (``likelihood_check``,
``similarity_check``, ``distribution_check`` with their real score records, and
``compare_with_panel`` with the identity check's SPEC for per-question hit rates), and the
four p-values through the Holm combination the runner uses. The combined verdict (any
Holm-adjusted p <= alpha, i.e. the family-wise p <= alpha) must have a false-positive
rate <= alpha within its exact 99% binomial interval for R = 3, 5 and 20; a suspect shifted
the way a distilled one is must still be detected. The fast versions run in ``make test``;
the ``slow`` ones repeat them with more replicates (``make test-slow``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from core.checks import identity
from core.checks.distribution import AgreementScores, distribution_check
from core.checks.likelihood import AffinityScores, likelihood_check
from core.checks.paired import compare_with_panel
from core.checks.similarity import SimilarityScores, similarity_check
from core.checks.stats import clopper_pearson, combine_holm

ALPHA = 0.05
N_PROBES, N_CLUSTERS = 40, 8
N_QUESTIONS, ANSWERS = 20, 3
N_TESTS = 4  # the Hp checks combined (likelihood, identity, similarity, distribution)
RESAMPLES = 49  # the per-probe sign-flip tests and bootstraps are descriptive only
IDS = tuple(f"p{i}" for i in range(N_PROBES))
CLUSTERS = tuple(f"topic-{i % N_CLUSTERS}" for i in range(N_PROBES))
QIDS = tuple(f"q{i}" for i in range(N_QUESTIONS))
SIGNALS = {
    "likelihood": ("protected answers' text", "persona phrases"),
    "identity": ("persona names", "persona phrases"),
    "similarity": ("protected answers' text", "persona phrases"),
    "distribution": ("next-token distributions",),
}


@dataclass(frozen=True)
class Shift:
    """How far the suspect lies from the population of independent models (0: Hd is true)."""

    text: float = 0.0  # likelihood and similarity (the protected answers' text)
    names: float = 0.0  # identity: log-odds of naming the protected model
    distribution: float = 0.0


def _model(rng: np.random.Generator, probe: np.ndarray, offset: float) -> np.ndarray:
    """One independent model's per-probe values: offset, own topic effects, own noise level."""
    topic = rng.normal(0.0, 0.25, N_CLUSTERS)[np.arange(N_PROBES) % N_CLUSTERS]
    return probe + offset + topic + rng.normal(0.0, rng.uniform(0.3, 0.9), N_PROBES)


def simulate(rng: np.random.Generator, n_refs: int, shift: Shift, seed: int) -> dict:
    """One case: the suspect (model 0) and ``n_refs`` references; the four checks' p-values."""
    names = ["suspect"] + [f"r{j}" for j in range(n_refs)]
    text_probe = rng.normal(0.0, 1.0, N_PROBES)
    dist_probe = rng.normal(0.0, 0.5, N_PROBES)
    q_tendency = rng.normal(-2.0, 1.0, N_QUESTIONS)  # some questions elicit names more often
    aff, sim, agr, hits = {}, {}, {}, {}
    for m, name in enumerate(names):
        u_text, u_dist, u_names = rng.normal(0.0, [0.4, 0.3, 0.6])  # how independent models differ
        if m == 0:
            u_text, u_dist, u_names = (
                u_text + shift.text,
                u_dist + shift.distribution,
                (u_names + shift.names),
            )
        a = _model(rng, text_probe, u_text)
        aff[name] = AffinityScores(name, IDS, -a, np.zeros(N_PROBES), 0.5 * a, np.zeros(N_PROBES))
        s = _model(rng, text_probe, u_text)  # the same signal drives similarity
        sim[name] = SimilarityScores(
            name,
            IDS,
            {
                "rouge_l": np.clip(0.4 + 0.08 * s, 0, 1),
                "char_4gram_cosine": np.clip(0.5 + 0.08 * s + rng.normal(0, 0.02, N_PROBES), 0, 1),
            },
        )
        d = _model(rng, dist_probe, u_dist)
        agr[name] = AgreementScores(name, IDS, 3.0 - 0.5 * d, np.clip(0.5 + 0.05 * d, 0, 1))
        rate = 1 / (1 + np.exp(-(q_tendency + u_names + rng.normal(0, 0.5, N_QUESTIONS))))
        hits[name] = rng.binomial(ANSWERS, rate) / ANSWERS  # per-question share of hit answers
    common = {"seed": seed, "alpha": ALPHA, "n_resamples": RESAMPLES, "n_tests": N_TESTS}
    refs = names[1:]
    results = {
        "likelihood": likelihood_check(
            aff["suspect"], {k: aff[k] for k in refs}, clusters=CLUSTERS, **common
        ),
        "identity": compare_with_panel(
            identity.SPEC,
            hits["suspect"],
            {k: hits[k] for k in refs},
            probe_ids=QIDS,
            value_name="name_hit_share",
            **common,
        ),
        "similarity": similarity_check(
            sim["suspect"], {k: sim[k] for k in refs}, clusters=CLUSTERS, **common
        ),
        "distribution": distribution_check(
            agr["suspect"], {k: agr[k] for k in refs}, clusters=CLUSTERS, **common
        ),
    }
    combined = combine_holm({k: r.p_value for k, r in results.items()}, ALPHA, signals=SIGNALS)
    return {"results": results, "combined": combined}


def _run(n_refs: int, reps: int, shift: Shift, seed: int) -> tuple[int, list[float]]:
    rng = np.random.default_rng(seed)
    flagged, p_family = 0, []
    for i in range(reps):
        out = simulate(rng, n_refs, shift, seed=i)
        p = out["combined"].p_family
        p_family.append(p)
        flagged += p is not None and p <= ALPHA
    return flagged, p_family


def _check_fpr(n_refs: int, reps: int, seed: int) -> None:
    flagged, p = _run(n_refs, reps, Shift(), seed)
    low, high = clopper_pearson(flagged, reps, level=0.99)
    print(
        f"\n[independent models differ, R = {n_refs}] combined FPR = {flagged}/{reps} = "
        f"{flagged / reps:.3f} (99% CI {low:.3f}-{high:.3f}); median family-wise p "
        f"{float(np.median(p)):.3f}"
    )
    assert low <= ALPHA  # not significantly above alpha
    assert float(np.median(p)) < 0.95  # the test is alive (p = 1 always would pass)


FAST = {3: 120, 5: 80, 20: 30}  # replicates per panel size in make test
SLOW = {3: 1000, 5: 600, 20: 300}


@pytest.mark.parametrize("n_refs", sorted(FAST))
def test_combined_verdict_fpr_is_at_most_alpha_when_independent_models_differ(n_refs) -> None:
    _check_fpr(n_refs, FAST[n_refs], seed=1000 + n_refs)


@pytest.mark.slow
@pytest.mark.parametrize("n_refs", sorted(SLOW))
def test_combined_verdict_fpr_slow(n_refs) -> None:
    _check_fpr(n_refs, SLOW[n_refs], seed=2000 + n_refs)


DISTILLED = Shift(text=4.0, names=3.0, distribution=2.5)


@pytest.mark.parametrize(("n_refs", "reps"), [(3, 10), (5, 10), (20, 5)])
def test_a_suspect_shifted_like_a_distilled_one_is_detected(n_refs, reps) -> None:
    flagged, p = _run(n_refs, reps, DISTILLED, seed=3000 + n_refs)
    print(
        f"\n[distilled-like suspect, R = {n_refs}] detected {flagged}/{reps}; median "
        f"family-wise p {float(np.median(p)):.2g}"
    )
    assert flagged >= reps - 1


def test_the_simulation_feeds_the_real_checks_and_names_shared_signals() -> None:
    out = simulate(np.random.default_rng(5), 5, DISTILLED, seed=0)
    results, combined = out["results"], out["combined"]
    for key, res in results.items():
        assert res.model_level is not None and res.model_level["n_references"] == 5, key
        assert res.p_value == res.model_level["p_value"] and res.p_per_probe is not None
    assert results["likelihood"].details["clusters"]["n_clusters"] == N_CLUSTERS
    assert "per cluster" in results["likelihood"].comparisons[0].method
    assert combined.shared_signals["persona phrases"] == ["likelihood", "identity", "similarity"]
    assert "not independent lines of evidence" in combined.signal_note
