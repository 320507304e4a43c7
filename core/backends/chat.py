"""Each model's own chat template: how a conversation is shown to that model.

A chat model is scored in the format it was trained on: the tokenizer's ``chat_template``
(a Jinja template shipped in tokenizer_config.json or chat_template.jinja), rendered by
transformers' sandboxed ``apply_chat_template``, with the assistant header appended so
the answer's bytes follow it directly. A model without a template may be given one from
a file; one with neither is scored through the run's plain template (the caller's
fallback). The template text is hashed, so the run records exactly which one was used.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import DistillAuditError, ModelLoadError

MAX_TEMPLATE_BYTES = 1_000_000


@dataclass(frozen=True)
class ChatRenderer:
    """Renders conversations with one Jinja chat template through one tokenizer."""

    tokenizer: Any
    template: str
    source: str  # "the model's chat_template" or "file NAME"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.template.encode("utf-8")).hexdigest()

    def render(self, messages: Sequence[Mapping[str, str]]) -> str:
        """The text before the next assistant answer (its header included).

        A template that refuses a system turn (Gemma's raise "System role not supported")
        gets the system prompt folded into the first user turn, as those models' own
        documentation does. ModelLoadError when the template cannot render at all.
        """
        turns = [dict(m) for m in messages]
        try:
            return self._render(turns)
        except Exception as exc:  # jinja2 raises TemplateError and the template's own errors
            if turns and turns[0].get("role") == "system" and len(turns) > 1:
                system = turns.pop(0)["content"]
                turns[0] = {**turns[0], "content": f"{system}\n\n{turns[0]['content']}"}
                try:
                    return self._render(turns)
                except Exception:  # fall through to the first error, which says more
                    pass
            raise ModelLoadError(
                f"The chat template ({self.source}) could not render a conversation: {exc}. "
                "Give a template file that fits the model, or use the plain template."
            ) from exc

    def _render(self, turns: list[dict[str, str]]) -> str:
        text = self.tokenizer.apply_chat_template(
            turns, chat_template=self.template, add_generation_prompt=True, tokenize=False
        )
        if not isinstance(text, str):
            raise TypeError(f"the template rendered {type(text).__name__}, not text")
        return text


def own_template(tokenizer: Any) -> str | None:
    """The tokenizer's own chat template text (the default one of a named set), or None."""
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, dict):
        template = template.get("default")
    return template if isinstance(template, str) and template.strip() else None


def read_template_file(path: str | Path) -> str:
    """A Jinja chat template from a file; DistillAuditError for a missing or unfit file."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise DistillAuditError(
            f"The chat template file {p} cannot be read ({exc.strerror or exc})."
        ) from exc
    if len(raw) > MAX_TEMPLATE_BYTES:
        raise DistillAuditError(f"The chat template file {p} is over 1 MB; not a template.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DistillAuditError(f"The chat template file {p} is not UTF-8 text.") from exc
    if "{%" not in text and "{{" not in text:
        raise DistillAuditError(
            f"The chat template file {p} holds no Jinja ({{% … %}} or {{{{ … }}}}); give a chat "
            "template as models ship it in chat_template.jinja."
        )
    return text


def chat_renderer(tokenizer: Any, template_file: str | Path | None = None) -> ChatRenderer | None:
    """The model's own template, else the file's (for a model without one), else None."""
    own = own_template(tokenizer)
    if own is not None:
        return ChatRenderer(tokenizer, own, "the model's chat_template")
    if template_file:
        return ChatRenderer(
            tokenizer, read_template_file(template_file), f"file {Path(template_file).name}"
        )
    return None
