"""``distill-audit``: headless commands over the same core functions the GUI calls.

User errors print one line on stderr and exit non-zero (2; 130 when cancelled); there is
no traceback unless DISTILL_AUDIT_DEBUG=1. ``--json`` prints machine-readable output.
Each command group lives in its own module and registers itself with ``add_parser``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from core import __version__
from core.errors import DistillAuditError

from . import cases, check, demo, evidence, experiment, maintenance, policy, report

GROUPS = (cases, evidence, policy, maintenance, check, report, demo, experiment)


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
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except DistillAuditError as exc:
        if os.environ.get("DISTILL_AUDIT_DEBUG"):
            raise
        print(f"distill-audit: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("distill-audit: cancelled", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
