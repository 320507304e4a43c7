"""The numeric precision a model is run at, and what "auto" resolves to on this CPU.

Float32 is exact but costs 4 bytes per parameter (a 7B model needs ~31 GB); the
checkpoint's own bfloat16/float16 halves that and scores within rounding of float32;
int8 (dynamic quantisation of the linear layers) quarters the resident weights. The
choice is a setting of the run (``CheckSettings.dtype``, ``check --dtype``, the GUI's
Settings) and the resolved precision is recorded with it, so a reader can tell which
arithmetic produced each number.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from core.errors import DistillAuditError

AUTO = "auto"
DTYPES = ("auto", "float32", "bfloat16", "float16", "int8")
# Resident bytes per parameter at each precision (int8: linear weights at 1 byte plus a
# float32 scale per row; embeddings and norms stay float32, hence a little over 1).
BYTES_PER_PARAMETER = {"float32": 4.0, "bfloat16": 2.0, "float16": 2.0, "int8": 1.25}
# What safetensors / config.json call the checkpoint's own precision.
_CHECKPOINT_NAMES = {
    "BF16": "bfloat16",
    "F16": "float16",
    "F32": "float32",
    "bfloat16": "bfloat16",
    "float16": "float16",
    "float32": "float32",
}
# CPU features under which PyTorch runs each half precision at full speed.
_FAST_ON = {"bfloat16": ("avx512_bf16", "amx_bf16"), "float16": ("avx512_fp16", "amx_fp16")}


def check_dtype(dtype: str) -> str:
    """``dtype`` when it is one Distill Audit offers; DistillAuditError naming them otherwise."""
    if dtype not in DTYPES:
        raise DistillAuditError(
            f"Unknown precision {dtype!r}; choose one of {', '.join(DTYPES)} (auto: the "
            "checkpoint's own bfloat16/float16 where this CPU runs it well, else float32)."
        )
    return dtype


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[-1].split())
    return frozenset()


def checkpoint_dtype(stored: Iterable[str]) -> str | None:
    """The checkpoint's floating precision from its tensors' dtypes (BF16, F16, F32, …)."""
    names = {_CHECKPOINT_NAMES[d] for d in stored if d in _CHECKPOINT_NAMES}
    for candidate in ("bfloat16", "float16"):  # a half-precision checkpoint with F32 norms
        if candidate in names:
            return candidate
    return "float32" if names else None


def resolve_dtype(
    requested: str, stored: Iterable[str], flags: frozenset[str] | None = None
) -> str:
    """The precision a load uses: ``requested``, or for ``auto`` the checkpoint's own half
    precision when this CPU has the instructions for it, else float32."""
    check_dtype(requested)
    if requested != AUTO:
        return requested
    own = checkpoint_dtype(stored)
    have = cpu_flags() if flags is None else flags
    if own in _FAST_ON and any(f in have for f in _FAST_ON[own]):
        return own
    return "float32"
