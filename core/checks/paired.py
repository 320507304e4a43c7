"""The suspect against a panel of reference models on the same probes (per-probe paired tests).

Used by every check whose evidence is one number per probe and model (teacher-text
affinity, output similarity, distribution agreement). For each reference model the
per-probe differences suspect - reference go through the paired sign-flip permutation
test of :func:`core.checks.stats.paired_comparison`; :func:`core.checks.framework.build_result`
then takes the intersection-union p (the suspect must beat every reference) and the Holm
p per reference.

A second, model-level view is reported but never used for the verdict: the rank of the
suspect's mean among the references' means, whose smallest possible p is 1/(R+1) for R
references, so a small panel can never reach alpha with it; the warning says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from scipy import stats as sps

from core.checks.framework import (
    CheckResult,
    CheckSpec,
    ProbeDetail,
    ReferenceComparison,
    build_result,
    declined,
)
from core.checks.stats import empirical_p, paired_comparison, panel_adequacy
from core.errors import DeclinedError

MIN_PROBES = 10
Values = Sequence[float] | np.ndarray  # one value per probe


def panel_rank(
    suspect_mean: float, reference_means: Mapping[str, float], alpha: float
) -> dict[str, Any]:
    """Model-level rank p of the suspect's mean among the references' (reported, not tested)."""
    refs = [v for v in reference_means.values() if np.isfinite(v)]
    adequacy = panel_adequacy(len(refs), alpha)
    out: dict[str, Any] = {
        "suspect_mean": suspect_mean,
        "reference_means": dict(reference_means),
        "min_possible_p": adequacy.min_p,
        "adequate": adequacy.adequate,
        "message": adequacy.message,
        "method": "rank of the suspect's mean among the reference models' means, p = (1+k)/(R+1); "
        "null: the suspect is exchangeable with the reference models",
    }
    out["p_value"] = empirical_p(suspect_mean, refs) if refs and np.isfinite(suspect_mean) else None
    out["prediction"] = prediction_test(suspect_mean, refs)
    return out


def prediction_test(suspect_mean: float, reference_means: Sequence[float]) -> dict[str, Any] | None:
    """Model-level parametric view: is the suspect outside the references' prediction interval?

    Null: the suspect's mean is one more draw from the normal distribution the reference
    models' means come from; t = (x - mean) / (sd * sqrt(1 + 1/R)) then has a t distribution
    with R - 1 degrees of freedom (one-sided p). With few references the normality cannot be
    checked, so this is reported for context only, never used for the verdict.
    """
    refs = np.asarray([v for v in reference_means if np.isfinite(v)], dtype=np.float64)
    if refs.size < 2 or not np.isfinite(suspect_mean):
        return None
    sd = float(refs.std(ddof=1))
    if sd == 0:
        return None
    t = (suspect_mean - float(refs.mean())) / (sd * math.sqrt(1 + 1 / refs.size))
    return {
        "t": t,
        "df": int(refs.size - 1),
        "p_value": float(sps.t.sf(t, refs.size - 1)),
        "method": "one-sided prediction-interval t test of the suspect's mean against the "
        "reference models' means (assumes they are normally distributed); reported, not used for "
        "the verdict",
    }


def compare_with_panel(
    spec: CheckSpec,
    suspect: Values,
    references: Mapping[str, Values],
    *,
    probe_ids: Sequence[str],
    seed: int,
    alpha: float = 0.05,
    n_resamples: int = 10_000,
    min_probes: int = MIN_PROBES,
    value_name: str = "value",
    secondary: Mapping[str, tuple[Values, Mapping[str, Values]]] | None = None,
    details: Mapping[str, Any] | None = None,
    warnings: Sequence[str] = (),
) -> CheckResult:
    """One CheckResult from per-probe values of the suspect and of each reference model.

    ``suspect`` and each reference hold one value per probe (same order as ``probe_ids``),
    oriented so that larger means "more like the protected model". Probes where any model's
    value is missing (NaN) are left out with a warning. ``secondary`` maps a name to other
    per-probe values (suspect, references) that get the same paired tests, reported in
    ``details`` only (they take no part in the verdict, so there is no multiplicity).
    """
    warns = list(warnings)
    s = np.asarray(suspect, dtype=np.float64)
    refs = {k: np.asarray(v, dtype=np.float64) for k, v in references.items()}
    n_all = len(probe_ids)
    if any(a.shape != (n_all,) for a in (s, *refs.values())):
        raise ValueError("every model needs one value per probe")
    if not refs:
        return declined(
            spec,
            "No reference models were given: a check needs a control panel of "
            "independent reference models scored on the same probes.",
            seed=seed,
            n_probes=n_all,
            alpha=alpha,
            warnings=warns,
        )
    keep = np.isfinite(s) & np.all([np.isfinite(a) for a in refs.values()], axis=0)
    if not keep.all():
        warns.append(
            f"{int((~keep).sum())} of {n_all} probes had no value for some model "
            "(e.g. an empty answer) and were left out of every comparison."
        )
    n = int(keep.sum())
    if n < min_probes:
        return declined(
            spec,
            f"Only {n} usable probes; this check needs at least {min_probes} probes "
            "scored by the suspect and every reference model.",
            seed=seed,
            n_probes=n,
            n_references=len(refs),
            alpha=alpha,
            warnings=warns,
        )
    ids = [p for p, k in zip(probe_ids, keep, strict=True) if k]
    s_k = s[keep]
    refs_k = {k: v[keep] for k, v in refs.items()}
    comps = []
    try:
        for name, r in refs_k.items():
            pc = paired_comparison(s_k, r, n_resamples=n_resamples, seed=seed)
            comps.append(ReferenceComparison.from_paired(name, pc))
    except DeclinedError as exc:
        return declined(
            spec,
            str(exc),
            seed=seed,
            n_probes=n,
            n_references=len(refs),
            alpha=alpha,
            warnings=warns,
        )
    rows: list[dict[str, Any]] = [
        {value_name: {"suspect": float(s_k[i]), **{k: float(v[i]) for k, v in refs_k.items()}}}
        for i in range(n)
    ]
    extra: dict[str, Any] = dict(details or {})
    extra["value_name"] = value_name
    extra["panel_rank"] = panel_rank(
        float(s_k.mean()), {k: float(v.mean()) for k, v in refs_k.items()}, alpha
    )
    if not extra["panel_rank"]["adequate"]:
        warns.append(
            "Model-level view: " + extra["panel_rank"]["message"] + " The verdict rests on the "
            "per-probe paired tests against each reference, whose null is exchangeability "
            "within each probe, not between models."
        )
    if secondary:
        extra["secondary"] = {}
        for name, (sv, rv) in secondary.items():
            sv_k = np.asarray(sv, dtype=np.float64)[keep]
            rv_k = {k: np.asarray(v, dtype=np.float64)[keep] for k, v in rv.items()}
            extra["secondary"][name] = _secondary(sv_k, rv_k, seed, n_resamples)
            for i in range(n):
                rows[i][name] = {
                    "suspect": float(sv_k[i]),
                    **{k: float(v[i]) for k, v in rv_k.items()},
                }
    probe_details = [ProbeDetail(pid, row) for pid, row in zip(ids, rows, strict=True)]
    res = build_result(spec, comps, n_probes=n, seed=seed, probe_details=probe_details, alpha=alpha)
    return replace(res, details=extra, warnings=tuple(warns))


def _secondary(
    s: np.ndarray, refs: Mapping[str, np.ndarray], seed: int, n_resamples: int
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "suspect_mean": float(np.nanmean(s)) if s.size else None,
        "references": {},
    }
    for name, values in refs.items():
        r = values
        ok = np.isfinite(s) & np.isfinite(r)
        if ok.sum() < 2:
            out["references"][name] = {"p_value": None, "reason": "too few values"}
            continue
        try:
            pc = paired_comparison(s[ok], r[ok], n_resamples=n_resamples, seed=seed)
        except DeclinedError as exc:
            out["references"][name] = {"p_value": None, "reason": str(exc)}
            continue
        out["references"][name] = {
            "mean_difference": pc.mean_difference,
            "p_value": pc.test.p_value,
            "effect_size": pc.effect_size,
            "ci": [pc.ci.low, pc.ci.high],
            "n": pc.n,
        }
    ps = [v["p_value"] for v in out["references"].values() if v.get("p_value") is not None]
    out["p_value_all"] = max(ps) if ps else None
    out["note"] = "secondary statistic: reported for context, not used for the verdict"
    return out
