"""Opening a case's models for a run: the chosen precision, the memory it needs, custody.

Before the run is created, every model the run will load is opened lazily (names and
headers only) and checked: the files its load would read must all be files the import
hashed (the manifest), and it must fit in the memory the machine has free at the chosen
precision. A refusal raises before anything is written, so the case file is unchanged.
What each load read, at which precision, is recorded with the run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from core.backends.base import LanguageModel
from core.checks.chat import rendered_example, template_for
from core.checks.evidence import ModelRef
from core.checks.probes import Probe
from core.checks.settings import CheckSettings
from core.errors import EvidenceChangedError


def open_model(ref: ModelRef, settings: CheckSettings) -> LanguageModel:
    """The model of ``ref`` at the run's precision (lazy: nothing heavy is loaded yet),
    refused when its load would read a file the import did not hash."""
    from core.backends.factory import load_model

    model = load_model(
        ref.path, name=ref.label, num_threads=settings.num_threads, dtype=settings.dtype
    )
    require_hashed(model, ref)
    return model


def require_hashed(model: Any, ref: ModelRef) -> None:
    """EvidenceChangedError when the load would read a file that is not in the manifest."""
    if not ref.files:  # a reference built without its manifest (not from a case file)
        return
    read = getattr(model, "files_read", None)
    names = read() if callable(read) else []
    unhashed = sorted(set(names) - set(ref.files))
    if unhashed:
        more = f" and {len(unhashed) - 5} more" if len(unhashed) > 5 else ""
        listed = ", ".join(unhashed[:5]) + more
        raise EvidenceChangedError(
            f"Loading {ref.label} would read {listed}, which the import did not hash; the "
            "folder has changed since it was imported, so nothing was run. Re-import the "
            "model folder (a new hash) or restore it as imported."
        )


def preflight(
    refs: Iterable[ModelRef], settings: CheckSettings, probes: Sequence[Probe] = ()
) -> dict[str, Any]:
    """Check every model the run will load (custody and memory) before the run exists;
    returns what the run records of each: backend, precision, the files it reads and its
    chat template with the first probe rendered through it (only the tokenizer is loaded)."""
    record: dict[str, Any] = {}
    for ref in refs:
        model = open_model(ref, settings)
        memory = getattr(model, "memory_needed", None)
        estimate = memory() if callable(memory) else None  # InsufficientMemoryError
        files = getattr(model, "files_read", None)
        record[ref.label] = {
            "backend": model.backend,
            "dtype_requested": settings.dtype,
            "dtype": getattr(model, "resolved_dtype", "float32"),
            "files_read": files() if callable(files) else [],
            "memory_estimate": estimate.to_dict() if estimate is not None else None,
            "chat_template": rendered_example(template_for(model, settings), probes),
        }
        model.release()
    return record
