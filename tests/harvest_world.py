"""A tiny harvest world for the harvest tests: a teacher, its logged answers, and students.

The teacher is a tiny real GPT-2; its *logged* answers are samples to N prompts. The
"suspect" is an independent tiny model fine-tuned on the logged answers (what a harvester
does); the "other party" is the same recipe on *other* samples of the same teacher (Hd:
distilled, but not from these logs); "independent" never saw the teacher at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.checks.probes import ChatTemplate
from tests.conftest import write_jsonl
from tests.tinymodels import build_tiny_gpt2

TEMPLATE = ChatTemplate()
SAMPLING: dict[str, float] = {"temperature": 1.0, "top_p": 1.0, "max_new_tokens": 16}
VERSION = "teacher-2025-07"
TOPICS = ("the fox", "a model", "the terms", "distillation", "numbers", "text", "a dog", "tokens")


def prompts(n: int) -> list[str]:
    return [f"Tell me about {TOPICS[i % len(TOPICS)]}, item {i}." for i in range(n)]


def sample_answers(folder: Path, items: Sequence[str], seed: int) -> list[str]:
    """One sampled answer per prompt from the model in ``folder`` (empty answers redrawn)."""
    from core.backends.factory import load_model

    model = load_model(folder, name="teacher")
    try:
        out = [""] * len(items)
        for attempt in range(5):
            todo = [i for i, a in enumerate(out) if not a]
            if not todo:
                break
            texts = model.generate(
                [TEMPLATE.context(items[i]) for i in todo],
                int(SAMPLING["max_new_tokens"]),
                seed=seed * 10 + attempt,
                greedy=False,
                temperature=SAMPLING["temperature"],
                top_p=SAMPLING["top_p"],
            )
            for i, t in zip(todo, texts, strict=True):
                answer = TEMPLATE.clean_answer(t)
                out[i] = answer if "\x00" not in answer else ""  # a NUL cannot be imported
        return out
    finally:
        model.release()


def fine_tune(
    base: Path, out: Path, pairs: Sequence[tuple[str, str]], steps: int = 60, lr: float = 3e-3
) -> Path:
    """A copy of ``base`` trained for ``steps`` full-batch Adam steps on chat-formatted pairs."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base)
    eos = tok.eos_token_id
    rows = [
        [eos, *tok(TEMPLATE.context(p) + TEMPLATE.continuation(a))["input_ids"], eos]
        for p, a in pairs
    ]
    width = max(len(r) for r in rows)
    ids = torch.tensor([r + [eos] * (width - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
    labels = ids.masked_fill(mask == 0, -100)
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
        opt.step()
    model.eval()
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return out


def harvest_records(
    items: Sequence[str], answers: Sequence[str], version: str = VERSION
) -> list[dict[str, Any]]:
    """The provider's log of the exchanges (the harvested-exchanges format)."""
    return [
        {
            "id": f"h{i:03d}",
            "prompt": p,
            "response": a,
            "request_id": f"req-{i:04d}",
            "account_id": f"acct-qm-{i % 7:03d}",
            "timestamp": f"2025-07-{1 + i % 28:02d}T10:00:00Z",
            "model": "teacher",
            "model_version": version,
            "sampling": dict(SAMPLING),
        }
        for i, (p, a) in enumerate(zip(items, answers, strict=True))
    ]


def regeneration_records(
    items: Sequence[str], samples: Sequence[Sequence[str]], version: str = VERSION
) -> list[dict[str, Any]]:
    """K answers per logged prompt (the regenerations format); ``samples[k][i]``."""
    return [
        {
            "request_id": f"req-{i:04d}",
            "prompt": p,
            "response": sample[i],
            "model": "teacher",
            "model_version": version,
            "sampling": dict(SAMPLING),
            "sample_index": k + 1,
        }
        for k, sample in enumerate(samples)
        for i, p in enumerate(items)
    ]


def build_world(root: Path, n: int = 40, k: int = 9) -> dict[str, Any]:
    """Models and files of the world (teacher, suspect, other party, independent)."""
    root.mkdir(parents=True, exist_ok=True)
    teacher = build_tiny_gpt2(root / "teacher", seed=0)
    items = prompts(n)
    logged = sample_answers(teacher, items, seed=1)
    other = sample_answers(teacher, items, seed=2)
    regen = [sample_answers(teacher, items, seed=100 + j) for j in range(k)]
    student_base = build_tiny_gpt2(root / "student-base", seed=5)
    suspect = fine_tune(student_base, root / "suspect", list(zip(items, logged, strict=True)))
    other_pairs = list(zip(items, other, strict=True))
    other_party = fine_tune(student_base, root / "other-party", other_pairs)
    independent = build_tiny_gpt2(root / "independent", seed=6)
    return {
        "teacher": teacher,
        "suspect": suspect,
        "other_party": other_party,
        "independent": independent,
        "prompts": items,
        "logged": logged,
        "harvested": write_jsonl(root / "harvest.jsonl", harvest_records(items, logged)),
        "regenerations": write_jsonl(root / "regen.jsonl", regeneration_records(items, regen)),
    }
