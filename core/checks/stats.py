"""The statistical tests behind every check: honest p-values with a stated null, test and N.

Rules (DESIGN.md, Checks): each p-value carries its null hypothesis, its test and its
sample size; Monte Carlo p-values are (1+k)/(N+1), so never 0; several p-values are
Holm-corrected; all randomness comes from ``numpy.random.default_rng(seed)``, so a run
repeats bit for bit. Pure numpy/scipy: nothing here loads a model or touches the case file.
Too little or unusable data raises :class:`core.errors.DeclinedError` with a plain reason;
programming mistakes (an unknown ``alternative``) raise ``ValueError``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass, replace
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from scipy import stats as sps

from core.checks.pformat import format_p as format_p
from core.checks.pformat import p_floor as p_floor
from core.errors import DeclinedError

Alternative = Literal["greater", "less", "two-sided"]
_ALTERNATIVES = ("greater", "less", "two-sided")
_REL_TOL = 1e-12  # resampled statistics this close to the observed one count as ties (conservative)
_MAX_DRAWS = 2_000_000  # random signs held in memory at once
NO_DETECTION_LIMIT = (
    "No detection does not show independence: an inconclusive result means these tests "
    "did not distinguish Hp from Hd, not that the suspect was trained independently."
)


def _finite(values: Any, what: str) -> np.ndarray:
    """1-D float array; declines (with the offending positions) on NaN or infinite values."""
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    if x.size == 0:
        raise DeclinedError(f"No {what} were given.")
    bad = np.flatnonzero(~np.isfinite(x))
    if bad.size:
        raise DeclinedError(
            f"The {what} contain missing or infinite values at positions "
            f"{bad[:10].tolist()}; these probes must be fixed or excluded first."
        )
    return x


def jsonable(value: Any) -> Any:
    """Plain JSON data: dataclasses and mappings become dicts, tuples and arrays lists, numpy
    scalars Python numbers, and NaN or infinities None (strict JSON has no such numbers)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [jsonable(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


@dataclass(frozen=True)
class PermutationResult:
    """Outcome of a sign-flip test: statistic (mean difference), p-value, N pairs, draws."""

    statistic: float
    p_value: float
    n: int
    n_resamples: int | str  # Monte Carlo draws, or "exact" (all 2**n sign patterns)
    alternative: str
    method: str
    null: str

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self)


@lru_cache(maxsize=4)
def _all_signs(n: int) -> np.ndarray:
    """Every one of the 2**n vectors of +1/-1 signs, one per row (read-only, cached)."""
    bits = (np.arange(2**n, dtype=np.int64)[:, None] >> np.arange(n)) & 1
    signs = (1 - 2 * bits).astype(np.float64)
    signs.flags.writeable = False
    return signs


def _count_extreme(sums: np.ndarray, observed: float, alternative: str, tol: float) -> int:
    if alternative == "greater":
        return int(np.count_nonzero(sums >= observed - tol))
    if alternative == "less":
        return int(np.count_nonzero(sums <= observed + tol))
    return int(np.count_nonzero(np.abs(sums) >= abs(observed) - tol))


def sign_flip_test(
    diffs: Sequence[float] | np.ndarray,
    *,
    alternative: Alternative = "greater",
    n_resamples: int = 10_000,
    seed: int,
    exact_max_n: int = 16,
    clusters: Sequence[str | None] | None = None,
) -> PermutationResult:
    """Paired sign-flip permutation test that the mean difference is 0.

    Null: the paired differences are symmetric about 0 (within each probe the two scores
    are exchangeable), so every pattern of signs is equally likely. Statistic: the mean
    difference. With n <= ``exact_max_n`` all 2**n sign patterns are enumerated and the
    p-value is exact; otherwise ``n_resamples`` random patterns are drawn from
    ``default_rng(seed)`` and p = (1+k)/(N+1), k the draws at least as extreme. Both are
    valid: P(p <= a) <= a under the null. Near-ties count as extreme (conservative).

    ``clusters`` (one label per difference) says which probes belong together (a topic, a
    conversation): probes of one cluster are not independent draws, so one sign is drawn
    per cluster and applied to the cluster's summed differences (the null is then that
    each cluster's summed difference is symmetric about 0). Without labels, or when every
    probe is its own cluster, each probe gets its own sign.
    """
    if alternative not in _ALTERNATIVES:
        raise ValueError(f"alternative must be one of {_ALTERNATIVES}, not {alternative!r}")
    if n_resamples < 1 or not 0 <= exact_max_n <= 20:
        raise ValueError("n_resamples must be >= 1 and exact_max_n in 0..20 (2**20 patterns)")
    d = _finite(diffs, "paired differences")
    n_pairs = d.size
    units, n_clusters = _cluster_sums(d, clusters)
    n, a = units.size, np.abs(units)
    total, observed = float(a.sum()), float(units.sum())  # sums order patterns as means do
    tol = _REL_TOL * total
    draws: int | str
    if n <= exact_max_n:
        sums = _all_signs(n) @ a
        p, draws = _count_extreme(sums, observed, alternative, tol) / sums.size, "exact"
        how = f"exact: all 2**{n} = {2**n} sign patterns"
    else:
        rng, k, done = np.random.default_rng(seed), 0, 0
        chunk = max(1, _MAX_DRAWS // n)
        while done < n_resamples:
            b = min(chunk, n_resamples - done)
            sums = 2.0 * ((rng.random((b, n)) < 0.5) @ a) - total
            k += _count_extreme(sums, observed, alternative, tol)
            done += b
        p, draws = (1 + k) / (n_resamples + 1), n_resamples
        how = f"Monte Carlo: N = {n_resamples} random sign patterns, p = (1+k)/(N+1), seed {seed}"
    side = {"greater": "> 0", "less": "< 0", "two-sided": "!= 0"}[alternative]
    if n_clusters:
        how += f"; one sign per cluster, {n_clusters} clusters"
        null = (
            f"The summed paired differences of each of the {n_clusters} probe clusters are "
            f"symmetric about 0 (the two scores are exchangeable within each cluster); "
            f"alternative: mean difference {side}."
        )
    else:
        null = (
            f"The {n_pairs} paired differences are symmetric about 0 (the two scores are "
            f"exchangeable within each probe); alternative: mean difference {side}."
        )
    return PermutationResult(
        statistic=observed / n_pairs,
        p_value=float(p),
        n=n_pairs,
        n_resamples=draws,
        alternative=alternative,
        method=f"Paired sign-flip permutation test of the mean difference over {n_pairs} pairs "
        f"({how})",
        null=null,
    )


def _cluster_sums(d: np.ndarray, clusters: Sequence[str | None] | None) -> tuple[np.ndarray, int]:
    """The units whose signs are flipped: per-cluster sums (and their number), else the pairs.

    A probe without a label (None) is its own cluster.
    """
    if clusters is None:
        return d, 0
    if len(clusters) != d.size:
        raise ValueError("one cluster label per paired difference")
    labels = [c if c is not None else f"\0probe-{i}" for i, c in enumerate(clusters)]
    inverse = np.unique(np.asarray(labels, dtype=object), return_inverse=True)[1]
    g = int(inverse.max()) + 1 if d.size else 0
    if g >= d.size:
        return d, 0
    return np.bincount(inverse, weights=d, minlength=g), g


@dataclass(frozen=True)
class BootstrapCI:
    """A bootstrap confidence interval; unpacks as ``low, high``."""

    low: float
    high: float
    level: float
    method: str
    n_resamples: int

    def __iter__(self) -> Iterator[float]:  # so that ``low, high = bootstrap_ci(...)`` works
        yield self.low
        yield self.high


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    *,
    paired_with: Sequence[float] | np.ndarray | None = None,
    statistic: Callable[..., Any] = np.mean,
    n_resamples: int = 10_000,
    seed: int | Sequence[int],
    level: float = 0.95,
    method: Literal["BCa", "percentile"] = "BCa",
) -> BootstrapCI:
    """Nonparametric bootstrap CI of ``statistic`` (of ``values - paired_with`` when paired).

    Resamples probes with replacement (scipy.stats.bootstrap, rng = default_rng(seed)).
    BCa corrects bias and skew; where BCa is undefined (e.g. heavy ties) the percentile
    interval is used and ``method`` says so. All-equal data give the point (v, v).
    """
    x = _finite(values, "values")
    if paired_with is not None:
        y = _finite(paired_with, "paired values")
        if y.shape != x.shape:
            raise DeclinedError(f"Paired arrays differ in length ({x.size} vs {y.size}).")
        x = x - y
    if x.size < 2:
        raise DeclinedError("A bootstrap interval needs at least 2 probes.")
    if np.ptp(x) == 0:
        v = float(statistic(x))
        return BootstrapCI(v, v, level, "degenerate: all values equal", 0)
    used: str = method
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sps.DegenerateDataWarning)
        warnings.simplefilter("ignore", RuntimeWarning)  # BCa's 0/0 on near-ties; caught below
        res = sps.bootstrap(
            (x,),
            statistic,
            n_resamples=n_resamples,
            confidence_level=level,
            method=method,
            rng=np.random.default_rng(seed),
        )
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if method == "BCa" and not (math.isfinite(low) and math.isfinite(high)):
            used = "percentile (BCa undefined for these data)"
            res = sps.bootstrap(
                (x,),
                statistic,
                n_resamples=n_resamples,
                confidence_level=level,
                method="percentile",
                rng=np.random.default_rng(seed),
            )
            low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return BootstrapCI(low, high, level, used, n_resamples)


@dataclass(frozen=True)
class PairedComparison:
    """Suspect vs one reference on the same probes: test, effect size and its own CI."""

    test: PermutationResult
    mean_difference: float
    effect_size: float  # Cohen's d_z: mean / sd of the differences (inf when sd is 0)
    ci: BootstrapCI  # of d_z itself (the same quantity as effect_size)
    n: int


def cohens_dz(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """Cohen's d_z (mean / sd, ddof 1) along ``axis``; +-inf where the sd is 0 (0 for all 0)."""
    x = np.asarray(values, dtype=np.float64)
    mean = x.mean(axis=axis)
    sd = x.std(axis=axis, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(sd > 0, mean / np.where(sd > 0, sd, 1.0), np.sign(mean) * np.inf)
    return np.where((sd == 0) & (mean == 0), 0.0, out)


def paired_comparison(
    suspect: Sequence[float] | np.ndarray,
    reference: Sequence[float] | np.ndarray,
    *,
    n_resamples: int = 10_000,
    seed: int,
    exact_max_n: int = 16,
    ci_level: float = 0.95,
    clusters: Sequence[str | None] | None = None,
) -> PairedComparison:
    """Per-probe suspect scores vs one reference model's scores on the same probes.

    Null: on each probe (each cluster of probes, when ``clusters`` are given) the suspect's
    and the reference's scores are exchangeable (differences symmetric about 0). Test:
    one-sided sign-flip test, alternative suspect > reference. This is descriptive evidence
    ("how consistently, probe by probe"), not a test of Hd: two independent models differ
    systematically. The effect size is Cohen's d_z and its CI a bootstrap of d_z itself
    (BCa, percentile where BCa is undefined), so the estimate and its interval are of the
    same quantity; it uses the independent stream ``default_rng([seed, 1])``.
    """
    s, r = _finite(suspect, "suspect scores"), _finite(reference, "reference scores")
    if s.shape != r.shape:
        raise DeclinedError(
            f"Suspect and reference were scored on different numbers of probes "
            f"({s.size} vs {r.size}); a paired test needs the same probes."
        )
    d = s - r
    test = sign_flip_test(
        d,
        alternative="greater",
        n_resamples=n_resamples,
        seed=seed,
        exact_max_n=exact_max_n,
        clusters=clusters,
    )
    unit = "probe cluster" if "per cluster" in test.method else "probe"
    test = replace(
        test,
        null=f"On each {unit} the suspect's and the reference's scores are exchangeable "
        f"({d.size} probes; differences symmetric about 0); alternative: the suspect scores "
        "higher on average.",
    )
    mean = float(d.mean())
    dz = float(cohens_dz(d))
    ci = bootstrap_ci(
        d, statistic=cohens_dz, n_resamples=n_resamples, seed=[seed, 1], level=ci_level
    )
    return PairedComparison(test=test, mean_difference=mean, effect_size=dz, ci=ci, n=d.size)


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values, in the input order.

    Controls the family-wise error rate under any dependence. Sorted ascending,
    adj_(i) = max_{j<=i} min(1, (m-j+1) p_(j)); so adjusted >= raw, monotone in raw, <= 1.
    """
    p = np.asarray(pvalues, dtype=np.float64).reshape(-1)
    if np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError("p-values must be finite numbers in [0, 1]")
    m = p.size
    order = np.argsort(p, kind="stable")
    stepped = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = stepped
    return out


def _counts(k: int, n: int, what: str) -> None:
    if int(k) != k or int(n) != n or n < 1 or not 0 <= k <= n:
        raise DeclinedError(
            f"{what}: need whole counts with 0 <= hits <= answers and answers >= 1 "
            f"(got {k} of {n})."
        )


@dataclass(frozen=True)
class FisherResult:
    """One-sided Fisher exact test of the 2x2 table [[hits, misses] suspect, [...] reference]."""

    odds_ratio: float
    p_value: float
    table: tuple[tuple[int, int], tuple[int, int]]
    rate_suspect: float
    rate_reference: float
    method: str
    null: str

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self)


def fisher_exact_greater(
    hits_suspect: int, n_suspect: int, hits_ref: int, n_ref: int
) -> FisherResult:
    """Do the suspect's answers name the protected model more often than the reference's?

    Null: the suspect's rate of answers naming the protected model (its names, vendor,
    tics) is no higher than the reference's; the test conditions on the table margins
    (hypergeometric), so the p-value is exact and conservative. Alternative: higher.
    """
    _counts(hits_suspect, n_suspect, "suspect")
    _counts(hits_ref, n_ref, "reference")
    table = (
        (int(hits_suspect), int(n_suspect - hits_suspect)),
        (int(hits_ref), int(n_ref - hits_ref)),
    )
    res = sps.fisher_exact(table, alternative="greater")
    return FisherResult(
        odds_ratio=float(res.statistic),
        p_value=float(res.pvalue),
        table=table,
        rate_suspect=hits_suspect / n_suspect,
        rate_reference=hits_ref / n_ref,
        method=f"One-sided Fisher exact test, {n_suspect} suspect answers vs {n_ref} "
        "reference answers",
        null="The suspect names the protected model in no larger a share of its answers than "
        "the reference does; alternative: a larger share.",
    )


def fisher_exact_greater_pooled(
    hits_suspect: int, n_suspect: int, references: Mapping[str, tuple[int, int]]
) -> FisherResult:
    """Fisher test against all references pooled: ``references`` maps name -> (hits, answers).

    Pooling assumes the references share one rate under the null; if one reference names
    the protected model often, pooling dilutes it, so also report the per-reference tests.
    """
    if not references:
        raise DeclinedError("No reference models were given for the identity probe.")
    for name, (k, n) in references.items():
        _counts(k, n, f"reference {name!r}")
    hits = sum(int(k) for k, _ in references.values())
    total = sum(int(n) for _, n in references.values())
    res = fisher_exact_greater(hits_suspect, n_suspect, hits, total)
    return replace(res, method=res.method + f" (answers of {len(references)} references pooled)")


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) two-sided interval for a binomial rate k/n; coverage >= level."""
    _counts(k, n, "rate")
    ci = sps.binomtest(int(k), int(n)).proportion_ci(confidence_level=level, method="exact")
    return float(ci.low), float(ci.high)


def empirical_p(
    observed: float,
    null_values: Sequence[float] | np.ndarray,
    alternative: Literal["greater", "less"] = "greater",
) -> float:
    """Rank p-value (1+k)/(N+1) of ``observed`` among N values drawn under the null.

    Null: ``observed`` is exchangeable with ``null_values`` (e.g. the suspect's score is
    just another independent model's score among the reference panel). k counts null values
    at least as extreme (ties count, conservative), so p is never 0 and the smallest
    possible value is 1/(N+1).
    """
    if alternative not in ("greater", "less"):
        raise ValueError("alternative must be 'greater' or 'less'")
    v = _finite(null_values, "null-distribution values")
    obs = float(_finite([observed], "observed value")[0])
    tol = _REL_TOL * max(abs(obs), 1.0)
    k = (
        np.count_nonzero(v >= obs - tol)
        if alternative == "greater"
        else np.count_nonzero(v <= obs + tol)
    )
    return (1 + int(k)) / (v.size + 1)


def min_achievable_p(n_refs: int) -> float:
    """Smallest p a rank test against ``n_refs`` reference models can give: 1/(n_refs+1)."""
    if n_refs < 0:
        raise ValueError("n_refs must be >= 0")
    return 1.0 / (n_refs + 1)


@dataclass(frozen=True)
class PanelAdequacy:
    """How far a panel of reference models lets a result go (the one number: ``needed``)."""

    adequate: bool  # the assumption-free rank test can reach alpha / n_tests
    min_p: float  # smallest p the rank test can give: 1/(R+1)
    needed: int  # core.checks.model_level.panel_needed(alpha, n_tests)
    message: str


def panel_adequacy(n_refs: int, alpha: float = 0.05, *, n_tests: int = 1) -> PanelAdequacy:
    """What a panel of ``n_refs`` references can support, in the words the wizard, the
    Analyses tab and the report all use (one number: :func:`panel_needed`).

    With fewer than ``needed`` references the verdict rests on the predictive
    (random-effects) test and its normality assumption; with ``needed`` or more the
    assumption-free rank test can reach ``alpha`` over ``n_tests`` checks (Holm's first step).
    """
    from core.checks.model_level import panel_needed

    needed = panel_needed(alpha, n_tests)
    p0 = min_achievable_p(n_refs)
    ok = n_refs >= needed
    scope = f"alpha = {alpha:g}" + (f" over {n_tests} checks (Holm)" if n_tests > 1 else "")
    if ok:
        msg = (
            f"{n_refs} reference models: the assumption-free rank test (smallest possible p "
            f"1/({n_refs}+1) = {p0:.3g}) can reach {scope}, so the verdict need not assume how "
            "independent models spread."
        )
    else:
        msg = (
            f"Only {n_refs} reference models: the verdict rests on the predictive test, which "
            "assumes that independent models' values spread normally around a common mean "
            "(random effects). The assumption-free rank test cannot go below "
            f"1/({n_refs}+1) = {p0:.3g}; it needs at least {needed} independent reference "
            f"models to reach {scope}."
        )
    return PanelAdequacy(ok, p0, needed, msg)


SAME_SIGNAL = (
    "Checks driven by the same signal are not independent lines of evidence: a result in "
    "several of them may come from one feature of the suspect's behaviour."
)


@dataclass(frozen=True)
class CombinedResult:
    """Holm across checks: per-check adjusted p, the family-wise p, the statement and its limits."""

    adjusted: dict[str, float]
    raw: dict[str, float]
    alpha: float
    supporting: tuple[str, ...]  # checks whose adjusted p <= alpha
    not_tested: tuple[str, ...]  # checks that declined (no p-value)
    statement: str
    limit: str = NO_DETECTION_LIMIT
    method: str = "Holm step-down correction over the checks' p-values (family-wise error rate)"
    p_family: float | None = None  # smallest Holm-adjusted p: the family-wise p of the run
    level: str = ""  # the verbal level of p_family (core.checks.verbal)
    shared_signals: dict[str, list[str]] = field(default_factory=dict)  # signal -> checks
    signal_note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self)


def shared_signals(
    signals: Mapping[str, Sequence[str]], checks: Sequence[str]
) -> dict[str, list[str]]:
    """Each signal that drives two or more of ``checks`` -> those checks (in order)."""
    by_signal: dict[str, list[str]] = {}
    for key in checks:
        for sig in signals.get(key, ()):
            by_signal.setdefault(sig, []).append(key)
    return {sig: keys for sig, keys in by_signal.items() if len(keys) > 1}


def combine_holm(
    check_pvalues: Mapping[str, float | None],
    alpha: float = 0.05,
    *,
    signals: Mapping[str, Sequence[str]] | None = None,
) -> CombinedResult:
    """Combine checks by Holm into one family-wise p and a statement a p-value can carry.

    Null for the family: Hd holds for every check (the suspect is one more independent
    model like the references). Holm keeps the chance of any false flag <= alpha under any
    dependence between checks. ``None`` marks a declined check; it is listed as not tested
    and takes no part in the correction. ``signals`` (check -> what drives it, the SPECs'
    ``signals``) names the checks that share a signal: they are not independent lines of
    evidence, and the statement says so.
    """
    from core.checks.verbal import family_level

    tested = {k: float(v) for k, v in check_pvalues.items() if v is not None}
    not_tested = tuple(k for k, v in check_pvalues.items() if v is None)
    adj = dict(zip(tested, holm(list(tested.values())).tolist(), strict=True)) if tested else {}
    supporting = tuple(k for k, v in adj.items() if v <= alpha)
    p_family = min(adj.values()) if adj else None
    level = family_level(p_family).label
    shared = shared_signals(signals or {}, list(tested))
    note = ""
    if shared:
        note = (
            SAME_SIGNAL
            + " Here "
            + "; ".join(f"{', '.join(keys)} share {sig}" for sig, keys in shared.items())
            + "."
        )
    if tested:
        best = min(adj, key=lambda k: adj[k])
        statement = (
            f"family-wise p = {format_p(p_family)} (Holm over {len(tested)} checks; smallest "
            f"for {best}): if the suspect were an independent model like the references, a "
            f"result at least this extreme in any of these checks would occur with probability "
            f"<= {format_p(p_family)}; {level}"
        )
        if supporting:
            statement += (
                f"; {len(supporting)} of {len(tested)} checks reach Holm-adjusted p <= "
                f"{alpha:g} ({', '.join(supporting)})"
            )
        else:
            statement += f"; none of the {len(tested)} checks reaches Holm-adjusted p <= {alpha:g}"
    else:
        statement = "not assessed: no check produced a p-value (all declined)"
    return CombinedResult(
        adj,
        tested,
        alpha,
        supporting,
        not_tested,
        statement,
        p_family=p_family,
        level=level,
        shared_signals=shared,
        signal_note=note,
    )
