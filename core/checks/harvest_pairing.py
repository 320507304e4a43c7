"""Pairing each logged answer with its regenerations, and excluding what is not exchangeable.

The harvest test is exact only if, under Hd, the logged answer and its K regenerations are
exchangeable draws: same model version, same prompt (system prompt and earlier turns
included) and same sampling settings, and a sampler that can give different answers.
Every prompt that fails one of these is left out *with its reason* and counted, never used
silently; every rule below looks at the K+1 answers as a set (never at which one was
logged, nor at any model's scores), so the selection itself cannot favour the logged answer:

* ``greedy``: the logged sampling is greedy (temperature 0), or all K+1 answers are identical;
* ``too-few``: fewer regenerations than the K the run asks for;
* ``version``: a regeneration was drawn from another model version than the logged answer;
* ``sampling``: a regeneration was drawn with other sampling settings;
* ``prompt``: a regeneration answers another prompt, system prompt or conversation;
* ``duplicates``: two of the K+1 answers are the same text (ties carry no information).

Also here: :func:`harvest_context`, the text every one of the K+1 answers is scored after
(and the protected model is prompted with when the tool draws the regenerations itself).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from core.checks.probes import ChatTemplate, normalise_prompt
from core.evidence.harvest_records import Sampling

if TYPE_CHECKING:
    from core.checks.probes import TranscriptEntry

REASONS: Mapping[str, str] = {
    "greedy": "greedy decoding: the K+1 answers cannot differ",
    "too-few": "fewer regenerations than required",
    "version": "regenerations from another model version",
    "sampling": "regenerations with other sampling settings",
    "prompt": "regenerations of another prompt or conversation",
    "duplicates": "duplicate answers among the K+1",
}


@dataclass(frozen=True)
class HarvestGroup:
    """One usable prompt: the context, the logged answer first and then its regenerations."""

    prompt_id: str  # the harvested item's id
    request_id: str
    context: str
    answers: tuple[str, ...]  # answers[0] is the logged answer

    @property
    def k(self) -> int:
        return len(self.answers) - 1


@dataclass(frozen=True)
class Exclusion:
    """A logged prompt left out of the test, and why (``reason_key`` is one of REASONS)."""

    prompt_id: str
    request_id: str
    reason_key: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {
            "prompt_id": self.prompt_id,
            "request_id": self.request_id,
            "reason_key": self.reason_key,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class HarvestPlan:
    """The prompts the test uses and those it leaves out, fixed before any model is run."""

    groups: tuple[HarvestGroup, ...]
    excluded: tuple[Exclusion, ...]
    orphans: int = 0  # regenerations naming no logged exchange
    beyond_max: int = 0  # usable prompts left out by harvest_max_prompts
    min_regenerations: int = 0
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def counts(self) -> dict[str, int]:
        """Excluded prompts by reason key (every key present)."""
        out = dict.fromkeys(REASONS, 0)
        for e in self.excluded:
            out[e.reason_key] += 1
        return out

    def digest(self) -> str:
        """SHA-256 of the texts scored (what determines a model's measurement)."""
        payload = [[g.prompt_id, g.context, list(g.answers)] for g in self.groups]
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def record(self) -> dict[str, Any]:
        """What the Run records of the pairing (parameters and inputs)."""
        return {
            "prompts_used": len(self.groups),
            "prompts_excluded": self.counts(),
            "regenerations_required": self.min_regenerations,
            "orphan_regenerations": self.orphans,
            "prompts_beyond_max": self.beyond_max,
            "scored_texts_sha256": self.digest(),
        }


def harvest_context(
    template: ChatTemplate,
    prompt: str,
    system_prompt: str | None = None,
    messages: Sequence[Mapping[str, str]] = (),
) -> str:
    """The text an answer to ``prompt`` is scored after: system prompt, earlier turns, prompt
    (:meth:`ChatTemplate.conversation`: a model's own chat template renders them as turns)."""
    return template.conversation(prompt, system_prompt, messages)


def rendered_for(
    groups: Sequence[HarvestGroup], items: Sequence[TranscriptEntry], template: ChatTemplate
) -> list[HarvestGroup]:
    """The groups with each context rendered through ``template`` (one model's own chat
    template); the answers, and so the bytes scored, are unchanged."""
    by_key = {h.key: h for h in items}
    return [
        replace(g, context=item_context(template, by_key[g.prompt_id]))
        if g.prompt_id in by_key
        else g
        for g in groups
    ]


def item_context(template: ChatTemplate, item: TranscriptEntry) -> str:
    """:func:`harvest_context` of a logged exchange, from its metadata."""
    meta = item.meta
    messages = meta.get("messages") or []
    return harvest_context(
        template,
        item.prompt,
        meta.get("system_prompt"),
        messages if isinstance(messages, list) else [],
    )


def _sampling(meta: Mapping[str, Any]) -> Sampling | None:
    try:
        return Sampling.from_meta(meta.get("sampling"))
    except (KeyError, TypeError, ValueError):
        return None


def same_sampling(a: Sampling, b: Sampling) -> bool:
    """Equal settings (a limit on new tokens is compared only when both records give one)."""
    limits = a.max_new_tokens is None or b.max_new_tokens is None
    return (
        a.is_greedy == b.is_greedy
        and a.temperature == b.temperature
        and a.top_p == b.top_p
        and (limits or a.max_new_tokens == b.max_new_tokens)
    )


def _conversation(item: TranscriptEntry) -> tuple[str, str, str]:
    meta = item.meta
    return (
        normalise_prompt(item.prompt),
        normalise_prompt(str(meta.get("system_prompt") or "")),
        json.dumps(meta.get("messages") or [], sort_keys=True),
    )


def _problem(
    logged: TranscriptEntry, regens: Sequence[TranscriptEntry], minimum: int
) -> tuple[str, str] | None:
    """(reason key, reason) why this prompt cannot be used, or None."""
    version = str(logged.meta.get("model_version", ""))
    sampling = _sampling(logged.meta)
    if sampling is None:
        return "sampling", "the logged answer records no sampling settings"
    if sampling.is_greedy:
        return "greedy", (
            "the logged answer was produced by greedy decoding (temperature 0): every "
            "regeneration would repeat it, so there is nothing to rank it against"
        )
    if len(regens) < max(1, minimum):
        return "too-few", (
            f"{len(regens)} regeneration(s), fewer than the {max(1, minimum)} the test requires"
        )
    other_versions = sorted({str(r.meta.get("model_version", "")) for r in regens} - {version})
    if other_versions:
        return "version", (
            f"regenerations drawn from model version {', '.join(map(repr, other_versions))}, "
            f"the logged answer from {version!r}: they are not draws from the model that "
            "served it, so the prompt is refused"
        )
    for r in regens:
        theirs = _sampling(r.meta)
        if theirs is None or not same_sampling(sampling, theirs):
            return "sampling", (
                f"a regeneration was drawn with {theirs.describe() if theirs else 'no recorded'}"
                f" settings, the logged answer with {sampling.describe()}"
            )
    own = _conversation(logged)
    if any(_conversation(r)[0] != own[0] for r in regens):
        return "prompt", "a regeneration answers another prompt than the logged one"
    for r in regens:
        conversation = _conversation(r)
        if (r.meta.get("system_prompt") and conversation[1] != own[1]) or (
            r.meta.get("messages") and conversation[2] != own[2]
        ):
            return "prompt", "a regeneration was drawn with another system prompt or conversation"
    answers = [logged.response.strip(), *(r.response.strip() for r in regens)]
    distinct = len(set(answers))
    if distinct == 1:
        return "greedy", f"all {len(answers)} answers are identical (a deterministic sampler)"
    if distinct < len(answers):
        return "duplicates", (
            f"{len(answers) - distinct} of the {len(answers)} answers repeat another word for "
            "word; identical answers cannot be ranked"
        )
    return None


def _order(item: TranscriptEntry) -> tuple[int, str]:
    index = item.meta.get("sample_index")
    return (int(index) if isinstance(index, int) else 0, item.key)


def pair_harvest(
    harvested: Sequence[TranscriptEntry],
    regenerations: Sequence[TranscriptEntry],
    template: ChatTemplate,
    *,
    min_regenerations: int,
    max_prompts: int | None = None,
) -> HarvestPlan:
    """The usable prompts (log order) and the excluded ones with reasons (module docstring)."""
    by_request = {str(h.meta.get("request_id")): h for h in harvested if h.meta.get("request_id")}
    by_key = {h.key: h for h in harvested}
    linked: dict[str, list[TranscriptEntry]] = {h.key: [] for h in harvested}
    orphans = 0
    for r in regenerations:
        target = by_request.get(str(r.meta.get("request_id"))) if r.meta.get("request_id") else None
        if target is None and r.meta.get("harvested_id"):
            target = by_key.get(str(r.meta["harvested_id"]))
        if target is None:
            orphans += 1
        else:
            linked[target.key].append(r)
    groups: list[HarvestGroup] = []
    excluded: list[Exclusion] = []
    beyond = 0
    for h in harvested:
        request = str(h.meta.get("request_id", ""))
        regens = sorted(linked[h.key], key=_order)
        problem = _problem(h, regens, min_regenerations)
        if problem is not None:
            excluded.append(Exclusion(h.key, request, *problem))
            continue
        if max_prompts is not None and len(groups) >= max_prompts:
            beyond += 1
            continue
        answers = (h.response, *(r.response for r in regens))
        groups.append(HarvestGroup(h.key, request, item_context(template, h), answers))
    warnings: list[str] = []
    if excluded:
        counts = dict.fromkeys(REASONS, 0)
        for e in excluded:
            counts[e.reason_key] += 1
        listed = "; ".join(f"{REASONS[k]}: {n}" for k, n in counts.items() if n)
        warnings.append(
            f"{len(excluded)} of {len(harvested)} logged prompts were left out ({listed}); "
            "each is listed with its reason."
        )
    if orphans:
        warnings.append(
            f"{orphans} regeneration(s) name no logged exchange (unknown request id) and were "
            "not used."
        )
    if beyond:
        warnings.append(
            f"The first {max_prompts} usable prompts in log order were used; {beyond} more "
            "were left out (harvest_max_prompts)."
        )
    return HarvestPlan(
        tuple(groups), tuple(excluded), orphans, beyond, min_regenerations, tuple(warnings)
    )
