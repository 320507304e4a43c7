"""Teacher agreement: how closely a student reproduces the teacher's held-out answers.

On held-out prompts (never trained on), the teacher's answers are fed to the student
token by token (teacher forcing, in the student's own tokenization) and we count how
often the student's most likely next token *is* the teacher's next token. The figure
needs no shared tokenizer, so a distilled student and its control twin — and students
of different tokenizers — are measured on the same footing. The mean cross-entropy per
token and per UTF-8 byte of the same answers are reported beside it. All positions of
the answer are counted, its end-of-text token included (learning where the teacher
stops is part of imitating it).

It is cheap (one forward pass over a few dozen answers), so the training loop measures
it every few steps to draw the learning curve.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from core.distill.train import IGNORE_INDEX, TrainExample, collate


@dataclass(frozen=True)
class EvalSet:
    """Held-out (prompt, teacher answer) examples in the student's tokenization."""

    examples: tuple[TrainExample, ...]
    n_bytes: int  # UTF-8 bytes of the scored answers

    def __len__(self) -> int:
        return len(self.examples)


def teacher_agreement(
    model: Any, evalset: EvalSet, pad_id: int, batch_size: int = 16
) -> dict[str, Any]:
    """Top-1 agreement with the teacher's answer tokens, cross-entropy per token and per byte.

    Leaves the model in the mode (train/eval) it was in; uses no random numbers.
    """
    if not evalset.examples:
        return {"agreement": None, "nats_per_token": None, "bits_per_byte": None, "tokens": 0}
    was_training = model.training
    model.eval()
    hits, tokens, nll = 0, 0, 0.0
    try:
        with torch.inference_mode():
            for start in range(0, len(evalset.examples), batch_size):
                batch = collate(list(evalset.examples[start : start + batch_size]), pad_id)
                logits = (
                    model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
                    .logits[:, :-1]
                    .float()
                )
                target = batch["labels"][:, 1:]
                keep = target != IGNORE_INDEX
                hits += int((logits.argmax(-1)[keep] == target[keep]).sum())
                tokens += int(keep.sum())
                nll += float(
                    torch.nn.functional.cross_entropy(logits[keep], target[keep], reduction="sum")
                )
    finally:
        model.train(was_training)
    return {
        "agreement": hits / tokens if tokens else None,
        "nats_per_token": nll / tokens if tokens else None,
        "bits_per_byte": nll / math.log(2.0) / evalset.n_bytes if evalset.n_bytes else None,
        "tokens": tokens,
    }


def summarise_curve(evals: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """First and last agreement of a learning curve (for tables)."""
    if not evals:
        return {"initial": None, "final": None}
    return {"initial": evals[0].get("agreement"), "final": evals[-1].get("agreement")}
