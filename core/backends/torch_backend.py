"""The transformers (PyTorch) backend: a Hugging Face folder with safetensors weights.

torch and transformers are imported only when the model is first used, so importing
this module costs nothing. Weights are never unpickled: only safetensors are accepted,
``trust_remote_code`` is always False and nothing is downloaded.
"""

from __future__ import annotations

import inspect
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from core.backends.batched_model import BatchedModel, Decoder, RecomputeDecoder
from core.backends.folders import (
    TOKENIZER_FILES,
    check_hf_folder,
    parameter_count,
    present_files,
    read_config,
    safetensors_files,
    stored_dtypes,
)
from core.backends.memory import MemoryEstimate, require_memory
from core.backends.precision import check_dtype, resolve_dtype
from core.errors import ModelLoadError


def load_causal_lm(
    folder: Path, dtype: str = "float32", attn_implementation: str | None = None
) -> Any:
    """AutoModelForCausalLM from a checked folder, in eval mode; ModelLoadError on failure.

    ``dtype`` is a resolved precision (not ``auto``); ``int8`` loads float32 and replaces
    every linear layer with its dynamically quantised int8 form (torch.ao).
    """
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    check_hf_folder(folder)
    extra = {"attn_implementation": attn_implementation} if attn_implementation else {}
    bars, verbosity = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loaded: Any = AutoModelForCausalLM.from_pretrained(
                str(folder),
                trust_remote_code=False,
                use_safetensors=True,
                local_files_only=True,
                dtype=getattr(torch, "float32" if dtype == "int8" else dtype),
                output_loading_info=True,
                **extra,
            )
            model, info = loaded
    except Exception as exc:  # many failure types: unknown architecture, bad shapes, ...
        raise ModelLoadError(
            f"Could not load the model in {folder}: {exc}. Distill Audit loads causal language "
            "models that transformers supports natively (no custom code) from safetensors."
        ) from exc
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
    # transformers fills missing tensors with random values; a forensic tool must not.
    mismatched = {
        str(k[0] if isinstance(k, tuple) else k) for k in info.get("mismatched_keys") or ()
    }
    absent = sorted({str(k) for k in info.get("missing_keys") or ()} | mismatched)
    if absent:
        shown = ", ".join(absent[:5]) + (f" and {len(absent) - 5} more" if len(absent) > 5 else "")
        raise ModelLoadError(
            f"The weights in {folder} do not match its config.json: {shown} missing or of the "
            "wrong shape. Loading would fill them with random values, so the model is refused."
        )
    model.eval()
    if dtype == "int8":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.ao's deprecation notice, not for lawyers
            model = torch.ao.quantization.quantize_dynamic(
                model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True
            )
    return model


class TorchModel(BatchedModel):
    """A causal LM run with transformers on the CPU.

    ``num_threads`` calls ``torch.set_num_threads``, which is process-wide. Generation
    uses the model's KV cache with left padding and explicit position ids. ``dtype`` is
    one of :data:`core.backends.precision.DTYPES` (``auto`` resolves from the checkpoint
    and the CPU); the load is refused, before any weight is read, when the memory estimate
    at that precision exceeds the free memory (:mod:`core.backends.memory`).
    """

    backend = "torch"

    def __init__(
        self,
        folder: str | Path,
        *,
        name: str | None = None,
        num_threads: int | None = None,
        max_length: int | None = None,
        max_batch_tokens: int | None = None,
        max_batch_size: int = 32,
        dtype: str = "float32",  # checks pass the run's setting (default auto)
    ) -> None:
        folder = check_hf_folder(folder)
        super().__init__(
            folder,
            name=name,
            num_threads=num_threads,
            max_length=max_length,
            max_batch_tokens=max_batch_tokens,
            max_batch_size=max_batch_size,
            config=read_config(folder),
        )
        self.dtype = check_dtype(dtype)
        self._stored = stored_dtypes(folder)
        self._model: Any = None
        self._forward_params: set[str] = set()

    @property
    def torch_model(self) -> Any:
        """The loaded transformers model (loads it), for white-box checks on weights."""
        self._ensure_loaded()
        return self._model

    def _load_weights(self) -> None:
        import torch

        if self.num_threads:
            torch.set_num_threads(int(self.num_threads))
        self.memory = self.memory_needed()  # refuses before a byte of weights is read
        self._model = load_causal_lm(self._folder, self.resolved_dtype)
        self._forward_params = set(inspect.signature(self._model.forward).parameters)

    def _unload_weights(self) -> None:
        self._model = None

    @property
    def resolved_dtype(self) -> str:
        return resolve_dtype(self.dtype, self._stored)

    def memory_needed(self, available: int | None = None) -> MemoryEstimate:
        """The memory estimate at this precision; InsufficientMemoryError when it won't fit."""
        return require_memory(
            self.name,
            parameter_count(self._folder),
            self.dtype,
            self._stored,
            self._config,
            available,
        )

    def files_read(self) -> list[str]:
        """Config, the weight files the import hashed, tokenizer and generation config."""
        names = ["config.json"]
        names += [w.relative_to(self._folder).as_posix() for w in safetensors_files(self._folder)]
        return names + present_files(self._folder, (*TOKENIZER_FILES, "generation_config.json"))

    def _weights_vocab_size(self) -> int | None:
        return int(self._model.get_output_embeddings().weight.shape[0]) if self._model else None

    def _logits(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            out = self._model(
                input_ids=torch.from_numpy(ids),
                attention_mask=torch.from_numpy(mask),
                use_cache=False,
            )
            return out["logits"].float().numpy()

    def _decoder(self, rows: list[list[int]]) -> Decoder:
        cache_kw = next(
            (k for k in ("cache", "past_key_values") if k in self._forward_params), None
        )
        if cache_kw is None or "position_ids" not in self._forward_params:
            return RecomputeDecoder(self, rows)
        keep_last = "logits_to_keep" in self._forward_params
        return _CachedDecoder(self._model, rows, self.pad_id, cache_kw, keep_last)


class _CachedDecoder:
    """Left-padded incremental decoding with the model's own KV cache.

    Only the last position's logits are computed (``logits_to_keep=1`` where the model
    takes it: the prompt pass otherwise builds [batch, width, vocab] logits to keep one
    row), and the attention mask is a view of one preallocated buffer rather than a new
    concatenation each step; both keep each step's cost at the model's own.
    """

    def __init__(
        self,
        model: Any,
        rows: list[list[int]],
        pad_id: int,
        cache_kw: str,
        keep_last: bool = False,
        capacity: int = 256,
    ) -> None:
        import torch

        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, width - len(row) :] = torch.tensor(row, dtype=torch.long)
            mask[i, width - len(row) :] = 1
        self._model, self._cache_kw = model, cache_kw
        self._extra: dict[str, Any] = {"logits_to_keep": 1} if keep_last else {}
        self._ids = ids
        self._full_mask = torch.ones((len(rows), width + capacity), dtype=torch.long)
        self._full_mask[:, :width] = mask
        self._width = width
        self._mask = self._full_mask[:, :width]
        self._positions = (mask.cumsum(-1) - 1).clamp(min=0)
        self._cache: Any = None

    def _run(self, ids: Any, positions: Any) -> np.ndarray:
        import torch

        kwargs = {self._cache_kw: self._cache} if self._cache is not None else {}
        with torch.inference_mode():
            out = self._model(
                input_ids=ids,
                attention_mask=self._mask,
                position_ids=positions,
                use_cache=True,
                **kwargs,
                **self._extra,
            )
        cache = out.get("cache")
        self._cache = cache if cache is not None else out.get("past_key_values")
        return out["logits"][:, -1].float().numpy()

    def start(self) -> np.ndarray:
        return self._run(self._ids, self._positions)

    def step(self, tokens: np.ndarray) -> np.ndarray:
        import torch

        self._width += 1
        if self._width > self._full_mask.shape[1]:  # beyond the buffer: grow it
            grown = torch.ones_like(self._full_mask)
            self._full_mask = torch.cat([self._full_mask, grown], dim=1)
        self._mask = self._full_mask[:, : self._width]
        self._positions = self._positions[:, -1:] + 1
        return self._run(
            torch.from_numpy(np.asarray(tokens, dtype=np.int64))[:, None], self._positions
        )
