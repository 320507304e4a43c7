"""The suspect-centred contrast (Nikolic et al.) keeps its size when independent models
differ systematically, and detects a suspect pulled towards the protected model.

Each model's answer to a probe is a point in a small latent space: the probe's centre,
the model's own systematic offset (independent models differ at every probe), its own
topic effects (clustered probes) and its own noise level. The similarity of two answers
is a decreasing function of their distance. Under Hd the suspect is drawn like any
reference; a distilled-like suspect lies between an independent model and the protected
one. The per-probe similarities go through :func:`contrast_from_similarities`, the
function the similarity check calls on real answers.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.checks.contrast import (
    NULL,
    contrast_from_similarities,
    pair_similarity,
    suspect_centred_contrast,
)
from core.checks.stats import clopper_pearson
from core.errors import DeclinedError

ALPHA = 0.05
N_PROBES, N_CLUSTERS, DIM = 30, 6, 4
CLUSTERS = tuple(f"topic-{i % N_CLUSTERS}" for i in range(N_PROBES))


def _world(
    rng: np.random.Generator, n_refs: int, pull: float
) -> tuple[dict[str, np.ndarray], dict[tuple[str, str], np.ndarray], list[str]]:
    centre = rng.normal(0.0, 1.0, (N_PROBES, DIM))

    def model() -> np.ndarray:
        offset = rng.normal(0.0, 0.6, DIM)  # how this model differs at every probe
        topic = rng.normal(0.0, 0.3, (N_CLUSTERS, DIM))[np.arange(N_PROBES) % N_CLUSTERS]
        return centre + offset + topic + rng.normal(0.0, rng.uniform(0.3, 0.8), (N_PROBES, DIM))

    protected = model()
    refs = [f"r{j}" for j in range(n_refs)]
    x = {r: model() for r in refs}
    x["suspect"] = (1 - pull) * model() + pull * protected  # pull 0: Hd holds

    def sim(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.exp(-np.sum((a - b) ** 2, axis=1) / (2 * DIM))

    to_prot = {k: sim(v, protected) for k, v in x.items()}
    names = list(x)
    pairs = {}
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            pairs[(a, b)] = pairs[(b, a)] = sim(x[a], x[b])
    return to_prot, pairs, refs


def _rate(n_refs: int, reps: int, pull: float, seed: int) -> tuple[int, int]:
    rng = np.random.default_rng(seed)
    flagged = 0
    for i in range(reps):
        to_prot, pairs, refs = _world(rng, n_refs, pull)
        res = contrast_from_similarities(
            to_prot,
            pairs,
            "suspect",
            refs,
            seed=i,
            alpha=ALPHA,
            n_resamples=19,
            clusters=CLUSTERS,
        )
        flagged += res.p_value <= ALPHA
    return flagged, reps


@pytest.mark.parametrize("n_refs", [5, 20])
def test_false_positive_rate_stays_at_alpha_when_independent_models_differ(n_refs: int) -> None:
    flagged, reps = _rate(n_refs, 150, pull=0.0, seed=11 + n_refs)
    low, _high = clopper_pearson(flagged, reps, level=0.99)
    print(f"\n[contrast, Hd true, R = {n_refs}] FPR = {flagged}/{reps}")
    assert low <= ALPHA  # the rate is compatible with alpha (99% exact interval)


def test_the_per_probe_contrast_alone_would_flag_independent_models() -> None:
    """Why the contrast's verdict is model-level: per reference, 'closer to the protected
    answers than to r' on most probes is common for independent models that differ."""
    rng = np.random.default_rng(5)
    beaten = 0
    for i in range(40):
        to_prot, pairs, refs = _world(rng, 5, pull=0.0)
        res = contrast_from_similarities(to_prot, pairs, "suspect", refs, seed=i, n_resamples=99)
        beaten += any(p <= ALPHA for p in res.per_reference_p.values())
    assert beaten / 40 > 2 * ALPHA


def test_a_suspect_pulled_towards_the_protected_model_is_detected() -> None:
    flagged, reps = _rate(5, 40, pull=0.7, seed=3)
    print(f"\n[contrast, pulled suspect, R = 5] detected {flagged}/{reps}")
    assert flagged / reps >= 0.8
    flagged, reps = _rate(20, 20, pull=0.7, seed=4)  # the rank test's range at R = 20
    assert flagged / reps >= 0.8


def test_the_contrast_on_answers_states_its_null_test_and_n() -> None:
    protected = [f"The fox jumps over the dog {i} times, happily." for i in range(12)]
    suspect = [f"The fox jumps over the dog {i} times, happily!" for i in range(12)]
    refs = {
        f"r{j}": [f"Answer {j}: a cat sleeps {i + j} hours in the sun." for i in range(12)]
        for j in range(4)
    }
    res = suspect_centred_contrast(protected, suspect, refs, seed=1)
    doc = res.to_dict()
    assert doc["null"] == NULL and "independent model" in doc["null"]
    assert doc["n_probes"] == 12 and doc["n_references"] == 4
    assert all(share == 1.0 for share in doc["closer_share"].values())
    assert res.suspect_contrast > max(res.reference_contrasts.values())
    assert "N = 12 probes" in res.statement() and "p = " in res.statement()
    assert pair_similarity("same text", "same text") == pytest.approx(1.0)
    with pytest.raises(DeclinedError, match="at least 2"):
        suspect_centred_contrast(protected, suspect, {"r0": refs["r0"]}, seed=1)
