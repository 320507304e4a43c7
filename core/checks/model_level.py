"""The model-level test: is the suspect outside the spread of independent models?

Hd says the suspect was trained independently of the protected model's outputs. At the
level of whole models that reads: *the suspect is one more independent model like the
references*. Independent models always differ from one another, so a per-probe test
("this suspect and this reference score the same on each probe") is not Hd; this module
tests Hd itself, with the reference panel as a sample of independent models.

Each model m has one model-level value ``x_m`` (the mean of its per-probe values) and a
standard error ``se_m`` of that mean from its probes (cluster-robust when probes come in
clusters). The assumption, named in every result:

    under Hd, x_suspect, x_ref1, ..., x_refR are independent draws of
    x_m = mu + u_m + e_m,  u_m ~ N(0, tau^2) (how independent models differ),
    e_m ~ N(0, se_m^2) (which probes happened to be asked).

Then ``t = (x_s - mean(x_r)) / sqrt(V)`` with
``V = max(s_r^2, mean(se_r^2)) * (1 + 1/R) + max(0, se_s^2 - mean(se_r^2))`` is a
predictive t statistic with R - 1 degrees of freedom (exact when the standard errors are
equal, conservative when they are not, since both corrections only enlarge V). The
assumption-free companion is the rank test ``(1 + #{x_r >= x_s}) / (R + 1)``, exact under
exchangeability of the models but unable to go below ``1/(R+1)``; with a panel at least
:func:`panel_needed` large it is the verdict's test. The normality of the references'
values is tested (Shapiro-Wilk) when there are at least ``MIN_NORMALITY_REFS`` of them, and
every reference is also tested against the others (leave-one-out): a reference the panel
itself calls unusual means the panel's spread does not look normal, and the result says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import stats as sps

from core.errors import DeclinedError

Method = Literal["auto", "predictive", "rank"]
MIN_REFERENCES = 2  # the spread of independent models is estimated from the references
MIN_NORMALITY_REFS = 8  # fewer values cannot tell a normal spread from another
ASSUMPTION = (
    "Under Hd the suspect is one more independent model like the references: the model-level "
    "values of independent models are normally distributed around a common mean (random "
    "effects), each measured with its own probe-sampling error."
)


def panel_needed(alpha: float, n_tests: int = 1) -> int:
    """Fewest references for which the assumption-free rank test can reach ``alpha / n_tests``
    (Holm's first step over ``n_tests`` checks): 1/(R+1) <= alpha/n_tests.

    The one number the wizard, the Analyses tab and the report quote.
    """
    if not 0 < alpha < 1 or n_tests < 1:
        raise ValueError("alpha must lie in (0, 1) and n_tests be >= 1")
    return max(1, math.ceil(n_tests / alpha - 1 - 1e-9))


def cluster_se(values: np.ndarray, clusters: Sequence[str] | None = None) -> float:
    """Standard error of the mean of ``values``; cluster-robust (CR1) when ``clusters`` are given.

    Probes of one topic or conversation are not independent draws: their deviations are
    summed per cluster first, so a cluster counts once.
    """
    x = np.asarray(values, dtype=np.float64)
    n = x.size
    if n < 2:
        return math.nan
    dev = x - x.mean()
    if clusters is None or len(set(clusters)) >= n:
        return float(x.std(ddof=1) / math.sqrt(n))
    if len(clusters) != n:
        raise ValueError("one cluster label per value")
    labels = np.unique(np.asarray(clusters, dtype=object), return_inverse=True)[1]
    g = int(labels.max()) + 1
    if g < 2:
        return math.nan
    sums = np.bincount(labels, weights=dev, minlength=g)
    return float(math.sqrt(g / (g - 1) * float(np.sum(sums**2))) / n)


@dataclass(frozen=True)
class ModelLevelResult:
    """The suspect against the spread of the reference models, with the test that decides."""

    statistic: float  # the suspect's model-level value
    reference_values: Mapping[str, float]
    reference_mean: float
    reference_sd: float
    se_suspect: float
    se_references: float  # root mean square of the references' standard errors
    difference: float  # suspect minus the references' mean, in the statistic's units
    difference_ci: tuple[float, float]  # 95% predictive interval of that difference under Hd
    t: float
    df: int
    p_predictive: float
    p_rank: float
    min_rank_p: float
    p_value: float  # the verdict's p: predictive, or rank for a panel of panel_needed or more
    test_used: str  # "predictive" or "rank"
    n_references: int
    panel_needed: int
    normality_p: float | None
    leave_one_out: Mapping[str, float]
    method: str
    null: str
    assumption: str = ASSUMPTION
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        from core.checks.stats import jsonable

        return jsonable(self)


def _predictive(
    x_s: float, se_s: float, refs: np.ndarray, ses: np.ndarray
) -> tuple[float, float, float, int]:
    """(t, p, sqrt(V), df) of the predictive test; see the module docstring for V."""
    r = refs.size
    mean_se2 = float(np.mean(ses**2)) if ses.size else 0.0
    s2 = float(refs.var(ddof=1))
    v = max(s2, mean_se2) * (1 + 1 / r) + max(0.0, se_s**2 - mean_se2)
    df = r - 1
    diff = x_s - float(refs.mean())
    if v <= 0:  # every model gave the same value with no sampling error at all
        return (0.0, 1.0, 0.0, df) if diff <= 0 else (math.inf, 0.0, 0.0, df)
    t = diff / math.sqrt(v)
    return t, float(sps.t.sf(t, df)), math.sqrt(v), df


def model_level_test(
    suspect: Sequence[float] | np.ndarray,
    references: Mapping[str, Sequence[float] | np.ndarray],
    *,
    clusters: Sequence[str] | None = None,
    alpha: float = 0.05,
    n_tests: int = 1,
    method: Method = "auto",
) -> ModelLevelResult:
    """Test Hd at the level of models from per-probe values (larger = more like the protected).

    ``suspect`` and each reference hold one value per probe, in the same probe order
    (``clusters`` labels each probe's cluster, if known). ``n_tests`` is the number of
    checks the verdict will be Holm-combined over; it only decides :func:`panel_needed`.
    Raises DeclinedError with fewer than ``MIN_REFERENCES`` references or probes.
    """
    s = np.asarray(suspect, dtype=np.float64).reshape(-1)
    names = list(references)
    if len(names) < MIN_REFERENCES:
        raise DeclinedError(
            f"The model-level test needs at least {MIN_REFERENCES} reference models: it "
            "estimates how much independent models differ from the references themselves "
            f"(got {len(names)})."
        )
    rows = [np.asarray(references[k], dtype=np.float64).reshape(-1) for k in names]
    if any(r.shape != s.shape for r in rows):
        raise ValueError("every model needs one value per probe")
    if s.size < 2:
        raise DeclinedError("The model-level test needs at least 2 probes per model.")
    x_s = float(s.mean())
    refs = np.array([r.mean() for r in rows])
    # Against the per-probe mean of the (other) references: removes what every model finds
    # easy or hard on a probe, leaving each model's own probe-sampling error.
    total = np.sum(rows, axis=0)
    se_s = cluster_se(s - total / len(rows), clusters)
    ses = np.array([cluster_se(r - (total - r) / (len(rows) - 1), clusters) for r in rows])
    se_s = 0.0 if not math.isfinite(se_s) else se_s
    ses = np.where(np.isfinite(ses), ses, 0.0)
    t, p_pred, sd_pred, df = _predictive(x_s, se_s, refs, ses)
    tol = 1e-12 * max(1.0, abs(x_s))
    k = int(np.count_nonzero(refs >= x_s - tol))
    r = refs.size
    p_rank = (1 + k) / (r + 1)
    needed = panel_needed(alpha, n_tests)
    use = method if method != "auto" else ("rank" if r >= needed else "predictive")
    p = p_rank if use == "rank" else p_pred
    q = float(sps.t.ppf(0.975, df)) if df > 0 else math.inf
    diff = x_s - float(refs.mean())
    warns: list[str] = []
    normality = None
    if r >= MIN_NORMALITY_REFS and float(np.ptp(refs)) > 0:
        normality = float(sps.shapiro(refs).pvalue)
        if normality < 0.05:
            warns.append(
                f"The references' values do not look normally distributed (Shapiro-Wilk p = "
                f"{normality:.2g}); the predictive test's assumption is in doubt, so rely on the "
                "rank test."
            )
    else:
        warns.append(
            f"With {r} references the normality of the independent models' spread cannot be "
            f"checked (that needs at least {MIN_NORMALITY_REFS}); the predictive test assumes it. "
            f"The assumption-free rank test needs at least {needed} references to reach "
            f"alpha = {alpha:g}" + (f" over {n_tests} checks" if n_tests > 1 else "") + "."
        )
    loo: dict[str, float] = {}
    if r >= 3:
        for i, name in enumerate(names):
            others = np.delete(refs, i)
            loo[name] = _predictive(float(refs[i]), float(ses[i]), others, np.delete(ses, i))[1]
        flagged = [k for k, v in loo.items() if v <= alpha / max(1, n_tests) / r]
        if flagged:
            warns.append(
                "Tested against the other references, "
                + ", ".join(repr(f) for f in flagged)
                + " already looks unusual: the panel's spread is wider than a normal model of "
                "independent models allows, so the predictive p-value may be too small."
            )
    return ModelLevelResult(
        statistic=x_s,
        reference_values=dict(zip(names, (float(v) for v in refs), strict=True)),
        reference_mean=float(refs.mean()),
        reference_sd=float(refs.std(ddof=1)),
        se_suspect=se_s,
        se_references=float(math.sqrt(np.mean(ses**2))),
        difference=diff,
        difference_ci=(diff - q * sd_pred, diff + q * sd_pred),
        t=t,
        df=df,
        p_predictive=p_pred,
        p_rank=p_rank,
        min_rank_p=1 / (r + 1),
        p_value=float(p),
        test_used=use,
        n_references=r,
        panel_needed=needed,
        normality_p=normality,
        leave_one_out=loo,
        method=(
            f"One-sided predictive t test of the suspect's model-level value against the {r} "
            f"references' spread (t = {t:.3g}, {df} degrees of freedom, probe-sampling error "
            "included" + (", cluster-robust" if clusters is not None else "") + ")"
            if use == "predictive"
            else f"Rank of the suspect among {r} references, p = (1+k)/(R+1) = {p_rank:.3g}"
        ),
        null="The suspect is one more independent model like the references (its model-level "
        "value is drawn from the same distribution as theirs).",
        warnings=tuple(warns),
    )
