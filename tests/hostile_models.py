"""Hand-made model folders for hostile-input tests: a real safetensors layout with any
header, a minimal tokenizer, and row counts of a case file to prove nothing was written.

The folders are small (a few KB) and written byte for byte, so a test can forge exactly
the header, index or link it is about without building a real model.
"""

from __future__ import annotations

import json
import sqlite3
import struct
from pathlib import Path
from typing import Any

TABLES = (
    "model_artifacts",
    "transcript_sets",
    "transcript_items",
    "audit_events",
    "policies",
    "clauses",
)


def safetensors_bytes(header: dict[str, Any] | bytes, data: bytes = b"") -> bytes:
    """A safetensors file: 8-byte little-endian header length, the header, then ``data``."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def f32_header(*shapes: list[int]) -> tuple[dict[str, Any], bytes]:
    """A valid header of F32 tensors with these shapes, packed back to back, and the data."""
    header: dict[str, Any] = {}
    offset = 0
    for i, shape in enumerate(shapes):
        n = 4
        for d in shape:
            n *= d
        header[f"t{i}"] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    return header, b"\0" * offset


def minimal_folder(
    folder: Path,
    header: dict[str, Any] | bytes | None = None,
    data: bytes | None = None,
    *,
    config: dict[str, Any] | bytes | None = None,
) -> Path:
    """A model folder that imports as it is: config.json, model.safetensors, vocab.txt."""
    folder.mkdir(parents=True, exist_ok=True)
    if header is None:
        header, default_data = f32_header([4, 4])
        data = default_data if data is None else data
    cfg = config if config is not None else {"model_type": "gpt2", "vocab_size": 5}
    (folder / "config.json").write_bytes(
        cfg if isinstance(cfg, bytes) else json.dumps(cfg).encode()
    )
    (folder / "model.safetensors").write_bytes(safetensors_bytes(header, data or b""))
    (folder / "vocab.txt").write_text("[PAD]\n[UNK]\nthe\nmodel\nanswer\n", encoding="utf-8")
    return folder


def row_counts(case_path: Path) -> dict[str, int]:
    """Rows in every evidence and audit table of a case file (read with plain sqlite3)."""
    con = sqlite3.connect(f"file:{case_path}?mode=ro", uri=True)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        con.close()


def deep_json(depth: int) -> str:
    """``{"a": [[[...]]]}``: valid JSON nested ``depth`` levels deep."""
    return '{"a": ' + "[" * depth + "]" * depth + "}"
