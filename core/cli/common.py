"""Shared CLI plumbing: opening the case file, printing, progress with Ctrl-C as Cancel."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from core.jobs import TerminalProgress
from core.store.db import CaseFile, open_case_file


def open_db(args: argparse.Namespace) -> CaseFile:
    """The case file of ``--db``; a change that must wait for another writer says so once."""
    return open_case_file(args.db, on_wait=say_waiting)


def say_waiting(message: str) -> None:
    """One line on stderr while a change waits for another process's write to finish."""
    print(f"distill-audit: {message}", file=sys.stderr, flush=True)


def emit(args: argparse.Namespace, data: Any, text: str) -> None:
    """Print JSON when --json was given, else the human-readable text."""
    if getattr(args, "json_output", False):
        print(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    else:
        print(text)


def table(rows: list[list[Any]], headers: list[str]) -> str:
    """A plain fixed-width text table."""
    cells = [[str(c) for c in r] for r in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(out)


@contextmanager
def progress(args: argparse.Namespace, description: str) -> Iterator[TerminalProgress]:
    """A progress bar on stderr; the first Ctrl-C asks the job to cancel cleanly."""
    enabled = sys.stderr.isatty() and not getattr(args, "quiet", False)
    state = TerminalProgress(description, enabled=enabled)
    previous = signal.getsignal(signal.SIGINT)

    def _cancel(signum: int, frame: object) -> None:
        state.cancel()
        signal.signal(signal.SIGINT, previous)  # a second Ctrl-C interrupts hard

    try:
        signal.signal(signal.SIGINT, _cancel)
    except ValueError:  # not in the main thread
        pass
    try:
        yield state
    finally:
        state.close()
        try:
            signal.signal(signal.SIGINT, previous)
        except ValueError:
            pass
