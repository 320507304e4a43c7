"""Per-model measurements kept for the life of the process, so a re-run does not recompute them.

A check run measures each model once (scores, generated answers). When the same model
(same path, format and manifest hash) is measured again with the same probes and every
setting that affects the numbers, e.g. in a leave-one-out sweep or when the reference
panel changes, the stored values are reused: they are exactly what a recomputation gives,
because every measurement is deterministic. Runs record which values were reused.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from typing import Any


def cache_key(parts: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of everything that determines a measurement."""
    text = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class MeasurementCache:
    """A small thread-safe LRU map from :func:`cache_key` to a measurement."""

    def __init__(self, max_entries: int = 128) -> None:
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.max_entries = max_entries

    def get(self, key: str) -> Any | None:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


MEASUREMENTS = MeasurementCache()
