"""Every test of the GUI gets the dangling-thread check (tests/conftest.py refuses a Qt test
elsewhere that lacks it), so no test can leave a worker thread running."""

from __future__ import annotations

from tests.gui.fixtures import no_dangling_threads

__all__ = ["no_dangling_threads"]
