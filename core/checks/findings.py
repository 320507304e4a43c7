"""Storing a check run's results in the case file and proposing draft findings.

Each check gives one Result per reference comparison (with that reference's per-probe
values) and one summary Result (the whole CheckResult, per-probe details included); the
combined Holm summary is one more Result. A check that addresses Hp proposes a Finding in
*draft* status, linked to the run, only when its verdict supports Hp *and* its family-wise
(Holm over the run's Hp checks) p is at most alpha; the wording reads the model-level
test's p ("if the suspect were an independent model like the references, a result at
least this extreme would occur with probability <= p") and the verbal level of the
family-wise p, and names the other checks driven by the same signal.
Statements never say "distilled", "proves" or give a chance that Hp is true; an output
check never says "derived from" (only the weight check speaks of derivation).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.checks.framework import CheckResult, CheckSpec
from core.checks.identity import identity_finding
from core.checks.pformat import at_most, p_clause
from core.checks.stats import CombinedResult, format_p, jsonable
from core.store import audit
from core.store.db import CaseFile
from core.store.models import AuditEvent, Finding, FindingRun, Result, Run

P_MEANING = (
    "A p-value says how unusual these data would be if the suspect were an independent "
    "model like the references; it is not the chance that Hp is true, and the result should "
    "be weighed with the other evidence and the stated limitations."
)


def _what(key: str, result: CheckResult, suspect: str, base: str | None) -> str:
    r = result.n_references
    d = result.details or {}
    if key == "likelihood":
        return (
            f"across {result.n_probes} probe prompts, the suspect {suspect!r} assigned the "
            "protected model's captured answers a higher per-byte likelihood, relative to control "
            f"answers to the same prompts, than the spread of the {r} independent reference "
            "models leads one to expect of an independent model"
        )
    if key == "identity":
        return identity_finding(result, suspect)
    if key == "similarity":
        return (
            f"across {result.n_probes} probe prompts, the suspect {suspect!r} gave answers that "
            "resemble the protected model's captured answers more closely (measures: "
            f"{', '.join(d.get('measures_ran', []))}) than the spread of the {r} independent "
            "reference models' answers leads one to expect of an independent model"
        )
    if key == "distribution":
        return (
            f"over {result.n_probes} probe texts, the suspect {suspect!r} had next-token "
            "distributions closer to the protected model's (lower KL divergence) than the spread "
            f"of the {r} independent reference models leads one to expect of an independent model"
        )
    if key == "harvest":
        return (
            f"on {result.n_probes} prompts of the provider's log of answers sent to the "
            f"suspected accounts, the suspect {suspect!r} scored the logged answer above its "
            f"regenerations (fresh answers of the same model version with the same settings) "
            f"more often than chance: it was the favourite on {100 * d.get('top_share', 0):.0f}% "
            f"of prompts against {100 * d.get('expected_top_share', 0):.0f}% expected if the "
            "suspect had never seen the logged answers. This concerns the logged exchanges, "
            "not the provider's outputs in general"
        )
    if key == "lineage":  # its own scale, never Hp/Hd (core.checks.lineage)
        return (
            f"once aligned for rotations of the residual stream and reordered units, the weights "
            f"of the suspect {suspect!r} are {result.strength} {base!r}"
            f" ({d.get('embedding_rows', 'embedding rows')} used for the alignment). This "
            "concerns the weights only and says nothing about training on the protected "
            "model's outputs"
        )
    return (
        f"the suspect {suspect!r} scored above the spread of the {r} independent reference models"
    )


def finding_statement(
    spec: CheckSpec,
    result: CheckResult,
    run_id: int,
    *,
    suspect: str,
    base: str | None = None,
    combined: CombinedResult | None = None,
) -> str:
    """The draft finding's wording for a result that supports its hypothesis."""
    what = _what(spec.key, result, suspect, base)
    if spec.key in ("lineage", "harvest") or not result.model_level:
        effect = "" if result.effect_size is None else f"; effect size {result.effect_size:.3g}"
        if result.ci is not None and None not in result.ci:
            effect += f" (95% CI {result.ci[0]:.3g} to {result.ci[1]:.3g})"
        d = result.details or {}
        scale, meaning = "the fixed verbal scale", P_MEANING
        if spec.key == "lineage":  # its own scale, never Hp/Hd (core.checks.lineage)
            test = f"exact test of independent initialisation, p {d.get('p_text', result.p_value)}"
            scale, meaning = "the weight check's own scale", str(d.get("p_meaning", P_MEANING))
        elif spec.key == "harvest":  # exact, no reference panel (core.checks.harvest)
            bound = "<=" if d.get("p_is_bound") else "="
            test = (
                "exact rank-sum test of the logged answers among their regenerations, no "
                f"reference panel; p {bound} {result.p_value:.3g}"
            )
        else:
            test = f"per-probe tests against each reference, {p_clause(result.p_text())}"
        return (
            f"Run {run_id}, {spec.title}: {what} ({test}{effect}). On {scale} this is "
            f"{result.strength}. {meaning}"
        )
    ml = result.model_level
    test = f"{ml.get('test_used')} model-level test, {result.n_references} references"
    diff = ""
    if result.effect_size is not None and result.ci is not None and None not in result.ci:
        diff = (
            f"; the suspect lies {result.effect_size:.3g} above the references' mean "
            f"(95% interval {result.ci[0]:.3g} to {result.ci[1]:.3g})"
        )
    family = ""
    if combined is not None and spec.key in combined.adjusted:
        family = (
            f" Over the {len(combined.raw)} checks of the run (Holm), the family-wise p is "
            f"{format_p(combined.adjusted[spec.key])}."
        )
        shared = [
            f"{', '.join(k for k in keys if k != spec.key)} ({sig})"
            for sig, keys in combined.shared_signals.items()
            if spec.key in keys
        ]
        if shared:
            family += (
                " This check shares its signal with "
                + "; ".join(shared)
                + ": they are not independent lines of evidence."
            )
    return (
        f"Run {run_id}, {spec.title}: {what} ({test}{diff}). If the suspect were an independent "
        "model like the references, a result at least this extreme would occur with "
        f"probability ≤ {at_most(result.p_text())}.{family} On the fixed verbal scale (read "
        f"from the family-wise p) this is: {result.strength}. {P_MEANING}"
    )


def _suspect_of(run: Run | None) -> Any:
    return ((run.inputs or {}).get("suspect") or {}).get("artifact_id") if run else None


def _open_draft(s: Session, case_id: int, key: str, run_id: int) -> Finding | None:
    """The draft finding an earlier run of check ``key`` on this run's suspect proposed.

    Re-running a check must not propose the same draft twice: findings are one per
    (check, suspect) until a reviewer decides; an accepted or rejected one stays as it is
    and a new draft is proposed beside it.
    """
    suspect = _suspect_of(s.get(Run, run_id))
    if suspect is None:
        return None
    events = s.execute(
        select(AuditEvent).where(
            AuditEvent.case_id == case_id, AuditEvent.action == "finding.proposed"
        )
    ).scalars()
    for event in events:
        if (event.details or {}).get("check") != key or event.entity_id is None:
            continue
        finding = s.get(Finding, int(event.entity_id))
        if finding is None or finding.status != "draft":
            continue
        if any(_suspect_of(link.run) == suspect for link in finding.run_links):
            return finding
    return None


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
            if res.verdict not in ("supports Hp", "consistent with derivation"):
                continue
            p_family = combined.adjusted.get(key)
            if specs[key].addresses_hp and (p_family is None or p_family > combined.alpha):
                continue  # draft findings only from the family-wise p
            text = finding_statement(
                specs[key], res, run_id, suspect=suspect, base=base, combined=combined
            )
            earlier = _open_draft(s, case_id, key, run_id)
            if earlier is not None:  # the same check on the same suspect: one draft, more runs
                earlier.statement, earlier.strength = text, res.strength
                s.add(FindingRun(finding_id=earlier.id, run_id=run_id))
                audit.record(
                    s,
                    "finding.reproposed",
                    "finding",
                    earlier.id,
                    case_id=case_id,
                    actor=actor,
                    details={
                        "run_id": run_id,
                        "check": key,
                        "strength": res.strength,
                        "statement": text,
                    },
                )
                finding_ids.append(earlier.id)
                continue
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
            "p_text": r.p_text(),
            "p_per_probe": r.p_per_probe,
            "p_value_any": r.p_value_any,
            "model_level": r.model_level,
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
                    "p_text": c.p_text(),
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
