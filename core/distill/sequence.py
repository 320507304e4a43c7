"""Sequence-level distillation: the teacher answers a prompt set, the student learns the answers.

This module asks a local teacher for its answers, streamed: the staged prompts are read
``chunk`` at a time, answered through the :class:`core.backends.LanguageModel` protocol
(so a torch teacher and an ONNX teacher give the same text), and each answer is appended
to a side file that is flushed after every chunk. An interrupted generation continues
where the file ends. A captured transcript set needs no generation: its answers are the
teacher's.

The student is then fine-tuned on (prompt, answer) pairs with the masked cross-entropy of
:func:`core.distill.train.train_causal_lm` (its default loss), exactly like a chat model
is tuned on human-written answers — which is what the control twin gets.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from core.backends.base import LanguageModel
from core.checks.probes import ChatTemplate
from core.distill.data import read_items
from core.distill.spec import GenerationSettings
from core.jobs import JobState


def _whole_chunks(path: Path, chunk: int) -> int:
    """Answers already in ``path``, cut back to whole chunks (a torn chunk is redone)."""
    if not path.is_file():
        return 0
    ends: list[int] = []  # byte offset after each complete chunk
    lines, offset = 0, 0
    with path.open("rb") as fh:
        for line in fh:
            offset += len(line)
            if line.endswith(b"\n"):
                lines += 1
                if lines % chunk == 0:
                    ends.append(offset)
    end = ends[-1] if ends else 0
    if end != offset:
        with path.open("r+b") as fh:
            fh.truncate(end)
    return len(ends) * chunk


def generate_answers(
    teacher: LanguageModel,
    items: Path,
    out: Path,
    template: ChatTemplate,
    settings: GenerationSettings,
    seed: int,
    state: JobState | None = None,
) -> dict[str, Any]:
    """Answer every staged prompt with ``teacher``; one ``{"answer"}`` line each in ``out``.

    Prompt ``i`` of chunk ``c`` is sampled from the stream ``(seed + c * chunk, i)``, so
    the text depends only on the seed, the prompt's position and the chunk size. Returns
    counts and the seconds spent generating.
    """
    import time

    state = state or JobState()
    done = _whole_chunks(out, settings.chunk)
    total = sum(1 for _ in read_items(items))
    started = time.monotonic()
    prompts: list[str] = []
    position = 0
    with out.open("a", encoding="utf-8") as fh:

        def flush(start: int) -> None:
            state.check_cancelled()
            within = state.sub(100 * start / total, 100 * (start + len(prompts)) / total)
            answers = teacher.generate(
                [template.context(p) for p in prompts],
                settings.max_new_tokens,
                seed=seed + start,
                greedy=settings.greedy,
                temperature=settings.temperature,
                top_p=settings.top_p,
                state=within,
            )
            for answer in answers:
                fh.write(
                    json.dumps({"answer": template.clean_answer(answer)}, ensure_ascii=False) + "\n"
                )
            fh.flush()
            os.fsync(fh.fileno())
            state.set_progress(start + len(prompts), total)
            state.set_status(f"Teacher answered {start + len(prompts):,} of {total:,} prompts")
            prompts.clear()

        chunk_start = 0
        for record in read_items(items):
            if position >= done:
                if not prompts:
                    chunk_start = position
                prompts.append(record.prompt)
                if (position + 1) % settings.chunk == 0:
                    flush(chunk_start)
            position += 1
        if prompts:
            flush(chunk_start)
    return {"answers": total, "resumed_from": done, "seconds": round(time.monotonic() - started, 3)}
