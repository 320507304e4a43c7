"""The onnxruntime backend: a folder with model.onnx (+ external data) and its tokenizer.

The graph must take ``input_ids`` (and optionally ``attention_mask`` and
``position_ids``) and output ``logits`` [batch, sequence, vocab], as
:func:`core.backends.onnx_export.export_onnx` writes it. It runs on the CPU provider
only; the graph is checked when the session opens so a wrong file fails with a message.

onnxruntime's native library carries Microsoft telemetry (1DS: it resolves
``mobile.events.data.microsoft.com`` and uploads session and model details about ten
seconds after a session is created, and keeps a copy in ``~/.cache/Microsoft``).
``onnxruntime.disable_telemetry_events()`` does not stop it; only the environment
variable ``ORT_DISABLE_TELEMETRY=1``, read once when onnxruntime is first imported, does.
``core/__init__.py`` sets it, and every import of onnxruntime in Distill Audit goes through
:func:`import_onnxruntime`, which makes sure of it (tests/test_no_egress.py proves it).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from core.backends.batched_model import BatchedModel
from core.backends.folders import (
    ONNX_FILENAME,
    TOKENIZER_FILES,
    present_files,
    read_config,
    require_folder,
)
from core.backends.memory import MemoryEstimate, require_memory
from core.backends.precision import AUTO, check_dtype
from core.errors import ModelLoadError

KNOWN_INPUTS = ("input_ids", "attention_mask", "position_ids")
PAST_PREFIX = "past_key_values."  # optimum / onnx-community exports with a KV cache
CACHE_BRANCH = "use_cache_branch"  # merged decoders: False runs the no-cache branch
_FLOAT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}
_INT_TYPES = {"tensor(int64)": np.int64, "tensor(int32)": np.int32}
TELEMETRY_SWITCH = "ORT_DISABLE_TELEMETRY"


def import_onnxruntime() -> ModuleType:
    """onnxruntime, imported with its telemetry switched off before any session exists."""
    first_import = "onnxruntime" not in sys.modules
    os.environ[TELEMETRY_SWITCH] = "1"  # read by the native library when it loads
    import onnxruntime as ort

    if first_import:
        # Belt and braces: the Python switch alone does not stop the native uploader.
        ort.disable_telemetry_events()
    return ort


class OnnxModel(BatchedModel):
    """A causal LM exported to ONNX, run with onnxruntime (no KV cache)."""

    backend = "onnx"

    def __init__(
        self,
        folder: str | Path,
        *,
        filename: str = ONNX_FILENAME,
        name: str | None = None,
        num_threads: int | None = None,
        max_length: int | None = None,
        max_batch_tokens: int | None = None,
        max_batch_size: int = 32,
        dtype: str = AUTO,
    ) -> None:
        folder = require_folder(folder)
        self.dtype = check_dtype(dtype)
        if self.dtype in ("bfloat16", "float16"):
            raise ModelLoadError(
                f"{folder / filename} is an ONNX export: it runs at the precision it was "
                f"exported in, not {self.dtype}. Choose auto, float32 or int8 (dynamic "
                "quantisation of the export), or import the Hugging Face folder instead."
            )
        self.onnx_path = folder / filename
        if not self.onnx_path.is_file():
            raise ModelLoadError(f"No {filename} in {folder}.")
        super().__init__(
            folder,
            name=name,
            num_threads=num_threads,
            max_length=max_length,
            max_batch_tokens=max_batch_tokens,
            max_batch_size=max_batch_size,
            config=read_config(folder),
        )
        self._session: Any = None
        self._scratch: Path | None = None  # the int8 copy of the graph (deleted on release)
        self._input_types: dict[str, Any] = {}
        self._logits_width: int | None = None

    def _load_weights(self) -> None:
        ort = import_onnxruntime()
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only; warnings are not for lawyers
        if self.num_threads:
            options.intra_op_num_threads = int(self.num_threads)
            options.inter_op_num_threads = 1
        self.memory = self.memory_needed()
        graph = self._quantised() if self.dtype == "int8" else self.onnx_path
        try:
            session = ort.InferenceSession(
                str(graph), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelLoadError(
                f"{self.onnx_path} could not be opened as an ONNX model: {exc}"
            ) from exc
        self._input_types, self._logits_width, fixed_batch = _check_graph(session, self.onnx_path)
        if fixed_batch == 1:  # a graph exported for one sequence at a time
            self.max_batch_size = 1
        self._session = session

    def _unload_weights(self) -> None:
        self._session = None
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    @property
    def resolved_dtype(self) -> str:
        return "int8" if self.dtype == "int8" else "float32"

    def _quantised(self) -> Path:
        """An int8 copy of the hashed graph (onnxruntime dynamic quantisation), in a
        temporary folder outside the evidence, deleted when the model is released."""
        from onnxruntime.quantization import QuantType, quantize_dynamic

        self._scratch = Path(tempfile.mkdtemp(prefix="distill-audit-int8-"))
        out = self._scratch / "model.int8.onnx"
        try:
            quantize_dynamic(
                str(self.onnx_path),
                str(out),
                weight_type=QuantType.QInt8,
                use_external_data_format=self._stored_bytes() > 1_500_000_000,
            )
        except Exception as exc:  # onnxruntime raises many types
            raise ModelLoadError(
                f"{self.onnx_path} could not be quantised to int8 ({exc}); choose float32."
            ) from exc
        return out

    def external_files(self) -> list[Path]:
        """The graph's external-data files (the graph is read without its tensors)."""
        import onnx

        try:
            graph = onnx.load(str(self.onnx_path), load_external_data=False)
        except Exception as exc:
            raise ModelLoadError(f"{self.onnx_path} is not a readable ONNX file: {exc}") from exc
        names = {
            d.value for t in graph.graph.initializer for d in t.external_data if d.key == "location"
        }
        return sorted(self.onnx_path.parent / n for n in names)

    def _stored_bytes(self) -> int:
        return self.onnx_path.stat().st_size + sum(
            p.stat().st_size for p in self.external_files() if p.is_file()
        )

    def memory_needed(self, available: int | None = None) -> MemoryEstimate:
        """The estimate from the stored bytes (float32: 4 bytes a parameter)."""
        return require_memory(
            self.name, self._stored_bytes() // 4, self.dtype, ("F32",), self._config, available
        )

    def files_read(self) -> list[str]:
        """The named graph, its external data, the tokenizer files and configs."""
        graph = [self.onnx_path, *self.external_files()]
        names = [p.relative_to(self._folder).as_posix() for p in graph]
        extra = (*TOKENIZER_FILES, "config.json", "generation_config.json")
        return names + present_files(self._folder, extra)

    def _weights_vocab_size(self) -> int | None:
        return self._logits_width

    def _logits(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feeds: dict[str, np.ndarray] = {"input_ids": ids}
        if "attention_mask" in self._input_types:
            feeds["attention_mask"] = mask
        if "position_ids" in self._input_types:
            feeds["position_ids"] = np.clip(np.cumsum(mask, axis=-1) - 1, 0, None)
        feeds = {
            k: v.astype(self._input_types[k], copy=False)
            for k, v in feeds.items()
            if k in self._input_types
        }
        for name, spec in self._input_types.items():
            if isinstance(spec, EmptyPast):  # no cache: every position is computed afresh
                feeds[name] = spec.array(ids.shape[0])
        try:
            (logits,) = self._session.run(["logits"], feeds)
        except Exception as exc:
            raise ModelLoadError(f"Inference with {self.onnx_path} failed: {exc}") from exc
        return np.asarray(logits, dtype=np.float32)


def _check_graph(session: Any, path: Path) -> tuple[dict[str, Any], int | None, int | None]:
    """Input dtypes by name, logits width and any fixed batch size; ModelLoadError if unfit."""
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = {o.name: o for o in session.get_outputs()}
    if "logits" not in outputs:
        raise ModelLoadError(
            f"{path} has no output named 'logits' (outputs: {', '.join(outputs) or 'none'}). "
            "Distill Audit needs a causal language model graph that outputs logits "
            "[batch, sequence, vocab]; export it with Distill Audit's ONNX export."
        )
    past = {n: a for n, a in inputs.items() if n.startswith(PAST_PREFIX) or n == CACHE_BRANCH}
    unknown = [name for name in inputs if name not in KNOWN_INPUTS and name not in past]
    if "input_ids" not in inputs or unknown:
        raise ModelLoadError(
            f"{path} takes inputs {', '.join(inputs) or 'none'}; Distill Audit feeds only "
            "input_ids, attention_mask, position_ids and an empty KV cache "
            "(past_key_values.*); export the model as a causal language model "
            "(optimum-cli export onnx --task text-generation)."
        )
    types: dict[str, Any] = {}
    fixed_batch = None
    for name, arg in past.items():
        types[name] = _empty_past(name, arg, path)
    for name, arg in ((n, a) for n, a in inputs.items() if n not in past):
        if arg.type not in _INT_TYPES:
            raise ModelLoadError(
                f"{path}: input {name} has type {arg.type}; expected int64 or int32."
            )
        if len(arg.shape) != 2 or any(isinstance(d, int) and d > 0 for d in arg.shape[1:]):
            raise ModelLoadError(
                f"{path}: input {name} has shape {arg.shape}; expected [batch, sequence] with a "
                "dynamic sequence axis."
            )
        types[name] = _INT_TYPES[arg.type]
        if isinstance(arg.shape[0], int) and arg.shape[0] > 0:
            if arg.shape[0] != 1:
                raise ModelLoadError(
                    f"{path}: input {name} has a fixed batch size of {arg.shape[0]}; export it "
                    "with a dynamic batch axis (or a batch of 1)."
                )
            fixed_batch = 1
    shape = outputs["logits"].shape
    if len(shape) != 3:
        raise ModelLoadError(
            f"{path}: logits have shape {shape}; expected [batch, sequence, vocab]."
        )
    width = shape[2] if isinstance(shape[2], int) and shape[2] > 0 else None
    return types, width, fixed_batch


@dataclass(frozen=True)
class EmptyPast:
    """An input fed as an empty KV cache (zero past positions), or False for the cache
    branch: the graph then scores the whole input as if it had no cache."""

    dtype: Any
    dims: tuple[int, ...] = ()  # the shape with the batch axis 0 and the past axis 0
    flag: bool = False

    def array(self, batch: int) -> np.ndarray:
        if self.flag:
            return np.zeros((1,), dtype=np.bool_)
        shape = (batch, *self.dims[1:])
        return np.zeros(shape, dtype=self.dtype)


def _empty_past(name: str, arg: Any, path: Path) -> EmptyPast:
    """How to feed a cache input of a KV-cache export: [batch, heads, past, head_dim]."""
    if name == CACHE_BRANCH:
        return EmptyPast(np.bool_, flag=True)
    shape = list(arg.shape)
    if arg.type not in _FLOAT_TYPES or len(shape) != 4:
        raise ModelLoadError(
            f"{path}: cache input {name} has type {arg.type} and shape {shape}; expected a "
            "float [batch, heads, past, head_dim] tensor."
        )
    heads, head_dim = shape[1], shape[3]
    if not (isinstance(heads, int) and heads > 0 and isinstance(head_dim, int) and head_dim > 0):
        raise ModelLoadError(
            f"{path}: cache input {name} has shape {shape}; its heads and head size must be "
            "fixed to feed an empty cache."
        )
    return EmptyPast(_FLOAT_TYPES[arg.type], (0, heads, 0, head_dim))
