"""The suspect-centred contrast (Nikolic et al.): is the suspect closer to the protected model
than to each reference model?

The similarity check's main statistic asks whether the suspect's answers are closer to
the protected answers than the references' answers are. This contrast turns the question
round and centres it on the suspect: per probe ``i`` and reference ``r``,

    d_r,i = sim(suspect, protected)_i - sim(suspect, r)_i

(``sim`` the mean of ROUGE-L F1 and the character 4-gram cosine between two answers to
the same prompt). Descriptive, per reference: the share of probes with d_r,i > 0 and a
paired sign-flip test over probes of the mean d_r (its null: the suspect is as close to
``r`` as to the protected model on each probe, which is not Hd). The statistic offered for
Hd is model-level: each model's per-probe contrast against the *other* models of the
panel, c_i = sim(m, protected)_i - mean over the other references r of sim(m, r)_i, so
every reference gets the same contrast as the suspect, computed the same way; the
suspect's mean contrast is then compared with the references' spread by
:func:`core.checks.model_level.model_level_test` (predictive t test, or the rank test
with a panel large enough). Null: the suspect is one more independent model like the
references (its suspect-centred contrast is drawn from the same distribution as theirs).
It is reported with the similarity check as a secondary statistic (its null, test and N
stated); the check's verdict and the Holm family are unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.checks.model_level import MIN_REFERENCES, model_level_test
from core.checks.pformat import format_p
from core.checks.stats import paired_comparison
from core.errors import DeclinedError

NULL = (
    "The suspect is one more independent model like the references: its suspect-centred "
    "contrast (similarity to the protected answers minus its mean similarity to the other "
    "models' answers) is drawn from the same distribution as the references' contrasts."
)
TEST = (
    "Model-level test of the per-probe suspect-centred contrast (Nikolic et al.): each model's "
    "similarity to the protected answers minus its mean similarity to the other references' "
    "answers, the suspect against the references' spread (one-sided predictive t test with "
    "R-1 degrees of freedom, or the rank test with a panel large enough); per reference, "
    "descriptive: the share of probes where the suspect is closer to the protected answer "
    "than to that reference's, and a paired sign-flip test."
)


def pair_similarity(a: str, b: str) -> float:
    """The text similarity of two answers to one prompt: mean of ROUGE-L F1 and 4-gram cosine."""
    from core.checks.similarity import char_ngram_cosine, rouge_l

    return 0.5 * (rouge_l(a, b) + char_ngram_cosine(a, b))


@dataclass(frozen=True)
class ContrastResult:
    """The contrast's model-level test and the per-reference descriptions."""

    p_value: float
    p_text: str
    test_used: str
    n_probes: int
    n_references: int
    suspect_contrast: float
    reference_contrasts: Mapping[str, float]
    closer_share: Mapping[str, float]  # per reference: share of probes with d_r,i > 0
    per_reference_p: Mapping[str, float]  # paired sign-flip p (descriptive, null is not Hd)
    null: str = NULL
    test: str = TEST

    def to_dict(self) -> dict[str, Any]:
        return {
            "p_value": self.p_value,
            "p_text": self.p_text,
            "test_used": self.test_used,
            "n_probes": self.n_probes,
            "n_references": self.n_references,
            "suspect_contrast": self.suspect_contrast,
            "reference_contrasts": dict(self.reference_contrasts),
            "closer_share": dict(self.closer_share),
            "per_reference_p": dict(self.per_reference_p),
            "null": self.null,
            "test": self.test,
            "statement": self.statement(),
        }

    def statement(self) -> str:
        return (
            f"Suspect-centred contrast: the suspect's mean contrast {self.suspect_contrast:.3g} "
            f"against the {self.n_references} references' (p = {self.p_text}, {self.test_used} "
            f"test, N = {self.n_probes} probes, {self.n_references} references; null: the "
            "suspect is one more independent model like the references)."
        )


Pairs = Mapping[tuple[str, str], np.ndarray]  # (model a, model b) -> per-probe sim, both orders


def text_similarities(
    protected: Sequence[str], answers: Mapping[str, Sequence[str]]
) -> tuple[dict[str, np.ndarray], dict[tuple[str, str], np.ndarray]]:
    """Per probe, each model's answer against the protected answer and against each other's.

    ``answers`` holds one answer per probe (probe order) for each model of the panel.
    """
    names = list(answers)
    to_prot = {
        k: np.array([pair_similarity(a, p) for a, p in zip(v, protected, strict=True)])
        for k, v in answers.items()
    }
    pairs: dict[tuple[str, str], np.ndarray] = {}
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            sim = np.array(
                [pair_similarity(x, y) for x, y in zip(answers[a], answers[b], strict=True)]
            )
            pairs[(a, b)] = pairs[(b, a)] = sim
    return to_prot, pairs


def contrast_from_similarities(
    to_protected: Mapping[str, np.ndarray],
    pairs: Pairs,
    suspect: str,
    references: Sequence[str],
    *,
    seed: int,
    alpha: float = 0.05,
    n_tests: int = 1,
    n_resamples: int = 2_000,
    clusters: Sequence[str] | None = None,
) -> ContrastResult:
    """The contrast from per-probe similarities (pure; module docstring). DeclinedError with
    fewer than :data:`MIN_REFERENCES` references."""
    refs = list(references)
    if len(refs) < MIN_REFERENCES:
        raise DeclinedError(
            f"The suspect-centred contrast needs at least {MIN_REFERENCES} reference models "
            f"(got {len(refs)})."
        )
    s_to_prot = np.asarray(to_protected[suspect], dtype=np.float64)
    d = {r: s_to_prot - np.asarray(pairs[(suspect, r)], dtype=np.float64) for r in refs}
    s_contrast = np.mean(list(d.values()), axis=0)
    r_contrast = {  # each reference against the other references, as the suspect against all
        j: np.asarray(to_protected[j], dtype=np.float64)
        - np.mean([pairs[(j, r)] for r in refs if r != j], axis=0)
        for j in refs
    }
    ml = model_level_test(s_contrast, r_contrast, clusters=clusters, alpha=alpha, n_tests=n_tests)
    per_p: dict[str, float] = {}
    for r, v in d.items():
        try:
            pc = paired_comparison(v, np.zeros_like(v), seed=seed, n_resamples=n_resamples)
        except DeclinedError:
            continue  # no variation to test (e.g. identical answers): described by the share
        per_p[r] = float(pc.test.p_value)
    floor = ml.min_rank_p if ml.test_used == "rank" else None
    return ContrastResult(
        p_value=ml.p_value,
        p_text=format_p(ml.p_value, floor=floor),
        test_used=ml.test_used,
        n_probes=int(s_contrast.size),
        n_references=len(refs),
        suspect_contrast=float(s_contrast.mean()),
        reference_contrasts=dict(ml.reference_values),
        closer_share={r: float(np.mean(v > 0)) for r, v in d.items()},
        per_reference_p=per_p,
    )


def suspect_centred_contrast(
    protected: Sequence[str],
    suspect: Sequence[str],
    references: Mapping[str, Sequence[str]],
    *,
    seed: int,
    alpha: float = 0.05,
    n_tests: int = 1,
    n_resamples: int = 2_000,
    clusters: Sequence[str] | None = None,
) -> ContrastResult:
    """The contrast on the models' answers (one per probe, probe order); see the module
    docstring. The suspect is labelled apart, so a reference may carry any name."""
    key = "\0suspect"
    to_prot, pairs = text_similarities(protected, {key: suspect, **references})
    return contrast_from_similarities(
        to_prot,
        pairs,
        key,
        list(references),
        seed=seed,
        alpha=alpha,
        n_tests=n_tests,
        n_resamples=n_resamples,
        clusters=clusters,
    )
