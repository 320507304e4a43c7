"""``distill-audit``: headless commands over the same core functions the GUI calls.

User errors print one line on stderr and exit non-zero (2; 130 when cancelled, 143 when
terminated); there is no traceback unless DISTILL_AUDIT_DEBUG=1. Expected failures of the
world outside (full disk, read-only media, damaged files, undecodable input) are turned
into typed errors by :func:`core.failures.explain` first; anything else is a bug and keeps
its traceback. ``--json`` prints machine-readable output. Each command group lives in its
own module and registers itself with ``add_parser``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from core import __version__
from core.errors import Terminated
from core.failures import explain, one_line
from core.store.runs import recorded_invocation

from . import (
    capture,
    cases,
    check,
    demo,
    evidence,
    experiment,
    maintenance,
    policy,
    report,
    rerun,
    traffic,
    traffic_analysis,
)

# traffic_analysis joins the ``traffic`` group that core/cli/traffic.py creates: keep it
# after that module here.
GROUPS = (
    cases,
    evidence,
    policy,
    maintenance,
    check,
    capture,
    report,
    demo,
    experiment,
    traffic,
    traffic_analysis,
    rerun,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="distill-audit",
        description="Distill Audit: was a suspect model trained on a protected model's "
        "outputs, and which terms did that break?",
    )
    parser.add_argument("--version", action="version", version=f"distill-audit {__version__}")
    parser.add_argument(
        "--db",
        metavar="PATH",
        help="case file (default: the workspace case "
        "file in your data folder, or $DISTILL_AUDIT_DB)",
    )
    parser.add_argument(
        "--json", dest="json_output", action="store_true", help="machine-readable JSON on stdout"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    try:
        with _terminate_cleanly(), _recording(args, argv):
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("distill-audit: cancelled", file=sys.stderr)
        return 130
    except Terminated as exc:
        print(
            "distill-audit: stopped: asked to terminate; unfinished work was not saved",
            file=sys.stderr,
        )
        return exc.exit_code
    except Exception as exc:
        error = explain(exc, _case_file(args))
        if error is None or os.environ.get("DISTILL_AUDIT_DEBUG"):
            raise
        message = str(error)
        if "\n" in message:
            message = one_line(message)
        print(f"distill-audit: error: {message}", file=sys.stderr)
        return error.exit_code


RUN_COMMANDS = ("check", "experiment")
"""Commands whose runs record their own command line (relative paths) as the one to repeat."""


def _recording(args: argparse.Namespace, argv: list[str]) -> AbstractContextManager[None]:
    return recorded_invocation(argv) if args.command in RUN_COMMANDS else nullcontext()


def _case_file(args: argparse.Namespace) -> str | None:
    """The case file a command works on, to name it in messages about SQLite errors."""
    return getattr(args, "check_db", None) or args.db or os.environ.get("DISTILL_AUDIT_DB")


@contextmanager
def _terminate_cleanly() -> Iterator[None]:
    """SIGTERM (``kill``) raises :class:`Terminated`, so half-written files are removed."""

    def _raise(signum: int, frame: Any) -> None:
        raise Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, _raise)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
