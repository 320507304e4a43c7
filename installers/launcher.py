"""Entry point of the frozen bundle: one program, two executables.

The PyInstaller spec builds ``distill-audit`` (console, the CLI) and
``distill-audit-gui`` (windowed, the desktop app) from this one script, so the heavy
dependency analysis runs once and both share one ``_internal`` folder. The name the
program was started as picks what runs, as in ``pyproject.toml``'s entry points:
``distill-audit = core.cli:main`` and ``distill-audit-gui = app.main:main``.
"""

from __future__ import annotations

import multiprocessing
import sys
from pathlib import Path


def program_name() -> str:
    """The name this program was started as: argv[0], not sys.executable, because on
    Linux ``distill-audit`` is a symbolic link to ``distill-audit-gui`` and the
    executable's own path is the link's target."""
    return Path(sys.argv[0] or sys.executable).stem.lower()


def main() -> int:
    multiprocessing.freeze_support()  # a frozen child process must not rerun main()
    import core  # noqa: F401 - forces HF_HUB_OFFLINE before anything imports transformers

    if program_name().endswith("-gui"):
        from app.main import main as run
    else:
        from core.cli import main as run
    return run()


if __name__ == "__main__":
    sys.exit(main())
