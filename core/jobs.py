"""The progress / cancellation contract every long task in core takes.

A long function has the shape ``run(inputs..., state: JobState)``: it calls
``state.set_status`` and ``state.set_progress``, may hand over partial results with
``state.set_partial_result``, and calls ``state.check_cancelled()`` between units of
work (raising :class:`core.errors.Cancelled`). Core knows nothing of Qt: the CLI passes
a :class:`TerminalProgress` (a tqdm bar), the GUI a subclass that emits signals.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from core.errors import Cancelled


class JobState:
    """Default, silent state: records progress, honours :meth:`cancel` from any thread."""

    def __init__(self) -> None:
        self._cancel = threading.Event()
        self.status = ""
        self.progress = 0.0  # 0..100
        self.partial_results: list[Any] = []
        self.started = time.monotonic()

    # --- called by the task ------------------------------------------------------
    def set_status(self, text: str) -> None:
        self.status = text
        self.on_status(text)

    def set_progress(self, done: float, total: float | None = None) -> None:
        """Progress as ``done`` of ``total`` units, or as a percentage when total is None."""
        pct = 100.0 * done / total if total else float(done)
        pct = max(0.0, min(100.0, pct))
        self.progress = pct
        self.on_progress(pct)

    def set_partial_result(self, value: Any) -> None:
        self.partial_results.append(value)
        self.on_partial_result(value)

    def is_interruption_requested(self) -> bool:
        return self._cancel.is_set()

    def check_cancelled(self) -> None:
        """Raise :class:`Cancelled` when the user asked to stop."""
        if self._cancel.is_set():
            raise Cancelled("Cancelled by the user.")

    def sub(self, start: float, end: float) -> SubState:
        """A view that maps 0..100 of a sub-task onto ``start..end`` of this job."""
        return SubState(self, start, end)

    # --- called by the owner -----------------------------------------------------
    def cancel(self) -> None:
        self._cancel.set()

    # --- hooks for front ends ----------------------------------------------------
    def on_status(self, text: str) -> None:  # pragma: no cover - hook
        pass

    def on_progress(self, percent: float) -> None:  # pragma: no cover - hook
        pass

    def on_partial_result(self, value: Any) -> None:  # pragma: no cover - hook
        pass

    def eta_seconds(self) -> float | None:
        """Naive linear estimate of the remaining time, None before any progress."""
        if self.progress <= 0.0:
            return None
        elapsed = time.monotonic() - self.started
        return elapsed * (100.0 - self.progress) / self.progress


class SubState(JobState):
    """Forwards everything to a parent, rescaling progress into a sub-range."""

    def __init__(self, parent: JobState, start: float, end: float) -> None:
        super().__init__()
        self._parent = parent
        self._start, self._end = start, end
        self._cancel = parent._cancel

    def set_status(self, text: str) -> None:
        self._parent.set_status(text)

    def set_progress(self, done: float, total: float | None = None) -> None:
        pct = 100.0 * done / total if total else float(done)
        pct = max(0.0, min(100.0, pct))
        self.progress = pct
        self._parent.set_progress(self._start + (self._end - self._start) * pct / 100.0)

    def set_partial_result(self, value: Any) -> None:
        self._parent.set_partial_result(value)


class CallbackState(JobState):
    """A state that calls plain functions; handy in tests and scripts."""

    def __init__(
        self,
        on_progress: Callable[[float], None] | None = None,
        on_status: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__()
        self._p, self._s = on_progress, on_status

    def on_progress(self, percent: float) -> None:
        if self._p:
            self._p(percent)

    def on_status(self, text: str) -> None:
        if self._s:
            self._s(text)


class TerminalProgress(JobState):
    """A tqdm progress bar on stderr; Ctrl-C cancels cleanly through the same contract."""

    def __init__(self, description: str = "", enabled: bool = True) -> None:
        super().__init__()
        self._bar = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(
                total=100,
                desc=description,
                unit="%",
                leave=False,
                dynamic_ncols=True,
                bar_format="{desc} {bar} {percentage:3.0f}% [{elapsed}<{remaining}] {postfix}",
            )

    def on_progress(self, percent: float) -> None:
        if self._bar is not None:
            self._bar.n = round(percent, 1)
            self._bar.refresh()

    def on_status(self, text: str) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(text[:60], refresh=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> TerminalProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
