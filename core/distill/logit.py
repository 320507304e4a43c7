"""Logit-level distillation: match the teacher's next-token distributions, not just its text.

The loss on each trained (answer) position is

    alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T))
        + (1 - alpha) * CE(student, token)

(Hinton et al. 2015): the temperature ``T`` softens both distributions so that the
teacher's ranking of unlikely tokens is learned too, and ``T^2`` keeps the gradient scale
comparable to the hard-label cross-entropy. The teacher runs on the very same token ids
as the student, so this is possible only when both share a tokenizer; otherwise the
experiment declines with the reason (sequence-level distillation needs no shared
tokenizer).
"""

from __future__ import annotations

from typing import Any

import torch

from core.distill.spec import LogitSettings
from core.distill.train import IGNORE_INDEX


def tokenizer_mismatch(
    teacher_hash: str, student_hash: str, teacher_width: int, student_width: int, n_tokens: int
) -> str | None:
    """Why logit distillation cannot run between these two models, or None if it can."""
    if teacher_hash != student_hash:
        return (
            "Logit distillation needs the teacher and the student to share one tokenizer "
            f"(the teacher's tokenizer hash is {teacher_hash[:12]}…, the student's "
            f"{student_hash[:12]}…): their next-token distributions are over different "
            "token sets and cannot be compared position by position. Use sequence-level "
            "distillation (--method sequence), or a fresh student with the teacher's "
            "tokenizer (--student-preset tiny --tokenizer teacher)."
        )
    if min(teacher_width, student_width) < n_tokens:
        return (
            f"The tokenizer has {n_tokens} tokens but a model's output layer has only "
            f"{min(teacher_width, student_width)} entries; the models do not fit the "
            "tokenizer they ship with."
        )
    return None


class LogitDistillLoss:
    """The training loss hook (see :class:`core.distill.train.TrainHooks`) for logit KD.

    The teacher (a transformers causal LM in eval mode) is run without gradients on each
    batch; both distributions are restricted to the tokenizer's ``n_tokens`` entries so
    that padded output layers of different widths do not matter.
    """

    def __init__(self, teacher: Any, settings: LogitSettings, n_tokens: int) -> None:
        self.teacher = teacher.eval()
        self.settings = settings
        self.n_tokens = n_tokens

    def __call__(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        with torch.no_grad():
            teacher_logits = self.teacher(
                input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
            ).logits.float()
        target = batch["labels"][:, 1:]
        keep = target != IGNORE_INDEX
        width = self.n_tokens
        student = logits[:, :-1, :width][keep]
        teacher = teacher_logits[:, :-1, :width][keep]
        t = self.settings.temperature
        teacher_logp = torch.log_softmax(teacher / t, dim=-1)
        student_logp = torch.log_softmax(student / t, dim=-1)
        kl = (teacher_logp.exp() * (teacher_logp - student_logp)).sum(-1).mean() * (t * t)
        hard = torch.nn.functional.cross_entropy(logits[:, :-1][keep], target[keep])
        a = self.settings.alpha
        return a * kl + (1.0 - a) * hard
