"""Probe prompts for the checks: protected answers matched with control answers, and the chat
template.

A *probe* is one prompt with the protected model's captured answer and, when the user
has them, a control answer to the same prompt (human-written, or another model's). The
probes are fixed from the case's transcript sets before any model is run; the order of
the protected transcript is kept, so the same evidence always gives the same probes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DEFAULT_TEMPLATE = "User: {prompt}\nAssistant:"
DEFAULT_RESPONSE_PREFIX = " "
_SPACES = re.compile(r"\s+")
# Item metadata keys that name a probe's cluster, in order of preference.
CLUSTER_KEYS: tuple[str, ...] = ("cluster", "topic", "conversation_id", "conversation", "source")


@dataclass(frozen=True)
class ChatTemplate:
    """How a prompt is shown to a model and where its answer starts.

    ``template`` holds ``{prompt}`` exactly once (it is substituted literally, so braces in
    prompts are safe); ``response_prefix`` goes before every answer that is scored (GPT-style
    tokenizers expect the separating space at the start of the continuation).
    """

    template: str = DEFAULT_TEMPLATE
    response_prefix: str = DEFAULT_RESPONSE_PREFIX

    def __post_init__(self) -> None:
        if self.template.count("{prompt}") != 1:
            raise ValueError(
                "The chat template must contain {prompt} exactly once, e.g. "
                f"{DEFAULT_TEMPLATE!r}."
            )

    def context(self, prompt: str, system: str | None = None) -> str:
        """The text a model sees before its answer (a plain template shows no system prompt)."""
        return self.template.replace("{prompt}", prompt)

    def conversation(
        self,
        prompt: str,
        system: str | None = None,
        messages: Sequence[Mapping[str, Any]] = (),
    ) -> str:
        """The text before the answer to ``prompt`` after a system prompt and earlier turns.

        Earlier user turns go through the template and earlier assistant turns follow it as
        answers do, so the same conversation always gives the same context.
        """
        parts: list[str] = []
        if system and system.strip():
            parts.append(system.strip() + "\n")
        for turn in messages:
            content = str(turn.get("content", ""))
            role = turn.get("role")
            if role == "user":
                parts.append(self.context(content))
            elif role == "assistant":
                parts.append(self.continuation(content) + "\n")
            else:
                parts.append(content.strip() + "\n")
        parts.append(self.context(prompt))
        return "".join(parts)

    def describe(self) -> dict[str, Any]:
        """What the run records of the template (and what the measurement cache keys on)."""
        return {
            "source": "plain template",
            "template": self.template,
            "response_prefix": self.response_prefix,
        }

    def continuation(self, answer: str) -> str:
        """An answer as it is scored after :meth:`context` (prefix + answer)."""
        return self.response_prefix + answer.lstrip(" ")

    @property
    def stop_marker(self) -> str:
        """Where a generated answer ends: the start of the next user turn (e.g. ``\\nUser:``)."""
        head = self.template.split("{prompt}", 1)[0].strip()
        return "\n" + head if head else ""

    def clean_answer(self, generated: str) -> str:
        """A generated answer cut at the next user turn and stripped of surrounding space."""
        marker = self.stop_marker
        if marker and marker in generated:
            generated = generated.split(marker, 1)[0]
        return generated.strip()


@dataclass(frozen=True)
class TranscriptEntry:
    """One captured prompt/response record (from a case's TranscriptItem)."""

    key: str
    prompt: str
    response: str
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def cluster(self) -> str | None:
        """The item's cluster from its metadata (first of CLUSTER_KEYS present), or None."""
        return cluster_of(self.meta)


def cluster_of(meta: Mapping[str, Any] | None) -> str | None:
    """The first of :data:`CLUSTER_KEYS` with a non-empty scalar value, as text; else None."""
    for key in CLUSTER_KEYS:
        value = (meta or {}).get(key)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            text = str(value).strip()
            if text:
                return f"{key}={text}"
    return None


def system_of(meta: Mapping[str, Any] | None) -> str | None:
    """The captured system prompt in an item's metadata (``system_prompt`` or ``system``)."""
    for key in ("system_prompt", "system"):
        value = (meta or {}).get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


@dataclass(frozen=True)
class Probe:
    """One probe: prompt, the protected model's answer and an optional control answer."""

    probe_id: str
    prompt: str
    protected: str
    control: str | None = None
    cluster: str | None = None  # topic, conversation or source, where the metadata give one
    system: str | None = None  # the captured system prompt, where the transcript carries one


@dataclass(frozen=True)
class ProbeSet:
    """The probes of a run and how they were matched (recorded in the run's parameters)."""

    probes: tuple[Probe, ...]
    matched_by: str  # "prompt", "id" or "none" (no control answers)
    unmatched: int = 0  # protected prompts without a control answer (left out)
    duplicates: int = 0  # repeated protected prompts (only the first is kept)
    warnings: tuple[str, ...] = field(default_factory=tuple)
    subset: Mapping[str, Any] | None = None  # the max_probes rule and the chosen ids, if used

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(p.probe_id for p in self.probes)

    @property
    def has_control(self) -> bool:
        return bool(self.probes) and all(p.control is not None for p in self.probes)


def normalise_prompt(text: str) -> str:
    """Prompts match when equal after collapsing white space and ignoring case."""
    return _SPACES.sub(" ", text).strip().casefold()


def _explicit(key: str) -> bool:
    return bool(key) and not key.startswith("line-")


def match_probes(
    protected: Sequence[TranscriptEntry],
    control: Sequence[TranscriptEntry] | None = None,
    *,
    max_probes: int | None = None,
    seed: int = 0,
) -> ProbeSet:
    """Pair each protected answer with the control answer to the same prompt.

    Matching is by prompt (white space and case ignored); when that pairs fewer than half
    of the protected prompts and both files carry explicit ids, by id. Protected prompts
    with no control answer are left out (counted); a repeated prompt keeps its first answer.
    Each probe carries the protected item's cluster (:func:`cluster_of`); labels that put
    every probe in one cluster say nothing about dependence and are dropped. ``max_probes``
    keeps a random subset of N probes drawn with ``default_rng(seed)`` (in transcript
    order), recorded in ``subset`` with its rule and ids.
    """
    warnings: list[str] = []
    seen: set[str] = set()
    unique: list[TranscriptEntry] = []
    for entry in protected:
        norm = normalise_prompt(entry.prompt)
        if norm in seen or not entry.response.strip():
            continue
        seen.add(norm)
        unique.append(entry)
    duplicates = len(protected) - len(unique)
    if duplicates:
        warnings.append(
            f"{duplicates} protected record(s) repeat an earlier prompt or have an "
            "empty answer and were left out."
        )
    ids = _unique_ids([e.key for e in unique])
    clusters = [e.cluster for e in unique]
    if len({c for c in clusters if c is not None}) < 2:
        clusters = [None] * len(unique)
    if control is None:
        probes = [
            Probe(i, e.prompt, e.response, None, c, system_of(e.meta))
            for i, e, c in zip(ids, unique, clusters, strict=True)
        ]
        matched_by, unmatched = "none", 0
    else:
        by_prompt: dict[str, str] = {}
        by_id: dict[str, str] = {}
        for c in control:
            by_prompt.setdefault(normalise_prompt(c.prompt), c.response)
            if _explicit(c.key):
                by_id.setdefault(c.key, c.response)
        pairs = [by_prompt.get(normalise_prompt(e.prompt)) for e in unique]
        matched_by = "prompt"
        if sum(p is not None for p in pairs) < len(unique) / 2 and by_id:
            by_key = [by_id.get(e.key) if _explicit(e.key) else None for e in unique]
            if sum(p is not None for p in by_key) > sum(p is not None for p in pairs):
                pairs, matched_by = by_key, "id"
        probes = [
            Probe(i, e.prompt, e.response, c, cl, system_of(e.meta))
            for i, e, c, cl in zip(ids, unique, pairs, clusters, strict=True)
            if c is not None and c.strip()
        ]
        unmatched = len(unique) - len(probes)
        if unmatched:
            warnings.append(
                f"{unmatched} protected prompt(s) have no control answer (matched by "
                f"{matched_by}) and were left out."
            )
    subset = None
    if max_probes is not None and len(probes) > max_probes:
        chosen = sorted(
            np.random.default_rng(seed).choice(len(probes), size=max_probes, replace=False)
        )
        rule = (
            f"a random subset of {max_probes} of the {len(probes)} matched probes, drawn "
            f"without replacement by numpy default_rng({seed}).choice and kept in transcript "
            "order (max_probes)"
        )
        subset = {
            "rule": rule,
            "seed": seed,
            "of": len(probes),
            "ids": [probes[int(i)].probe_id for i in chosen],
        }
        probes = [probes[int(i)] for i in chosen]
        warnings.append(f"The probes used are {rule}.")
    return ProbeSet(
        tuple(probes), matched_by, unmatched, duplicates, tuple(warnings), subset=subset
    )


def _unique_ids(keys: Sequence[str]) -> list[str]:
    out: list[str] = []
    used: set[str] = set()
    for n, key in enumerate(keys):
        candidate = key or f"probe-{n}"
        if candidate in used:
            candidate = f"{candidate}#{n}"
        used.add(candidate)
        out.append(candidate)
    return out
