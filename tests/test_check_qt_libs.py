"""installers/check_qt_libs.py names the missing xcb packages in one line (issue 18.11)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from installers.check_qt_libs import XCB_LIBRARIES, message, missing_packages, present

ROOT = Path(__file__).resolve().parents[1]


def test_names_exactly_the_packages_whose_library_is_missing() -> None:
    gone = {"xcb-cursor", "xcb-keysyms"}
    packages = missing_packages(is_present=lambda lib: lib not in gone)
    assert packages == ["libxcb-cursor0", "libxcb-keysyms1"]
    line = message(packages)
    assert "\n" not in line and line.endswith("apt-get install libxcb-cursor0 libxcb-keysyms1")
    assert missing_packages(is_present=lambda lib: True) == []
    assert {"libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1"} <= set(XCB_LIBRARIES.values())


def test_reads_the_loader_cache() -> None:
    assert present("xcb-cursor", {"libxcb-cursor.so.0"})
    assert not present("no-such-library-distill-audit", {"libxcb-cursor.so.0"})


def test_offscreen_start_is_not_checked() -> None:
    """The Makefile runs it before the GUI: it must pass where no X window is opened."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "installers" / "check_qt_libs.py")],
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and done.stderr == ""
