"""The harvest test's statistics: is the logged answer the suspect's favourite among its twins?

For each harvested prompt j the provider holds the answer its API actually sent (logged)
and K_j fresh answers drawn from the same model version with the same prompt, system
prompt and sampling settings (regenerations). Under Hd — the suspect never trained on the
logged answers — the logged answer and its regenerations are exchangeable draws, so no
property of the suspect can prefer the one that happened to be logged: the number of
regenerations the suspect scores at least as high as the logged answer,
``R_j = #{k : s_jk >= s_j0}``, is uniform on 0..K_j when scores have no ties (and
stochastically larger with ties, which only makes the test conservative), independently
across prompts. The rank sum ``T = sum_j R_j`` then has an exactly known null distribution
(the convolution of discrete uniforms), so ``p = P(T <= t_observed)`` is exact: no reference
panel, no assumption about "common data". Small T means the suspect prefers the logged
answers.

Pure numpy/scipy; scoring the answers is the caller's (any fixed function applied to all
K_j + 1 answers of a prompt alike keeps the test exact).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import signal
from scipy import stats as sps

from core.errors import DeclinedError

MIN_REGENERATIONS = 1
DIRECT_LIMIT = 200_000  # support size up to which the null is convolved directly (exact)
FFT_FLOOR = 1e-12  # below this an FFT-convolved tail is not resolved: reported as "<="


@dataclass(frozen=True)
class PromptRank:
    """One harvested prompt: how many of its regenerations the suspect liked at least as much."""

    prompt_id: str
    rank: int  # R_j: regenerations scoring >= the logged answer (0 = the logged answer is top)
    k: int  # K_j regenerations
    ties: int  # regenerations scoring exactly as the logged answer


def rank_of_logged(
    logged: float, regenerations: Sequence[float] | np.ndarray, prompt_id: str = ""
) -> PromptRank:
    """R_j for one prompt (ties count against the logged answer: conservative)."""
    r = np.asarray(regenerations, dtype=np.float64).reshape(-1)
    if r.size < MIN_REGENERATIONS:
        raise DeclinedError(f"Prompt {prompt_id!r} has no regenerations to rank against.")
    if not (math.isfinite(logged) and np.all(np.isfinite(r))):
        raise DeclinedError(f"Prompt {prompt_id!r} has a missing or infinite score.")
    return PromptRank(
        prompt_id, int(np.count_nonzero(r >= logged)), int(r.size), int(np.sum(r == logged))
    )


def _uniform(k: int) -> np.ndarray:
    return np.full(k + 1, 1.0 / (k + 1))


def _power(pmf: np.ndarray, n: int, conv: Any) -> np.ndarray:
    """pmf convolved with itself n times (binary powering)."""
    out = np.ones(1)
    base = pmf
    while n:
        if n & 1:
            out = conv(out, base)
        n >>= 1
        if n:
            base = conv(base, base)
    return out


def rank_sum_null(ks: Sequence[int]) -> tuple[np.ndarray, bool]:
    """The exact null pmf of T = sum of independent uniforms on 0..K_j, and whether it was
    computed exactly (direct convolution) rather than by FFT."""
    counts: dict[int, int] = {}
    for k in ks:
        counts[int(k)] = counts.get(int(k), 0) + 1
    support = sum(ks) + 1
    exact = support <= DIRECT_LIMIT

    def conv(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if exact or min(a.size, b.size) < 64:
            return np.convolve(a, b)
        c = signal.fftconvolve(a, b)
        return np.clip(c, 0.0, None)

    pmf = np.ones(1)
    for k, n in sorted(counts.items()):
        pmf = conv(pmf, _power(_uniform(k), n, conv))
    return pmf / pmf.sum(), exact


@dataclass(frozen=True)
class HarvestTest:
    """The combined test over the usable prompts, with its effect sizes and rank histogram."""

    n_prompts: int
    rank_sum: int
    expected_rank_sum: float
    p_value: float
    p_is_bound: bool  # True: p is an upper bound ("p <= ...")
    exact: bool
    top_share: float  # share of prompts where the logged answer is the suspect's favourite
    top_share_ci: tuple[float, float]
    expected_top_share: float  # mean of 1/(K_j + 1)
    mean_normalised_rank: float  # mean of R_j / K_j: 0.5 under Hd, 0 = always top
    mean_normalised_rank_ci: tuple[float, float]
    histogram: tuple[int, ...]  # prompts by decile of R_j / K_j (0 = top)
    ties: int
    method: str
    null: str
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        from core.checks.stats import jsonable

        return jsonable(self)


def harvest_test(ranks: Sequence[PromptRank], *, seed: int = 0) -> HarvestTest:
    """Combine the prompts' ranks into one exact p-value (see the module docstring)."""
    if not ranks:
        raise DeclinedError("No usable harvested prompts: the harvest test has nothing to rank.")
    ks = [r.k for r in ranks]
    rs = np.array([r.rank for r in ranks], dtype=np.int64)
    t = int(rs.sum())
    pmf, exact = rank_sum_null(ks)
    p = float(min(1.0, pmf[: t + 1].sum()))
    bound = False
    if not exact and p < FFT_FLOOR:
        p, bound = FFT_FLOOR, True
    n = len(ranks)
    top = int(np.count_nonzero(rs == 0))
    ci = sps.binomtest(top, n).proportion_ci(0.95, method="exact")
    u = rs / np.array(ks, dtype=np.float64)
    rng = np.random.default_rng([seed, 7])
    boots = u[rng.integers(0, n, size=(2000, n))].mean(axis=1) if n > 1 else np.array([u.mean()])
    lo, hi = (float(x) for x in np.quantile(boots, [0.025, 0.975]))
    hist = np.histogram(np.minimum(u, 0.999999), bins=10, range=(0.0, 1.0))[0]
    ties = int(sum(r.ties for r in ranks))
    warns = []
    if ties:
        warns.append(
            f"{ties} regenerations scored exactly as their logged answer; ties count against "
            "the logged answer, so the p-value is conservative."
        )
    how = "exact convolution" if exact else "FFT convolution (p below 1e-12 shown as a bound)"
    return HarvestTest(
        n_prompts=n,
        rank_sum=t,
        expected_rank_sum=float(sum(k / 2 for k in ks)),
        p_value=p,
        p_is_bound=bound,
        exact=exact,
        top_share=top / n,
        top_share_ci=(float(ci.low), float(ci.high)),
        expected_top_share=float(np.mean([1 / (k + 1) for k in ks])),
        mean_normalised_rank=float(u.mean()),
        mean_normalised_rank_ci=(min(lo, float(u.mean())), max(hi, float(u.mean()))),
        histogram=tuple(int(h) for h in hist),
        ties=ties,
        method=f"Rank-sum test over {n} prompts: the number of regenerations scoring at least "
        f"as high as the logged answer, summed; one-sided p from its null distribution ({how}).",
        null="The suspect never trained on the logged answers: each logged answer is exchangeable "
        "with its regenerations (same model version, prompt and settings), so its rank among them "
        "is uniform, independently across prompts.",
        warnings=tuple(warns),
    )
