"""How much memory a model needs at a precision, checked before anything is loaded.

An estimate from the files alone (safetensors headers, the ONNX graph's size), compared
with the memory the machine has free (psutil, else /proc/meminfo MemAvailable). A model
that would not fit is refused with the figures and the precisions that would fit, before
the run is created, so the case file is left as it was; loading it anyway would end in
the operating system killing the application with nothing recorded.

Figures: weights at the chosen precision plus ~12 % loader overhead (measured: float32
weights take ~4.5 bytes per parameter once loaded), plus a working budget for one
scoring batch (the float32 logits twice, as the model returns them and as their
log-softmax, and the hidden activations of the batch's tokens). int8 converts from
float32, so its peak is the float32 load.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.backends.precision import BYTES_PER_PARAMETER, DTYPES, resolve_dtype
from core.errors import InsufficientMemoryError

LOAD_OVERHEAD = 1.125
BASE_WORKING_BYTES = 128 * 2**20
LOGITS_BUDGET_BYTES = 512 * 2**20  # one batch's float32 logits (core.backends.batched_model)
GB = 1e9


@dataclass(frozen=True)
class MemoryEstimate:
    """What loading one model at one precision needs, and what the machine has free."""

    model: str
    dtype: str
    parameters: int
    weights_bytes: int
    working_bytes: int
    peak_bytes: int
    available_bytes: int | None

    @property
    def fits(self) -> bool:
        return self.available_bytes is None or self.peak_bytes <= self.available_bytes

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "fits": self.fits}


def available_memory() -> int | None:
    """Bytes the machine can give a new allocation now (None when it cannot be told)."""
    try:
        import psutil  # type: ignore[import-untyped]

        return int(psutil.virtual_memory().available)
    except Exception:  # psutil missing or unsupported platform: fall back to /proc
        pass
    try:
        for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def working_bytes(config: dict[str, Any]) -> int:
    """Memory one scoring batch needs beside the weights (logits and activations)."""
    cfg = config.get("text_config") if isinstance(config.get("text_config"), dict) else config
    assert isinstance(cfg, dict)
    vocab = _int(cfg, "vocab_size") or 50_000
    hidden = _int(cfg, "hidden_size", "n_embd", "d_model") or 4096
    inner = _int(cfg, "intermediate_size", "n_inner", "ffn_dim") or 4 * hidden
    tokens = max(256, min(8192, LOGITS_BUDGET_BYTES // (4 * vocab)))
    logits = tokens * vocab * 4
    return int(BASE_WORKING_BYTES + 2 * logits + tokens * (hidden + inner) * 4 * 2)


def estimate(
    name: str,
    parameters: int,
    dtype: str,
    config: dict[str, Any],
    available: int | None,
) -> MemoryEstimate:
    """The estimate for ``parameters`` at the resolved ``dtype`` (not ``auto``)."""
    weights = int(parameters * BYTES_PER_PARAMETER[dtype] * LOAD_OVERHEAD)
    work = working_bytes(config)
    peak = weights + work
    if dtype == "int8":  # converted from a float32 load
        peak = max(peak, int(parameters * BYTES_PER_PARAMETER["float32"] * LOAD_OVERHEAD))
    return MemoryEstimate(name, dtype, parameters, weights, work, peak, available)


def require_memory(
    name: str,
    parameters: int,
    requested: str,
    stored_dtypes: tuple[str, ...],
    config: dict[str, Any],
    available: int | None = None,
) -> MemoryEstimate:
    """The estimate at the precision ``requested`` resolves to; InsufficientMemoryError,
    with the figures and the precisions that would fit, when it does not fit."""
    free = available_memory() if available is None else available
    dtype = resolve_dtype(requested, stored_dtypes)
    need = estimate(name, parameters, dtype, config, free)
    if need.fits:
        return need
    assert free is not None
    others = [
        estimate(name, parameters, d, config, free) for d in DTYPES if d not in ("auto", dtype)
    ]
    fitting = [o for o in others if o.fits]
    options = (
        "; ".join(f"{o.dtype} needs about {_gb(o.peak_bytes)}" for o in fitting)
        if fitting
        else "no precision fits: close other programs or use a machine with more memory"
    )
    raise InsufficientMemoryError(
        f"{name} ({_count(parameters)} parameters) at {dtype} needs about {_gb(need.peak_bytes)} "
        f"of memory (weights {_gb(need.weights_bytes)} + working {_gb(need.working_bytes)}) "
        f"but {_gb(free)} is free; it was not loaded and the case file is unchanged. "
        f"Options that fit: {options} (check --dtype, or Settings → Model precision)."
    )


def _int(cfg: dict[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = cfg.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _gb(n: int) -> str:
    return f"{n / GB:.1f} GB" if n >= 0.1 * GB else f"{math.ceil(n / 2**20)} MB"


def _count(n: int) -> str:
    return f"{n / 1e9:.2f} B" if n >= 1e9 else f"{n / 1e6:.1f} M"
