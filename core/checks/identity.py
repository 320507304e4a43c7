"""Check 2, identity and persona probe: does the suspect call itself by the protected model's names?

A versioned suite of identity questions (``resources/probes/identity_v1.yaml``) is put to
each model through the chat template: one deterministic (greedy) answer and a few seeded
sampled answers per question. Each answer is scanned for two kinds of hit, kept apart:

* the protected model's **names**, vendor and aliases (given by the user): the primary
  statistic, the one the verdict rests on;
* the protected model's **learned phrases** (habits learned from its transcripts against the
  control answers *before* any model is run, see :func:`core.checks.markers.learn_phrases`):
  secondary, reported, and marked as sharing its signal with the likelihood and similarity
  checks (the same habits raise those scores), so it is never a separate line of evidence.

The unit is the question: the answers to one question are not independent draws, so each
model is summarised per question by the share of its answers that hit
(:mod:`core.checks.identity_stats`). Verdict: the model-level test of Hd
(:func:`core.checks.model_level.model_level_test`; null: the suspect is one more independent
model like the references) on the models' tendencies to name the protected model. Per
reference, descriptive only: the mean per-question difference in name-hit rates with its
own bootstrap interval and a paired sign-flip test over questions.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from core.backends.base import LanguageModel
from core.checks.answers import answers_to
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
    declined,
)
from core.checks.identity_stats import HitTable, KindAnalysis, analyse, zero_spread
from core.checks.markers import contains_phrase, name_pattern
from core.checks.model_level import MIN_REFERENCES
from core.checks.plugin import Check, CheckData, Keep, Prepared, RunContext
from core.checks.probes import ChatTemplate
from core.checks.stats import holm
from core.checks.verbal import INCONCLUSIVE, strength
from core.errors import DeclinedError, EvidenceError
from core.jobs import JobState
from core.resources import resource_path

if TYPE_CHECKING:
    from core.checks.evidence import ModelRef

MIN_QUESTIONS = 10
DEFAULT_SUITE = "identity_v1.yaml"
SHARES_SIGNAL_WITH = ("likelihood", "similarity")  # what the learned phrases also drive

SPEC = CheckSpec(
    key="identity",
    title="Identity and persona probe",
    question="When asked who it is, does the suspect name the protected model, its vendor or its "
    "aliases more often than an independent model like the references would?",
    access="text",
    null_hypothesis="The suspect is one more independent model like the references: its "
    "tendency to name the protected model (the log-odds of its mean per-question share of "
    "answers that name it) is drawn from the same distribution as the reference models' "
    "tendencies.",
    alternative="The suspect names the protected model more often than independent models do.",
    test="Model-level test of Hd on the per-question name-hit rates (questions as the units: one "
    "greedy and several seeded sampled answers per question give each question's rate): the "
    "suspect's log-odds of a name hit against the references' spread, one-sided predictive t "
    "test with R-1 degrees of freedom, or the rank test with a panel large enough. Descriptive, "
    "per reference: the mean per-question difference in name-hit rates with a question-level "
    "bootstrap 95% CI and a paired sign-flip test over questions. Learned phrases are reported "
    "separately and take no part in the verdict.",
    minimum_inputs=f"At least {MIN_QUESTIONS} identity questions, at least one protected name, "
    f"vendor or alias, and at least {MIN_REFERENCES} reference models that can generate text.",
    min_effect=1.0,
    can_show="Can show that the suspect calls itself by the protected model's name more often "
    "than independent models like the references do; cannot rule out a model that was told to "
    "hide its origin, and a small panel cannot show how often independent models use the name.",
    inputs=("references", "protected_answers", "control_answers", "names"),
    effect_name="difference in the log-odds of a name hit, suspect minus the references' mean "
    "(95% predictive interval)",
)


@dataclass(frozen=True)
class IdentityQuestion:
    qid: str
    kind: str
    text: str
    cluster: str | None = None  # a topic or source shared with other questions, where known


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

    def clusters(self) -> tuple[str, ...] | None:
        """Each question's cluster (questions without one are their own), or None if none has."""
        if all(q.cluster is None for q in self.questions):
            return None
        return tuple(q.cluster or f"question:{q.qid}" for q in self.questions)


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
                    _cluster(r),
                )
                for i, r in enumerate(rows)
            )
            version = p.stem
        else:
            data = yaml.safe_load(raw.decode("utf-8"))
            questions = tuple(
                IdentityQuestion(str(q["id"]), str(q.get("kind", "")), str(q["text"]), _cluster(q))
                for q in data["questions"]
            )
            version = str(data["version"])
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise EvidenceError(f"{p} is not a usable identity probe suite: {exc}") from exc
    if len({q.qid for q in questions}) != len(questions):
        raise EvidenceError(f"{p}: question ids must be unique.")
    return IdentitySuite(version, questions, hashlib.sha256(raw).hexdigest(), str(p))


def _cluster(row: Mapping[str, Any]) -> str | None:
    """A question's cluster: its ``cluster`` or ``topic`` field (None: a cluster of its own)."""
    value = row.get("cluster", row.get("topic"))
    return None if value is None or str(value).strip() == "" else str(value)


@dataclass(frozen=True)
class IdentityMarkers:
    """What counts as a hit: names/vendor/aliases (from the user) and learned habitual phrases."""

    names: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()

    def scan(self, answer: str) -> dict[str, list[str]]:
        pattern = _pattern(self.names)
        names = sorted({m.group(0) for m in pattern.finditer(answer)}) if pattern else []
        phrases = [p for p in self.phrases if contains_phrase(answer, p)]
        return {"names": names, "phrases": phrases}


@lru_cache(maxsize=32)
def _pattern(names: tuple[str, ...]) -> Any:
    return name_pattern(names)


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
    seen: dict[str, dict[str, list[str]]] = {}  # an answer given twice is scanned once
    for group in answers.answers:
        scans = [seen[a] if a in seen else seen.setdefault(a, markers.scan(a)) for a in group]
        n.append(len(group))
        names.append(sum(bool(s["names"]) for s in scans))
        phrases.append(sum(bool(s["phrases"]) for s in scans))
        either.append(sum(bool(s["names"] or s["phrases"]) for s in scans))
    return {
        k: np.asarray(v, dtype=np.int64)
        for k, v in (("n", n), ("names", names), ("phrases", phrases), ("any", either))
    }


def hit_tables(answers: IdentityAnswers, markers: IdentityMarkers) -> dict[str, HitTable]:
    """The model's name hits and phrase hits per question, as :class:`HitTable` records."""
    h = hit_matrix(answers, markers)
    return {kind: HitTable(answers.model, h[kind], h["n"]) for kind in ("names", "phrases")}


def identity_check(
    suspect: IdentityAnswers,
    references: Mapping[str, IdentityAnswers],
    markers: IdentityMarkers,
    *,
    seed: int,
    alpha: float = 0.05,
    n_tests: int = 1,
    n_resamples: int = 10_000,
    min_questions: int = MIN_QUESTIONS,
    clusters: Sequence[str] | None = None,
    examples: int = 5,
) -> CheckResult:
    """The identity check from already generated answers (pure: no model is run here).

    ``n_tests`` is the number of checks the run combines by Holm (it only decides the panel
    size at which the rank test takes over); ``clusters`` labels each question's cluster,
    in the suspect's question order, when the suite gives them.
    """
    q = len(suspect.question_ids)
    common: dict[str, Any] = {"seed": seed, "n_probes": q, "alpha": alpha}
    if not markers.names:
        return declined(
            SPEC,
            "Nothing to count: no protected names, vendor or aliases were given "
            "(--protected-names). The identity check's verdict counts how often a model calls "
            "itself by them; the protected model's learned phrases alone are no separate line "
            "of evidence, since they drive the likelihood and similarity checks.",
            **common,
        )
    if q < min_questions:
        return declined(
            SPEC,
            f"Only {q} identity questions; this check needs at least {min_questions}.",
            **common,
        )
    if not references:
        return declined(
            SPEC,
            "No reference models were given: the identity probe compares the "
            "suspect's answers with independent reference models' answers.",
            **common,
        )
    other = [k for k, v in references.items() if v.question_ids != suspect.question_ids]
    if other:
        return declined(
            SPEC,
            f"The reference models {', '.join(map(repr, other))} answered other identity "
            "questions than the suspect; every model must answer the same suite.",
            n_references=len(references),
            **common,
        )
    tables = {"suspect": hit_tables(suspect, markers)}
    tables.update({k: hit_tables(v, markers) for k, v in references.items()})
    if any(int(t["names"].answers.min(initial=1)) < 1 for t in tables.values()):
        return declined(
            SPEC,
            "Some identity questions have no answer from some model; every question needs at "
            "least one answer from every model.",
            n_references=len(references),
            **common,
        )
    how: dict[str, Any] = {
        "clusters": clusters,
        "alpha": alpha,
        "n_tests": n_tests,
        "seed": seed,
        "n_resamples": n_resamples,
    }
    refs = {k: v for k, v in tables.items() if k != "suspect"}
    try:
        names = analyse("names", tables["suspect"]["names"], _kind(refs, "names"), **how)
        phrases = (
            analyse("phrases", tables["suspect"]["phrases"], _kind(refs, "phrases"), **how)
            if markers.phrases
            else None
        )
    except DeclinedError as exc:
        return declined(SPEC, str(exc), n_references=len(references), **common)
    return _result(
        suspect, references, markers, names, phrases, tables, examples=examples, **common
    )


def _kind(tables: Mapping[str, Mapping[str, HitTable]], kind: str) -> dict[str, HitTable]:
    return {k: v[kind] for k, v in tables.items()}


def _hits(counts: Mapping[str, Any]) -> str:
    """'k of Q questions (a of N answers)': the counts a reader can check, never a bare '%'."""
    return (
        f"{counts['questions_hit']} of {counts['questions']} questions "
        f"({counts['answers_hit']} of {counts['answers']} answers)"
    )


def _most(analysis: KindAnalysis) -> Mapping[str, Any]:
    """The reference with the most hits (questions first, then answers)."""
    refs = [v for k, v in analysis.counts.items() if k != "suspect"]
    return max(refs, key=lambda c: (c["questions_hit"], c["answers_hit"]))


def _result(
    suspect: IdentityAnswers,
    references: Mapping[str, IdentityAnswers],
    markers: IdentityMarkers,
    names: KindAnalysis,
    phrases: KindAnalysis | None,
    tables: Mapping[str, Mapping[str, HitTable]],
    *,
    seed: int,
    n_probes: int,
    alpha: float,
    examples: int,
) -> CheckResult:
    ml = names.model_level
    p = ml.p_value
    level = strength(p, ml.difference, min_effect=SPEC.min_effect)
    supports = p <= alpha and ml.difference > 0 and level.supports_hp
    r = len(references)
    found = (
        f"The suspect named the protected model on {_hits(names.counts['suspect'])}; the "
        f"{r} reference models on at most {_hits(_most(names))}."
    )
    test = ml.method
    if ml.test_used == "rank" and p <= ml.min_rank_p:
        test += f", the smallest p the rank test can give with {r} references"
    if supports:
        reason = (
            f"{found} If the suspect were an independent model like the references, a tendency "
            f"to name the protected model at least this strong would occur with probability "
            f"p = {p:.3g} <= alpha = {alpha:g} ({test})."
        )
    else:
        if p > alpha:
            why = f"that is within the spread of independent models (p = {p:.3g} > {alpha:g})"
        elif ml.difference <= 0:
            why = "the suspect does not name it more often than the references"
        else:
            why = f"p = {p:.3g} is above the verbal scale's limit of 0.05"
        reason = f"{found} Model-level test: {why} ({test})."
        level = INCONCLUSIVE
    comps = names.comparisons
    adjusted = holm([c.p_value for c in comps])
    comparisons = tuple(
        ReferenceComparison(
            reference=c.reference,
            statistic=c.mean_difference,
            p_value=c.p_value,
            n=c.n_questions,
            effect_size=c.mean_difference,
            ci=c.ci,
            p_holm=float(a),
            n_resamples=c.n_resamples,
            method=f"{c.method}; effect: mean per-question difference in name-hit rates "
            "(suspect minus reference) with a question-level percentile bootstrap 95% CI; "
            "descriptive, not the verdict",
        )
        for c, a in zip(comps, adjusted, strict=True)
    )
    warnings = [f"Model-level test: {w}" for w in ml.warnings]
    if zero_spread(names):
        warnings.append(
            f"All {r} reference models named the protected model equally often (usually: never), "
            "so the panel shows no spread between independent models; the model-level p-value "
            "then rests on the assumed normal spread and the suspect's own question-sampling "
            "error. Independent models that sometimes use this name would need a larger panel "
            f"to be seen (the rank test needs {ml.panel_needed} references)."
        )
    if phrases is not None:
        warnings.append(
            "The learned phrases are reported separately and take no part in the verdict: they "
            "share their signal with the " + " and ".join(SHARES_SIGNAL_WITH) + " checks."
        )
    details: dict[str, Any] = {
        "unit": "questions: per question, the share of the model's answers (one greedy and the "
        "seeded sampled answers) that hit",
        "value_name": "name_hit_rate",
        "answers_per_question": int(names.counts["suspect"]["answers"] // max(n_probes, 1)),
        "markers": {"names": list(markers.names), "phrases": list(markers.phrases)},
        "names": {**names.to_dict(), "role": "primary: the verdict"},
        "model_level": ml.to_dict(),
        "suspect_examples": _examples(suspect, markers, examples),
    }
    if phrases is not None:
        details["phrases"] = {
            **phrases.to_dict(),
            "role": "secondary: reported, not used for the verdict",
            "shares_signal_with": list(SHARES_SIGNAL_WITH),
        }
    rows = _probe_rows(tables, suspect.question_ids, phrases is not None)
    return CheckResult(
        spec_key=SPEC.key,
        verdict="supports Hp" if supports else "inconclusive",
        reason=reason,
        strength=level.label,
        null_hypothesis=SPEC.null_hypothesis,
        test=SPEC.test,
        statistic=names.counts["suspect"]["mean_rate"],
        effect_size=ml.difference,
        ci=ml.difference_ci,
        p_value=p,
        p_value_any=float(adjusted.min()),
        alpha=alpha,
        n_probes=n_probes,
        n_references=r,
        comparisons=comparisons,
        probe_details=tuple(rows),
        seed=seed,
        details=details,
        warnings=tuple(warnings),
        model_level=ml.to_dict(),
        p_per_probe=max((c.p_value for c in comps), default=None),
        p_floor=ml.min_rank_p if ml.test_used == "rank" else None,
    )


def _probe_rows(
    tables: Mapping[str, Mapping[str, HitTable]], question_ids: Sequence[str], phrases: bool
) -> list[ProbeDetail]:
    """Per question: each model's name-hit rate (and phrase-hit rate) and its answers."""
    kinds = {"name_hit_rate": "names", **({"phrase_hit_rate": "phrases"} if phrases else {})}
    return [
        ProbeDetail(
            qid,
            {
                **{
                    key: {m: float(t[kind].rates[i]) for m, t in tables.items()}
                    for key, kind in kinds.items()
                },
                "answers": {m: int(t["names"].answers[i]) for m, t in tables.items()},
            },
        )
        for i, qid in enumerate(question_ids)
    ]


def identity_finding(result: CheckResult, suspect: str) -> str:
    """What a draft finding says the identity check found (core.checks.findings words the rest).

    Names and learned phrases apart, as k of N questions and answers, never a bare percentage
    ("100%" of three answers to a few questions says little); the phrases are marked as
    sharing their signal with the likelihood and similarity checks.
    """
    d = result.details or {}

    def hits(kind: str) -> tuple[str, str] | None:
        counts = (d.get(kind) or {}).get("counts") or {}
        if "suspect" not in counts:
            return None
        refs = [v for k, v in counts.items() if k != "suspect"]
        most = max(refs, key=lambda c: (c["questions_hit"], c["answers_hit"]), default=None)

        def said(c: Mapping[str, Any]) -> str:
            return (
                f"{c['questions_hit']} of {c['questions']} questions "
                f"({c['answers_hit']} of {c['answers']} answers)"
            )

        return said(counts["suspect"]), said(most) if most else "none"

    names = hits("names") or ("an unrecorded number of questions", "an unrecorded number")
    text = (
        f"asked {result.n_probes} identity questions, the suspect {suspect!r} named the protected "
        f"model (its names, vendor or aliases) on {names[0]}, more often than independent models "
        f"like the {result.n_references} references would; the references did so on at most "
        f"{names[1]}"
    )
    phrases = hits("phrases")
    if phrases:
        shared = " and ".join(SHARES_SIGNAL_WITH)
        text += (
            f". Separately, the suspect used the protected model's learned habitual phrases on "
            f"{phrases[0]}, the references on at most {phrases[1]}; the same phrases drive the "
            f"{shared} checks, so this is not a separate line of evidence"
        )
    return text


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
    return first_problem(
        needs_protected_answers(available),
        needs_references(available),
        None
        if available.references >= MIN_REFERENCES
        else f"The identity check's model-level test needs at least {MIN_REFERENCES} reference "
        "models: it learns from them how much independent models differ in naming the "
        "protected model.",
        None
        if available.names
        else "Nothing to count: no protected names, vendor or aliases were given; the identity "
        "check's verdict counts how often a model calls itself by them.",
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


def measure_answers(
    ctx: RunContext, data: CheckData, ref: ModelRef, state: JobState
) -> IdentityAnswers:
    """A model known only by its answers: every recorded answer to each identity question.

    The first answer to a question counts as its greedy one and any further answers as its
    sampled ones (each question's hit rate is the share of its answers that hit, so a set
    with one answer per question is usable too).
    """
    plan: IdentityPlan = data.prepared
    state.set_status(f"Reading the recorded identity answers of {ref.label}")
    found = answers_to(ref, [(q.qid, q.text) for q in plan.suite.questions], "identity questions")
    state.set_progress(100)
    return IdentityAnswers(
        ref.label,
        tuple(q.qid for q in plan.suite.questions),
        tuple(tuple(a.strip() for a in group) for group in found),
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
    result = identity_check(
        data.suspect(ctx),
        data.references(ctx),
        data.prepared.markers,
        clusters=data.prepared.suite.clusters(),
        n_tests=ctx.n_tests,
        **ctx.common(),
    )
    left_out = tuple(f"Reference {k!r} was left out: {v}" for k, v in data.dropped.items())
    return replace(result, warnings=(*result.warnings, *left_out)) if left_out else result


CHECK = Check(
    SPEC,
    fits=fits,
    evaluate=evaluate,
    measure=measure,
    cache_parts=cache_parts,
    prepare=prepare,
    measure_answers=measure_answers,
)
