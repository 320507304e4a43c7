"""The one interface every language-model backend offers, and what scoring returns.

Checks and experiments talk to :class:`LanguageModel` only, so a protected model loaded
through torch and a suspect exported to ONNX are measured by the same code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from core.jobs import JobState


@dataclass(frozen=True, eq=False)
class ScoredText:
    """Teacher-forced log-probabilities of one continuation given its context.

    ``logprobs[i]`` is the natural-log probability of ``token_ids[i]``. ``n_bytes`` is the
    UTF-8 length of the whole continuation, so callers can normalise per byte and compare
    models whose tokenizers differ. ``n_unscored`` counts continuation tokens that could
    not be scored (no token before them, or cut off by the context window); ``truncated``
    says that context or continuation tokens were dropped from the left to fit the window.
    """

    logprobs: np.ndarray
    token_ids: np.ndarray
    n_bytes: int
    n_unscored: int = 0
    truncated: bool = False

    @property
    def n_tokens(self) -> int:
        """Number of scored continuation tokens."""
        return int(self.logprobs.shape[0])

    @property
    def total_logprob(self) -> float:
        """Sum of the per-token log-probabilities (natural log)."""
        return float(self.logprobs.sum())

    @property
    def bits_per_byte(self) -> float:
        """Negative log2-likelihood per UTF-8 byte; NaN for an empty continuation."""
        if self.n_bytes == 0:
            return math.nan
        return -self.total_logprob / math.log(2.0) / self.n_bytes


@runtime_checkable
class LanguageModel(Protocol):
    """A causal language model that can score, generate and expose its distributions.

    Implementations load weights lazily on first use, truncate over-long inputs from the
    left (keeping a leading BOS) and report it, and accept an optional
    :class:`core.jobs.JobState` for progress and cancellation on every long call.
    """

    @property
    def name(self) -> str: ...

    @property
    def backend(self) -> str:
        """``"torch"`` or ``"onnx"``."""
        ...

    @property
    def folder(self) -> Path: ...

    @property
    def vocab_size(self) -> int:
        """Width of the model's output distribution (may exceed the tokenizer's size)."""
        ...

    @property
    def max_length(self) -> int:
        """Context window in tokens; longer inputs are truncated from the left."""
        ...

    @property
    def tokenizer_hash(self) -> str:
        """SHA-256 identity of the tokenization rules; equal hashes mean equal token ids."""
        ...

    def load(self) -> None:
        """Load tokenizer and weights now (otherwise done on first use)."""
        ...

    def score(
        self,
        contexts: list[str],
        continuations: list[str],
        state: JobState | None = None,
    ) -> list[ScoredText]: ...

    def generate(
        self,
        prompts: list[str],
        max_new_tokens: int,
        seed: int,
        greedy: bool = True,
        temperature: float = 1.0,
        top_p: float = 1.0,
        state: JobState | None = None,
    ) -> list[str]: ...

    def next_token_distributions(
        self, texts: list[str], state: JobState | None = None
    ) -> list[np.ndarray]: ...

    def tokenize(self, text: str) -> list[int]:
        """Token ids of ``text`` as the model sees it (leading BOS included)."""
        ...

    def release(self) -> None:
        """Free weights and tokenizer; the next call loads them again."""
        ...
