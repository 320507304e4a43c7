"""Check 2, identity and persona probe: does the suspect call itself by the protected model's names?

A versioned suite of identity questions (``resources/probes/identity_v1.yaml``) is put to
each model through the chat template: one deterministic (greedy) answer and a few seeded
sampled answers per question. Each answer is scanned for the protected model's names,
vendor and aliases (given by the user) and for the protected model's habitual phrases
(learned from its transcripts against the control answers *before* any model is run). An
answer counts as a hit if it contains any of them.

Test, per reference model: one-sided Fisher exact test that the suspect's share of hit
answers is larger than the reference's (conditional on the margins, so exact); the
intersection-union over the references gives the check's p. Effect size: Cohen's h
between the two hit rates, with a percentile bootstrap 95% CI that resamples questions
(the answers to one question are not independent). The Fisher test treats answers as
independent draws; when both models share each question's hit rate (the null) the
question mix makes the counts less variable than binomial, so the test stays valid.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from core.backends.base import LanguageModel
from core.checks.available import (
    AvailableInputs,
    first_problem,
    needs_protected_answers,
    needs_references,
)
from core.checks.framework import (
    CheckResult,
    CheckSpec,
    ProbeDetail,
    ReferenceComparison,
    build_result,
    declined,
)
from core.checks.markers import contains_phrase, name_pattern
from core.checks.paired import panel_rank
from core.checks.plugin import Check, CheckData, Keep, Prepared, RunContext
from core.checks.probes import ChatTemplate
from core.checks.stats import fisher_exact_greater, fisher_exact_greater_pooled
from core.errors import DeclinedError, EvidenceError
from core.jobs import JobState
from core.resources import resource_path

if TYPE_CHECKING:
    from core.checks.evidence import ModelRef

MIN_QUESTIONS = 10
DEFAULT_SUITE = "identity_v1.yaml"

SPEC = CheckSpec(
    key="identity",
    title="Identity and persona probe",
    question="When asked who it is, does the suspect name the protected model, its vendor or its "
    "aliases, or use the protected model's habitual phrases, more often than independent "
    "reference models do?",
    access="text",
    null_hypothesis="The suspect's answers to the identity questions contain the protected model's "
    "names or habitual phrases in no larger a share than each reference model's.",
    alternative="The suspect's share of such answers is larger than every reference model's.",
    test="One-sided Fisher exact test of the share of hit answers against each reference "
    "(answers: one greedy and several seeded samples per question); intersection-union over "
    "the references (largest p); Holm-adjusted p per reference; effect size Cohen's h with a "
    "question-level bootstrap 95% CI.",
    minimum_inputs=f"At least {MIN_QUESTIONS} identity questions, at least one protected name or "
    "learned habitual phrase, and at least 1 reference model that can generate text.",
    can_show="Can show that the suspect calls itself by the protected model's name or uses "
    "its habits more often than the references; cannot rule out a model that was "
    "told to hide its origin.",
    inputs=("references", "protected_answers", "control_answers", "names"),
    effect_name="Cohen's h between the hit rates",
)


@dataclass(frozen=True)
class IdentityQuestion:
    qid: str
    kind: str
    text: str


@dataclass(frozen=True)
class IdentitySuite:
    """A versioned question suite and the SHA-256 of the file it came from."""

    version: str
    questions: tuple[IdentityQuestion, ...]
    sha256: str
    path: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "sha256": self.sha256,
            "path": self.path,
            "questions": len(self.questions),
        }


def load_suite(path: str | Path | None = None) -> IdentitySuite:
    """Load a suite: YAML (``version``, ``questions`` with id/kind/text; default: the shipped
    ``identity_v1``) or JSONL (one ``{"id", "prompt", "category"}`` per line, as the demo ships).
    EvidenceError when malformed."""
    p = Path(path) if path else resource_path("probes", DEFAULT_SUITE)
    try:
        raw = p.read_bytes()
        if p.suffix.lower() in (".jsonl", ".ndjson"):  # one {"id", "prompt", "category"} per line
            rows = [json.loads(line) for line in raw.decode("utf-8").splitlines() if line.strip()]
            questions = tuple(
                IdentityQuestion(
                    str(r.get("id", f"q{i}")),
                    str(r.get("category", "")),
                    str(r.get("prompt") or r["question"]),
                )
                for i, r in enumerate(rows)
            )
            version = p.stem
        else:
            data = yaml.safe_load(raw.decode("utf-8"))
            questions = tuple(
                IdentityQuestion(str(q["id"]), str(q.get("kind", "")), str(q["text"]))
                for q in data["questions"]
            )
            version = str(data["version"])
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise EvidenceError(f"{p} is not a usable identity probe suite: {exc}") from exc
    if len({q.qid for q in questions}) != len(questions):
        raise EvidenceError(f"{p}: question ids must be unique.")
    return IdentitySuite(version, questions, hashlib.sha256(raw).hexdigest(), str(p))


@dataclass(frozen=True)
class IdentityMarkers:
    """What counts as a hit: names/vendor/aliases (from the user) and learned habitual phrases."""

    names: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()

    def scan(self, answer: str) -> dict[str, list[str]]:
        pattern = name_pattern(self.names)
        names = sorted({m.group(0) for m in pattern.finditer(answer)}) if pattern else []
        phrases = [p for p in self.phrases if contains_phrase(answer, p)]
        return {"names": names, "phrases": phrases}


@dataclass(frozen=True)
class IdentityAnswers:
    """One model's answers: per question, the greedy answer first, then the sampled ones."""

    model: str
    question_ids: tuple[str, ...]
    answers: tuple[tuple[str, ...], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "answers": dict(zip(self.question_ids, map(list, self.answers), strict=True)),
        }


def collect_answers(
    model: LanguageModel,
    suite: IdentitySuite,
    template: ChatTemplate,
    *,
    seed: int,
    n_samples: int = 2,
    temperature: float = 0.8,
    top_p: float = 0.95,
    max_new_tokens: int = 32,
    state: JobState | None = None,
) -> IdentityAnswers:
    """Greedy and ``n_samples`` seeded sampled answers to every question (deterministic)."""
    state = state or JobState()
    prompts = [template.context(q.text) for q in suite.questions]
    state.set_status(f"Identity questions: greedy answers of {model.name}")
    split = 50.0 if n_samples > 0 else 100.0
    greedy = model.generate(prompts, max_new_tokens, seed, greedy=True, state=state.sub(0, split))
    sampled: list[str] = []
    if n_samples > 0:
        state.set_status(f"Identity questions: sampled answers of {model.name}")
        repeated = [p for p in prompts for _ in range(n_samples)]
        sampled = model.generate(
            repeated,
            max_new_tokens,
            seed,
            greedy=False,
            temperature=temperature,
            top_p=top_p,
            state=state.sub(split, 100),
        )
    answers = tuple(
        (
            template.clean_answer(greedy[i]),
            *(template.clean_answer(a) for a in sampled[i * n_samples : (i + 1) * n_samples]),
        )
        for i in range(len(prompts))
    )
    state.set_progress(100)
    return IdentityAnswers(model.name, tuple(q.qid for q in suite.questions), answers)


def hit_matrix(answers: IdentityAnswers, markers: IdentityMarkers) -> dict[str, np.ndarray]:
    """Per question: number of answers, and answers hitting names, phrases, either."""
    n, names, phrases, either = [], [], [], []
    for group in answers.answers:
        scans = [markers.scan(a) for a in group]
        n.append(len(group))
        names.append(sum(bool(s["names"]) for s in scans))
        phrases.append(sum(bool(s["phrases"]) for s in scans))
        either.append(sum(bool(s["names"] or s["phrases"]) for s in scans))
    return {
        k: np.asarray(v, dtype=np.int64)
        for k, v in (("n", n), ("names", names), ("phrases", phrases), ("any", either))
    }


def cohens_h(p1: float, p2: float) -> float:
    """Cohen's h = 2 asin(sqrt p1) - 2 asin(sqrt p2): 0.2 small, 0.5 medium, 0.8 large."""
    return 2.0 * math.asin(math.sqrt(p1)) - 2.0 * math.asin(math.sqrt(p2))


def _h_ci(
    hits_s: np.ndarray,
    n_s: np.ndarray,
    hits_r: np.ndarray,
    n_r: np.ndarray,
    *,
    seed: int,
    n_resamples: int,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap CI of Cohen's h, resampling questions (paired across the two models)."""
    rng = np.random.default_rng([seed, 2])
    q = hits_s.size
    idx = rng.integers(0, q, size=(n_resamples, q))
    ps = hits_s[idx].sum(1) / np.maximum(n_s[idx].sum(1), 1)
    pr = hits_r[idx].sum(1) / np.maximum(n_r[idx].sum(1), 1)
    h = 2.0 * np.arcsin(np.sqrt(ps)) - 2.0 * np.arcsin(np.sqrt(pr))
    lo, hi = np.quantile(h, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def identity_check(
    suspect: IdentityAnswers,
    references: Mapping[str, IdentityAnswers],
    markers: IdentityMarkers,
    *,
    seed: int,
    alpha: float = 0.05,
    n_resamples: int = 10_000,
    min_questions: int = MIN_QUESTIONS,
    examples: int = 5,
) -> CheckResult:
    """The identity check from already generated answers (pure: no model is run here)."""
    q = len(suspect.question_ids)
    if not markers.names and not markers.phrases:
        return declined(
            SPEC,
            "Nothing to look for: no protected names, vendor or aliases were given "
            "(--protected-names) and no habitual phrases could be learned from the "
            "transcripts (control answers are needed to learn them).",
            seed=seed,
            n_probes=q,
            alpha=alpha,
        )
    if q < min_questions:
        return declined(
            SPEC,
            f"Only {q} identity questions; this check needs at least {min_questions}.",
            seed=seed,
            n_probes=q,
            alpha=alpha,
        )
    if not references:
        return declined(
            SPEC,
            "No reference models were given: the identity probe compares the "
            "suspect's answers with independent reference models' answers.",
            seed=seed,
            n_probes=q,
            alpha=alpha,
        )
    hs = hit_matrix(suspect, markers)
    hrefs = {k: hit_matrix(v, markers) for k, v in references.items()}
    ks, ns = int(hs["any"].sum()), int(hs["n"].sum())
    try:
        comps = []
        for name, hr in hrefs.items():
            kr, nr = int(hr["any"].sum()), int(hr["n"].sum())
            fr = fisher_exact_greater(ks, ns, kr, nr)
            ci = _h_ci(hs["any"], hs["n"], hr["any"], hr["n"], seed=seed, n_resamples=n_resamples)
            comps.append(
                ReferenceComparison(
                    reference=name,
                    statistic=fr.rate_suspect - fr.rate_reference,
                    p_value=fr.p_value,
                    n=ns,
                    effect_size=cohens_h(fr.rate_suspect, fr.rate_reference),
                    ci=ci,
                    n_resamples="exact",
                    method=fr.method,
                )
            )
        pooled = fisher_exact_greater_pooled(
            ks, ns, {k: (int(v["any"].sum()), int(v["n"].sum())) for k, v in hrefs.items()}
        )
    except DeclinedError as exc:
        return declined(
            SPEC, str(exc), seed=seed, n_probes=q, n_references=len(references), alpha=alpha
        )
    rates = {
        "suspect": ks / ns,
        **{k: int(v["any"].sum()) / int(v["n"].sum()) for k, v in hrefs.items()},
    }
    details: dict[str, Any] = {
        "markers": {"names": list(markers.names), "phrases": list(markers.phrases)},
        "answers_per_question": int(hs["n"].max()) if hs["n"].size else 0,
        "hit_rates": rates,
        "hits": {"suspect": _counts(hs), **{k: _counts(v) for k, v in hrefs.items()}},
        "pooled_references": pooled.to_dict(),
        "panel_rank": panel_rank(rates["suspect"], {k: rates[k] for k in hrefs}, alpha),
        "suspect_examples": _examples(suspect, markers, examples),
        "unit": "answers (one greedy and the seeded sampled answers per question)",
    }
    probe_details = [
        ProbeDetail(
            qid,
            {
                "hits": {
                    "suspect": int(hs["any"][i]),
                    **{k: int(v["any"][i]) for k, v in hrefs.items()},
                },
                "answers": int(hs["n"][i]),
            },
        )
        for i, qid in enumerate(suspect.question_ids)
    ]
    res = build_result(
        SPEC,
        comps,
        n_probes=q,
        seed=seed,
        statistic=ks / ns,
        probe_details=probe_details,
        alpha=alpha,
    )
    warnings = []
    if not details["panel_rank"]["adequate"]:
        warnings.append("Model-level view: " + details["panel_rank"]["message"])
    if not markers.names:
        warnings.append(
            "No protected names were given: only learned habitual phrases were counted."
        )
    return replace(res, details=details, warnings=tuple(warnings))


def _counts(h: Mapping[str, np.ndarray]) -> dict[str, int]:
    return {k: int(v.sum()) for k, v in h.items()}


def _examples(
    answers: IdentityAnswers, markers: IdentityMarkers, limit: int
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for qid, group in zip(answers.question_ids, answers.answers, strict=True):
        for j, a in enumerate(group):
            found = markers.scan(a)
            if found["names"] or found["phrases"]:
                out.append({"question": qid, "answer_index": j, "answer": a[:300], **found})
                break
        if len(out) >= limit:
            break
    return out


def phrases_from(learned: Sequence[Any]) -> tuple[str, ...]:
    """The phrase strings of learned markers (:class:`core.checks.markers.LearnedMarker`)."""
    return tuple(m.marker for m in learned)


# --- what the runner calls (core.checks.plugin) ----------------------------------------------
@dataclass(frozen=True)
class IdentityPlan:
    """Fixed before any model runs: the question suite and what counts as a hit."""

    suite: IdentitySuite
    markers: IdentityMarkers


def fits(available: AvailableInputs) -> str | None:
    """Why the identity probe cannot run with this evidence (None: it can)."""
    phrases = available.control_answers if available.phrases is None else available.phrases
    return first_problem(
        needs_protected_answers(available),
        needs_references(available),
        None
        if available.names or phrases
        else "Nothing to look for: no protected names, vendor or aliases were given and no "
        "habitual phrases could be learned (that needs control answers).",
    )


def prepare(ctx: RunContext) -> Prepared:
    """Load the question suite (recorded with the run) and fix the names and phrases."""
    suite = load_suite(ctx.settings.identity_suite)
    names = tuple(n.strip() for n in ctx.settings.protected_names if n.strip())
    plan = IdentityPlan(suite, IdentityMarkers(names, ctx.phrases))
    return Prepared(plan, {"identity_suite": suite.to_dict()})


def measure(
    ctx: RunContext,
    data: CheckData,
    model: LanguageModel,
    ref: ModelRef,
    state: JobState,
    keep: Keep,
) -> IdentityAnswers:
    """One model's pass: its greedy and sampled answers to every identity question."""
    s, plan = ctx.settings, data.prepared
    return collect_answers(
        model,
        plan.suite,
        ctx.template,
        seed=ctx.seed,
        n_samples=s.identity_samples,
        temperature=s.identity_temperature,
        top_p=s.identity_top_p,
        max_new_tokens=s.identity_max_new_tokens,
        state=state,
    )


def cache_parts(ctx: RunContext, data: CheckData) -> dict[str, Any]:
    """Besides the model and the template, the answers depend on the suite and the sampling."""
    s = ctx.settings
    return {
        "seed": s.seed,
        "suite": data.prepared.suite.sha256,
        "samples": s.identity_samples,
        "temperature": s.identity_temperature,
        "top_p": s.identity_top_p,
        "max_new_tokens": s.identity_max_new_tokens,
    }


def evaluate(ctx: RunContext, data: CheckData, state: JobState) -> CheckResult:
    """The statistics on the suspect's and the references' answers."""
    return identity_check(
        data.suspect(ctx), data.references(ctx), data.prepared.markers, **ctx.common()
    )


CHECK = Check(
    SPEC,
    fits=fits,
    evaluate=evaluate,
    measure=measure,
    cache_parts=cache_parts,
    prepare=prepare,
)
