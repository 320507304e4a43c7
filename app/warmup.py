"""Load the engine's heavier modules in the background once a case file is open.

The tabs read through core on the UI thread; the first read of the Policies or Analyses
tab would otherwise import numpy, scipy and matplotlib there and stall the window for a
second or more. A quiet job imports them first, one module at a time (so closing the
window waits for one import at most), including the model stack (torch, transformers)
that every check and experiment needs.

Then it calls :func:`gc.freeze`: the imported modules' millions of objects move to the
garbage collector's permanent generation. Core releases a model with ``gc.collect()``;
a full collection holds Python's GIL — and so freezes the window — for as long as it
scans every object (half a second with torch loaded); frozen objects are not scanned.
Freezing right after imports leaks nothing of note (imports leave almost no garbage).
"""

from __future__ import annotations

import gc
import importlib

from core.jobs import JobState

MODULES = (
    "core.store.findings",
    "core.policy.persist",
    "core.checks.stats",
    "core.reports.analyses",
    "matplotlib.figure",
    "core.reports.charts",
    "matplotlib.backends.backend_qtagg",
    "core.reports.gather",  # the Export report wizard imports these on the UI thread
    "core.reports.export",
    "torch",
    "transformers",
    "safetensors.torch",
    "transformers.modeling_utils",
    "transformers.generation",
    "transformers.models.auto.modeling_auto",
    "transformers.models.auto.tokenization_auto",
    "core.backends.torch_backend",
    "core.checks.runner",
)


def warm_up(state: JobState, modules: tuple[str, ...] = MODULES) -> int:
    """Job body: import ``modules``, then freeze what exists; returns how many were imported."""
    for n, name in enumerate(modules):
        state.check_cancelled()
        importlib.import_module(name)
        state.set_progress(n + 1, len(modules))
    gc.freeze()
    return len(modules)
