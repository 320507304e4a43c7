"""Storing a check run's results in the case file and proposing draft findings.

Each check gives one Result per reference comparison (with that reference's per-probe
values) and one summary Result (the whole CheckResult, per-probe details included); the
combined Holm summary is one more Result. Every result that supports its hypothesis
proposes a Finding in *draft* status, linked to the run, worded on the fixed verbal scale.
Statements never say "distilled", "proves" or give a chance that Hp is true; an output
check never says "derived from" (only the weight check speaks of derivation).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from core.checks.framework import CheckResult, CheckSpec
from core.checks.identity import identity_finding
from core.checks.stats import CombinedResult, jsonable
from core.store import audit
from core.store.db import CaseFile
from core.store.models import Finding, FindingRun, Result, Run

P_MEANING = (
    "A p-value describes how unusual these data would be if Hd were true; it is not the "
    "chance that Hp is true, and the result should be weighed with the other evidence and "
    "the stated limitations."
)


def _what(key: str, result: CheckResult, suspect: str, base: str | None) -> str:
    r = result.n_references
    d = result.details or {}
    if key == "likelihood":
        return (
            f"across {result.n_probes} probe prompts, the suspect {suspect!r} assigned the "
            "protected model's captured answers a higher per-byte likelihood, relative to control "
            f"answers to the same prompts, than each of the {r} independent reference models did"
        )
    if key == "identity":
        return identity_finding(result, suspect)
    if key == "similarity":
        return (
            f"across {result.n_probes} probe prompts, the suspect {suspect!r} gave answers that "
            "resemble the protected model's captured answers more closely (measures: "
            f"{', '.join(d.get('measures_ran', []))}) than each of the {r} independent reference "
            "models' answers do"
        )
    if key == "distribution":
        return (
            f"over {result.n_probes} probe texts, the suspect {suspect!r} had next-token "
            "distributions closer to the protected model's (lower KL divergence) than each of the "
            f"{r} independent reference models"
        )
    if key == "lineage":
        return (
            f"after aligning hidden units, the suspect {suspect!r} has weights that match those of "
            f"the base model {base!r} far beyond random pairings of units, so the suspect appears "
            "derived from that base model. This concerns the weights only and says nothing about "
            "training on the protected model's outputs"
        )
    return f"the suspect {suspect!r} scored above each of the {r} reference models"


def finding_statement(
    spec: CheckSpec, result: CheckResult, run_id: int, *, suspect: str, base: str | None = None
) -> str:
    """The draft finding's wording for a result that supports its hypothesis."""
    effect = "" if result.effect_size is None else f"; effect size {result.effect_size:.3g}"
    if result.ci is not None and None not in result.ci:
        effect += f" (95% CI {result.ci[0]:.3g} to {result.ci[1]:.3g})"
    test = (
        "permutation test against random pairings"
        if spec.key == "lineage"
        else f"tests against each reference; largest p = {result.p_value:.3g}"
    )
    p = f"p = {result.p_value:.3g}" if spec.key == "lineage" else ""
    return (
        f"Run {run_id}, {spec.title}: {_what(spec.key, result, suspect, base)} "
        f"({test}{', ' + p if p else ''}{effect}). On the fixed verbal scale this is "
        f"{result.strength}. {P_MEANING}"
    )


def store_results(
    cf: CaseFile,
    run_id: int,
    case_id: int,
    specs: Mapping[str, CheckSpec],
    results: Mapping[str, CheckResult],
    combined: CombinedResult,
    *,
    suspect: str,
    base: str | None,
    reference_ids: Mapping[str, int],
    excluded: Mapping[str, str],
    actor: str | None = None,
) -> list[int]:
    """Write Results and draft Findings in one transaction with their audit events; finding ids."""
    finding_ids: list[int] = []
    with cf.session() as s:
        for key, res in results.items():
            for comp in res.comparisons:
                per_probe = [
                    {
                        "probe_id": d.probe_id,
                        **{
                            name: {"suspect": v.get("suspect"), "reference": v.get(comp.reference)}
                            for name, v in d.values.items()
                            if isinstance(v, Mapping)
                        },
                    }
                    for d in res.probe_details
                ]
                s.add(
                    Result(
                        run_id=run_id,
                        metric=f"{key}.vs_reference",
                        value=comp.statistic,
                        ci_low=comp.ci[0] if comp.ci else None,
                        ci_high=comp.ci[1] if comp.ci else None,
                        p_value=comp.p_value,
                        p_adjusted=comp.p_holm,
                        n=comp.n,
                        details=jsonable(
                            {
                                "check": key,
                                "reference": comp.reference,
                                "reference_artifact_id": reference_ids.get(comp.reference),
                                "effect_size": comp.effect_size,
                                "effect_name": specs[key].effect_name,
                                "method": comp.method,
                                "n_resamples": comp.n_resamples,
                                "per_probe": per_probe,
                            }
                        ),
                    )
                )
            s.add(
                Result(
                    run_id=run_id,
                    metric=f"{key}.summary",
                    value=res.statistic,
                    ci_low=res.ci[0] if res.ci else None,
                    ci_high=res.ci[1] if res.ci else None,
                    p_value=res.p_value,
                    p_adjusted=combined.adjusted.get(key),
                    n=res.n_probes,
                    details={
                        "check": key,
                        "question": specs[key].question,
                        "access": specs[key].access,
                        **res.to_dict(),
                    },
                )
            )
        s.add(
            Result(
                run_id=run_id,
                metric="combined.holm",
                value=None,
                p_value=None,
                p_adjusted=min(combined.adjusted.values()) if combined.adjusted else None,
                n=len(combined.raw),
                details={**combined.to_dict(), "excluded": dict(excluded)},
            )
        )
        for key, res in results.items():
            if res.verdict != "supports Hp":
                continue
            text = finding_statement(specs[key], res, run_id, suspect=suspect, base=base)
            finding = Finding(
                case_id=case_id, statement=text, strength=res.strength, status="draft"
            )
            s.add(finding)
            s.flush()
            s.add(FindingRun(finding_id=finding.id, run_id=run_id))
            audit.record(
                s,
                "finding.proposed",
                "finding",
                finding.id,
                case_id=case_id,
                actor=actor,
                details={
                    "run_id": run_id,
                    "check": key,
                    "strength": res.strength,
                    "statement": text,
                },
            )
            finding_ids.append(finding.id)
        run = s.get(Run, run_id)
        assert run is not None
        audit.record(
            s,
            "check.results_stored",
            "run",
            run_id,
            case_id=case_id,
            actor=actor,
            details={
                "checks": {
                    k: {"verdict": r.verdict, "p_value": r.p_value, "strength": r.strength}
                    for k, r in results.items()
                },
                "combined": combined.statement,
                "findings": finding_ids,
            },
        )
    return finding_ids


def out_json(
    specs: Mapping[str, CheckSpec],
    results: Mapping[str, CheckResult],
    combined: CombinedResult,
    *,
    excluded: Mapping[str, str],
    extra: Mapping[str, Any] | None = None,
    order: Sequence[str] = (),
) -> dict[str, Any]:
    """The machine-readable summary (the CLI's ``--json OUT.json``)."""
    checks: dict[str, Any] = {}
    for key in order or list(results):
        if key not in results:
            continue
        r, spec = results[key], specs[key]
        checks[key] = {
            "name": key,
            "title": spec.title,
            "question": spec.question,
            "access": spec.access,
            "null_hypothesis": spec.null_hypothesis,
            "alternative": spec.alternative,
            "test": spec.test,
            "minimum_inputs": spec.minimum_inputs,
            "statistic": r.statistic,
            "effect_size": r.effect_size,
            "ci": r.ci,
            "p_value": r.p_value,
            "p_value_any": r.p_value_any,
            "p_value_holm_combined": combined.adjusted.get(key),
            "n_probes": r.n_probes,
            "n_references": r.n_references,
            "verdict": r.verdict,
            "strength": r.strength,
            "reason": r.reason,
            "warnings": list(r.warnings),
            "references": [
                {
                    "reference": c.reference,
                    "statistic": c.statistic,
                    "p_value": c.p_value,
                    "p_holm": c.p_holm,
                    "effect_size": c.effect_size,
                    "ci": c.ci,
                    "n": c.n,
                }
                for c in r.comparisons
            ],
            "details": r.details,
        }
    data = {"checks": checks, "combined": {**combined.to_dict(), "excluded": dict(excluded)}}
    if extra:
        data.update(extra)
    return jsonable(data)
