"""The identity check's verdict under Hd when independent models DO differ.

Independent models sometimes call themselves by a common name (the protected model's), and
they differ in how often: each question has its own tendency to elicit the name (some
questions ask for a name, others do not), each model has a model-level offset in its
tendency (a logistic random-effects model), and each model-question pair its own deviation.
A suspect drawn from the same population is Hd; the check must flag it no more often than
alpha, within the exact binomial interval of the simulation, for panels of R = 3, 5 and 20
references. A suspect that names the protected model on many questions must be flagged.

Every replicate goes through :func:`core.checks.identity.identity_check` itself, with real
answer strings scanned for the names and a learned phrase. The descriptive per-question
tests use few resamples (they take no part in the verdict), which keeps this file fast.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from core.checks.identity import IdentityAnswers, IdentityMarkers, identity_check
from core.checks.stats import clopper_pearson

ALPHA = 0.05
QUESTIONS, ANSWERS = 40, 3  # one greedy and two sampled answers per question
MARKERS = IdentityMarkers(names=("Lumen", "Halcyon Labs"), phrases=("happy to help !",))
# (mean log-odds of a name hit, sd of the model offsets): rare names with models differing by
# a factor of e per sd in their odds, and a common name most independent models use at times.
POPULATIONS = {"rare-name": (-3.0, 1.0), "common-name": (-1.0, 1.0), "varied": (-4.0, 1.5)}


def _answers(model: str, names: np.ndarray, phrases: np.ndarray) -> IdentityAnswers:
    """Answer strings from hit flags: the name and the phrase appear where flagged."""
    groups = tuple(
        tuple(
            ("I'm Lumen, made by Halcyon Labs." if n else "I am an AI assistant.")
            + (" Happy to help!" if p else "")
            for n, p in zip(row_n, row_p, strict=True)
        )
        for row_n, row_p in zip(names, phrases, strict=True)
    )
    return IdentityAnswers(model, tuple(f"q{i:02d}" for i in range(QUESTIONS)), groups)


def _world(
    rng: np.random.Generator,
    n_refs: int,
    population: str,
    suspect_shift: float = 0.0,
    shifted: float = 1.0,
) -> tuple[IdentityAnswers, dict[str, IdentityAnswers]]:
    """A suspect and ``n_refs`` references drawn from one population of independent models
    (``suspect_shift`` adds log-odds of naming to the suspect on the first ``shifted`` share
    of the questions)."""
    mu, tau = POPULATIONS[population]
    question = rng.normal(mu, 1.0, QUESTIONS)  # what each question elicits
    phrase_q = rng.normal(-2.5, 1.0, QUESTIONS)
    models = []
    for m in range(n_refs + 1):
        shift = np.zeros(QUESTIONS)
        if m == 0 and suspect_shift:
            shift[: round(shifted * QUESTIONS)] = suspect_shift
        logit = question + rng.normal(0.0, tau) + rng.normal(0.0, 0.5, QUESTIONS) + shift
        names = rng.random((QUESTIONS, ANSWERS)) < expit(logit)[:, None]
        p_logit = phrase_q + rng.normal(0.0, 1.0) + rng.normal(0.0, 0.5, QUESTIONS)
        phrases = rng.random((QUESTIONS, ANSWERS)) < expit(p_logit)[:, None]
        models.append(_answers("suspect" if m == 0 else f"ref{m}", names, phrases))
    return models[0], {a.model: a for a in models[1:]}


def _p_values(n_refs: int, population: str, n_sim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, n_refs, list(POPULATIONS).index(population)])
    out = []
    for i in range(n_sim):
        suspect, refs = _world(rng, n_refs, population)
        res = identity_check(suspect, refs, MARKERS, seed=i, alpha=ALPHA, n_resamples=99)
        assert res.verdict != "declined" and res.p_value is not None, res.reason
        assert (res.verdict == "supports Hp") == (res.p_value <= ALPHA)
        out.append(res.p_value)
    return np.asarray(out)


def _fpr_ok(k: int, n: int, alpha: float = ALPHA) -> bool:
    """The observed false-positive rate is not significantly above alpha (99% exact interval)."""
    low, _ = clopper_pearson(k, n, level=0.99)
    return low <= alpha


@pytest.mark.parametrize("population", list(POPULATIONS))
@pytest.mark.parametrize("n_refs", [3, 5, 20])
def test_independent_suspect_is_flagged_at_most_alpha(n_refs: int, population: str) -> None:
    p = _p_values(n_refs, population, n_sim=200 if n_refs < 20 else 100, seed=13)
    k = int(np.sum(p <= ALPHA))
    low, high = clopper_pearson(k, p.size, level=0.99)
    print(
        f"identity null, {population}, R = {n_refs}: FPR = {k}/{p.size} = {k / p.size:.3f} "
        f"(99% CI {low:.3f}-{high:.3f})"
    )
    assert _fpr_ok(k, p.size)


@pytest.mark.slow
@pytest.mark.parametrize("population", list(POPULATIONS))
@pytest.mark.parametrize("n_refs", [3, 5, 20])
def test_independent_suspect_is_flagged_at_most_alpha_many_replicates(
    n_refs: int, population: str
) -> None:
    p = _p_values(n_refs, population, n_sim=1000, seed=14)
    k = int(np.sum(p <= ALPHA))
    print(f"identity null (slow), {population}, R = {n_refs}: FPR = {k}/{p.size}")
    assert _fpr_ok(k, p.size)


@pytest.mark.parametrize(("n_refs", "least"), [(3, 0.7), (5, 0.9), (20, 0.9)])
def test_a_suspect_naming_the_protected_model_on_many_questions_is_detected(
    n_refs: int, least: float
) -> None:
    """+5 log-odds of naming the protected model on every question (from about 5% of the
    answers to about 85%), as a student of the protected model calls itself by its name: flagged
    in most replicates. Three references leave the predictive t test 2 degrees of freedom,
    hence the lower bar there (measured: 85% at R = 3, 98% at R = 5, 100% at R = 20)."""
    rng = np.random.default_rng([21, n_refs])
    n_sim, flagged = 40, 0
    for i in range(n_sim):
        suspect, refs = _world(rng, n_refs, "rare-name", suspect_shift=5.0)
        res = identity_check(suspect, refs, MARKERS, seed=i, alpha=ALPHA, n_resamples=99)
        flagged += res.verdict == "supports Hp"
    print(f"identity detection, R = {n_refs}: {flagged}/{n_sim}")
    assert flagged >= least * n_sim
