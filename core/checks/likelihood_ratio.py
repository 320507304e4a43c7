"""A score-based likelihood ratio, measured on a calibration of the case's own procedure.

A p-value only says how unusual a result is for an independent model. A likelihood ratio
compares two hypotheses, and can only be *measured*: from a calibration in which the
same procedure (same checks, panel, settings, seed rule and Holm combination) was run on
models whose history is known —

* Hp: students distilled from the protected model's answers (the positives);
* Hd: independent "null twins" trained on answers from another source (the negatives).

The case's observed statistic ``s`` (e.g. the family-wise ``-log10 p`` or the model-level
``t``) is then placed in the two score distributions: ``LR = f_Hp(s) / f_Hd(s)``, each
density a Gaussian kernel density with Silverman's bandwidth rule. Its uncertainty is a
bootstrap percentile interval (both calibration sets resampled, bandwidths refitted). A
calibration of ``n`` models cannot support a ratio far beyond its size, so the ratio is
bounded to ``[1/(n_Hp + 1), n_Hd + 1]`` (a sample-size bound in the spirit of
Vergeer et al.'s ELUB, simpler than it) and the report says when the bound applies.

How good the ratios are is measured on the calibration itself, by leave-one-out: every
calibration model's LR comes from densities fitted without it. From those:

* ``Cllr`` (Brümmer & du Preez 2006): the log-likelihood-ratio cost, 0 for perfect
  ratios, 1 for a system that always says LR = 1; above 1 the ratios mislead.
* ``Cllr_min``: the cost after the best monotone recalibration of the same scores (pool
  adjacent violators, :func:`pav`), i.e. the discrimination alone; ``Cllr - Cllr_min``
  is the calibration loss.

The ENFSI verbal scale (ENFSI Guideline for Evaluative Reporting, 2015) is applied
only to such a measured ratio: :func:`enfsi_level` takes a :class:`MeasuredLR`, never a
p-value, so without a calibration there is no verbal scale of support.

False positives of the procedure are bounded with the exact one-sided Clopper–Pearson
upper bound (:func:`fpr_upper_bound`): 0 of ``n`` twins flagged bounds the rate at
``1 - 0.05**(1/n)`` with 95% confidence (0/12 -> 0.22; 0/59 -> 0.049);
:func:`twins_needed` gives the number of twins a target bound requires.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import stats as sps

from core.checks.verbal import StrengthLevel

BOUND_METHOD = "exact one-sided Clopper-Pearson upper bound"
DENSITY_METHOD = "Gaussian kernel density, Silverman's rule-of-thumb bandwidth"
INTERVAL_METHOD = "bootstrap percentile interval (both calibration sets resampled, {n} times)"


# --- false-positive bounds --------------------------------------------------------------------


def fpr_upper_bound(k: int, n: int, level: float = 0.95) -> float:
    """Exact one-sided upper confidence bound for a rate after ``k`` events in ``n`` trials.

    The Clopper–Pearson bound: the rate ``p`` at which ``P(X <= k | n, p) = 1 - level``;
    for ``k = 0`` it is ``1 - (1 - level) ** (1 / n)``.
    """
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n >= 1, not k={k}, n={n}")
    if not 0 < level < 1:
        raise ValueError("level must lie in (0, 1)")
    if k == n:
        return 1.0
    return float(sps.beta.ppf(level, k + 1, n - k))


def twins_needed(target: float, k: int = 0, level: float = 0.95) -> int:
    """Fewest null twins for which ``k`` false positives bound the rate at ``target`` or less."""
    if not 0 < target < 1:
        raise ValueError("the target bound must lie in (0, 1)")
    n = max(k + 1, 1)
    while fpr_upper_bound(k, n, level) > target:
        n += 1
    return n


@dataclass(frozen=True)
class RateBound:
    """A measured rate with its exact one-sided upper bound, and what a target would need."""

    k: int
    n: int
    rate: float
    upper: float
    level: float
    method: str
    target: float
    needed_for_target: int  # twins for which k = 0 would bound the rate at ``target``

    @property
    def statement(self) -> str:
        return (
            f"{self.k} of {self.n} null twins flagged: the false-positive rate is at most "
            f"{self.upper:.3f} ({self.method}, {self.level:.0%}); bounding it at "
            f"{self.target:g} needs {self.needed_for_target} twins with none flagged"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"statement": self.statement}


def rate_bound(k: int, n: int, *, level: float = 0.95, target: float = 0.05) -> RateBound:
    """The false-positive record of a calibration: ``k`` of ``n`` twins flagged."""
    return RateBound(
        k,
        n,
        k / n,
        fpr_upper_bound(k, n, level),
        level,
        BOUND_METHOD,
        target,
        twins_needed(target, 0, level),
    )


# --- densities ------------------------------------------------------------------------------


def _finite(values: Sequence[float] | np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(values, dtype=float).ravel()
    if a.size < 2 or not np.all(np.isfinite(a)):
        raise ValueError(f"{what}: need at least two finite scores")
    return a


def silverman_bandwidth(values: np.ndarray, floor: float) -> float:
    """Silverman's rule ``0.9 min(sd, IQR/1.34) n^(-1/5)``, never below ``floor``."""
    sd = float(values.std(ddof=1))
    iqr = float(np.subtract(*np.percentile(values, [75, 25])))
    spread = min(sd, iqr / 1.34) if iqr > 0 else sd
    return max(0.9 * spread * values.size ** (-0.2), floor)


def _floor(*sets: np.ndarray) -> float:
    """The smallest bandwidth: tied scores (a p at its floor) must not give a zero width."""
    both = np.concatenate(sets)
    span = float(both.max() - both.min())
    return max(0.05 * span, 1e-3 * max(1.0, float(np.abs(both).max())))


def kde(values: np.ndarray, at: float, bandwidth: float) -> float:
    """The Gaussian kernel density of ``values`` at ``at``."""
    z = (at - values) / bandwidth
    return float(np.mean(np.exp(-0.5 * z * z)) / (bandwidth * math.sqrt(2 * math.pi)))


def _raw_lr(hp: np.ndarray, hd: np.ndarray, at: float, floor: float) -> float:
    f_hp = kde(hp, at, silverman_bandwidth(hp, floor))
    f_hd = kde(hd, at, silverman_bandwidth(hd, floor))
    if f_hd <= 0.0:
        return math.inf if f_hp > 0 else 1.0
    return f_hp / f_hd


def _bounded(lr: float, n_hp: int, n_hd: int) -> float:
    return min(max(lr, 1.0 / (n_hp + 1)), float(n_hd + 1))


# --- Cllr and PAV ---------------------------------------------------------------------------


def cllr(lr_hp: Sequence[float] | np.ndarray, lr_hd: Sequence[float] | np.ndarray) -> float:
    """The log-LR cost: ``(mean log2(1 + 1/LR_Hp) + mean log2(1 + LR_Hd)) / 2``."""
    a, b = np.asarray(lr_hp, dtype=float), np.asarray(lr_hd, dtype=float)
    if a.size == 0 or b.size == 0:
        raise ValueError("Cllr needs ratios of both Hp and Hd models")
    with np.errstate(divide="ignore"):
        cost_hp = np.log2(1.0 + 1.0 / a)
    return float(0.5 * (np.mean(cost_hp) + np.mean(np.log2(1.0 + b))))


def pav(
    values: Sequence[float] | np.ndarray, weights: Sequence[float] | np.ndarray | None = None
) -> np.ndarray:
    """Pool adjacent violators: the non-decreasing sequence closest to ``values``.

    Weighted least squares (``weights`` default 1): violating neighbours are merged into
    their weighted mean until the sequence no longer decreases.
    """
    v = np.asarray(values, dtype=float)
    w = np.ones(v.size) if weights is None else np.asarray(weights, dtype=float)
    blocks: list[list[float]] = []  # [mean, weight, count]
    for value, weight in zip(v, w, strict=True):
        blocks.append([float(value), float(weight), 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2, c2 = blocks.pop()
            m1, w1, c1 = blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, int(c1 + c2)])
    if not blocks:
        return np.empty(0)
    return np.concatenate([np.full(int(c), m) for m, _, c in blocks])


def cllr_min(
    hp_scores: Sequence[float] | np.ndarray, hd_scores: Sequence[float] | np.ndarray
) -> float:
    """Cllr after the optimal monotone transform of the scores (PAV on the Hp labels).

    Ties are pooled first (a tie cannot be ordered), then PAV gives each score the share
    of Hp models it may honestly claim; divided by the prior odds of the calibration set
    that share is the optimally calibrated LR.
    """
    hp, hd = np.asarray(hp_scores, dtype=float), np.asarray(hd_scores, dtype=float)
    if hp.size == 0 or hd.size == 0:
        raise ValueError("Cllr_min needs scores of both Hp and Hd models")
    scores = np.concatenate([hp, hd])
    labels = np.concatenate([np.ones(hp.size), np.zeros(hd.size)])
    order = np.lexsort((labels, scores))  # ties: Hd first, PAV then pools them
    s, y = scores[order], labels[order]
    uniq, inverse = np.unique(s, return_inverse=True)
    tied = np.array([y[inverse == i].mean() for i in range(uniq.size)])
    counts = np.bincount(inverse)
    post_blocks = pav(tied, counts.astype(float))
    post = post_blocks[inverse]
    prior_odds = hp.size / hd.size
    with np.errstate(divide="ignore"):
        lr = (post / (1.0 - post)) / prior_odds
    return cllr(lr[y == 1], lr[y == 0])


def loo_lrs(
    hp_scores: Sequence[float] | np.ndarray, hd_scores: Sequence[float] | np.ndarray
) -> tuple[list[float], list[float]]:
    """Every calibration model's LR from densities fitted without it (leave-one-out)."""
    hp, hd = _finite(hp_scores, "Hp scores"), _finite(hd_scores, "Hd scores")
    if hp.size < 3 or hd.size < 3:
        raise ValueError("leave-one-out needs at least three scores of each kind")
    floor = _floor(hp, hd)
    out_hp = [
        _bounded(_raw_lr(np.delete(hp, i), hd, float(hp[i]), floor), hp.size - 1, hd.size)
        for i in range(hp.size)
    ]
    out_hd = [
        _bounded(_raw_lr(hp, np.delete(hd, i), float(hd[i]), floor), hp.size, hd.size - 1)
        for i in range(hd.size)
    ]
    return out_hp, out_hd


# --- the measured ratio -----------------------------------------------------------------------


@dataclass(frozen=True)
class MeasuredLR:
    """The LR of the case's observed statistic, measured on a calibration of its procedure."""

    statistic: str  # what the score is, e.g. "family-wise -log10 p"
    observed: float
    lr: float
    log10_lr: float
    interval: tuple[float, float]  # of the LR, bootstrap percentile
    level: float
    f_hp: float
    f_hd: float
    bandwidth_hp: float
    bandwidth_hd: float
    n_hp: int
    n_hd: int
    bounded: bool  # the ratio hit the calibration's sample-size bound
    cllr: float
    cllr_min: float
    lr_hp: tuple[float, ...]  # leave-one-out LRs of the Hp models (for the Tippett plot)
    lr_hd: tuple[float, ...]
    density: str = DENSITY_METHOD
    interval_method: str = ""
    calibration_run_id: int | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def verbal(self) -> StrengthLevel:
        return enfsi_level(self)

    @property
    def statement(self) -> str:
        lo, hi = self.interval
        bound = " (at the calibration's sample-size bound)" if self.bounded else ""
        return (
            f"LR = {_fmt(self.lr)}{bound} [{self.level:.0%} interval {_fmt(lo)} to {_fmt(hi)}] "
            f"for the observed {self.statistic} of {self.observed:.3g}: densities of "
            f"{self.n_hp} distilled students (Hp) and {self.n_hd} independent null twins (Hd) "
            f"run through the case's procedure; Cllr = {self.cllr:.2f} "
            f"(Cllr_min = {self.cllr_min:.2f}); {self.verbal.label}"
        )

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["verbal"] = self.verbal.to_dict()
        out["statement"] = self.statement
        return out


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return "inf"
    return f"{x:.3g}" if 0.01 <= x < 1000 else f"{x:.2e}"


def measure_lr(
    hp_scores: Sequence[float] | np.ndarray,
    hd_scores: Sequence[float] | np.ndarray,
    observed: float,
    *,
    statistic: str = "family-wise -log10 p",
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    calibration_run_id: int | None = None,
) -> MeasuredLR:
    """The score-based LR at ``observed``, its bootstrap interval, and the calibration's Cllr.

    ``hp_scores``: the statistic of each distilled student; ``hd_scores``: of each null
    twin; larger scores must point towards Hp. Needs at least three of each.
    """
    hp, hd = _finite(hp_scores, "Hp scores"), _finite(hd_scores, "Hd scores")
    if not math.isfinite(observed):
        raise ValueError("the observed statistic must be finite")
    floor = _floor(hp, hd)
    bw_hp, bw_hd = silverman_bandwidth(hp, floor), silverman_bandwidth(hd, floor)
    f_hp, f_hd = kde(hp, observed, bw_hp), kde(hd, observed, bw_hd)
    raw = f_hp / f_hd if f_hd > 0 else (math.inf if f_hp > 0 else 1.0)
    lr = _bounded(raw, hp.size, hd.size)
    rng = np.random.default_rng(seed)
    boots = np.empty(n_boot)
    for b in range(n_boot):
        bh = rng.choice(hp, hp.size, replace=True)
        bd = rng.choice(hd, hd.size, replace=True)
        boots[b] = _bounded(_raw_lr(bh, bd, observed, floor), hp.size, hd.size)
    tail = (1 - level) / 2
    lo, hi = (float(v) for v in np.quantile(boots, [tail, 1 - tail]))
    lr_hp, lr_hd = loo_lrs(hp, hd)
    warnings: list[str] = []
    if observed > max(hp.max(), hd.max()) or observed < min(hp.min(), hd.min()):
        warnings.append(
            "The observed statistic lies outside every calibration score: the ratio "
            "extrapolates the densities' tails and is held to the sample-size bound."
        )
    c = cllr(lr_hp, lr_hd)
    if c >= 1.0:
        warnings.append(
            f"Cllr = {c:.2f} >= 1: on this calibration the ratios mislead as often as they "
            "inform; no weight should be given to the ratio."
        )
    return MeasuredLR(
        statistic=statistic,
        observed=float(observed),
        lr=lr,
        log10_lr=math.log10(lr),
        interval=(lo, hi),
        level=level,
        f_hp=f_hp,
        f_hd=f_hd,
        bandwidth_hp=bw_hp,
        bandwidth_hd=bw_hd,
        n_hp=int(hp.size),
        n_hd=int(hd.size),
        bounded=lr != raw,
        cllr=c,
        cllr_min=cllr_min(hp, hd),
        lr_hp=tuple(lr_hp),
        lr_hd=tuple(lr_hd),
        interval_method=INTERVAL_METHOD.format(n=n_boot),
        calibration_run_id=calibration_run_id,
        warnings=tuple(warnings),
    )


# --- the ENFSI verbal scale (for a measured LR only) ------------------------------------------

_ENFSI = (  # (lowest LR of the band, wording of support for Hp)
    (1e6, "extremely strong support"),
    (1e4, "very strong support"),
    (1e3, "strong support"),
    (1e2, "moderately strong support"),
    (1e1, "moderate support"),
    (2.0, "weak support"),
)
_ENFSI_NOTE = (
    " The words follow the ENFSI Guideline for Evaluative Reporting (2015) and describe a "
    "likelihood ratio measured on a calibration of this case's procedure; they are not the "
    "chance that either proposition is true."
)


def enfsi_level(measured: MeasuredLR) -> StrengthLevel:
    """The ENFSI verbal equivalent of a measured LR (support for Hp, or for Hd below 1).

    Only a :class:`MeasuredLR` has a verbal scale of support: a p-value never gets one.
    The words are read from the end of the ratio's interval nearest to 1 (an interval that
    contains 1 supports neither proposition), so they never claim more than the
    calibration's own uncertainty allows. A calibration whose Cllr is 1 or more gives
    ratios that mislead: no support is stated.
    """
    if not isinstance(measured, MeasuredLR):  # a p-value must never reach this scale
        raise TypeError("the ENFSI scale applies only to a measured likelihood ratio")
    if measured.cllr >= 1.0:
        return StrengthLevel(
            "lr_uninformative",
            "no support stated: the calibration's ratios are not informative (Cllr >= 1)",
            "On the calibration the leave-one-out ratios cost at least as much as saying "
            "LR = 1 every time." + _ENFSI_NOTE,
            False,
        )
    lo, hi = measured.interval
    lr = lo if lo > 1 else hi if hi < 1 else 1.0  # the interval's end nearest to LR = 1
    towards, value = ("Hp", lr) if lr >= 1 else ("Hd", 1.0 / lr)
    for low, words in _ENFSI:
        if value >= low:
            label = f"{words} for {towards} over the alternative"
            definition = (
                f"The measured likelihood ratio (the end of its interval nearest to 1) is "
                f"{'at least' if lr >= 1 else 'at most'} {_fmt(low if lr >= 1 else 1 / low)}: "
                f"the observed statistic is that many times more probable if {towards} is "
                "true than if it is not." + _ENFSI_NOTE
            )
            return StrengthLevel(
                f"enfsi_{words.split()[0]}_{towards.lower()}",
                label,
                definition,
                towards == "Hp",
            )
    return StrengthLevel(
        "enfsi_neutral",
        "the findings support neither proposition",
        "The measured likelihood ratio's interval reaches between 1/2 and 2." + _ENFSI_NOTE,
        False,
    )
