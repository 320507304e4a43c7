"""Synthetic provider request logs (OpenAI-style records), written streamed to disk.

Shared by tests/test_traffic_import.py and tests/benchmarks/bench_traffic_import.py: a
record per request with the nested ``choices`` and ``usage`` of a chat completion log.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

T0 = 1_740_000_000  # 2025-02-19T21:20:00Z


def record(i: int, accounts: int = 250, *, prefix: str = "req") -> dict[str, Any]:
    """The ``i``-th request of the synthetic log."""
    return {
        "created": T0 + i,
        "id": f"{prefix}-{i:09d}",
        "user": f"acct-{i % accounts:05d}",
        "model": "lumen-2" if i % 3 else "lumen-2-mini",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": f"Explain step {i % 997} of the proof, carefully."},
        ],
        "choices": [{"message": {"role": "assistant", "content": f"Step {i % 997} follows."}}],
        "usage": {"prompt_tokens": 20 + i % 7, "completion_tokens": 30 + i % 11},
        "temperature": 0.7,
        "top_p": 0.95,
        "ip": f"10.0.{i % 256}.{i % 251}",
    }


def lines(n: int, accounts: int = 250, *, prefix: str = "req") -> Iterator[str]:
    for i in range(n):
        yield json.dumps(record(i, accounts, prefix=prefix)) + "\n"


def write_log(
    path: Path, n: int, *, accounts: int = 250, bad: dict[int, str] | None = None
) -> Path:
    """Write ``n`` records as JSONL (gzipped when the name ends in .gz); ``bad`` puts a raw
    line before record i (so it lands on line i + 1 + the bad lines before it)."""
    bad = bad or {}
    opener: Any = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8", newline="\n") as fh:
        for i, line in enumerate(lines(n, accounts)):
            if i in bad:
                fh.write(bad[i] + "\n")
            fh.write(line)
    return path
