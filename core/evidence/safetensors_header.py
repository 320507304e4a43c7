"""Read and validate a safetensors header without loading any tensor (and without torch).

Catches truncated or corrupt files before any loader sees them, and gives the parameter
count and dtypes for the evidence record.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path

from core.errors import EvidenceError

_MAX_HEADER = 100 * 1024 * 1024


@dataclass(frozen=True)
class SafetensorsInfo:
    tensors: int
    parameters: int
    dtypes: tuple[str, ...]
    names: tuple[str, ...]


def read_header(path: Path) -> SafetensorsInfo:
    """Validate the header and that every tensor's bytes lie inside the file."""
    size = path.stat().st_size
    if size < 8:
        raise EvidenceError(f"{path.name} is empty or truncated (only {size} bytes).")
    with open(path, "rb") as fh:
        (n,) = struct.unpack("<Q", fh.read(8))
        if n > _MAX_HEADER or n + 8 > size:
            raise EvidenceError(f"{path.name} is not a valid safetensors file (bad header length).")
        raw = fh.read(n)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EvidenceError(
            f"{path.name} is not a valid safetensors file (unreadable header)."
        ) from exc
    if not isinstance(header, dict):
        raise EvidenceError(f"{path.name} is not a valid safetensors file (header is not a table).")
    data_len = size - 8 - n
    params = 0
    dtypes: set[str] = set()
    names: list[str] = []
    max_end = 0
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        try:
            begin, end = meta["data_offsets"]
            shape = meta["shape"]
            dtypes.add(str(meta["dtype"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise EvidenceError(f"{path.name}: tensor {name!r} has a malformed entry.") from exc
        if not (0 <= begin <= end):
            raise EvidenceError(f"{path.name}: tensor {name!r} has invalid offsets.")
        max_end = max(max_end, end)
        params += math.prod(shape) if shape else 1
        names.append(name)
    if max_end > data_len:
        raise EvidenceError(
            f"{path.name} is truncated: its header describes {max_end:,} bytes of tensor data "
            f"but the file holds {data_len:,}. Copy the file again from its source."
        )
    return SafetensorsInfo(len(names), params, tuple(sorted(dtypes)), tuple(names))
