"""Tokenization shared by every backend: loading, identity hash, boundaries, truncation.

Both backends encode through :class:`TextEncoder`, so a torch model and its ONNX export
see exactly the same token ids, and the rules below hold everywhere:

* Context and continuation are tokenized *separately* and their ids concatenated. The
  continuation's tokens are then exactly the tokens of the continuation alone, whatever
  the context, which makes scores comparable across contexts (a joint tokenization could
  merge characters across the boundary). Put the separating space at the start of the
  continuation (``" world"``), as GPT-style tokenizers expect.
* Leading special tokens the tokenizer adds by default (e.g. Llama's BOS) are always
  prepended, unless the text already starts with them (a context rendered by the model's
  own chat template carries its BOS as text: it is never doubled). Otherwise, when the
  context is empty, BOS (or EOS if there is no BOS) is prepended so that the first
  continuation token is scored too.
* Over-long inputs are truncated from the left, keeping the leading special tokens.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ModelLoadError


def load_tokenizer(folder: Path) -> Any:
    """Load the tokenizer beside a model, offline and without remote code."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(
            str(folder), local_files_only=True, trust_remote_code=False
        )
    except Exception as exc:  # transformers raises many types (OSError, ValueError, ...)
        raise ModelLoadError(
            f"Could not load the tokenizer in {folder}: {exc}. The folder must contain the "
            "tokenizer files saved with the model (tokenizer.json or vocab files and "
            "tokenizer_config.json)."
        ) from exc


def tokenizer_hash(tokenizer: Any) -> str:
    """SHA-256 of the tokenization rules (vocabulary, merges, normalisers, special tokens).

    Hashes the canonical JSON of the fast tokenizer, without its padding and truncation
    settings, so a copy of the same tokenizer beside an ONNX export hashes the same.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None) or getattr(
        tokenizer, "_tokenizer", None
    )
    if backend is not None and hasattr(backend, "to_str"):
        rules = json.loads(backend.to_str())
        rules.pop("truncation", None)
        rules.pop("padding", None)
    else:  # a slow tokenizer: its vocabulary is the best identity we have
        rules = sorted(tokenizer.get_vocab().items())
    payload = {
        "rules": rules,
        "bos": getattr(tokenizer, "bos_token", None),
        "eos": getattr(tokenizer, "eos_token", None),
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class EncodedPair:
    """Token ids of context+continuation, ready to score its last ``n_scored`` tokens."""

    ids: list[int]
    n_scored: int
    n_unscored: int
    truncated: bool
    n_bytes: int


class TextEncoder:
    """Turns texts into model inputs under the boundary and truncation rules above."""

    def __init__(self, tokenizer: Any, max_length: int) -> None:
        self.tokenizer = tokenizer
        self.max_length = max(2, int(max_length))
        self.prefix = _default_prefix(tokenizer)
        bos = getattr(tokenizer, "bos_token_id", None)
        eos = getattr(tokenizer, "eos_token_id", None)
        self.start_id: int | None = bos if bos is not None else eos

    def ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Plain token ids of each text, no special tokens (batched in the Rust tokenizer)."""
        out: list[list[int]] = [[] for _ in texts]
        todo = [i for i, t in enumerate(texts) if t]
        if todo:
            enc = self.tokenizer([texts[i] for i in todo], add_special_tokens=False)
            for i, row in zip(todo, enc["input_ids"], strict=True):
                out[i] = list(row)
        return out

    def _split(self, first: list[int]) -> tuple[list[int], list[int]]:
        """``(start tokens, rest)``: a first part that already begins with the default
        prefix (a rendered chat template's BOS) gives it up to the start, never twice."""
        n = len(self.prefix)
        if n and first[:n] == self.prefix:
            return list(self.prefix), first[n:]
        return self._start(not first), first

    def _start(self, first_part_empty: bool) -> list[int]:
        if self.prefix:
            return list(self.prefix)
        if first_part_empty and self.start_id is not None:
            return [self.start_id]
        return []

    def encode_pairs(
        self, contexts: Sequence[str], continuations: Sequence[str]
    ) -> list[EncodedPair]:
        """Encode (context, continuation) pairs for teacher-forced scoring."""
        ctx_ids = self.ids(contexts)
        cont_ids = self.ids(continuations)
        pairs = []
        for ctx, cont, text in zip(ctx_ids, cont_ids, continuations, strict=True):
            head, ctx = self._split(ctx)
            body = ctx + cont
            truncated = len(head) + len(body) > self.max_length
            if truncated:
                body = body[len(head) + len(body) - self.max_length :]
            ids = head + body
            n_scored = max(0, min(len(cont), len(body), len(ids) - 1))
            pairs.append(
                EncodedPair(
                    ids=ids,
                    n_scored=n_scored,
                    n_unscored=len(cont) - n_scored,
                    truncated=truncated,
                    n_bytes=len(text.encode("utf-8")),
                )
            )
        return pairs

    def encode_texts(
        self, texts: Sequence[str], *, as_prompt: bool, budget: int | None = None
    ) -> list[tuple[list[int], bool]]:
        """Encode whole texts: start tokens + ids, left-truncated to ``budget`` tokens.

        A prompt is a context, so it gets BOS only when empty (as in scoring); a text
        whose every token is to be predicted (``as_prompt=False``) always gets BOS.
        Returns ``(ids, truncated)`` per text; ``budget`` defaults to the context window.
        The ids are empty only for an empty text with a tokenizer that has no BOS/EOS.
        """
        budget = self.max_length if budget is None else max(1, budget)
        out = []
        for text_ids in self.ids(texts):
            head, body = self._split(text_ids)
            if not as_prompt and not head:
                head = self._start(True)
            truncated = len(head) + len(body) > budget
            if truncated:
                keep = max(0, budget - len(head))
                body = body[len(body) - keep :] if keep else []
            out.append((head + body, truncated))
        return out


def _default_prefix(tokenizer: Any) -> list[int]:
    """Leading special tokens the tokenizer adds by default (e.g. BOS for Llama)."""
    try:
        with_special = list(tokenizer("a")["input_ids"])
        plain = list(tokenizer("a", add_special_tokens=False)["input_ids"])
    except Exception:  # a tokenizer that cannot encode "a" has no useful prefix
        return []
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    n = len(with_special) - len(plain)
    if n <= 0 or with_special[n:] != plain:
        return []
    prefix = with_special[:n]
    return prefix if all(t in special for t in prefix) else []


def length_buckets(
    lengths: Sequence[int], max_batch_tokens: int, max_batch_size: int
) -> list[list[int]]:
    """Group indices into batches of similar length, longest first.

    Sorting by length means each batch is padded only up to its own longest member; a
    batch grows while ``size * longest <= max_batch_tokens``. An item longer than the
    budget goes in a batch of its own.
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        width = lengths[current[0]] if current else lengths[i]
        if current and (
            len(current) >= max_batch_size or (len(current) + 1) * width > max_batch_tokens
        ):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches
