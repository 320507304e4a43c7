"""A rule-based paraphrase of the teacher's answers, for "laundered" calibration students.

Someone who harvests a model's answers may rewrite them before training, to hide where
they came from. The calibration measures how much that weakens the checks with students
trained on the teacher's answers after this deterministic rewrite: common words swapped
for synonyms, stock openings and closings replaced, contractions expanded, and the order
of the sentences of a multi-sentence answer reversed. It is a crude launderer (no model
re-answers the prompts, so nothing is downloaded and the same input gives the same text);
a real one could be stronger, so a detection rate measured with it is an upper bound on
what the checks achieve against laundering.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

METHOD = (
    "rule-based rewrite (synonym swaps, stock phrases replaced, contractions expanded, "
    "sentence order reversed); no model re-answers the prompts"
)
_PHRASES = (
    ("happy to help", "glad to assist"),
    ("in short", "briefly"),
    ("of course", "certainly"),
    ("for example", "for instance"),
    ("i hope this helps", "that should cover it"),
)
_WORDS = {
    "quick": "fast",
    "jumps": "leaps",
    "jump": "leap",
    "big": "large",
    "small": "little",
    "answer": "reply",
    "question": "query",
    "help": "assist",
    "use": "employ",
    "uses": "employs",
    "shows": "indicates",
    "show": "indicate",
    "important": "key",
    "however": "still",
    "also": "too",
    "many": "numerous",
    "often": "frequently",
    "because": "since",
    "start": "begin",
    "end": "finish",
    "good": "fine",
    "very": "really",
}
_CONTRACTIONS = {"it's": "it is", "don't": "do not", "can't": "cannot", "i'm": "i am"}
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[A-Za-z']+")


def _case_like(template: str, word: str) -> str:
    if template.isupper() and len(template) > 1:
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def paraphrase(text: str) -> str:
    """The rewritten answer (deterministic; empty text stays empty)."""
    out = text
    for old, new in _PHRASES:

        def phrase(m: re.Match[str], new: str = new) -> str:
            return _case_like(m.group(0), new)

        out = re.sub(re.escape(old), phrase, out, flags=re.I)

    def swap(m: re.Match[str]) -> str:
        word = m.group(0)
        low = word.lower()
        new = _CONTRACTIONS.get(low) or _WORDS.get(low)
        return _case_like(word, new) if new else word

    out = _WORD.sub(swap, out)
    lines = []
    for line in out.split("\n"):
        parts = [p for p in _SENTENCE.split(line.strip()) if p]
        lines.append(" ".join(reversed(parts)) if len(parts) > 1 else line.strip())
    return "\n".join(reversed([ln for ln in lines if ln])) if len(lines) > 1 else lines[0]


def paraphrase_file(source: Path, target: Path) -> Path:
    """A transcript file (JSON lines with ``response``) with every response rewritten."""
    tmp = target.with_suffix(".partial")
    with source.open(encoding="utf-8") as fin, tmp.open("w", encoding="utf-8") as fout:
        for line in fin:
            rec = json.loads(line)
            rec["response"] = paraphrase(str(rec.get("response") or ""))
            fout.write(json.dumps(rec, ensure_ascii=False) + "\n")
    tmp.replace(target)
    return target
