"""The harvest test's two record kinds: logged exchanges and their regenerations, validated.

A *harvested exchange* is one answer the provider's API actually sent to a suspected
account; a *regeneration* is a fresh answer to the same prompt drawn from the same model
version with the same settings. The field names are listed in :mod:`core.evidence.formats`.
Validation happens at import, record by record, so a malformed log stops the import with
its line number and nothing partial reaches the case. The validated fields are stored
normalised in the transcript item's metadata (``request_id``, ``account_id``,
``model_version``, ``sampling``, ``system_prompt``, ``messages`` ...), which is what the
harvest check pairs on.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from core.errors import EvidenceError
from core.evidence.transcripts import TranscriptRecord
from core.store.vocabulary import HARVESTED_ROLE, REGENERATIONS_ROLE

HARVEST_ROLES = (HARVESTED_ROLE, REGENERATIONS_ROLE)
_FLAT_SAMPLING = ("temperature", "top_p", "max_new_tokens", "greedy")


@dataclass(frozen=True)
class Sampling:
    """The decoding settings an answer was drawn with (compared exactly between the K+1)."""

    temperature: float
    top_p: float = 1.0
    max_new_tokens: int | None = None
    greedy: bool = False

    @property
    def is_greedy(self) -> bool:
        """Greedy decoding gives one answer per prompt: nothing to rank the logged one against."""
        return self.greedy or self.temperature <= 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_meta(cls, value: Any) -> Sampling:
        """From the normalised ``sampling`` metadata written by :func:`validate_harvest_record`."""
        if not isinstance(value, Mapping):
            raise ValueError("no sampling settings")
        return cls(
            float(value["temperature"]),
            float(value.get("top_p", 1.0)),
            None if value.get("max_new_tokens") is None else int(value["max_new_tokens"]),
            bool(value.get("greedy", False)),
        )

    def describe(self) -> str:
        if self.is_greedy:
            return "greedy decoding"
        limit = "" if self.max_new_tokens is None else f", max_new_tokens {self.max_new_tokens}"
        return f"temperature {self.temperature:g}, top_p {self.top_p:g}{limit}"


def _bad(source: str, line: int, what: str) -> EvidenceError:
    return EvidenceError(f"{source}, line {line}: {what}")


def _text(meta: Mapping[str, Any], key: str) -> str | None:
    value = meta.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return str(value).strip()


def _json_field(value: Any, name: str, source: str, line: int) -> Any:
    """CSV cells hold JSON as text; JSONL holds it as JSON."""
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise _bad(source, line, f"{name} is not valid JSON ({exc.msg}).") from exc
    return value


def _number(value: Any, name: str, source: str, line: int) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _bad(source, line, f"sampling {name} must be a number, not {value!r}.") from None
    if not math.isfinite(number):
        raise _bad(source, line, f"sampling {name} must be a finite number.")
    return number


def _sampling(meta: dict[str, Any], source: str, line: int) -> Sampling:
    raw = _json_field(meta.pop("sampling", None), "sampling", source, line)
    flat = {k: meta.pop(k) for k in _FLAT_SAMPLING if k in meta and meta[k] not in (None, "")}
    if raw in (None, "") and flat:
        raw = flat
    if not isinstance(raw, Mapping):
        raise _bad(
            source,
            line,
            "the sampling settings are missing: give sampling as "
            '{"temperature": 0.8, "top_p": 0.95, "max_new_tokens": 96}.',
        )
    if "temperature" not in raw:
        raise _bad(source, line, "the sampling settings must give the temperature.")
    temperature = _number(raw["temperature"], "temperature", source, line)
    top_p = _number(raw.get("top_p", 1.0), "top_p", source, line)
    if temperature < 0 or not 0 < top_p <= 1:
        raise _bad(source, line, "sampling needs temperature >= 0 and top_p in (0, 1].")
    limit = raw.get("max_new_tokens")
    max_new = None
    if limit not in (None, ""):
        value = _number(limit, "max_new_tokens", source, line)
        if value < 1 or value != int(value):
            raise _bad(source, line, "sampling max_new_tokens must be a whole number >= 1.")
        max_new = int(value)
    greedy = raw.get("greedy", False)
    if isinstance(greedy, str):
        greedy = greedy.strip().lower() in ("1", "true", "yes")
    return Sampling(temperature, top_p, max_new, bool(greedy))


def _messages(meta: dict[str, Any], source: str, line: int) -> list[dict[str, str]]:
    raw = _json_field(meta.pop("messages", None), "messages", source, line)
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        raise _bad(source, line, "messages must be a list of {role, content} turns.")
    turns = []
    for n, turn in enumerate(raw, start=1):
        if (
            not isinstance(turn, Mapping)
            or turn.get("role") not in ("user", "assistant", "system")
            or not isinstance(turn.get("content"), str)
        ):
            raise _bad(
                source,
                line,
                f"message {n} must be {{'role': 'user' | 'assistant' | 'system', "
                "'content': text}.",
            )
        turns.append({"role": str(turn["role"]), "content": str(turn["content"])})
    return turns


def _required(meta: Mapping[str, Any], key: str, source: str, line: int, why: str) -> str:
    value = _text(meta, key)
    if value is None:
        raise _bad(source, line, f"{key} is missing ({why}).")
    return value


def validate_harvest_record(rec: TranscriptRecord, role: str, source: str) -> dict[str, Any]:
    """The record's metadata, validated and normalised for ``role``; EvidenceError otherwise.

    Raises with the file name and line number, saying which field is wrong and how to fix it.
    """
    if role not in HARVEST_ROLES:
        raise ValueError(f"not a harvest role: {role!r}")
    meta = dict(rec.meta)
    line = rec.line
    if not rec.response.strip():
        raise _bad(source, line, "the answer (response) is empty.")
    version = _required(
        meta, "model_version", source, line, "which model version produced this answer"
    )
    sampling = _sampling(meta, source, line)
    out: dict[str, Any] = {**meta, "model_version": version, "sampling": sampling.to_dict()}
    system = _text(meta, "system_prompt")
    if system is not None:
        out["system_prompt"] = str(meta["system_prompt"])
    if role == HARVESTED_ROLE:
        out["request_id"] = _required(
            meta, "request_id", source, line, "the provider's id of this API request"
        )
        out["account_id"] = _required(
            meta, "account_id", source, line, "the account the answer was sent to"
        )
        if rec.collected_at is None:
            raise _bad(source, line, "timestamp is missing (when the answer was sent, ISO-8601).")
        out["messages"] = _messages(meta, source, line)
    else:
        turns = _messages(meta, source, line)
        if turns:
            out["messages"] = turns
        request = _text(meta, "request_id")
        harvested = _text(meta, "harvested_id")
        if request is None and harvested is None:
            raise _bad(
                source,
                line,
                "a regeneration must name the logged exchange it regenerates "
                "(request_id, or harvested_id: that exchange's id).",
            )
        if request is not None:
            out["request_id"] = request
        if harvested is not None:
            out["harvested_id"] = harvested
        if meta.get("sample_index") not in (None, ""):
            try:
                out["sample_index"] = int(meta["sample_index"])
            except (TypeError, ValueError):
                raise _bad(source, line, "sample_index must be a whole number.") from None
    return out


class HarvestValidator:
    """Validates a file's records in order, and what spans records (unique request ids)."""

    def __init__(self, role: str, source: str) -> None:
        self.role, self.source = role, source
        self._requests: dict[str, int] = {}

    def __call__(self, rec: TranscriptRecord) -> dict[str, Any]:
        meta = validate_harvest_record(rec, self.role, self.source)
        if self.role == HARVESTED_ROLE:
            request = meta["request_id"]
            if request in self._requests:
                raise _bad(
                    self.source,
                    rec.line,
                    f"request_id {request!r} repeats line {self._requests[request]}; each "
                    "logged exchange must have its own request id.",
                )
            self._requests[request] = rec.line
        return meta
