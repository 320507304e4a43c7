"""Streamed SHA-256 of evidence files (constant memory, progress, cancel) and manifests."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.jobs import JobState

CHUNK = 1 << 20  # 1 MiB


@dataclass(frozen=True)
class FileHash:
    path: str  # relative to the artifact root, POSIX separators
    sha256: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "size": self.size}


def sha256_file(path: Path, state: JobState | None = None, done: int = 0, total: int = 0) -> str:
    """SHA-256 of one file, read in 1 MiB chunks; progress is reported against ``total`` bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
            done += len(chunk)
            if state is not None:
                state.check_cancelled()
                if total:
                    state.set_progress(done, total)
    return h.hexdigest()


def hash_files(root: Path, files: list[Path], state: JobState | None = None) -> list[FileHash]:
    """Hash several files under ``root``, with one progress bar over their total size."""
    total = sum(f.stat().st_size for f in files) or 1
    done = 0
    out: list[FileHash] = []
    for f in sorted(files):
        if state is not None:
            state.set_status(f"Hashing {f.name}")
        digest = sha256_file(f, state, done, total)
        size = f.stat().st_size
        done += size
        rel = f.relative_to(root).as_posix() if f != root else f.name
        out.append(FileHash(rel, digest, size))
    return out


def manifest_digest(entries: list[FileHash]) -> str:
    """One hash identifying a whole multi-file artifact (over its sorted manifest)."""
    payload = json.dumps(
        [e.to_dict() for e in sorted(entries, key=lambda e: e.path)],
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()
