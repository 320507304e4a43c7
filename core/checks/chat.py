"""Which chat template each model of a run is scored through: its own, a file's, or plain.

Every model sees prompts in the format it was trained on: the suspect and each reference
are rendered through their own tokenizer's chat template (``CheckSettings.chat_templates
= "model"``, the default), a model without one through ``template_file`` when given,
else through the run's plain template (the demo's tiny models have none, so their
numbers are those of the plain template). The answer is scored verbatim right after the
model's assistant header: no space is forced before it and BOS is never doubled
(:mod:`core.backends.encoding`). ``"fixed"`` scores every model through the plain
template, as earlier versions did.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.backends.chat import ChatRenderer
from core.checks.probes import ChatTemplate, Probe
from core.checks.settings import CheckSettings
from core.errors import DistillAuditError

CHAT_TEMPLATE_MODES = ("model", "fixed")


@dataclass(frozen=True)
class ModelChatTemplate(ChatTemplate):
    """A :class:`ChatTemplate` rendered by one model's own Jinja chat template."""

    renderer: ChatRenderer | None = field(default=None, compare=False)

    def _rendered(self, messages: list[dict[str, str]]) -> str:
        assert self.renderer is not None  # template_for always gives one
        return self.renderer.render(messages)

    def context(self, prompt: str, system: str | None = None) -> str:
        turns = [{"role": "system", "content": system}] if system and system.strip() else []
        return self._rendered([*turns, {"role": "user", "content": prompt}])

    def conversation(
        self,
        prompt: str,
        system: str | None = None,
        messages: Sequence[Mapping[str, Any]] = (),
    ) -> str:
        turns = [{"role": "system", "content": system}] if system and system.strip() else []
        for turn in messages:
            role = str(turn.get("role", "user"))
            turns.append({"role": role, "content": str(turn.get("content", ""))})
        return self._rendered([*turns, {"role": "user", "content": prompt}])

    def continuation(self, answer: str) -> str:
        """The answer's own bytes: they follow the assistant header as they were sent."""
        return answer

    @property
    def stop_marker(self) -> str:
        return ""  # generation ends at the model's end-of-turn token (its EOS)

    def describe(self) -> dict[str, Any]:
        assert self.renderer is not None
        return {
            "source": self.renderer.source,
            "template_sha256": self.renderer.sha256,
            "response_prefix": "",
        }


def check_mode(mode: str) -> str:
    if mode not in CHAT_TEMPLATE_MODES:
        raise DistillAuditError(
            f"Unknown chat-template mode {mode!r}; choose 'model' (each model's own chat "
            "template) or 'fixed' (the plain template for every model)."
        )
    return mode


def template_for(model: Any, settings: CheckSettings) -> ChatTemplate:
    """The template ``model`` is scored through under ``settings`` (module docstring)."""
    plain = ChatTemplate(settings.template, settings.response_prefix)
    if check_mode(settings.chat_templates) == "fixed":
        return plain
    make = getattr(model, "chat_renderer", None)
    renderer = make(settings.template_file) if callable(make) else None
    if renderer is None:
        return plain
    return ModelChatTemplate(renderer=renderer)


def rendered_example(template: ChatTemplate, probes: Sequence[Probe]) -> dict[str, Any]:
    """What the run records of one model's template: its source and one probe's rendering."""
    record = template.describe()
    if probes:
        p = probes[0]
        record["example_probe"] = p.probe_id
        record["rendered_context"] = template.context(p.prompt, p.system)
    return record
