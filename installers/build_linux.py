"""Build the Linux installer: ``dist/distill-audit-<version>-linux-x86_64.tar.gz``.

``make installer`` runs this. Steps: PyInstaller runs ``installers/distill_audit.spec``
(work files in build/installer/work, reused by the next build); the one-folder bundle
gets ``install.sh``, the desktop entry, the MIME type and the icons beside it; the
folder is packed as ``distill-audit-<version>/`` into the tarball; the size breakdown
is printed and kept in build/installer/size-report.txt.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from installers.size_report import report  # noqa: E402

BUILD = ROOT / "build" / "installer"
DIST = ROOT / "dist"
NAME = "distill-audit"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def version() -> str:
    from core import __version__

    return __version__


def tarball_path() -> Path:
    return DIST / f"{NAME}-{version()}-linux-{platform.machine()}.tar.gz"


def run_pyinstaller() -> Path:
    cmd = [
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--log-level",
        "WARN",
        "--distpath",
        str(BUILD / "dist"),
        "--workpath",
        str(BUILD / "work"),
        str(HERE / "distill_audit.spec"),
    ]
    print("$ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)
    return BUILD / "dist" / NAME


def add_desktop_files(folder: Path) -> None:
    """install.sh and what it registers: desktop entry, MIME type, icons."""
    linux = HERE / "linux"
    shutil.copy2(linux / "install.sh", folder / "install.sh")
    (folder / "install.sh").chmod(0o755)
    share = folder / "share"
    for sub, src in (
        ("applications", linux / f"{NAME}.desktop"),
        ("mime/packages", linux / f"{NAME}-case.xml"),
        ("icons/hicolor/scalable/apps", ROOT / "resources" / "icons" / f"{NAME}.svg"),
    ):
        (share / sub).mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, share / sub / src.name)
    for size in ICON_SIZES:
        for kind, src, dest in (
            ("apps", f"{NAME}-{size}.png", f"{NAME}.png"),
            ("mimetypes", f"{NAME}-case-{size}.png", f"application-x-{NAME}-case.png"),
        ):
            target = share / "icons" / "hicolor" / f"{size}x{size}" / kind
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(HERE / "icons" / src, target / dest)


def main() -> int:
    if not sys.platform.startswith("linux"):
        print(
            "build_linux.py builds the Linux tarball; see installers/windows and "
            "installers/macos for the other systems",
            file=sys.stderr,
        )
        return 2
    started = time.monotonic()
    bundle = run_pyinstaller()
    built = time.monotonic()
    stage = BUILD / "stage"
    folder = stage / f"{NAME}-{version()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    bundle.rename(folder)  # the PyInstaller output becomes the tarball's folder
    add_desktop_files(folder)
    DIST.mkdir(exist_ok=True)
    out = tarball_path()
    partial = out.with_name(out.name + ".partial")
    subprocess.run(
        ["tar", "-C", str(stage), "--owner=0", "--group=0", "-czf", str(partial), folder.name],
        check=True,
    )
    partial.replace(out)
    packed = time.monotonic()
    text = report(folder)
    (BUILD / "size-report.txt").write_text(text + "\n", encoding="utf-8")
    print(text)
    print(f"\nWrote {out} ({out.stat().st_size / 1e6:.1f} MB compressed)")
    print(
        f"PyInstaller {built - started:.0f} s, packing {packed - built:.0f} s, "
        f"total {packed - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
