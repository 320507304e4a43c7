"""PyInstaller hook for PySide6.QtGui: the standard one, minus Qt plugins a desktop app
never loads (see EXCLUDED_QT_PLUGINS). Dropping them here, before the binary
dependency analysis, also keeps out the system libraries only they link against.

This file overrides PyInstaller's own hook-PySide6.QtGui.py because the spec lists
installers/hooks in ``hookspath``.
"""

from fnmatch import fnmatch

from PyInstaller.utils.hooks.qt import add_qt6_dependencies

EXCLUDED_QT_PLUGINS = {
    # Platforms for embedded devices and remote framebuffers; a desktop session uses
    # xcb or wayland (offscreen stays: the smoke test and headless runs use it).
    "platforms/libqeglfs.so": "EGL full-screen (embedded devices)",
    "platforms/libqlinuxfb.so": "Linux framebuffer (embedded devices)",
    "platforms/libqminimalegl.so": "EGL test platform",
    "platforms/libqvnc.so": "VNC server platform",
    "platforms/libqvkkhrdisplay.so": "Vulkan KHR display (embedded devices)",
    "egldeviceintegrations/*": "back ends of the eglfs platform only",
    # The GTK 3 theme plugin loads the system's GTK 3 next to the bundled copies of
    # glib, cairo and pango it would drag in (a mix that breaks); without it Qt draws
    # its Fusion style and file dialogs still go through the XDG desktop portal plugin.
    "platformthemes/libqgtk3.so": "GTK 3 theme integration",
}

hiddenimports, binaries, datas = add_qt6_dependencies(__file__)


def _wanted(dest_dir: str, src: str) -> bool:
    path = f"{dest_dir}/{src.rsplit('/', 1)[-1]}".replace("\\", "/")
    marker = "/plugins/"
    tail = path.split(marker, 1)[1] if marker in path else path
    return not any(fnmatch(tail, pattern) for pattern in EXCLUDED_QT_PLUGINS)


binaries = [(src, dest) for src, dest in binaries if _wanted(dest, src)]
