"""Check 4, distribution agreement (white-box): does the suspect predict like the protected model?

With the protected model available locally and the *same tokenizer* in every model, each
probe text (chat-template prompt + protected answer) is run through the protected model,
the suspect and each reference. At every position we compare next-token distributions:

* KL(P_protected || Q_model), on the distributions coarsened to the protected model's
  top-k tokens plus one "all other tokens" bucket (exact when the vocabulary has at most
  k tokens; otherwise a lower bound on the full KL, by the data-processing inequality).
  Coarsening keeps memory bounded: only the protected model's top-k is stored, so the
  models are loaded one at a time;
* top-1 agreement: whether both models' most likely next token is the same.

Per probe the primary value is minus the mean KL over positions (larger = closer to the
protected model); top-1 agreement is a secondary statistic. Verdict: the model-level test
of Hd (is the suspect outside the references' spread?); descriptive, per reference model:
the paired sign-flip permutation test of the per-probe differences. Models whose
tokenizer differs from the protected model's cannot be compared token by token: the
check declines for the suspect, and drops such references.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from core.backends.base import LanguageModel
from core.checks.available import (
    AvailableInputs,
    first_problem,
    needs_probes,
    needs_protected_answers,
    needs_references,
)
from core.checks.framework import PANEL_PASS, PROTECTED_PASS, CheckResult, CheckSpec, declined
from core.checks.paired import (
    MIN_PROBES,
    compare_with_panel,
    model_level_null,
    model_level_test_text,
)
from core.checks.plugin import Check, CheckData, Keep, RunContext
from core.checks.probes import ChatTemplate, Probe
from core.jobs import JobState

if TYPE_CHECKING:
    from core.checks.evidence import ModelRef

DEFAULT_TOP_K = 256
LOG_FLOOR = -50.0  # probabilities below e^-50 count as e^-50, so the KL stays finite

SPEC = CheckSpec(
    key="distribution",
    title="Distribution agreement",
    question="Over the probe texts, are the suspect's next-token distributions closer to the "
    "protected model's (lower KL divergence) than independent reference models' are?",
    access="weights",
    null_hypothesis=model_level_null(
        "closeness (minus mean KL) to the protected model's next-token distributions"
    ),
    alternative="The suspect's next-token distributions are closer to the protected model's than "
    "independent models' are (above the reference models' spread).",
    test=model_level_test_text("minus KL"),
    minimum_inputs=f"The protected model available locally, at least {MIN_PROBES} probe texts, "
    "and a suspect and at least 2 reference models with the protected model's tokenizer.",
    can_show="Can show that the suspect's next-token probabilities are closer to the "
    "protected model's than the references' are (both models local); cannot "
    "run without the protected model's weights and a shared tokenizer.",
    answers=("outputs", "same"),
    uses_probes=True,
    passes=(PROTECTED_PASS, PANEL_PASS),
    inputs=("references", "protected_answers", "control_answers", "protected_model"),
    effect_name="Cohen's d_z of the per-probe differences",
    signals=("next-token distributions",),
)


def probe_texts(probes: Sequence[Probe], template: ChatTemplate) -> list[str]:
    """The texts the distributions are compared on: prompt in its template + protected answer."""
    return [
        template.context(p.prompt, p.system) + template.continuation(p.protected) for p in probes
    ]


@dataclass
class ProtectedSummary:
    """The protected model's top-k next-token log-probabilities per position, for each probe
    text."""

    model: str
    tokenizer_hash: str
    probe_ids: tuple[str, ...]
    top_ids: list[np.ndarray]  # [positions, k] int64
    top_logp: list[np.ndarray]  # [positions, k] float64
    rest_logp: list[np.ndarray]  # [positions] log of the mass outside the top k (-inf: none)
    k: int
    width: int = 0  # the protected model's output width (vocabulary incl. padding)
    texts: tuple[str, ...] = ()  # the texts as the protected model's template rendered them


@dataclass(frozen=True)
class AgreementScores:
    """Per-probe closeness of one model to the protected model."""

    model: str
    probe_ids: tuple[str, ...]
    kl: np.ndarray  # mean KL per probe (nats)
    top1: np.ndarray  # share of positions with the same most likely token

    def to_dict(self) -> dict[str, object]:
        return {
            "model": self.model,
            "kl": [float(x) for x in self.kl],
            "top1": [float(x) for x in self.top1],
        }


def _log1mexp(x: np.ndarray) -> np.ndarray:
    """log(1 - exp(x)) for x <= 0, stable; -inf where x == 0."""
    x = np.minimum(np.asarray(x, dtype=np.float64), 0.0)
    with np.errstate(divide="ignore"):
        return np.where(x > -0.693, np.log(-np.expm1(x)), np.log1p(-np.exp(x)))


def _logsumexp(x: np.ndarray) -> np.ndarray:
    top = x.max(axis=-1, keepdims=True)
    return (top + np.log(np.exp(x - top).sum(axis=-1, keepdims=True)))[..., 0]


def summarise_protected(
    model: LanguageModel,
    texts: Sequence[str],
    probe_ids: Sequence[str],
    *,
    top_k: int = DEFAULT_TOP_K,
    chunk: int = 8,
    state: JobState | None = None,
) -> ProtectedSummary:
    """The protected model's top-k distributions on every probe text (``chunk`` texts at a time)."""
    state = state or JobState()
    out = ProtectedSummary(model.name, model.tokenizer_hash, tuple(probe_ids), [], [], [], 0)
    out.texts = tuple(texts)
    for start in range(0, len(texts), chunk):
        state.check_cancelled()
        sub = state.sub(100 * start / len(texts), 100 * min(len(texts), start + chunk) / len(texts))
        for dist in model.next_token_distributions(list(texts[start : start + chunk]), state=sub):
            lp = np.asarray(dist, dtype=np.float64)
            k = min(top_k, lp.shape[-1])
            ids = (
                np.argpartition(-lp, k - 1, axis=-1)[:, :k]
                if k < lp.shape[-1]
                else np.tile(np.arange(lp.shape[-1]), (lp.shape[0], 1))
            )
            vals = np.take_along_axis(lp, ids, axis=-1)
            order = np.argsort(-vals, axis=-1, kind="stable")
            ids, vals = np.take_along_axis(ids, order, -1), np.take_along_axis(vals, order, -1)
            out.top_ids.append(ids)
            out.top_logp.append(vals)
            if k == lp.shape[-1] or not vals.size:  # the whole vocabulary: nothing outside
                out.rest_logp.append(np.full(vals.shape[0], -np.inf))
            else:
                out.rest_logp.append(_log1mexp(_logsumexp(vals)))
            out.k, out.width = k, lp.shape[-1]
        state.set_progress(min(len(texts), start + chunk), len(texts))
    return out


def agreement_scores(
    model: LanguageModel,
    protected: ProtectedSummary,
    texts: Sequence[str],
    *,
    chunk: int = 8,
    state: JobState | None = None,
) -> AgreementScores:
    """Mean coarsened KL and top-1 agreement with the protected model, per probe text."""
    state = state or JobState()
    n = len(texts)
    kl, top1 = np.full(n, np.nan), np.full(n, np.nan)
    for start in range(0, n, chunk):
        state.check_cancelled()
        sub = state.sub(100 * start / n, 100 * min(n, start + chunk) / n)
        dists = model.next_token_distributions(list(texts[start : start + chunk]), state=sub)
        for j, dist in enumerate(dists):
            i = start + j
            q = np.asarray(dist, dtype=np.float64)
            if q.shape[-1] < protected.width:  # a narrower (unpadded) output layer: no mass there
                q = np.pad(q, ((0, 0), (0, protected.width - q.shape[-1])), constant_values=-np.inf)
            ids, lp, rest = protected.top_ids[i], protected.top_logp[i], protected.rest_logp[i]
            t = min(q.shape[0], ids.shape[0])
            if t == 0:
                continue
            q, ids, lp, rest = q[:t], ids[:t], lp[:t], rest[:t]
            lq = np.maximum(np.take_along_axis(q, ids, axis=-1), LOG_FLOOR)
            rest_q = np.maximum(_log1mexp(_logsumexp(lq)), LOG_FLOOR)
            finite = np.isfinite(rest)
            bucket = np.zeros(t)
            bucket[finite] = np.exp(rest[finite]) * (rest[finite] - rest_q[finite])
            per_pos = (np.exp(lp) * (lp - lq)).sum(-1) + bucket
            kl[i] = float(np.maximum(per_pos, 0.0).mean())
            top1[i] = float((q.argmax(-1) == ids[:, 0]).mean())
        state.set_progress(min(n, start + chunk), n)
    return AgreementScores(model.name, protected.probe_ids, kl, top1)


def tokenizer_problem(protected_hash: str, suspect_name: str, suspect_hash: str) -> str | None:
    """The reason to decline when the suspect's tokenizer differs from the protected model's."""
    if suspect_hash == protected_hash:
        return None
    return (
        f"The suspect ({suspect_name}) uses a different tokenizer from the protected model "
        f"(tokenizer hashes {suspect_hash[:12]}... vs {protected_hash[:12]}...). Next-token "
        "distributions can only be compared token by token when both models share a tokenizer; "
        "use the likelihood check, which normalises per byte, instead."
    )


def distribution_check(
    suspect: AgreementScores,
    references: Mapping[str, AgreementScores],
    *,
    seed: int,
    alpha: float = 0.05,
    n_resamples: int = 10_000,
    min_probes: int = MIN_PROBES,
    top_k: int = DEFAULT_TOP_K,
    dropped: Mapping[str, str] | None = None,
    n_tests: int = 1,
    clusters: Sequence[str | None] | None = None,
) -> CheckResult:
    """The distribution-agreement check from per-probe scores (pure: no model is run here).

    ``dropped`` names references left out because their tokenizer differs (with the reason).
    """
    warnings = [f"Reference {k!r} was left out: {v}" for k, v in (dropped or {}).items()]
    if not references:
        return declined(
            SPEC,
            "No reference model shares the protected model's tokenizer, so there is "
            "no control panel for token-level agreement.",
            seed=seed,
            n_probes=len(suspect.probe_ids),
            alpha=alpha,
            warnings=warnings,
        )
    details = {
        "kl": "KL(P_protected || Q) in nats per position, on the protected model's top-"
        f"{top_k} tokens plus an 'other tokens' bucket",
        "mean_kl": {
            "suspect": _mean(suspect.kl),
            **{k: _mean(v.kl) for k, v in references.items()},
        },
        "mean_top1_agreement": {
            "suspect": _mean(suspect.top1),
            **{k: _mean(v.top1) for k, v in references.items()},
        },
    }
    return compare_with_panel(
        SPEC,
        -suspect.kl,
        {k: -v.kl for k, v in references.items()},
        probe_ids=suspect.probe_ids,
        seed=seed,
        alpha=alpha,
        n_resamples=n_resamples,
        min_probes=min_probes,
        value_name="minus_mean_kl",
        secondary={"top1_agreement": (suspect.top1, {k: v.top1 for k, v in references.items()})},
        details=details,
        warnings=warnings,
        n_tests=n_tests,
        clusters=clusters,
    )


def _mean(a: np.ndarray) -> float | None:
    a = a[np.isfinite(a)]
    return float(a.mean()) if a.size else None


# --- what the runner calls (core.checks.plugin) ----------------------------------------------
def fits(available: AvailableInputs) -> str | None:
    """Why the distribution check cannot run with this evidence (None: it can)."""
    return first_problem(
        needs_protected_answers(available),
        needs_probes(available, MIN_PROBES),
        needs_references(available),
        None
        if available.protected_model
        else "The distribution check needs the protected model itself (white-box access): "
        f"{available.hint('protected_model')}.",
    )


def preflight(ctx: RunContext, data: CheckData) -> str | None:
    """Compare the tokenizers now (tokenizers only, no weights) rather than after the work."""
    from core.backends.factory import load_model

    protected, suspect = ctx.evidence.protected_model, ctx.evidence.suspect
    assert protected is not None  # fits() declined otherwise
    prot, sus = load_model(protected.path), load_model(suspect.path)
    problem = tokenizer_problem(prot.tokenizer_hash, suspect.label, sus.tokenizer_hash)
    prot.release()
    sus.release()
    return problem


def measure_protected(
    ctx: RunContext, data: CheckData, model: LanguageModel, ref: ModelRef, state: JobState
) -> ProtectedSummary:
    """The protected model's pass: its top-k next-token distributions on every probe text."""
    texts = probe_texts(ctx.probes, ctx.template)
    state.set_status(f"Next-token distributions of the protected model {ref.label}")
    return summarise_protected(
        model, texts, [p.probe_id for p in ctx.probes], top_k=ctx.settings.top_k, state=state
    )


def admit(
    ctx: RunContext, data: CheckData, model: LanguageModel, ref: ModelRef, role: str
) -> str | None:
    """Why this model cannot be compared token by token (a different tokenizer), or None."""
    problem = tokenizer_problem(data.protected.tokenizer_hash, ref.label, model.tokenizer_hash)
    if problem is None or role == "suspect":
        return problem
    return problem.replace("The suspect", "This reference")


def measure(
    ctx: RunContext,
    data: CheckData,
    model: LanguageModel,
    ref: ModelRef,
    state: JobState,
    keep: Keep,
) -> AgreementScores:
    """One model's pass: its closeness to the protected model's distributions, per probe."""
    state.set_status(f"Comparing next-token distributions of {ref.label} with the protected model")
    # Token by token against the protected model: on the very texts it was run on (its own
    # chat template's rendering; the tokenizers are equal, so the token ids are too).
    texts = list(data.protected.texts) or probe_texts(ctx.probes, ctx.template)
    return agreement_scores(model, data.protected, texts, state=state)


def evaluate(ctx: RunContext, data: CheckData, state: JobState) -> CheckResult:
    """The statistics on the suspect's and the admitted references' agreement."""
    return distribution_check(
        data.suspect(ctx),
        data.references(ctx),
        top_k=ctx.settings.top_k,
        dropped=data.dropped,
        **ctx.panel(),
    )


CHECK = Check(
    SPEC,
    fits=fits,
    evaluate=evaluate,
    measure=measure,
    preflight=preflight,
    measure_protected=measure_protected,
    admit=admit,
)  # no cache_parts: the scores depend on the protected model's pass, which is not cached
