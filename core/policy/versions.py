"""Which version of a policy was in force on a date, and what changed between versions.

A finding must cite the terms the suspect agreed to *when the conduct happened*, not
today's. Versions of one document form a series (same provider, same title once
version and date marks are stripped: :func:`series_key`); a later version closes the
earlier one on the day before it takes effect (:func:`closings`), and ``in_force``
picks the one version in force on a date; ``diff_clauses``
compares two segmented versions clause by clause, matching clauses by number first and
then by text similarity, so a clause that was merely renumbered ("3.3" → "4.2") is
reported as moved, not as one removal plus one addition.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from difflib import SequenceMatcher

from core.errors import EvidenceError
from core.policy.dates import DATE_PATTERN, parse_date
from core.policy.segment import Clause, clause_body

SAME_NUMBER_MIN_SIMILARITY = 0.5  # same number, but below this: treat as different clauses
MOVED_MIN_SIMILARITY = 0.6  # different numbers: at least this similar to be "the same"


@dataclass
class VersionInfo:
    """One dated version of a policy document (a Policy row, without the text)."""

    version: str
    effective_from: date | None
    effective_to: date | None = None
    title: str | None = None
    sha256: str | None = None
    policy_id: int | None = None  # database id, once stored


@dataclass
class ClauseChange:
    """How one clause differs between an old and a new version.

    ``word_diff`` marks removed words as ``[-like this-]`` and added words as
    ``{+like this+}`` (the git word-diff convention), on the clause's own text with its
    number stripped, so renumbering alone is not a change (see ``renumbered``).
    """

    kind: str  # "added", "removed", "changed" or "unchanged"
    old_number: str | None
    new_number: str | None
    word_diff: str
    similarity: float
    renumbered: bool = False
    old_index: int | None = None
    new_index: int | None = None
    added_words: list[str] = field(default_factory=list)
    removed_words: list[str] = field(default_factory=list)


def in_force(versions: Sequence[VersionInfo], when: date | datetime) -> VersionInfo | None:
    """The version in force on ``when``: effective_from ≤ when ≤ effective_to (the
    last day in force, inclusive) and when < the next version's effective_from.

    The day a later version takes effect belongs to the later version; the earlier
    one's last day is the day before (what :func:`closings` records). Versions without
    an effective_from cannot be placed in time and are ignored. Two versions starting
    on the same day are ambiguous and raise EvidenceError, because guessing would put
    the wrong terms in front of a court.
    """
    day = when.date() if isinstance(when, datetime) else when
    dated = _dated(versions)
    for i, v in enumerate(dated):
        assert v.effective_from is not None
        nxt = dated[i + 1].effective_from if i + 1 < len(dated) else None
        if v.effective_from <= day and (v.effective_to is None or day <= v.effective_to):
            if nxt is None or day < nxt:
                return v
    return None


def _dated(versions: Sequence[VersionInfo]) -> list[VersionInfo]:
    dated = sorted(
        (v for v in versions if v.effective_from), key=lambda v: v.effective_from or date.min
    )
    for a, b in zip(dated, dated[1:], strict=False):
        if a.effective_from == b.effective_from:
            raise EvidenceError(
                f"Versions {a.version!r} and {b.version!r} both take effect on "
                f"{a.effective_from}; set the correct dates before linking findings."
            )
    return dated


def closings(versions: Sequence[VersionInfo]) -> list[tuple[VersionInfo, date, VersionInfo]]:
    """(version, new effective_to, the version that closes it) for each open version
    followed by a later one: a later version closes the earlier one on the day before
    it takes effect, so exactly one version is in force on any day from the first.
    Versions with an end date already stated keep it; two versions starting on the same
    day close nothing (:func:`in_force` refuses to choose between them)."""
    dated = sorted(
        (v for v in versions if v.effective_from), key=lambda v: v.effective_from or date.min
    )
    out = []
    for a, b in zip(dated, dated[1:], strict=False):
        assert b.effective_from is not None
        if a.effective_to is None and a.effective_from != b.effective_from:
            out.append((a, b.effective_from - timedelta(days=1), b))
    return out


def not_in_force_reason(versions: Sequence[VersionInfo], when: date | datetime) -> str:
    """Why no version was in force on ``when``, in words a reader can check."""
    day = when.date() if isinstance(when, datetime) else when
    dated = _dated(versions)
    if not dated:
        return "none of its versions has an effective date; set the dates first."
    first = dated[0]
    if first.effective_from and day < first.effective_from:
        return (
            f"{day.isoformat()} is before the first version in this case (version "
            f"{first.version}, in force from {first.effective_from.isoformat()})."
        )
    ended = [v for v in dated if v.effective_to and v.effective_to < day]
    if ended:
        last = max(ended, key=lambda v: v.effective_to or date.min)
        assert last.effective_to is not None
        return (
            f"version {last.version} ended on {last.effective_to.isoformat()} and no later "
            f"version in this case was in force on {day.isoformat()}."
        )
    return f"no version in this case covers {day.isoformat()}."


_DATE_IN_TITLE = re.compile(DATE_PATTERN, re.IGNORECASE)
_TITLE_NOISE = re.compile(
    r"\b(?:last\s+)?(?:updated|modified|revised|amended)(?:\s+on)?\b|\beffective(?:\s+(?:date|"
    r"as\s+of|from|on))?\b|\b(?:version|rev(?:ision)?\.?)\s*[:#]?\s*v?\d[\w.\-]*|\bv\.?\s?\d+(?:\.\d+)*"
    r"\b|\b(?:19|20)\d\d\b|\b(?:as\s+of|since|dated)\b|\b(?:current|latest|archived?|previous)"
    r"(?:\s+version)?\b",
    re.IGNORECASE,
)
_EMPTY_BRACKETS = re.compile(r"[(\[{][\s,;:.\-\u2013\u2014|/]*[)\]}]")
_EDGE_PUNCT = " \t,;:.-\u2013\u2014|/()[]"


def series_key(title: str) -> str:
    """A document's identity across versions: its title without version and date
    marks, lower-case. "Usage Policy (updated: June 17, 2025)", "Usage Policy - Last
    updated 2024-01-10", "Usage Policy v2" and "Usage Policy (2025)" are one series."""
    key = _DATE_IN_TITLE.sub(" ", title)
    key = _TITLE_NOISE.sub(" ", key)
    previous = None
    while key != previous:
        previous, key = key, _EMPTY_BRACKETS.sub(" ", key)
    key = re.sub(r"\s*[-\u2013\u2014|,:;]\s*(?=[-\u2013\u2014|,:;]|$)", " ", key)
    return " ".join(key.lower().split()).strip(_EDGE_PUNCT)


def title_date(title: str) -> date | None:
    """The date a title carries ("Terms of Use (updated: June 17, 2025)"), if any."""
    for m in _DATE_IN_TITLE.finditer(title or ""):
        value, _ = parse_date(m[0])
        if value is not None:
            return value
    return None


def diff_clauses(old: Sequence[Clause], new: Sequence[Clause]) -> list[ClauseChange]:
    """Clause-level changes from ``old`` to ``new``, in the new document's order
    (removed clauses appear where they used to be)."""
    old_words = [clause_body(c).split() for c in old]
    new_words = [clause_body(c).split() for c in new]
    pairs: dict[int, tuple[int, float]] = {}  # old position -> (new position, similarity)
    taken: set[int] = set()

    def pair(i: int, j: int, sim: float) -> None:
        pairs[i] = (j, sim)
        taken.add(j)

    by_text: dict[tuple[str, ...], list[int]] = {}
    for j, words in enumerate(new_words):
        by_text.setdefault(tuple(words), []).append(j)
    by_number = {c.number: j for j, c in enumerate(new)}
    # 1. identical text, preferring the same number; 2. same number, similar enough.
    for i, words in enumerate(old_words):
        candidates = [j for j in by_text.get(tuple(words), []) if j not in taken]
        if candidates:
            same = [j for j in candidates if new[j].number == old[i].number]
            pair(i, (same or candidates)[0], 1.0)
    for i, c in enumerate(old):
        same_number = by_number.get(c.number)
        if i in pairs or same_number is None or same_number in taken:
            continue
        sim = _similarity(old_words[i], new_words[same_number])
        if sim >= SAME_NUMBER_MIN_SIMILARITY:
            pair(i, same_number, sim)
    # 3. renumbered clauses: best remaining match by text similarity.
    scored = []
    for i in (i for i in range(len(old)) if i not in pairs):
        for j in (j for j in range(len(new)) if j not in taken):
            sim = _similarity(old_words[i], new_words[j], floor=MOVED_MIN_SIMILARITY)
            if sim >= MOVED_MIN_SIMILARITY:
                scored.append((sim, i, j))
    for sim, i, j in sorted(scored, key=lambda t: (-t[0], t[1], t[2])):
        if i not in pairs and j not in taken:
            pair(i, j, sim)
    return _ordered_changes(old, new, old_words, new_words, pairs)


def _ordered_changes(
    old: Sequence[Clause],
    new: Sequence[Clause],
    old_words: list[list[str]],
    new_words: list[list[str]],
    pairs: dict[int, tuple[int, float]],
) -> list[ClauseChange]:
    keyed: list[tuple[float, ClauseChange]] = []
    matched_new = {j: i for i, (j, _) in pairs.items()}
    for j, c in enumerate(new):
        if j in matched_new:
            i = matched_new[j]
            sim = pairs[i][1]
            text, added, removed = word_diff(old_words[i], new_words[j])
            kind = "unchanged" if old_words[i] == new_words[j] else "changed"
            change = ClauseChange(
                kind,
                old[i].number,
                c.number,
                text,
                round(sim, 3),
                old[i].number != c.number,
                old[i].index,
                c.index,
                added,
                removed,
            )
        else:
            text = "{+" + " ".join(new_words[j]) + "+}" if new_words[j] else ""
            change = ClauseChange(
                "added",
                None,
                c.number,
                text,
                0.0,
                new_index=c.index,
                added_words=list(new_words[j]),
            )
        keyed.append((float(j), change))
    anchor = -1.0
    for i, c in enumerate(old):
        if i in pairs:
            anchor = float(pairs[i][0])
            continue
        text = "[-" + " ".join(old_words[i]) + "-]" if old_words[i] else ""
        keyed.append(
            (
                anchor + 0.5 + i * 1e-6,
                ClauseChange(
                    "removed",
                    c.number,
                    None,
                    text,
                    0.0,
                    old_index=c.index,
                    removed_words=list(old_words[i]),
                ),
            )
        )
    return [change for _, change in sorted(keyed, key=lambda t: t[0])]


def _similarity(a: list[str], b: list[str], floor: float = 0.0) -> float:
    """Word-sequence similarity in [0, 1]: the mean of difflib's ratio and of how much
    of the shorter clause survives in the longer one, so a clause that was tightened by
    adding words ("… directly or indirectly …") still matches its old self."""
    if not a and not b:
        return 1.0
    m = SequenceMatcher(None, _tokens(a), _tokens(b), autojunk=False)
    short = min(len(a), len(b))
    if floor and m.real_quick_ratio() < floor / 2 or short == 0:
        return 0.0
    ratio = m.ratio()
    if short < 4:
        return ratio
    matched = sum(block.size for block in m.get_matching_blocks())
    return (ratio + matched / short) / 2


def _tokens(words: list[str]) -> list[str]:
    """Words compared case- and punctuation-insensitively ("Acme." equals "acme")."""
    return [re.sub(r"[^\w§%$€£]", "", w.lower()) or w for w in words]


def word_diff(old: list[str], new: list[str]) -> tuple[str, list[str], list[str]]:
    """Word-level diff text plus the added and removed words."""
    out: list[str] = []
    added: list[str] = []
    removed: list[str] = []
    for op, a1, a2, b1, b2 in SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(" ".join(old[a1:a2]))
            continue
        if a2 > a1:
            out.append("[-" + " ".join(old[a1:a2]) + "-]")
            removed.extend(old[a1:a2])
        if b2 > b1:
            out.append("{+" + " ".join(new[b1:b2]) + "+}")
            added.extend(new[b1:b2])
    return " ".join(out), added, removed
