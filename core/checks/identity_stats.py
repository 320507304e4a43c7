"""The identity probe's statistics, question by question (the unit is the question, not the answer).

A model's answers to one identity question (one greedy and a few seeded samples) are not
independent draws: they share the question and the model's habits. So each model is
summarised per question by the *share* of its answers that hit (a :class:`HitTable`), and
every test treats the questions, not the answers, as the units.

* The verdict (:func:`analyse`, ``model_level``): the model-level test of Hd
  (:func:`core.checks.model_level.model_level_test`), "the suspect is one more independent
  model like the references", on the models' tendencies to hit. A model's tendency is the
  log-odds of its mean per-question hit rate, with the Haldane-Anscombe correction of half an
  answer (so a model that never hits has a finite value). Independent models' tendencies are
  assumed normal on this scale (a logistic random-effects model), which is where offsets
  between models act. On the raw rate scale their spread is skewed (a few models hit far more
  often than most) and the predictive test there was too liberal: in simulations of
  independent models with normal log-odds offsets it flagged 7.7-9% of them at alpha = 0.05
  with 5 references, against 3-5% on this scale, up to 6.5% only where the models' odds of
  naming differ by a factor of about 7 per standard deviation (2000 replicates each;
  tests/test_identity_null.py runs three populations). The per-question values handed to the
  test are the delta-method linearisation
  ``g(x) + g'(x) (rate_q - x)``, whose mean is the model's log-odds ``g(x)`` and whose spread
  over questions carries the model's question-sampling error. Where the panel shows no spread
  (no reference ever uses the name) the test leans on the assumed normal spread alone; a
  population in which most independent models never use the name and a few use it often is
  not normal on any scale, and there only the rank test (a panel of
  :func:`core.checks.model_level.panel_needed` references) is safe: the check warns.
* Descriptive, per reference (:class:`QuestionComparison`): the mean over questions of the
  per-question rate differences (suspect minus reference) with a percentile bootstrap
  interval that resamples questions (or their clusters), and a paired sign-flip test of those
  differences (signs flipped per cluster when clusters are known). Its null ("on each question
  the two models are exchangeable") is not Hd; it says how consistently, question by question,
  the suspect is ahead, and it decides nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.checks.model_level import ModelLevelResult, model_level_test
from core.checks.stats import jsonable, sign_flip_test

HALDANE = 0.5  # answers added to the hits and to the misses of a model's overall rate
CI_LEVEL = 0.95


@dataclass(frozen=True)
class HitTable:
    """One model's hits of one kind (names, or learned phrases), per question."""

    model: str
    hits: np.ndarray  # answers that hit, per question
    answers: np.ndarray  # answers given, per question (>= 1)

    @property
    def rates(self) -> np.ndarray:
        """Per question: the share of the model's answers that hit."""
        return self.hits / self.answers

    @property
    def mean_rate(self) -> float:
        """The mean over questions of the per-question shares (each question weighs the same)."""
        return float(self.rates.mean())

    def summary(self) -> dict[str, Any]:
        """k of N questions and answers, for reports: never a bare percentage."""
        return {
            "questions": int(self.hits.size),
            "questions_hit": int(np.count_nonzero(self.hits)),
            "answers": int(self.answers.sum()),
            "answers_hit": int(self.hits.sum()),
            "mean_rate": self.mean_rate,
        }


def log_odds_values(table: HitTable, origin: float = 0.0) -> np.ndarray:
    """Per-question values whose mean is the log-odds of the model's mean hit rate, less ``origin``.

    ``x`` is the mean per-question rate, ``c = HALDANE / answers`` the correction,
    ``g(x) = log((x + c) / (1 - x + c))``; the value of question q is
    ``g(x) - origin + g'(x) (rate_q - x)`` (delta method), so the values average to
    ``g(x) - origin`` and vary over questions as the model's hit rate does, on the log-odds
    scale. A shift common to all models changes no test; :func:`analyse` takes as origin the
    value of a model that never hits, so such models are exactly 0 (no rounding noise).
    """
    rates = table.rates
    x = float(rates.mean())
    c = HALDANE / float(table.answers.sum())
    slope = 1.0 / (x + c) + 1.0 / (1.0 - x + c)
    return (_log_odds(x, c) - origin) + slope * (rates - x)


def _log_odds(x: float, c: float) -> float:
    return math.log((x + c) / (1.0 - x + c))


def mean_ci(
    diffs: np.ndarray,
    clusters: Sequence[str] | None,
    *,
    seed: int,
    n_resamples: int,
    level: float = CI_LEVEL,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``diffs``, resampling questions (clusters).

    A cluster of questions is resampled as a whole. The percentile interval of a mean holds
    the mean itself, so the estimate and its interval always agree.
    """
    d = np.asarray(diffs, dtype=np.float64)
    if np.ptp(d) == 0:
        v = float(d.mean())
        return v, v
    labels = _labels(clusters, d.size)
    g = int(labels.max()) + 1
    sums = np.bincount(labels, weights=d, minlength=g)
    sizes = np.bincount(labels, minlength=g).astype(np.float64)
    rng = np.random.default_rng([seed, 3])
    idx = rng.integers(0, g, size=(n_resamples, g))
    means = sums[idx].sum(1) / sizes[idx].sum(1)
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    est = float(d.mean())
    return float(min(lo, est)), float(max(hi, est))  # a guard for heavy ties; never moves it


def _labels(clusters: Sequence[str] | None, n: int) -> np.ndarray:
    if clusters is None:
        return np.arange(n)
    if len(clusters) != n:
        raise ValueError("one cluster label per question")
    return np.unique(np.asarray(clusters, dtype=object), return_inverse=True)[1].reshape(-1)


@dataclass(frozen=True)
class QuestionComparison:
    """The suspect against one reference, question by question (descriptive, not the verdict)."""

    reference: str
    mean_difference: float  # mean over questions of (suspect rate - reference rate)
    ci: tuple[float, float]  # percentile bootstrap interval of that mean
    p_value: float  # paired sign-flip test of the per-question differences, one-sided
    n_questions: int
    n_units: int  # questions, or clusters of questions when known
    questions_higher: int  # questions where the suspect hit more often
    questions_lower: int
    n_resamples: int | str
    method: str
    null: str

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self)


def compare_by_question(
    suspect: HitTable,
    reference: HitTable,
    *,
    clusters: Sequence[str] | None,
    seed: int,
    n_resamples: int,
) -> QuestionComparison:
    """Per-question rate differences of the suspect and one reference: mean, interval, sign flip."""
    d = suspect.rates - reference.rates
    labels = _labels(clusters, d.size)
    units = np.bincount(labels, weights=d)  # one sign per cluster: flip the cluster's sum
    test = sign_flip_test(units, alternative="greater", n_resamples=n_resamples, seed=seed)
    per = "cluster of questions" if clusters is not None else "question"
    return QuestionComparison(
        reference=reference.model,
        mean_difference=float(d.mean()),
        ci=mean_ci(d, clusters, seed=seed, n_resamples=n_resamples),
        p_value=test.p_value,
        n_questions=int(d.size),
        n_units=int(units.size),
        questions_higher=int(np.count_nonzero(d > 0)),
        questions_lower=int(np.count_nonzero(d < 0)),
        n_resamples=test.n_resamples,
        method=test.method.replace("pairs", f"units (one per {per})"),
        null=f"On each {per} the suspect's and this reference's hit rates are exchangeable "
        "(differences symmetric about 0); alternative: the suspect hits more often. This is "
        "not Hd: independent models differ, so it describes consistency, not the verdict.",
    )


@dataclass(frozen=True)
class KindAnalysis:
    """One kind of hit (names, or learned phrases): counts, the model-level test, per reference."""

    kind: str
    counts: Mapping[str, Mapping[str, Any]]  # model -> HitTable.summary(); "suspect" first
    model_level: ModelLevelResult
    comparisons: tuple[QuestionComparison, ...]
    rate_difference: float  # suspect's mean rate minus the mean of the references' mean rates
    scale: str = (
        "log-odds of the model's mean per-question hit rate (Haldane-Anscombe correction of half "
        "an answer), less that of a model that never hits: a log odds ratio"
    )

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self)


def analyse(
    kind: str,
    suspect: HitTable,
    references: Mapping[str, HitTable],
    *,
    clusters: Sequence[str] | None = None,
    alpha: float = 0.05,
    n_tests: int = 1,
    seed: int,
    n_resamples: int = 10_000,
) -> KindAnalysis:
    """The model-level test on the models' log-odds of a hit, and the per-reference comparisons.

    Raises DeclinedError (from the model-level test) with fewer than 2 references.
    """
    never = _log_odds(0.0, HALDANE / float(suspect.answers.sum()))  # a model that never hits
    ml = model_level_test(
        log_odds_values(suspect, never),
        {k: log_odds_values(v, never) for k, v in references.items()},
        clusters=clusters,
        alpha=alpha,
        n_tests=n_tests,
    )
    comps = tuple(
        compare_by_question(suspect, r, clusters=clusters, seed=seed, n_resamples=n_resamples)
        for r in references.values()
    )
    ref_rates = [r.mean_rate for r in references.values()]
    return KindAnalysis(
        kind=kind,
        counts={"suspect": suspect.summary(), **{k: v.summary() for k, v in references.items()}},
        model_level=ml,
        comparisons=comps,
        rate_difference=suspect.mean_rate - float(np.mean(ref_rates)),
    )


def zero_spread(analysis: KindAnalysis) -> bool:
    """True when every reference hit equally often (typically: none ever did)."""
    values = list(analysis.model_level.reference_values.values())
    return bool(values) and max(values) - min(values) <= 1e-12
