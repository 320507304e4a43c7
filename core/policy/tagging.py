"""Tag clause text with taxonomy categories, with the cue phrases that fired.

Rules first: a category's cue phrases are matched sentence part by sentence part, and
categories about bans or permissions also need the right *modality* around their topic
("you may not use Output to train …" vs "you may use Output to train …"), after
exception phrases are masked ("except as permitted" does not turn a ban into a
permission). Every tag carries the matched phrases, so a reviewer sees why it was
given. An optional second signal — cosine similarity to the category exemplars with a
local sentence-embedding model — is blended in only when such a model is installed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from core.policy.embedding import Embedder, exemplar_similarity
from core.policy.segment import Clause, clause_body
from core.policy.taxonomy import Category, Cue, Modality, Taxonomy, load_taxonomy

EMBEDDING_WEIGHT = 0.3  # share of the final score given to exemplar similarity
_SENTENCE = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"'(\[]?[A-Z0-9])|\n\s*\n")


@dataclass
class Tag:
    """One category assigned to a clause, with a score in [0, 1] and its evidence."""

    category: str
    score: float
    cues_fired: list[str] = field(default_factory=list)


@dataclass
class _Part:
    start: int
    text: str  # with exception phrases blanked out (same length as the original)
    original: str
    exceptions: list[tuple[int, int]] = field(default_factory=list)  # blanked spans


def tag_clause(
    text: str,
    taxonomy: Taxonomy | None = None,
    *,
    context: str = "",
    embedder: Embedder | None = None,
    threshold: float | None = None,
    provider_names: Sequence[str] = (),
) -> list[Tag]:
    """Categories of one clause, best first.

    ``context`` is a lead-in inherited from the parent clause (e.g. "You may not:"):
    it counts for modality but its own cue phrases are not credited to this clause.
    ``provider_names`` (e.g. ``["Acme"]``) are read like "we", so the provider's own
    promises are not taken for bans on the user. Tags below ``threshold`` (the
    taxonomy's by default) are dropped.
    """
    taxonomy = taxonomy or load_taxonomy()
    if provider_names:
        taxonomy = taxonomy.for_provider(tuple(provider_names))
    limit = taxonomy.threshold if threshold is None else threshold
    lead = f"{context.strip()}\n" if context.strip() else ""
    full = lead + text
    parts = _parts(full, taxonomy.modality)
    tags: list[Tag] = []
    for category in taxonomy.categories:
        weights: dict[str, float] = {}
        evidence: list[str] = []
        for part in parts:
            _score_part(category, part, len(lead), taxonomy.modality, weights, evidence)
        score = 1.0
        for w in weights.values():
            score *= 1.0 - w
        score = 1.0 - score
        if embedder is not None and score > 0.0:
            sim = exemplar_similarity(embedder, text, category, taxonomy)
            score = (1 - EMBEDDING_WEIGHT) * score + EMBEDDING_WEIGHT * sim
            evidence.append(f"exemplar similarity {sim:.2f}")
        if score >= limit and score > 0.0:
            tags.append(Tag(category.id, round(min(1.0, score), 3), _unique(evidence)))
    tags.sort(key=lambda t: -t.score)
    return tags


def tag_clauses(
    clauses: Sequence[Clause],
    taxonomy: Taxonomy | None = None,
    *,
    embedder: Embedder | None = None,
    provider_names: Sequence[str] = (),
) -> dict[int, list[Tag]]:
    """Tags for every clause of a segmented document, keyed by ``Clause.index``.

    Each clause is tagged on its own text (not its sub-clauses'), with its parent's
    lead-in as context, so "(b) use Output to …" under "You may not:" reads as a ban.
    """
    taxonomy = (taxonomy or load_taxonomy()).for_provider(tuple(provider_names))
    by_index = {c.index: c for c in clauses}
    result: dict[int, list[Tag]] = {}
    for clause in clauses:
        context = _inherited_context(clause, by_index)
        if not clause_body(clause) or clause_body(clause) == clause.heading:
            result[clause.index] = []  # a bare heading ("4. OWNERSHIP") states no rule
            continue
        # Tagged without its number: "1. Use Output …" would otherwise be cut into the
        # sentences "1." and "Use Output …", parting the item from its lead-in.
        result[clause.index] = tag_clause(
            clause_body(clause), taxonomy, context=context, embedder=embedder
        )
    return result


def _inherited_context(clause: Clause, by_index: dict[int, Clause]) -> str:
    """Lead-ins of the ancestors that introduce this clause, outermost first:
    "You may not:" + "(b) … including:" for an item "(i)" two levels down. Under an
    unnumbered heading that introduces nothing itself, the heading is the lead-in
    ("What you cannot do" over a bullet list), and the climb stops there."""
    pieces: list[str] = []
    parent_index = clause.parent_index
    while parent_index is not None and parent_index in by_index:
        parent = by_index[parent_index]
        piece = lead_in(parent.own_text)
        if not piece and parent.heading and parent.style.startswith(("md", "caps")):
            pieces.insert(0, parent.heading)
            break
        if not piece:
            break
        pieces.insert(0, piece)
        parent_index = parent.parent_index
    return "\n".join(pieces)


def lead_in(parent_own_text: str) -> str:
    """The part of a parent clause a sub-clause inherits: its last sentence, if it
    introduces a list (ends with ':' or a dash), e.g. "2.3 You may not:"."""
    s = parent_own_text.strip()
    if not s or s[-1] not in ":\u2013\u2014-":
        return ""
    pieces = _SENTENCE.split(s)
    return pieces[-1] if pieces else s


def _parts(full: str, modality: Modality) -> list[_Part]:
    """Sentences, cut again at contrastive links, with exception phrases blanked."""
    out: list[_Part] = []
    pos = 0
    for piece in _SENTENCE.split(full):
        start = full.find(piece, pos)
        pos = start + len(piece)
        cuts = [0, *[m.start() for m in modality.split.finditer(piece) if m.start() > 0]]
        for a, b in zip(cuts, [*cuts[1:], len(piece)], strict=True):
            original = piece[a:b]
            masked = original
            spans: list[tuple[int, int]] = []
            for pattern in modality.exception_mask:
                spans.extend(m.span() for m in pattern.finditer(masked) if m.end() > m.start())
                masked = pattern.sub(lambda m: " " * len(m[0]), masked)
            out.append(_Part(start + a, masked, original, spans))
    return out


def _score_part(
    category: Category,
    part: _Part,
    lead_len: int,
    modality: Modality,
    weights: dict[str, float],
    evidence: list[str],
) -> None:
    hits: list[tuple[Cue, re.Match[str]]] = []
    for cue in category.cues:
        for m in cue.pattern.finditer(part.text):
            if part.start + m.end() > lead_len:  # cues in the inherited lead-in don't count
                hits.append((cue, m))
    carve_out = ""
    if category.modality == "prohibition" and part.exceptions:
        # "You may use Output for any purpose except training competing models": a
        # topic inside an exception to a permission is what the clause forbids.
        extra = _exception_hits(category, part, lead_len)
        if extra and _permission_anywhere(part.text, modality):
            hits.extend(extra)
            carve_out = "carve-out from a permission: " + " ".join(
                part.original[slice(*_span_of(part, extra[0][1].start()))].split()
            )
    if not hits:
        return
    names = {cue.name for cue, _ in hits}
    if category.requires_any and not names.intersection(category.requires_any):
        return
    if any(n.search(part.text) for n in category.negations):
        return
    modal_note = carve_out
    if category.modality and not carve_out:
        topic = [m.start() for cue, m in hits if cue.topic]
        if not topic:
            return
        modal_note = _modality_holds(category.modality, part.text, min(topic), modality)
        if not modal_note:
            return
    for cue, m in hits:
        weights[cue.name] = max(weights.get(cue.name, 0.0), cue.weight)
        evidence.append(" ".join(part.original[m.start() : m.end()].split()))
    if modal_note:
        evidence.append(modal_note)


def _exception_hits(
    category: Category, part: _Part, lead_len: int
) -> list[tuple[Cue, re.Match[str]]]:
    """Cue matches that lie inside the blanked exception phrases of a part."""
    hits: list[tuple[Cue, re.Match[str]]] = []
    for cue in category.cues:
        for m in cue.pattern.finditer(part.original):
            inside = any(a <= m.start() and m.end() <= b for a, b in part.exceptions)
            if inside and part.start + m.end() > lead_len:
                hits.append((cue, m))
    return hits if any(cue.topic for cue, _ in hits) else []


def _span_of(part: _Part, at: int) -> tuple[int, int]:
    return next(((a, b) for a, b in part.exceptions if a <= at < b), (at, at))


def _permission_anywhere(text: str, modality: Modality) -> bool:
    patterns = (*modality.permission_active, *modality.permission_passive)
    return any(p.search(text) for p in patterns)


def _modality_holds(kind: str, text: str, topic_at: int, modality: Modality) -> str:
    """Evidence phrase when a ban (or permission) governs the topic at ``topic_at``."""
    negated = [m for p in modality.negated_prohibition for m in p.finditer(text)]
    blanked = text
    for m in negated:  # "nothing in these Terms prohibits" must not read as a ban
        blanked = blanked[: m.start()] + " " * (m.end() - m.start()) + blanked[m.end() :]
    if kind == "prohibition":
        for p in modality.prohibition_passive:
            found = p.search(blanked)
            if found:
                return found[0]
        for p in modality.prohibition_active:
            for m in p.finditer(blanked, 0, topic_at):
                if not _provider_subject(blanked, m.start(), modality):
                    return m[0]
        return ""
    for m in negated:
        if m.start() < topic_at:
            return m[0]
    if _user_prohibition_before(blanked, topic_at, modality):
        return ""
    for p in modality.permission_passive:
        found = p.search(blanked)
        if found:
            return found[0]
    for p in modality.permission_active:
        found = p.search(blanked, 0, topic_at)
        if found:
            return found[0]
    return ""


def _user_prohibition_before(text: str, topic_at: int, modality: Modality) -> bool:
    return any(
        not _provider_subject(text, m.start(), modality)
        for p in modality.prohibition_active
        for m in p.finditer(text, 0, topic_at)
    )


def _provider_subject(text: str, at: int, modality: Modality) -> bool:
    """True when the words just before a modal are the provider ("we will not …")."""
    before = [w.lower() for w in re.findall(r"[A-Za-z']+", text[max(0, at - 40) : at])[-2:]]
    if before and before[-1] in modality.provider_subjects:
        return True
    return (
        len(before) == 2
        and before[0] in modality.provider_subjects
        and (before[1].endswith("ly") or before[1] in ("also", "still", "never"))
    )


def _unique(items: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        if item and item.lower() not in (k.lower() for k in seen):
            seen[item] = None
    return list(seen)
