"""Name the system libraries Qt's X11 platform plugin needs and this machine lacks.

On a fresh Debian or Ubuntu the PySide6 wheel starts, then aborts with "could not load
the Qt platform plugin xcb" and a page of hints, because a few xcb libraries are not
installed. ``make app`` runs this first so the user reads one line naming the packages
to install instead. It only looks (``ldconfig -p`` and ``ctypes.util.find_library``);
it installs nothing, and it passes on systems it does not know (macOS, Windows, Wayland
or offscreen sessions) so it never stands in the way of a start that would work.

Usage: ``python installers/check_qt_libs.py`` (exit 1 and one line on stderr when a
library is missing).
"""

from __future__ import annotations

import ctypes.util
import os
import subprocess
import sys
from collections.abc import Callable, Iterable

# The library Qt's xcb plugin loads → the Debian/Ubuntu package that ships it.
XCB_LIBRARIES: dict[str, str] = {
    "xcb-cursor": "libxcb-cursor0",
    "xcb-icccm": "libxcb-icccm4",
    "xcb-keysyms": "libxcb-keysyms1",
    "xcb-image": "libxcb-image0",
    "xcb-render-util": "libxcb-render-util0",
    "xkbcommon-x11": "libxkbcommon-x11-0",
}


def _ldconfig_names() -> set[str]:
    """The sonames ``ldconfig -p`` lists (empty when ldconfig is not there)."""
    for ldconfig in ("ldconfig", "/sbin/ldconfig", "/usr/sbin/ldconfig"):
        try:
            out = subprocess.run(
                [ldconfig, "-p"], capture_output=True, text=True, timeout=10, check=False
            ).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        return {line.split()[0] for line in out.splitlines()[1:] if line.strip()}
    return set()


def present(name: str, known: set[str]) -> bool:
    """Whether ``lib<name>.so…`` is on the loader's path."""
    if any(so.startswith(f"lib{name}.so") for so in known):
        return True
    return ctypes.util.find_library(name) is not None


def missing_packages(
    libraries: dict[str, str] = XCB_LIBRARIES,
    is_present: Callable[[str], bool] | None = None,
) -> list[str]:
    """The packages whose library is missing, in the order of ``libraries``."""
    if is_present is None:
        known = _ldconfig_names()

        def is_present(name: str) -> bool:
            return present(name, known)

    return [package for lib, package in libraries.items() if not is_present(lib)]


def message(packages: Iterable[str]) -> str:
    """The one line the user reads."""
    names = " ".join(packages)
    return (
        f"The Qt window needs system libraries that are not installed; "
        f"install them with: sudo apt-get install {names}"
    )


def needs_xcb() -> bool:
    """Only a Linux X11 start loads the xcb plugin."""
    if not sys.platform.startswith("linux"):
        return False
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    return platform in ("", "xcb") and not (
        os.environ.get("WAYLAND_DISPLAY") and not os.environ.get("DISPLAY")
    )


def main() -> int:
    if not needs_xcb():
        return 0
    packages = missing_packages()
    if packages:
        print(message(packages), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
