"""The harvest test: did the suspect learn the very answers that were logged as sent to the
suspected accounts?

The provider holds two things nobody else has: the log of exactly which answers its API
sent to the suspected accounts, and its own model, which can answer the same prompts again
with the same settings. Under Hd — the suspect never trained on those logged answers — the
logged answer and K regenerations of the same prompt by the same model version with the
same settings are exchangeable, so the rank of the logged answer among the K+1, scored by
the suspect, is uniform, independently across prompts; the rank-sum p-value
(:mod:`core.checks.harvest_stats`) is exact, with no reference panel and no assumption
about "common data". A model distilled from the same provider on *other* samples has no
reason to prefer the logged ones, and is correctly not flagged: the conclusion is about the
logged exchanges, which is what ties the suspect to the accounts.

The score of an answer is the suspect's per-byte log-likelihood of it (bits per UTF-8 byte,
negated: higher is likelier) after the same context (:func:`harvest_context`: the chat
template, with the logged system prompt and earlier turns). With ``harvest_reference`` set,
the same score under that reference model is subtracted, which removes "easy text" without
breaking exchangeability: any fixed function applied to all K+1 answers alike keeps the
test exact. Which prompts are used is fixed before any model runs
(:mod:`core.checks.harvest_pairing`), and every excluded prompt is reported with its reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from core.backends.base import LanguageModel
from core.checks.available import AvailableInputs, first_problem
from core.checks.framework import CheckResult, CheckSpec, ProbeDetail, Verdict, declined
from core.checks.harvest_pairing import HarvestGroup, HarvestPlan, pair_harvest, rendered_for
from core.checks.harvest_stats import HarvestTest, PromptRank, harvest_test, rank_of_logged
from core.checks.likelihood import _bpb
from core.checks.plugin import Check, CheckData, Keep, Prepared, RunContext
from core.checks.verbal import INCONCLUSIVE, strength
from core.errors import DeclinedError
from core.jobs import JobState

if TYPE_CHECKING:
    from core.checks.evidence import ModelRef

MIN_EFFECT = 0.1  # rank advantage: the logged answer beats 55% of its regenerations on average
SCORE_CHUNK = 64  # texts per model.score call (whole prompts; at least one prompt per call)

SPEC = CheckSpec(
    key="harvest",
    title="Harvest test (logged answers among their regenerations)",
    question="Did the suspect learn the very answers that were logged as sent to the suspected "
    "accounts?",
    access="log-probs",
    null_hypothesis="The suspect never trained on the logged answers: on each harvested prompt "
    "the logged answer is exchangeable with its K regenerations (same model version, prompt, "
    "system prompt and sampling settings), so the number of regenerations the suspect scores "
    "at least as high is uniform on 0..K, independently across prompts.",
    alternative="The suspect prefers the logged answers over their regenerations (the logged "
    "answers rank near the top).",
    test="Exact one-sided rank-sum test: per prompt, the number of regenerations whose per-byte "
    "log-likelihood under the suspect is at least the logged answer's (ties count against the "
    "logged answer), summed over prompts; p from the exact null distribution (convolution of "
    "discrete uniforms). Effect sizes: share of prompts where the logged answer ranks first "
    "(exact binomial 95% CI) against the expected 1/(K+1), and the rank advantage "
    "1 - 2 x mean normalised rank (bootstrap 95% CI). No reference panel is needed.",
    minimum_inputs="A harvested-exchanges set (logged answers with request ids, model version and "
    "sampling settings) and a regenerations set with at least K (default 19) answers per logged "
    "prompt from the same model version with the same settings; the suspect must expose "
    "log-probabilities.",
    min_effect=MIN_EFFECT,
    can_show="Can show that the suspect was trained on the logged answers (or on text derived "
    "from them) that the provider's API sent to the suspected accounts; cannot show training on "
    "the provider's outputs in general (a model distilled from other samples is not flagged), "
    "needs the model version that served the logs, and is weakened when the answers were "
    "paraphrased before training.",
    inputs=("harvested", "regenerations"),
    effect_name="rank advantage (1 - 2 x mean normalised rank of the logged answer)",
)


@dataclass(frozen=True)
class HarvestScores:
    """One model's scores of the K+1 answers of every usable prompt (bits per byte)."""

    model: str
    prompt_ids: tuple[str, ...]
    bpb: tuple[np.ndarray, ...]  # per prompt: [logged, regeneration 1, ..., K]; NaN: not scored
    truncated: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "unit": "bits per UTF-8 byte (lower: likelier); first value: the logged answer",
            "prompt_ids": list(self.prompt_ids),
            "bits_per_byte": [
                [float(x) if np.isfinite(x) else None for x in row] for row in self.bpb
            ],
            "truncated": self.truncated,
        }


def _chunks(groups: Sequence[HarvestGroup], size: int) -> list[list[int]]:
    """Consecutive prompts whose answers fill about ``size`` texts (whole prompts only)."""
    out: list[list[int]] = []
    current: list[int] = []
    texts = 0
    for i, g in enumerate(groups):
        if current and texts + len(g.answers) > size:
            out.append(current)
            current, texts = [], 0
        current.append(i)
        texts += len(g.answers)
    if current:
        out.append(current)
    return out


def score_harvest(
    model: LanguageModel,
    groups: Sequence[HarvestGroup],
    template_prefix: Callable[[str], str],
    *,
    chunk: int = SCORE_CHUNK,
    state: JobState | None = None,
    on_chunk: Callable[[int, HarvestScores], None] | None = None,
) -> HarvestScores:
    """Score the K+1 answers of every prompt, many prompts per ``model.score`` call.

    ``template_prefix`` turns an answer into the scored continuation (the chat template's
    response prefix). Progress is per prompt; ``on_chunk(done, partial)`` lets a caller save
    the values so far (they survive a later cancel).
    """
    state = state or JobState()
    n = len(groups)
    rows: list[np.ndarray] = [np.full(len(g.answers), np.nan) for g in groups]
    truncated = 0
    done = 0
    for members in _chunks(groups, chunk):
        state.check_cancelled()
        contexts = [groups[i].context for i in members for _ in groups[i].answers]
        answers = [template_prefix(a) for i in members for a in groups[i].answers]
        scored = model.score(
            contexts, answers, state=state.sub(100 * done / n, 100 * (done + len(members)) / n)
        )
        at = 0
        for i in members:
            for j in range(len(groups[i].answers)):
                rows[i][j] = _bpb(scored[at])
                truncated += int(scored[at].truncated)
                at += 1
        done += len(members)
        state.set_progress(done, n)
        if on_chunk is not None:
            on_chunk(done, _scores(model.name, groups, rows, truncated))
    return _scores(model.name, groups, rows, truncated)


def _scores(
    name: str, groups: Sequence[HarvestGroup], rows: list[np.ndarray], truncated: int
) -> HarvestScores:
    return HarvestScores(
        name, tuple(g.prompt_id for g in groups), tuple(r.copy() for r in rows), truncated
    )


def harvest_check(
    plan: HarvestPlan,
    suspect: HarvestScores,
    reference: HarvestScores | None = None,
    *,
    seed: int,
    alpha: float = 0.05,
    reference_name: str | None = None,
) -> CheckResult:
    """The harvest test from already computed scores (pure, no model): ranks, p, effects.

    ``reference_name`` names the harvest reference in the result (default: its scores' name).
    """
    if suspect.prompt_ids != tuple(g.prompt_id for g in plan.groups):
        raise ValueError("the suspect was scored on other prompts than the plan's")
    if reference is not None and reference.prompt_ids != suspect.prompt_ids:
        raise ValueError("the harvest reference was scored on other prompts than the suspect")
    warnings = list(plan.warnings)
    ranks: list[PromptRank] = []
    details: list[ProbeDetail] = []
    unscored: list[dict[str, str]] = []
    for n, group in enumerate(plan.groups):
        score = -suspect.bpb[n]  # higher: likelier under the suspect
        if reference is not None:
            score = score + reference.bpb[n]  # minus the reference's score, alike for all K+1
        if not np.all(np.isfinite(score)):
            unscored.append(
                {
                    "prompt_id": group.prompt_id,
                    "request_id": group.request_id,
                    "reason_key": "unscored",
                    "reason": "an answer could not be scored (empty after tokenization)",
                }
            )
            continue
        rank = rank_of_logged(float(score[0]), score[1:], group.prompt_id)
        ranks.append(rank)
        details.append(
            ProbeDetail(
                group.prompt_id,
                {
                    "request_id": group.request_id,
                    "rank": rank.rank,
                    "k": rank.k,
                    "ties": rank.ties,
                    "logged_score": float(score[0]),
                    "regeneration_mean_score": float(np.mean(score[1:])),
                },
            )
        )
    if unscored:
        warnings.append(f"{len(unscored)} prompt(s) had an answer that could not be scored.")
    trunc = suspect.truncated + (reference.truncated if reference else 0)
    if trunc:
        warnings.append(
            f"{trunc} scored texts were longer than a model's context window and were truncated "
            "from the left (alike for all K+1 answers of a prompt)."
        )
    excluded = [e.to_dict() for e in plan.excluded] + unscored
    if not ranks:
        raise DeclinedError(
            "No logged prompt could be used: "
            + (
                "; ".join(f"{e['prompt_id']}: {e['reason']}" for e in excluded[:3])
                or "the harvested set has no prompts with regenerations"
            )
            + (f" (and {len(excluded) - 3} more)" if len(excluded) > 3 else "")
            + "."
        )
    test = harvest_test(ranks, seed=seed)
    ref_name = (reference_name or reference.model) if reference is not None else None
    return _result(test, ranks, details, excluded, plan, ref_name, warnings, seed, alpha)


def expected_histogram(ks: Sequence[int]) -> list[float]:
    """Prompts expected per decile of R/K under Hd (R uniform on 0..K), the chart's baseline."""
    out = np.zeros(10)
    for k in ks:
        u = np.minimum(np.arange(k + 1) / k, 0.999999)
        out += np.bincount((u * 10).astype(int), minlength=10)[:10] / (k + 1)
    return [float(x) for x in out]


def format_p(test: HarvestTest) -> str:
    """The p-value as printed: with "≤" when it is a bound."""
    return f"p {'≤' if test.p_is_bound else '='} {test.p_value:.3g}"


def _k_text(ranks: Sequence[PromptRank]) -> str:
    ks = sorted({r.k for r in ranks})
    return f"K = {ks[0]}" if len(ks) == 1 else f"K = {ks[0]}-{ks[-1]}"


def _result(
    test: HarvestTest,
    ranks: Sequence[PromptRank],
    details: Sequence[ProbeDetail],
    excluded: list[dict[str, str]],
    plan: HarvestPlan,
    reference: str | None,
    warnings: list[str],
    seed: int,
    alpha: float,
) -> CheckResult:
    advantage = 1.0 - 2.0 * test.mean_normalised_rank
    lo, hi = test.mean_normalised_rank_ci
    ci = (1.0 - 2.0 * hi, 1.0 - 2.0 * lo)
    level = strength(test.p_value, advantage, min_effect=SPEC.min_effect)
    n, k = test.n_prompts, _k_text(ranks)
    where = (
        f"{format_p(test)}, exact rank-sum test over N = {n} logged prompts with {k} "
        f"regenerations each"
    )
    top = (
        f"the logged answer was the suspect's favourite on {100 * test.top_share:.0f}% of prompts "
        f"(95% CI {100 * test.top_share_ci[0]:.0f}-{100 * test.top_share_ci[1]:.0f}%), against "
        f"{100 * test.expected_top_share:.0f}% expected if it had never seen them"
    )
    if test.p_value <= alpha and level.supports_hp:
        verdict: Verdict = "supports Hp"
        reason = (
            f"The suspect prefers the logged answers over their regenerations ({where}); {top}."
        )
    else:
        verdict = "inconclusive"
        why = (
            f"{format_p(test)} > {alpha:g}"
            if test.p_value > alpha
            else f"the rank advantage ({advantage:.3g}) is too small"
        )
        reason = (
            f"The suspect does not clearly prefer the logged answers over their regenerations "
            f"({why}; N = {n} prompts, {k}); {top}."
        )
        level = INCONCLUSIVE
    counts = {**plan.counts(), "unscored": sum(e["reason_key"] == "unscored" for e in excluded)}
    return CheckResult(
        spec_key=SPEC.key,
        verdict=verdict,
        reason=reason,
        strength=level.label,
        null_hypothesis=SPEC.null_hypothesis,
        test=test.method,
        statistic=float(test.rank_sum),
        effect_size=advantage,
        ci=ci,
        p_value=test.p_value,
        alpha=alpha,
        n_probes=n,
        n_references=0 if reference is None else 1,
        probe_details=tuple(details),
        seed=seed,
        details={
            "unit": "per-byte log-likelihood under the suspect"
            + (f" minus that under {reference!r}" if reference else ""),
            "harvest_reference": reference,
            "rank_sum": test.rank_sum,
            "expected_rank_sum": test.expected_rank_sum,
            "p_is_bound": test.p_is_bound,
            "p_text": format_p(test),
            "exact": test.exact,
            "k_values": sorted({r.k for r in ranks}),
            "top_share": test.top_share,
            "top_share_ci": list(test.top_share_ci),
            "expected_top_share": test.expected_top_share,
            "mean_normalised_rank": test.mean_normalised_rank,
            "mean_normalised_rank_ci": list(test.mean_normalised_rank_ci),
            "rank_histogram": list(test.histogram),
            "rank_histogram_expected": expected_histogram([r.k for r in ranks]),
            "rank_histogram_bins": "deciles of R/K (0 = the logged answer ranks first)",
            "ties": test.ties,
            "prompts_excluded": len(excluded),
            "excluded_by_reason": counts,
            "excluded": excluded,
            "orphan_regenerations": plan.orphans,
            "null": test.null,
        },
        warnings=(*warnings, *test.warnings),
    )


# --- what the runner calls (core.checks.plugin) ----------------------------------------------
def fits(available: AvailableInputs) -> str | None:
    """Why the harvest test cannot run with this evidence (None: it can)."""
    return first_problem(
        None
        if available.harvested
        else "No harvested exchanges were chosen (the provider's log of the answers sent to the "
        f"suspected accounts): {available.hint('harvested')}.",
        None
        if available.regenerations
        else "No regenerations of the logged prompts were chosen (K fresh answers per prompt "
        f"from the same model version and settings): {available.hint('regenerations')}.",
    )


def prepare(ctx: RunContext) -> Prepared:
    """Pair the logged answers with their regenerations before any model runs (recorded)."""
    ev = ctx.evidence
    if ev.harvested_set is None:
        return Prepared(None)
    plan = pair_harvest(
        ev.harvested_items,
        ev.regeneration_items,
        ctx.template,
        min_regenerations=ctx.settings.harvest_min_regenerations,
        max_prompts=ctx.settings.harvest_max_prompts,
    )
    return Prepared(plan, {"harvest_pairing": plan.record()})


def _reference_label(ctx: RunContext) -> str | None:
    wanted = ctx.settings.harvest_reference
    if not wanted:
        return None
    for r in ctx.evidence.references:
        if wanted in (r.label, r.name, r.path, str(r.artifact_id)):
            return r.label
    return None


def preflight(ctx: RunContext, data: CheckData) -> str | None:
    """Some logged prompt must be usable, and a named harvest reference must be one of the
    run's reference models."""
    plan: HarvestPlan | None = data.prepared
    if plan is not None and not plan.groups:
        listed = "; ".join(f"{e.prompt_id}: {e.reason}" for e in plan.excluded[:3])
        more = f" (and {len(plan.excluded) - 3} more)" if len(plan.excluded) > 3 else ""
        return (
            f"None of the {len(plan.excluded)} logged prompts can be used"
            + (f": {listed}{more}" if listed else "")
            + "."
        )
    if ctx.settings.harvest_reference and _reference_label(ctx) is None:
        return (
            f"The harvest reference {ctx.settings.harvest_reference!r} is not among this run's "
            "reference models; add it as a reference model or leave the setting empty."
        )
    return None


def admit(
    ctx: RunContext, data: CheckData, model: LanguageModel, ref: ModelRef, role: str
) -> str | None:
    """Only the suspect (and the harvest reference, when set) is scored; the panel is not used."""
    if role == "suspect" or ref.label == _reference_label(ctx):
        return None
    return "not used by the harvest test (it needs no reference panel)"


def measure(
    ctx: RunContext,
    data: CheckData,
    model: LanguageModel,
    ref: ModelRef,
    state: JobState,
    keep: Keep,
) -> HarvestScores:
    """One model's pass: score the K+1 answers of every usable logged prompt."""
    plan: HarvestPlan = data.prepared
    state.set_status(f"Scoring logged answers and their regenerations with {ref.label}")
    return score_harvest(
        model,
        rendered_for(plan.groups, ctx.evidence.harvested_items, ctx.template),
        ctx.template.continuation,
        state=state,
        on_chunk=lambda done, part: keep(part.to_dict()),
    )


def cache_parts(ctx: RunContext, data: CheckData) -> dict[str, Any]:
    """Besides the model and the template, the scores depend on the texts scored."""
    plan: HarvestPlan = data.prepared
    return {"harvest_texts": plan.digest()}


def evaluate(ctx: RunContext, data: CheckData, state: JobState) -> CheckResult:
    """The exact rank-sum test on the suspect's scores (minus the harvest reference's)."""
    plan: HarvestPlan | None = data.prepared
    if plan is None:  # fits() declined already; kept for a direct call
        return declined(SPEC, "No harvested exchanges were given.", seed=ctx.settings.seed)
    label = _reference_label(ctx)
    reference = data.measured.get(label) if label else None
    return harvest_check(
        plan,
        data.suspect(ctx),
        reference,
        seed=ctx.seed,
        alpha=ctx.settings.alpha,
        reference_name=label,
    )


CHECK = Check(
    SPEC,
    fits=fits,
    evaluate=evaluate,
    measure=measure,
    cache_parts=cache_parts,
    prepare=prepare,
    preflight=preflight,
    admit=admit,
)
