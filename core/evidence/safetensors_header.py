"""Read and validate a safetensors header without loading any tensor (and without torch).

Catches truncated, corrupt or forged files before any loader sees them, and gives the
parameter count and dtypes for the evidence record. The count is only believed when the
bytes are there: every tensor's shape times its dtype's size must equal the bytes its
offsets span, and tensors may not overlap, so a 125 KB file cannot claim 10^10 parameters.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import EvidenceError
from core.evidence.formats import parse_json

_MAX_HEADER = 100 * 1024 * 1024
_MAX_DIM = 2**62  # far above any real dimension; keeps every product an SQLite INTEGER

# Bits per element of each safetensors dtype (the format's own list, sub-byte floats too).
DTYPE_BITS = {
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "C64": 64,
    "I64": 64,
    "U64": 64,
    "F64": 64,
}


@dataclass(frozen=True)
class SafetensorsInfo:
    tensors: int
    parameters: int
    dtypes: tuple[str, ...]
    names: tuple[str, ...]


@dataclass(frozen=True)
class _Tensor:
    name: str
    dtype: str
    elements: int
    begin: int
    end: int


def read_header(path: Path) -> SafetensorsInfo:
    """Validate the header and that every tensor's bytes lie inside the file, in place."""
    size = path.stat().st_size
    if size < 8:
        raise EvidenceError(f"{path.name} is empty or truncated (only {size} bytes).")
    with open(path, "rb") as fh:
        (n,) = struct.unpack("<Q", fh.read(8))
        if n > _MAX_HEADER or n + 8 > size:
            raise EvidenceError(
                f"{path.name} is not a valid safetensors file (its header length, {n:,} "
                f"bytes, does not fit in the file of {size:,} bytes)."
            )
        raw = fh.read(n)
    header = parse_json(raw, f"{path.name} (safetensors header)")
    if not isinstance(header, dict):
        raise EvidenceError(f"{path.name} is not a valid safetensors file (header is not a table).")
    data_len = size - 8 - n
    tensors = [_tensor(path, name, meta) for name, meta in header.items() if name != "__metadata__"]
    previous_end, previous = 0, ""
    for t in sorted(tensors, key=lambda t: (t.begin, t.end)):
        if t.begin < previous_end:
            raise EvidenceError(
                f"{path.name}: tensors {previous!r} and {t.name!r} claim the same bytes; a "
                "genuine safetensors file stores each tensor in its own bytes. The file has "
                "been altered or damaged; copy it again from its source."
            )
        previous_end, previous = t.end, t.name
    if previous_end > data_len:
        raise EvidenceError(
            f"{path.name} is truncated: its header describes {previous_end:,} bytes of tensor "
            f"data but the file holds {data_len:,}. Copy the file again from its source."
        )
    params = sum(t.elements for t in tensors)
    dtypes = tuple(sorted({t.dtype for t in tensors}))
    return SafetensorsInfo(len(tensors), params, dtypes, tuple(t.name for t in tensors))


def _tensor(path: Path, name: str, meta: Any) -> _Tensor:
    """One header entry checked: known dtype, shape of non-negative ints, offsets that are
    ints in order and span exactly the bytes the shape and dtype need."""

    def bad(why: str) -> EvidenceError:
        return EvidenceError(
            f"{path.name}: tensor {name[:80]!r} has a malformed entry ({why}). The file is "
            "damaged or not a genuine safetensors file; copy it again from its source."
        )

    if not isinstance(meta, dict):
        raise bad("not a table")
    dtype, shape, offsets = meta.get("dtype"), meta.get("shape"), meta.get("data_offsets")
    if not isinstance(dtype, str) or dtype not in DTYPE_BITS:
        raise bad(f"unknown dtype {str(dtype)[:20]!r}")
    if not isinstance(shape, list) or not all(_is_count(d) for d in shape):
        raise bad("its shape is not a list of non-negative whole numbers")
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(map(_is_count, offsets)):
        raise bad("its data offsets are not two non-negative whole numbers")
    begin, end = offsets
    if begin > end:
        raise bad("its data offsets are in the wrong order")
    elements = 1
    for d in shape:
        elements *= d
        if elements > _MAX_DIM:
            raise bad("its shape describes more elements than any file can hold")
    bits = elements * DTYPE_BITS[dtype]
    if bits % 8 or bits // 8 != end - begin:
        raise bad(
            f"its shape {shape} of {dtype} needs {bits / 8:,.0f} bytes but its offsets span "
            f"{end - begin:,}"
        )
    return _Tensor(name, dtype, elements, begin, end)


def _is_count(value: Any) -> bool:
    """A JSON whole number that is not negative and not absurd (bool is not a number)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_DIM
