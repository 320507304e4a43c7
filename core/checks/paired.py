"""The suspect against a panel of reference models on the same probes.

Used by every check whose evidence is one number per probe and model (teacher-text
affinity, output similarity, distribution agreement). Two views, kept apart:

* the **verdict**: the model-level test of Hd (:func:`core.checks.model_level.model_level_test`):
  is the suspect's model-level value outside the spread of the independent references?
  It gets the probes' clusters when they are known and ``n_tests``, the number of Hp checks
  the run combines by Holm (which decides the panel size the rank test needs);
* **descriptive**, per reference: the paired sign-flip test of the per-probe differences
  (one sign per probe cluster when clusters are known), Cohen's d_z and a bootstrap CI of
  d_z: how consistently, probe by probe, the suspect scores above that reference. Their null
  is not Hd (independent models differ systematically), so they decide nothing.
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
from core.checks.model_level import ModelLevelResult, model_level_test
from core.checks.stats import empirical_p, paired_comparison, panel_adequacy
from core.checks.verbal import NOT_ASSESSED
from core.errors import DeclinedError

MIN_PROBES = 10


def model_level_null(what: str) -> str:
    """A panel check's SPEC null: Hd at the level of models, for the statistic ``what``."""
    return (
        "Hd: the suspect is one more independent model like the reference models: its "
        f"model-level {what} is drawn from the same distribution as theirs (normal random "
        "effects, each model measured with its own probe-sampling error)."
    )


def model_level_test_text(what: str) -> str:
    """A panel check's SPEC test: the model-level test (verdict) and the descriptive tests."""
    return (
        f"Model-level test of Hd: one-sided predictive t test of the suspect's mean {what} "
        "against the reference models' spread (R - 1 degrees of freedom, probe-sampling error "
        "included, cluster-robust when probes come in clusters); the rank test (1+k)/(R+1) "
        "once the panel is large enough for it to reach alpha over the run's checks. "
        "Descriptive, per reference: paired sign-flip test of the per-probe differences (one "
        "sign per probe cluster), Cohen's d_z with a bootstrap CI of d_z."
    )


Values = Sequence[float] | np.ndarray  # one value per probe


def panel_rank(
    suspect_mean: float, reference_means: Mapping[str, float], alpha: float, n_tests: int = 1
) -> dict[str, Any]:
    """Rank p of the suspect's mean among the references' and the panel's adequacy (context)."""
    refs = [v for v in reference_means.values() if np.isfinite(v)]
    adequacy = panel_adequacy(len(refs), alpha, n_tests=n_tests)
    out: dict[str, Any] = {
        "suspect_mean": suspect_mean,
        "reference_means": dict(reference_means),
        "min_possible_p": adequacy.min_p,
        "adequate": adequacy.adequate,
        "needed": adequacy.needed,
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
    checked, so this is reported for context only; the verdict's test is
    :func:`core.checks.model_level.model_level_test`, which also counts each model's
    probe-sampling error.
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
        "reference models' means (assumes they are normally distributed); context only",
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
    n_tests: int = 1,
    clusters: Sequence[str | None] | None = None,
) -> CheckResult:
    """One CheckResult from per-probe values of the suspect and of each reference model.

    ``suspect`` and each reference hold one value per probe (same order as ``probe_ids``),
    oriented so that larger means "more like the protected model". Probes where any model's
    value is missing (NaN) are left out with a warning. ``clusters`` labels each probe's
    cluster (None where unknown); ``n_tests`` is the number of Hp checks the run combines.
    The verdict is the model-level test's; with fewer than 2 references it cannot be made
    and the check declines, keeping the per-reference comparisons as descriptive evidence.
    ``secondary`` maps a name to other per-probe values (suspect, references) that get the
    same per-reference tests, reported in ``details`` only.
    """
    warns = list(warnings)
    s = np.asarray(suspect, dtype=np.float64)
    refs = {k: np.asarray(v, dtype=np.float64) for k, v in references.items()}
    n_all = len(probe_ids)
    if any(a.shape != (n_all,) for a in (s, *refs.values())):
        raise ValueError("every model needs one value per probe")
    if clusters is not None and len(clusters) != n_all:
        raise ValueError("one cluster label per probe")
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
    cl = _kept_clusters(clusters, keep)
    comps = []
    try:
        for name, r in refs_k.items():
            pc = paired_comparison(s_k, r, n_resamples=n_resamples, seed=seed, clusters=cl)
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
    if cl is not None:
        extra["clusters"] = {
            "n_clusters": len(set(_labels(cl) or ())),
            "by_probe": dict(zip(ids, cl, strict=True)),
        }
    if secondary:
        extra["secondary"] = {}
        for name, (sv, rv) in secondary.items():
            sv_k = np.asarray(sv, dtype=np.float64)[keep]
            rv_k = {k: np.asarray(v, dtype=np.float64)[keep] for k, v in rv.items()}
            extra["secondary"][name] = _secondary(sv_k, rv_k, seed, n_resamples, cl)
            for i in range(n):
                rows[i][name] = {
                    "suspect": float(sv_k[i]),
                    **{k: float(v[i]) for k, v in rv_k.items()},
                }
    probe_details = [ProbeDetail(pid, row) for pid, row in zip(ids, rows, strict=True)]
    try:
        ml: ModelLevelResult | None = model_level_test(
            s_k, refs_k, clusters=_labels(cl), alpha=alpha, n_tests=n_tests
        )
    except DeclinedError as exc:
        ml = None
        why = str(exc)
    res = build_result(
        spec,
        comps,
        n_probes=n,
        seed=seed,
        model_level=ml,
        n_tests=n_tests,
        probe_details=probe_details,
        alpha=alpha,
    )
    if ml is None:  # one reference: the spread of independent models cannot be estimated
        adequacy = panel_adequacy(len(refs_k), alpha, n_tests=n_tests)
        res = replace(
            res,
            verdict="declined",
            reason=f"{why} The per-reference comparisons below are descriptive only. "
            + adequacy.message,
            strength=NOT_ASSESSED.label,
            p_value=None,
            warnings=(),
        )
    return replace(res, details=extra, warnings=(*warns, *res.warnings))


def _kept_clusters(
    clusters: Sequence[str | None] | None, keep: np.ndarray
) -> list[str | None] | None:
    """The cluster labels of the kept probes; None when no probe has one."""
    if clusters is None or all(c is None for c in clusters):
        return None
    return [c for c, k in zip(clusters, keep, strict=True) if k]


def _labels(clusters: Sequence[str | None] | None) -> list[str] | None:
    """Cluster labels for the model-level test: a probe without one is its own cluster."""
    if clusters is None:
        return None
    return [c if c is not None else f"\0probe-{i}" for i, c in enumerate(clusters)]


def _secondary(
    s: np.ndarray,
    refs: Mapping[str, np.ndarray],
    seed: int,
    n_resamples: int,
    clusters: Sequence[str | None] | None = None,
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
        cl = None if clusters is None else [c for c, k in zip(clusters, ok, strict=True) if k]
        try:
            pc = paired_comparison(s[ok], r[ok], n_resamples=n_resamples, seed=seed, clusters=cl)
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
