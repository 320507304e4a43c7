"""Check 1, teacher-text affinity: does the suspect find the protected model's answers unusually
likely?

For probe i and model m, the *affinity* is the per-byte log-likelihood (in bits per UTF-8
byte, so tokenizers need not match) of the protected model's captured answer minus that
of the control answer to the same prompt, both scored after the same chat-template
context. A model trained on the protected model's outputs tends to prefer its answers
over equally good control answers; independently trained models have no such reason.

Verdict: the model-level test of Hd (core.checks.paired): is the suspect's mean affinity
outside the spread of the independent references? Descriptive, per reference model: the
paired sign-flip permutation test of the per-probe differences (suspect affinity -
reference affinity; one sign per probe cluster when clusters are known), Cohen's d_z and a
bootstrap CI of d_z. A Min-K% tail statistic (the mean of the lowest K%
token log-probabilities, protected minus control) gets the same tests as a secondary
statistic, reported but not used for the verdict. Without control answers the affinity
falls back to the per-byte log-likelihood of the protected answer alone (weaker: it also
rewards a model that is simply better at text of this kind) and a warning says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from core.backends.base import LanguageModel, ScoredText
from core.checks.available import (
    AvailableInputs,
    first_problem,
    needs_probes,
    needs_protected_answers,
    needs_references,
)
from core.checks.framework import CheckResult, CheckSpec
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

SPEC = CheckSpec(
    key="likelihood",
    title="Teacher-text affinity (likelihood)",
    question="Does the suspect assign unusually high likelihood to the protected model's captured "
    "answers, relative to control answers to the same prompts, compared with independent "
    "reference models?",
    access="log-probs",
    null_hypothesis=model_level_null(
        "affinity (protected minus control answers' per-byte log-likelihood)"
    ),
    alternative="The suspect's affinity for the protected answers lies above the independent "
    "reference models' spread.",
    test=model_level_test_text("affinity"),
    minimum_inputs=f"At least {MIN_PROBES} probes with a protected answer (and a control answer) "
    "and at least 2 reference models; the suspect and references must expose log-probabilities.",
    can_show="Can show that the suspect finds the protected model's own answers unusually "
    "likely compared with the reference models; cannot show how much it learned "
    "or from which requests.",
    uses_probes=True,
    inputs=("references", "protected_answers", "control_answers"),
    effect_name="Cohen's d_z of the per-probe differences",
    signals=("protected answers' text", "persona phrases"),
)

LN2 = math.log(2.0)


@dataclass(frozen=True)
class AffinityScores:
    """Per-probe scores of one model (one entry per probe, in probe order)."""

    model: str
    probe_ids: tuple[str, ...]
    protected_bpb: np.ndarray  # bits per byte of the protected answer
    control_bpb: np.ndarray | None  # bits per byte of the control answer (None without controls)
    protected_min_k: np.ndarray  # mean of the lowest K% token log-probs (nats per token)
    control_min_k: np.ndarray | None
    truncated: int = 0

    @property
    def affinity(self) -> np.ndarray:
        """Bits per byte by which the protected answer is likelier than the control answer."""
        if self.control_bpb is None:
            return -self.protected_bpb
        return self.control_bpb - self.protected_bpb

    @property
    def min_k_difference(self) -> np.ndarray:
        if self.control_min_k is None:
            return self.protected_min_k
        return self.protected_min_k - self.control_min_k

    def to_dict(self) -> dict[str, object]:
        def _list(a: np.ndarray | None) -> list[float | None] | None:
            return None if a is None else [float(x) if np.isfinite(x) else None for x in a]

        return {
            "model": self.model,
            "probe_ids": list(self.probe_ids),
            "protected_bpb": _list(self.protected_bpb),
            "control_bpb": _list(self.control_bpb),
            "affinity": _list(self.affinity),
            "truncated": self.truncated,
        }


def min_k_mean(logprobs: np.ndarray, k: float) -> float:
    """Mean of the lowest ``k`` share of token log-probabilities (Min-K%); NaN when empty."""
    lp = np.sort(np.asarray(logprobs, dtype=np.float64))
    if lp.size == 0:
        return math.nan
    return float(lp[: max(1, math.ceil(k * lp.size))].mean())


def _bpb(scored: ScoredText) -> float:
    if scored.n_bytes == 0 or scored.n_tokens == 0:
        return math.nan
    return -scored.total_logprob / LN2 / scored.n_bytes


def score_affinity(
    model: LanguageModel,
    probes: Sequence[Probe],
    template: ChatTemplate,
    *,
    min_k: float = 0.2,
    chunk: int = 16,
    state: JobState | None = None,
    on_chunk: Callable[[int, AffinityScores], None] | None = None,
) -> AffinityScores:
    """Score every probe's protected (and control) answer with ``model``, ``chunk`` probes at a
    time.

    Progress is reported per probe; ``on_chunk(done, partial_scores)`` is called after each
    chunk so a caller can save the per-probe values (they survive a later cancel).
    """
    state = state or JobState()
    n = len(probes)
    use_control = bool(probes) and all(p.control is not None for p in probes)
    p_bpb, c_bpb = np.full(n, np.nan), np.full(n, np.nan)
    p_mk, c_mk = np.full(n, np.nan), np.full(n, np.nan)
    truncated = 0
    for start in range(0, n, chunk):
        state.check_cancelled()
        part = probes[start : start + chunk]
        contexts = [template.context(p.prompt, p.system) for p in part]
        answers = [template.continuation(p.protected) for p in part]
        if use_control:
            contexts = contexts + contexts
            answers = answers + [template.continuation(p.control or "") for p in part]
        scored = model.score(
            contexts, answers, state=state.sub(100 * start / n, 100 * min(n, start + chunk) / n)
        )
        m = len(part)
        for j in range(m):
            i = start + j
            p_bpb[i], p_mk[i] = _bpb(scored[j]), min_k_mean(scored[j].logprobs, min_k)
            truncated += int(scored[j].truncated)
            if use_control:
                c_bpb[i], c_mk[i] = _bpb(scored[m + j]), min_k_mean(scored[m + j].logprobs, min_k)
                truncated += int(scored[m + j].truncated)
        done = start + m
        state.set_progress(done, n)
        if on_chunk is not None:
            on_chunk(
                done, _scores(model.name, probes, p_bpb, c_bpb, p_mk, c_mk, use_control, truncated)
            )
    return _scores(model.name, probes, p_bpb, c_bpb, p_mk, c_mk, use_control, truncated)


def _scores(
    name: str,
    probes: Sequence[Probe],
    p_bpb: np.ndarray,
    c_bpb: np.ndarray,
    p_mk: np.ndarray,
    c_mk: np.ndarray,
    use_control: bool,
    truncated: int,
) -> AffinityScores:
    return AffinityScores(
        name,
        tuple(p.probe_id for p in probes),
        p_bpb.copy(),
        c_bpb.copy() if use_control else None,
        p_mk.copy(),
        c_mk.copy() if use_control else None,
        truncated,
    )


def likelihood_check(
    suspect: AffinityScores,
    references: Mapping[str, AffinityScores],
    *,
    seed: int,
    alpha: float = 0.05,
    n_resamples: int = 10_000,
    min_k: float = 0.2,
    min_probes: int = MIN_PROBES,
    n_tests: int = 1,
    clusters: Sequence[str | None] | None = None,
) -> CheckResult:
    """The teacher-text affinity check from already computed per-probe scores (pure, no model)."""
    warnings = []
    if suspect.control_bpb is None:
        warnings.append(
            "No control answers were given: the affinity is the per-byte log-likelihood "
            "of the protected answers alone, which also rewards a model that is simply "
            "better at text of this kind. Supply control answers to the same prompts."
        )
    for name, r in references.items():
        if r.probe_ids != suspect.probe_ids:
            raise ValueError(f"reference {name!r} was scored on other probes than the suspect")
    trunc = suspect.truncated + sum(r.truncated for r in references.values())
    if trunc:
        warnings.append(
            f"{trunc} scored texts were longer than a model's context window and were "
            "truncated from the left."
        )
    details = {
        "unit": "bits per UTF-8 byte (positive: the protected answer is likelier than the control)",
        "mean_affinity": {
            "suspect": _mean(suspect.affinity),
            **{k: _mean(v.affinity) for k, v in references.items()},
        },
        "control_answers": suspect.control_bpb is not None,
        "min_k": min_k,
    }
    return compare_with_panel(
        SPEC,
        suspect.affinity,
        {k: v.affinity for k, v in references.items()},
        probe_ids=suspect.probe_ids,
        seed=seed,
        alpha=alpha,
        n_resamples=n_resamples,
        min_probes=min_probes,
        value_name="affinity_bits_per_byte",
        secondary={
            f"min_{round(min_k * 100)}pct_tail": (
                suspect.min_k_difference,
                {k: v.min_k_difference for k, v in references.items()},
            )
        },
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
    """Why the affinity check cannot run with this evidence (None: it can)."""
    return first_problem(
        needs_protected_answers(available),
        needs_probes(available, MIN_PROBES),
        needs_references(available),
    )


def measure(
    ctx: RunContext,
    data: CheckData,
    model: LanguageModel,
    ref: ModelRef,
    state: JobState,
    keep: Keep,
) -> AffinityScores:
    """One model's pass: score the protected and control answers of every probe."""
    state.set_status(f"Scoring protected and control answers with {ref.label}")
    return score_affinity(
        model,
        ctx.probes,
        ctx.template,
        min_k=ctx.settings.min_k,
        state=state,
        on_chunk=lambda done, part: keep(part.to_dict()),
    )


def cache_parts(ctx: RunContext, data: CheckData) -> dict[str, Any]:
    """Besides the model and the template, the scores depend on K and the probe texts."""
    return {
        "min_k": ctx.settings.min_k,
        "probes": [(p.probe_id, p.prompt, p.protected, p.control) for p in ctx.probes],
    }


def evaluate(ctx: RunContext, data: CheckData, state: JobState) -> CheckResult:
    """The statistics on the suspect's and the references' scores."""
    return likelihood_check(
        data.suspect(ctx), data.references(ctx), min_k=ctx.settings.min_k, **ctx.panel()
    )


CHECK = Check(SPEC, fits=fits, evaluate=evaluate, measure=measure, cache_parts=cache_parts)
