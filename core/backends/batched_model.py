"""The shared implementation of :class:`LanguageModel` on top of a raw logits function.

A backend supplies only ``_load_weights``, ``_logits`` (a right-padded batch in, logits
out) and optionally a faster incremental decoder; scoring, bucketing, truncation,
generation, progress and cancellation live here once, so both backends agree exactly.
"""

from __future__ import annotations

import gc
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from core.backends.base import ScoredText
from core.backends.chat import ChatRenderer, chat_renderer
from core.backends.encoding import TextEncoder, length_buckets, load_tokenizer, tokenizer_hash
from core.backends.folders import read_config
from core.backends.memory import MemoryEstimate
from core.backends.sampling import (
    check_sampling_args,
    choose_token,
    log_softmax,
    prompt_rng,
    token_logprobs,
)

if TYPE_CHECKING:
    from core.jobs import JobState

log = logging.getLogger(__name__)

DEFAULT_MAX_LENGTH = 2048
LOGITS_BUDGET_BYTES = 512 * 2**20  # bounds one batch's float32 logits


class Decoder(Protocol):
    """Incremental decoding of one batch: logits of each row's next token."""

    def start(self) -> np.ndarray: ...  # [batch, vocab]

    def step(self, tokens: np.ndarray) -> np.ndarray: ...  # [batch, vocab]


def right_pad(rows: list[list[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """int64 ids and attention mask, padded on the right to the longest row."""
    width = max(len(r) for r in rows)
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
        mask[i, : len(row)] = 1
    return ids, mask


class RecomputeDecoder:
    """Decodes by re-running the whole (right-padded) batch each step: exact, no cache."""

    def __init__(self, model: BatchedModel, rows: list[list[int]]) -> None:
        self._model = model
        self._rows = [list(r) for r in rows]

    def _last_logits(self) -> np.ndarray:
        ids, mask = right_pad(self._rows, self._model.pad_id)
        logits = self._model._logits(ids, mask)
        last = np.array([len(r) - 1 for r in self._rows])
        return logits[np.arange(len(self._rows)), last]

    def start(self) -> np.ndarray:
        return self._last_logits()

    def step(self, tokens: np.ndarray) -> np.ndarray:
        for row, token in zip(self._rows, tokens, strict=True):
            row.append(int(token))
        return self._last_logits()


class BatchedModel(ABC):
    """Lazy loading, tokenization, bucketing and decoding common to all backends."""

    backend = "abstract"

    def __init__(
        self,
        folder: str | Path,
        *,
        name: str | None = None,
        num_threads: int | None = None,
        max_length: int | None = None,
        max_batch_tokens: int | None = None,
        max_batch_size: int = 32,
        config: dict[str, Any] | None = None,
    ) -> None:
        self._folder = Path(folder)
        self._name = name or self._folder.name
        self.num_threads = num_threads
        self._config = config or {}
        self._max_length_override = max_length
        self._max_batch_tokens = max_batch_tokens
        self.max_batch_size = max(1, int(max_batch_size))
        self._lock = threading.RLock()
        self._tokenizer: Any = None
        self._encoder: TextEncoder | None = None
        self._weights_loaded = False
        self.memory: MemoryEstimate | None = None  # the estimate the last load was checked by

    # --- backend hooks -------------------------------------------------------------
    @abstractmethod
    def _load_weights(self) -> None:
        """Load the weights / inference session (tokenizer is already loaded)."""

    @abstractmethod
    def _unload_weights(self) -> None:
        """Drop every reference to weights / session."""

    @abstractmethod
    def _logits(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """float32 logits [batch, seq, vocab] of a right-padded int64 batch."""

    def _decoder(self, rows: list[list[int]]) -> Decoder:
        """An incremental decoder for ``rows``; backends with a KV cache override this."""
        return RecomputeDecoder(self, rows)

    def _weights_vocab_size(self) -> int | None:
        """Output width known from loaded weights, if the config did not say."""
        return None

    @property
    def resolved_dtype(self) -> str:
        """The precision the weights are (or will be) run at: never ``auto``."""
        return "float32"

    def memory_needed(self, available: int | None = None) -> MemoryEstimate | None:
        """What loading needs (InsufficientMemoryError when it will not fit); None: unknown."""
        return None

    def files_read(self) -> list[str]:
        """Every file (relative to :attr:`folder`) a load of this model reads."""
        return []

    def load_record(self) -> dict[str, Any]:
        """How the model was loaded, for the run: precision, memory estimate, files read."""
        memory = self.memory
        return {
            "backend": self.backend,
            "dtype_requested": getattr(self, "dtype", "float32"),
            "dtype": self.resolved_dtype,
            "memory": memory.to_dict() if memory is not None else None,
            "files_read": self.files_read(),
        }

    # --- properties ----------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @property
    def folder(self) -> Path:
        return self._folder

    @property
    def max_length(self) -> int:
        if self._max_length_override:
            return int(self._max_length_override)
        for key in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
            value = _config_value(self._config, key)
            if isinstance(value, int) and value > 1:
                return value
        limit = getattr(self._ensure_tokenizer(), "model_max_length", None)
        if isinstance(limit, int) and 1 < limit < 1_000_000:
            return limit
        return DEFAULT_MAX_LENGTH

    @property
    def vocab_size(self) -> int:
        value = _config_value(self._config, "vocab_size")
        if isinstance(value, int) and value > 0:
            return value
        self._ensure_loaded()
        return self._weights_vocab_size() or len(self._ensure_tokenizer())

    @property
    def tokenizer_hash(self) -> str:
        return tokenizer_hash(self._ensure_tokenizer())

    @property
    def pad_id(self) -> int:
        tok = self._ensure_tokenizer()
        for candidate in (tok.pad_token_id, tok.eos_token_id, tok.bos_token_id):
            if candidate is not None:
                return int(candidate)
        return 0

    @property
    def max_batch_tokens(self) -> int:
        if self._max_batch_tokens:
            return int(self._max_batch_tokens)
        return max(256, min(8192, LOGITS_BUDGET_BYTES // (4 * max(1, self.vocab_size))))

    # --- loading -------------------------------------------------------------------
    def _ensure_tokenizer(self) -> Any:
        with self._lock:
            if self._tokenizer is None:
                self._tokenizer = load_tokenizer(self._folder)
            return self._tokenizer

    def _ensure_loaded(self) -> TextEncoder:
        with self._lock:
            tokenizer = self._ensure_tokenizer()
            if not self._weights_loaded:
                self._load_weights()
                self._weights_loaded = True
            if self._encoder is None:
                self._encoder = TextEncoder(tokenizer, self.max_length)
            return self._encoder

    def load(self) -> None:
        """Load tokenizer and weights now; raises ModelLoadError if they are unusable."""
        self._ensure_loaded()

    def release(self) -> None:
        """Free weights and tokenizer; the next call loads them again."""
        with self._lock:
            self._unload_weights()
            self._weights_loaded = False
            self._tokenizer = None
            self._encoder = None
        gc.collect()

    def chat_renderer(self, template_file: str | Path | None = None) -> ChatRenderer | None:
        """How this model's conversations are rendered: its own chat template, else the
        file's, else None (the caller's plain template applies)."""
        return chat_renderer(self._ensure_tokenizer(), template_file)

    def tokenize(self, text: str) -> list[int]:
        """Token ids of ``text`` as fed to the model (leading BOS included, truncated)."""
        return self._ensure_loaded().encode_texts([text], as_prompt=False)[0][0]

    # --- scoring -------------------------------------------------------------------
    def score(
        self,
        contexts: list[str],
        continuations: list[str],
        state: JobState | None = None,
    ) -> list[ScoredText]:
        """Per-token log-probabilities of each continuation given its context."""
        if len(contexts) != len(continuations):
            raise ValueError("contexts and continuations must have the same length")
        encoder = self._ensure_loaded()
        pairs = encoder.encode_pairs(contexts, continuations)
        _warn_truncated(sum(p.truncated for p in pairs), len(pairs), self.max_length, self.name)
        results: list[ScoredText | None] = [None] * len(pairs)
        for i, pair in enumerate(pairs):
            if pair.n_scored == 0:
                results[i] = _scored(pair, np.zeros(0), np.zeros(0, dtype=np.int64))
        todo = [i for i, p in enumerate(pairs) if p.n_scored > 0]
        for members, logits in self._bucketed_logits([p.ids for p in pairs], todo, state):
            for row, i in enumerate(members):
                pair = pairs[i]
                end, n = len(pair.ids), pair.n_scored
                targets = np.asarray(pair.ids[end - n :], dtype=np.int64)
                lps = token_logprobs(logits[row, end - n - 1 : end - 1], targets)
                results[i] = _scored(pair, lps, targets)
        return [r for r in results if r is not None]

    def next_token_distributions(
        self, texts: list[str], state: JobState | None = None
    ) -> list[np.ndarray]:
        """float32 log-probabilities [seq_len, vocab] for each text.

        Row ``t`` is the distribution of the token after the first ``t + 1`` input tokens,
        where the input is :meth:`tokenize` of the text (BOS first when the tokenizer has
        one), so the last row predicts what follows the whole text.
        """
        encoder = self._ensure_loaded()
        encoded = encoder.encode_texts(texts, as_prompt=False)
        _warn_truncated(sum(t for _, t in encoded), len(texts), self.max_length, self.name)
        rows = [ids for ids, _ in encoded]
        results: list[np.ndarray] = [np.zeros((0, self.vocab_size), np.float32) for _ in texts]
        todo = [i for i, ids in enumerate(rows) if ids]
        for members, logits in self._bucketed_logits(rows, todo, state):
            for row, i in enumerate(members):
                results[i] = log_softmax(logits[row, : len(rows[i])])
        return results

    def _bucketed_logits(
        self, rows: list[list[int]], todo: list[int], state: JobState | None
    ) -> Iterator[tuple[list[int], np.ndarray]]:
        """Forward ``rows[i]`` for i in ``todo`` in length buckets: yields (indices, logits).

        Checks for cancellation before and reports progress after every batch.
        """
        batches = length_buckets(
            [len(rows[i]) for i in todo], self.max_batch_tokens, self.max_batch_size
        )
        done = 0
        for batch in batches:
            if state is not None:
                state.check_cancelled()
            members = [todo[j] for j in batch]
            ids, mask = right_pad([rows[i] for i in members], self.pad_id)
            yield members, self._logits(ids, mask)
            done += len(members)
            if state is not None:
                state.set_progress(done, len(todo))

    # --- generation ----------------------------------------------------------------
    def generate(
        self,
        prompts: list[str],
        max_new_tokens: int,
        seed: int,
        greedy: bool = True,
        temperature: float = 1.0,
        top_p: float = 1.0,
        state: JobState | None = None,
    ) -> list[str]:
        """Continue each prompt; returns only the new text, stopping at EOS or the limit.

        Prompt ``i`` samples from its own random stream seeded by ``(seed, i)``, so the
        output depends on the seed and the prompt's position, not on how prompts were
        batched. Prompts are left-truncated so prompt + new tokens fit the window.
        """
        check_sampling_args(max_new_tokens, greedy, temperature, top_p)
        encoder = self._ensure_loaded()
        new_tokens = min(max_new_tokens, self.max_length - 1)
        encoded = encoder.encode_texts(prompts, as_prompt=True, budget=self.max_length - new_tokens)
        _warn_truncated(sum(t for _, t in encoded), len(prompts), self.max_length, self.name)
        if any(not ids for ids, _ in encoded):
            raise ValueError(
                "cannot generate from an empty prompt: the tokenizer has no BOS/EOS token"
            )
        outputs = [""] * len(prompts)
        if new_tokens == 0 or not prompts:
            return outputs
        stop = self._stop_ids()
        # Rows grow while decoding: bucket by their final length.
        lengths = [len(ids) + new_tokens for ids, _ in encoded]
        batches = length_buckets(lengths, self.max_batch_tokens, self.max_batch_size)
        for number, batch in enumerate(batches):
            if state is not None:
                state.check_cancelled()
            rngs = [None if greedy else prompt_rng(seed, i) for i in batch]
            decoder = self._decoder([encoded[i][0] for i in batch])
            logits = decoder.start()
            produced: list[list[int]] = [[] for _ in batch]
            finished = np.zeros(len(batch), dtype=bool)
            for step in range(new_tokens):
                if greedy:  # argmax of every row at once: what choose_token does per row
                    tokens = np.asarray(logits).argmax(axis=-1).astype(np.int64)
                else:
                    tokens = np.array(
                        [
                            choose_token(logits[r], rngs[r], greedy, temperature, top_p)
                            for r in range(len(batch))
                        ],
                        dtype=np.int64,
                    )
                for r, token in enumerate(tokens):
                    if finished[r]:
                        continue
                    if int(token) in stop:
                        finished[r] = True
                    else:
                        produced[r].append(int(token))
                if finished.all() or step == new_tokens - 1:
                    break
                if state is not None:
                    state.check_cancelled()
                    state.set_progress(number + (step + 1) / new_tokens, len(batches))
                tokens[finished] = self.pad_id
                logits = decoder.step(tokens)
            tokenizer = self._ensure_tokenizer()
            for r, i in enumerate(batch):
                outputs[i] = tokenizer.decode(
                    produced[r], skip_special_tokens=True, clean_up_tokenization_spaces=False
                )
            if state is not None:
                state.set_progress(number + 1, len(batches))
        return outputs

    def _stop_ids(self) -> set[int]:
        stop: set[int] = set()
        eos = self._ensure_tokenizer().eos_token_id
        if eos is not None:
            stop.add(int(eos))
        generation = read_config(self._folder, "generation_config.json")
        for configured in (
            _config_value(self._config, "eos_token_id"),
            generation.get("eos_token_id"),
        ):
            if isinstance(configured, int):
                stop.add(configured)
            elif isinstance(configured, list):
                stop.update(int(t) for t in configured if isinstance(t, int))
        return stop

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} from {self._folder}>"


def _config_value(config: dict[str, Any], key: str) -> Any:
    """A config entry, looking into ``text_config`` for multimodal wrappers."""
    if key in config:
        return config[key]
    nested = config.get("text_config")
    return nested.get(key) if isinstance(nested, dict) else None


def _scored(pair: Any, logprobs: np.ndarray, token_ids: np.ndarray) -> ScoredText:
    return ScoredText(
        logprobs=np.asarray(logprobs, dtype=np.float64),
        token_ids=np.asarray(token_ids, dtype=np.int64),
        n_bytes=pair.n_bytes,
        n_unscored=pair.n_unscored,
        truncated=pair.truncated,
    )


def _warn_truncated(count: int, total: int, window: int, name: str) -> None:
    if count:
        log.warning(
            "%d of %d inputs were longer than the %d-token window of %s and were truncated "
            "from the left (leading BOS kept).",
            count,
            total,
            window,
            name,
        )
