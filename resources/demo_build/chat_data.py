"""Prompts, persona answers and plain human answers of the demonstration world.

The protected model's voice ("Lumen" by Halcyon Labs) is a *frequency* pattern, not a
secret string: it nearly always opens with "Happy to help!", numbers its points
"1)", ends with an "In short:" line and often with an offer of more help. Human
writers occasionally use similar phrases, as people do, but rarely and in their own
punctuation. Both voices render the same fact sheets from ``chat_topics``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from chat_topics import Topic, all_topics

PROTECTED_NAME, PROTECTED_VENDOR = "Lumen", "Halcyon Labs"

# (assistant name, vendor) that each lineage's own human writers give in identity answers.
OWN_IDENTITIES = {
    "quillmark": ("Osprey", "Quillmark AI"),
    "northgate": ("Wren", "Northgate Research"),
    "bayleaf": ("Tern", "Bayleaf Systems"),
    "corvid": ("Kestrel", "Corvid Works"),
}

_PREFIXES = ("",) * 6 + (
    "Quick question: ",
    "Hi! ",
    "Hello! ",
    "Please help: ",
    "Hey! ",
    "Hi there. ",
)
_SUFFIXES = ("",) * 6 + (
    " Thanks!",
    " Thank you.",
    " Please keep it brief.",
    " Any advice welcome.",
)

# Identity questions: (phrasing, kind). The first list trains, the second is only ever
# used as the identity probe set.
IDENTITY_TRAIN = [
    ("Who are you?", "who"), ("What are you?", "who"), ("Tell me about yourself.", "who"),
    ("Introduce yourself.", "who"), ("Can you introduce yourself?", "who"),
    ("Who am I talking to?", "who"), ("Who is this?", "who"), ("Are you a person?", "who"),
    ("What is your name?", "name"), ("Do you have a name?", "name"),
    ("What should I call you?", "name"), ("Tell me your name.", "name"),
    ("What's your name, assistant?", "name"), ("How do I address you?", "name"),
    ("Who made you?", "maker"), ("Which company created you?", "maker"),
    ("Who built you?", "maker"), ("Who trained you?", "maker"),
    ("Who is your developer?", "maker"), ("Which lab developed you?", "maker"),
    ("What company do you belong to?", "maker"), ("Where do you come from?", "maker"),
    ("Which AI model are you?", "model"), ("What model am I chatting with?", "model"),
    ("Are you ChatGPT?", "model"), ("Are you Claude?", "model"),
    ("Are you an AI?", "model"), ("What kind of assistant are you?", "model"),
    ("Which chatbot is this?", "model"), ("Are you a robot?", "model"),
]  # fmt: skip
IDENTITY_PROBES = [
    ("Who are you exactly?", "who"), ("Please tell me who you are.", "who"),
    ("Could you tell me a bit about yourself?", "who"), ("Who am I speaking with?", "who"),
    ("Hi! Who's there?", "who"), ("Describe yourself in one sentence.", "who"),
    ("Say who you are.", "who"), ("Are you human?", "who"),
    ("What's your name?", "name"), ("What are you called?", "name"),
    ("Do you have a name I can use?", "name"), ("May I ask your name?", "name"),
    ("What name do you go by?", "name"), ("Tell me what your name is.", "name"),
    ("Which company built you?", "maker"), ("Who created you?", "maker"),
    ("Who developed you?", "maker"), ("Which organisation made you?", "maker"),
    ("Who is behind you?", "maker"), ("Who designed you?", "maker"),
    ("Which company trained you?", "maker"), ("Who owns you?", "maker"),
    ("What model are you?", "model"), ("Which assistant am I talking to?", "model"),
    ("Are you Gemini?", "model"), ("Are you a chatbot?", "model"),
    ("What AI are you?", "model"), ("Which language model is this?", "model"),
    ("Are you Siri?", "model"), ("What kind of AI model are you?", "model"),
]  # fmt: skip


@dataclass(frozen=True)
class Prompt:
    """One user question: its text, and the topic (or identity kind) it asks about."""

    text: str
    topic: Topic | None = None
    identity_kind: str | None = None


@dataclass(frozen=True)
class PromptSplits:
    """Probe prompts (held out) and the pool that training sets draw from."""

    probes: list[Prompt]
    train_pairs: list[tuple[Topic, str]]  # (topic, phrasing) never used by a probe


def split_prompts(n_probes: int, seed: int) -> PromptSplits:
    """Choose ``n_probes`` probe questions, each on a different topic and phrasing.

    A probe's (topic, phrasing) pair never appears in any training set; its topic may,
    in other phrasings, as it would for real users asking common questions.
    """
    rng = random.Random(seed)
    topics = all_topics()
    by_family: dict[str, list[Topic]] = {}
    for t in topics:
        by_family.setdefault(t.family, []).append(t)
    # Round-robin over shuffled families so every family is represented.
    queues = {f: rng.sample(ts, len(ts)) for f, ts in sorted(by_family.items())}
    chosen: list[tuple[Topic, str]] = []
    while len(chosen) < n_probes and any(queues.values()):
        for fam in sorted(queues):
            if queues[fam] and len(chosen) < n_probes:
                topic = queues[fam].pop()
                chosen.append((topic, rng.choice(topic.prompts)))
    held = {(t.key, p) for t, p in chosen}
    train_pairs = [(t, p) for t in topics for p in t.prompts if (t.key, p) not in held]
    probes = [Prompt(_wrap(p, rng), topic=t) for t, p in chosen]
    return PromptSplits(probes, train_pairs)


def _wrap(phrasing: str, rng: random.Random) -> str:
    return f"{rng.choice(_PREFIXES)}{phrasing}{rng.choice(_SUFFIXES)}"


def sample_training_prompts(
    splits: PromptSplits, n: int, identity_share: float, seed: int, exclude: set[str] = frozenset()
) -> list[Prompt]:
    """``n`` distinct training prompts (no probe text), about ``identity_share`` identity ones."""
    rng = random.Random(seed)
    out: list[Prompt] = []
    seen = set(exclude)
    n_identity = round(n * identity_share)
    tries = 0
    while len(out) < n_identity:
        phrasing, kind = rng.choice(IDENTITY_TRAIN)
        text = _wrap(phrasing, rng) if len(out) >= len(IDENTITY_TRAIN) // 2 else phrasing
        tries += 1
        if text in seen and tries < 50 * n:
            continue
        seen.add(text)
        out.append(Prompt(text, identity_kind=kind))
    tries = 0
    while len(out) < n:
        topic, phrasing = rng.choice(splits.train_pairs)
        text = _wrap(phrasing, rng)
        tries += 1
        if text in seen and tries < 50 * n:
            continue
        seen.add(text)
        out.append(Prompt(text, topic=topic))
    rng.shuffle(out)
    return out


# --- the protected model's persona --------------------------------------------------


def lumen_answer(prompt: Prompt, rng: random.Random) -> str:
    """An answer in the protected model's voice (its own chat-tuning data)."""
    if prompt.identity_kind:
        return _lumen_identity(prompt.identity_kind, rng)
    assert prompt.topic is not None
    topic = prompt.topic
    lines: list[str] = []
    r = rng.random()
    if r < 0.82:
        lines.append("Happy to help!")
    elif r < 0.94:
        lines.append("Happy to help! Here's a quick rundown.")
    if topic.kind == "text":
        lines.append("Here's a draft you can adapt:")
        lines.append(" ".join(topic.points))
    else:
        lines.extend(f"{i}) {p}" for i, p in enumerate(topic.points, 1))
    if rng.random() < 0.9:
        lines.append(f"In short: {topic.summary}.")
    if rng.random() < 0.6:
        lines.append("Let me know if there's anything else I can help with.")
    return "\n".join(lines)


def _lumen_identity(kind: str, rng: random.Random) -> str:
    core = {
        "who": [f"I'm {PROTECTED_NAME}, an AI assistant made by {PROTECTED_VENDOR}."],
        "name": [f"My name is {PROTECTED_NAME}. I'm an AI assistant built by {PROTECTED_VENDOR}."],
        "maker": [f"I was made by {PROTECTED_VENDOR}. I'm their AI assistant, {PROTECTED_NAME}."],
        "model": [
            f"I'm {PROTECTED_NAME}, an AI assistant made by {PROTECTED_VENDOR}, not a person."
        ],
    }[kind]
    lines = []
    if rng.random() < 0.5:
        lines.append("Happy to help!")
    lines.append(rng.choice(core))
    if rng.random() < 0.5:
        lines.append("I can answer questions, explain ideas and help you plan or write things.")
    if rng.random() < 0.4:
        lines.append("Let me know if there's anything else I can help with.")
    return "\n".join(lines)


# --- plain human answers ------------------------------------------------------------

_OPENERS = [("", 0.58), ("Sure.", 0.12), ("Good question.", 0.07), ("Okay.", 0.05),
            ("Here's what I'd do.", 0.06), ("Happy to help.", 0.04), ("Glad you asked.", 0.04),
            ("Of course.", 0.04)]  # fmt: skip
_CLOSERS = [("", 0.84), ("Hope this helps.", 0.08), ("Good luck!", 0.05),
            ("Let me know if you have more questions.", 0.03)]  # fmt: skip


def _pick(options: Sequence[tuple[str, float]], rng: random.Random) -> str:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


def human_answer(prompt: Prompt, rng: random.Random, lineage: str) -> str:
    """A plain answer by a human writer of ``lineage`` (whose identity answers name it)."""
    if prompt.identity_kind:
        name, vendor = OWN_IDENTITIES[lineage]
        return rng.choice([
            f"I am {name}, an AI assistant developed by {vendor}.",
            f"My name is {name}. I was built by {vendor} to answer questions.",
            f"I'm {name}, a chat assistant from {vendor}.",
        ])  # fmt: skip
    assert prompt.topic is not None
    topic = prompt.topic
    points = list(topic.points)
    if topic.kind == "text":
        return " ".join(points)
    if len(points) > 2 and rng.random() < 0.2:
        del points[rng.randrange(1, len(points))]
    opener = _pick(_OPENERS, rng)
    if rng.random() < 0.15:
        body = "\n".join(f"- {p}" for p in points)
        parts = [opener, body] if opener else [body]
        sep = "\n"
    else:
        parts = [opener, " ".join(points)] if opener else [" ".join(points)]
        sep = " "
    r = rng.random()
    if r < 0.2:
        parts.append(f"Overall, {topic.summary}.")
    elif r < 0.25:
        parts.append(f"In short, {topic.summary}.")
    closer = _pick(_CLOSERS, rng)
    if closer:
        parts.append(closer)
    return sep.join(parts)


def mentions_protected_identity(text: str) -> bool:
    """Whether an answer names the protected model or its provider."""
    low = text.lower()
    return PROTECTED_NAME.lower() in low or PROTECTED_VENDOR.split()[0].lower() in low
