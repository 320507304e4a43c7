"""How well the campaign detection finds the simulator's planted campaigns.

Account level: an account is *detected* when it belongs to a flagged campaign. Precision
= detected campaign accounts / detected accounts, recall = detected campaign accounts /
campaign accounts, each with its exact (Clopper-Pearson, two-sided 95 %) interval from the
binomial counts. Every hard negative group is listed with whether any of its accounts was
flagged. The ablation recomputes the flags with each counted indicator left out (same
thresholds, same ``min_fired``) to show which indicators carry the detection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scipy.stats import beta

from core.traffic.campaigns import TrafficAnalysis
from core.traffic.indicators import fired_counted
from core.traffic.simulate import GroundTruth


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact binomial interval for k successes of n (0..1 when n is 0)."""
    if n == 0:
        return (0.0, 1.0)
    a = (1 - level) / 2
    lo = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - a, k + 1, n - k))
    return (lo, hi)


@dataclass(frozen=True)
class Rate:
    """k of n, with its exact interval."""

    k: int
    n: int
    low: float
    high: float

    @property
    def value(self) -> float:
        return self.k / self.n if self.n else 0.0

    @classmethod
    def of(cls, k: int, n: int) -> Rate:
        lo, hi = clopper_pearson(k, n)
        return cls(k, n, lo, hi)

    def describe(self) -> str:
        return f"{self.value:.3f} ({self.k}/{self.n}; 95% CI {self.low:.3f}-{self.high:.3f})"


@dataclass(frozen=True)
class Validation:
    """Precision, recall, the hard negatives and the ablation of one analysis."""

    precision: Rate
    recall: Rate
    hard_negatives: dict[str, bool]
    ablation: dict[str, tuple[Rate, Rate]]

    def to_dict(self) -> dict[str, Any]:
        def rate(r: Rate) -> dict[str, Any]:
            return {"value": r.value, "k": r.k, "n": r.n, "ci95": [r.low, r.high]}

        return {
            "precision": rate(self.precision),
            "recall": rate(self.recall),
            "hard_negatives_flagged": self.hard_negatives,
            "ablation": {
                name: {"precision": rate(p), "recall": rate(r)}
                for name, (p, r) in self.ablation.items()
            },
        }


def _rates(detected: set[str], truth: set[str]) -> tuple[Rate, Rate]:
    hits = len(detected & truth)
    return Rate.of(hits, len(detected)), Rate.of(hits, len(truth))


def validate(analysis: TrafficAnalysis, truth: GroundTruth) -> Validation:
    """Account-level precision and recall against the simulator's labels, and the ablation."""
    planted = truth.campaign_accounts()
    detected = {a for c in analysis.flagged for a in c.accounts}
    precision, recall = _rates(detected, planted)
    hard = {
        group: bool(accounts & detected)
        for group, accounts in sorted(truth.hard_negatives().items())
    }
    min_fired = analysis.params.thresholds.min_fired
    names = sorted({i.name for c in analysis.campaigns for i in c.indicators if i.counts})
    ablation = {}
    for name in names:
        kept = {
            a
            for c in analysis.campaigns
            if len(fired_counted(c.indicators, without=name)) >= min_fired
            for a in c.accounts
        }
        ablation[name] = _rates(kept, planted)
    return Validation(precision, recall, hard, ablation)
