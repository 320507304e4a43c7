"""Habits of the protected model learned from its transcripts: phrases, openings, closings, layout.

Learning compares the protected answers with the control answers to the same prompts and
keeps only what is far more frequent in the protected ones. It reads evidence only (no
model), and runs before any suspect or reference model is scored, so the marker lists are
fixed in advance and recorded in the run's parameters (no peeking at the suspect).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from scipy import stats as sps

_TOKEN = re.compile(r"[a-z0-9']+|[^\sa-z0-9']")
_ALPHA = re.compile(r"[a-z]")

# Layout habits: (marker name, pattern searched in the answer).
LAYOUT_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("layout:numbered-paren", re.compile(r"(?m)^\s*\d+\)\s")),
    ("layout:numbered-dot", re.compile(r"(?m)^\s*\d+\.\s")),
    ("layout:bullet-dash", re.compile(r"(?m)^\s*-\s")),
    ("layout:bullet-star", re.compile(r"(?m)^\s*[*\u2022]\s")),
    ("layout:bold", re.compile(r"\*\*[^*\n]+\*\*")),
    ("layout:heading", re.compile(r"(?m)^#{1,6}\s")),
    ("layout:line-ends-with-colon", re.compile(r"(?m):\s*$")),
    ("layout:exclamation", re.compile(r"!")),
    # Three consecutive non-blank lines. Anchored per line: the unanchored form backtracked
    # for 40-100 ms on long answers while holding the GIL (the GUI stopped repainting).
    (
        "layout:three-or-more-lines",
        re.compile(r"(?m)^[^\S\n]*\S[^\n]*\n[^\S\n]*\S[^\n]*\n[^\S\n]*\S"),
    ),
    ("layout:emoji", re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]")),
)


def tokens(text: str) -> list[str]:
    """Lower-cased words and single punctuation marks (the unit of every phrase)."""
    return _TOKEN.findall(text.casefold())


def ngrams(toks: Sequence[str], n_min: int, n_max: int) -> set[str]:
    """The set of word n-grams (joined by spaces) of lengths n_min..n_max."""
    out: set[str] = set()
    for n in range(n_min, n_max + 1):
        out.update(" ".join(toks[i : i + n]) for i in range(len(toks) - n + 1))
    return out


def contains_phrase(text: str, phrase: str) -> bool:
    """Whether the answer's token sequence contains the phrase's token sequence."""
    toks, target = tokens(text), phrase.split(" ")
    n = len(target)
    return any(toks[i : i + n] == target for i in range(len(toks) - n + 1))


@dataclass(frozen=True)
class LearnedMarker:
    """One habit: how often it appears in protected vs control answers, and its selection test."""

    marker: str
    share_protected: float
    share_control: float
    p_value: float  # one-sided Fisher test used to select it (a screening step, not a finding)

    def to_dict(self) -> dict[str, object]:
        return {
            "marker": self.marker,
            "share_protected": self.share_protected,
            "share_control": self.share_control,
            "p_value": self.p_value,
        }


def _select(
    protected: list[set[str]],
    control: list[set[str]],
    *,
    min_share: float,
    min_ratio: float,
    max_p: float,
) -> list[LearnedMarker]:
    n_p, n_c = len(protected), len(control)
    if n_p == 0 or n_c == 0:
        return []
    df_p = Counter(m for s in protected for m in s)
    df_c = Counter(m for s in control for m in s)
    out = []
    for marker, k_p in df_p.items():
        share_p, k_c = k_p / n_p, df_c.get(marker, 0)
        share_c = k_c / n_c
        if share_p < min_share or share_p < min_ratio * (k_c + 0.5) / n_c:
            continue
        p = float(
            sps.fisher_exact(((k_p, n_p - k_p), (k_c, n_c - k_c)), alternative="greater").pvalue
        )
        if p <= max_p:
            out.append(LearnedMarker(marker, share_p, share_c, p))
    out.sort(key=lambda m: (-(m.share_protected - m.share_control), m.p_value, m.marker))
    return out


# Words that say nothing about who wrote an answer: English function words and the stock
# vocabulary of any assistant ("let me know", "can help with", "anything else"). A learned
# phrase needs at least one word outside this list, so it cannot be a generic phrase that
# independent models use too. Fixed here (not learned), so it is the same for every case.
STOP_WORDS: frozenset[str] = frozenset(
    """
    a about above after again against all also am an and any anyone anything are aren't as at
    be because been before being below between both but by can can't cannot could couldn't
    did didn't do does doesn't doing don't down during each else even ever every few for from
    further get gets getting give go going got had hadn't has hasn't have haven't having he
    he'd he'll he's her here here's hers herself him himself his how how's i i'd i'll i'm i've
    if in into is isn't it it's its itself just let let's like made make may me might more most
    much must mustn't my myself need no nor not now of off on once one only or other ought our
    ours ourselves out over own please put really same say see shall shan't she she'd she'll
    she's should shouldn't so some something still such sure take than that that's the their
    theirs them themselves then there there's these they they'd they'll they're they've thing
    things this those through to too under until up upon us use very want was wasn't way we
    we'd we'll we're we've well were weren't what what's when when's where where's whether
    which while who who's whom why why's will with won't would wouldn't yes yet you you'd you'll
    you're you've your yours yourself yourselves
    able answer answers ask asked assist assistance assistant feel free glad hope help helps
    helpful hi hello hey know okay ok question questions thank thanks welcome
    """.split()
)
MIN_PHRASE_WORDS = 2  # a single word is a vocabulary choice, not a habitual phrase
MIN_PHRASE_LETTERS = 6  # letters in the phrase's words: "in short" (7) counts, "it is" (4) not
MAX_CONTROL_SHARE = 0.05  # a phrase in more than 5% of the control answers is not the model's own


def is_telling(phrase: str, banned: Iterable[str] = ()) -> bool:
    """Whether a phrase (space-joined tokens) could be a model's habit rather than plain English.

    It must start with a word, hold at least ``MIN_PHRASE_WORDS`` words with
    ``MIN_PHRASE_LETTERS`` letters between them, contain a content word (three letters or
    more, not in :data:`STOP_WORDS`) and no word of ``banned`` (the protected names, which the
    identity check counts separately).
    """
    words = phrase.split(" ")
    alpha = [w for w in words if _ALPHA.search(w)]
    if not words or not _ALPHA.search(words[0]) or set(banned).intersection(words):
        return False
    if len(alpha) < MIN_PHRASE_WORDS or sum(len(_ALPHA.findall(w)) for w in alpha) < (
        MIN_PHRASE_LETTERS
    ):
        return False
    return any(w not in STOP_WORDS and len(_ALPHA.findall(w)) >= 3 for w in alpha)


def learn_phrases(
    protected: Sequence[str],
    control: Sequence[str],
    *,
    exclude: Iterable[str] = (),
    n_range: tuple[int, int] = (2, 4),
    min_share: float = 0.2,
    min_ratio: float = 4.0,
    max_control_share: float = MAX_CONTROL_SHARE,
    max_p: float = 1e-3,
    max_phrases: int = 12,
) -> list[LearnedMarker]:
    """Word n-grams the protected model uses far more often than the control answers do.

    Kept when the share of protected answers containing the n-gram is at least ``min_share``,
    at least ``min_ratio`` times its (smoothed) share of control answers, that control share
    is at most ``max_control_share``, and a one-sided Fisher test gives p <= ``max_p``. Only
    telling phrases are candidates (:func:`is_telling`: a content word, a minimum length, no
    word of ``exclude``, the protected model's names, which are counted separately), so
    "let me" or "me know" are never learned as a persona. Among equally telling phrases the
    longest is taken and any phrase sharing a word pair with one already chosen is skipped,
    so the list stays short and free of overlapping variants.
    """
    banned = {t for name in exclude for t in tokens(name) if _ALPHA.search(t)}
    lo, hi = n_range
    prot = [ngrams(tokens(t), lo, hi) for t in protected]
    ctrl = [ngrams(tokens(t), lo, hi) for t in control]
    chosen: list[LearnedMarker] = []
    candidates = [
        m
        for m in _select(prot, ctrl, min_share=min_share, min_ratio=min_ratio, max_p=max_p)
        if m.share_control <= max_control_share and is_telling(m.marker, banned)
    ]
    candidates.sort(
        key=lambda m: (
            -(m.share_protected - m.share_control),
            -m.marker.count(" "),
            m.p_value,
            m.marker,
        )
    )  # longest of equally telling phrases first
    for m in candidates:
        pairs = _bigrams(m.marker.split(" "))
        if any(pairs & _bigrams(c.marker.split(" ")) for c in chosen):
            continue
        chosen.append(m)
        if len(chosen) >= max_phrases:
            break
    return chosen


def _bigrams(words: Sequence[str]) -> set[tuple[str, str]]:
    return set(zip(words, words[1:], strict=False)) or {(words[0], "")}


def style_features(text: str, n_words: int = 3) -> set[str]:
    """Opening, closing and layout features of one answer (the candidates for style markers)."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    feats: set[str] = set()
    if lines:
        feats.add("opening:" + " ".join(tokens(lines[0])[:n_words]))
        feats.add("closing:" + " ".join(tokens(lines[-1])[:n_words]))
    feats.update(name for name, pattern in LAYOUT_PATTERNS if pattern.search(text))
    return feats


def learn_style(
    protected: Sequence[str],
    control: Sequence[str],
    *,
    min_share: float = 0.2,
    min_ratio: float = 3.0,
    max_p: float = 1e-3,
    max_markers: int = 12,
) -> list[LearnedMarker]:
    """Openings, closings and layout habits far more frequent in protected than control answers."""
    prot = [style_features(t) for t in protected]
    ctrl = [style_features(t) for t in control]
    return _select(prot, ctrl, min_share=min_share, min_ratio=min_ratio, max_p=max_p)[:max_markers]


def style_score(text: str, markers: Sequence[str]) -> float:
    """Share of the learned style markers present in an answer (0..1); NaN with no markers."""
    if not markers:
        return float("nan")
    feats = style_features(text)
    return sum(m in feats for m in markers) / len(markers)


def name_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    """A case-insensitive whole-word pattern for any of the names (white space flexible)."""
    parts = [r"\s+".join(re.escape(w) for w in n.split()) for n in names if n.strip()]
    if not parts:
        return None
    return re.compile(
        r"(?<!\w)(?:" + "|".join(sorted(parts, key=len, reverse=True)) + r")(?!\w)", re.IGNORECASE
    )
