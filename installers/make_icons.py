"""Render the app icon (resources/icons/distill-audit.svg) for the installers.

Writes, into installers/icons/ (committed, so a release build needs no renderer):

* ``distill-audit-<N>.png`` for the Linux hicolor theme (16 … 512 px),
* ``distill-audit-case-<N>.png``: the case-file (document) icon the MIME type shows,
* ``distill-audit.ico`` (Windows: executable, installer, file association),
* ``distill-audit.icns`` (macOS: the .app bundle and the .dacase document type).

The SVG is rendered by Qt's own SVG renderer (QtSvg ships in PySide6-Essentials), the
.ico and .icns are packed by Pillow (a matplotlib dependency). Run it again only when
the SVG changes: ``.venv/bin/python installers/make_icons.py``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = Path(__file__).resolve().parent / "icons"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def render(size: int, document: bool = False):  # -> QImage
    """The icon at ``size`` px; ``document`` draws it on a folded sheet (case files)."""
    from PySide6.QtCore import QPointF, QRectF, Qt
    from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen
    from PySide6.QtSvg import QSvgRenderer

    from core.resources import resource_path

    renderer = QSvgRenderer(str(resource_path("icons", "distill-audit.svg")))
    if not renderer.isValid():
        raise SystemExit("cannot read resources/icons/distill-audit.svg")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    if document:
        s = float(size)
        fold = s * 0.22
        sheet = QPainterPath(QPointF(s * 0.14, s * 0.03))
        for x, y in (
            (s * 0.86 - fold, s * 0.03),
            (s * 0.86, s * 0.03 + fold),
            (s * 0.86, s * 0.97),
            (s * 0.14, s * 0.97),
        ):
            sheet.lineTo(QPointF(x, y))
        sheet.closeSubpath()
        painter.setPen(QPen(QColor("#7a8796"), max(1.0, s / 64)))
        painter.setBrush(QColor("#ffffff"))
        painter.drawPath(sheet)
        renderer.render(painter, QRectF(s * 0.24, s * 0.36, s * 0.52, s * 0.52))
    else:
        renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return image


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PIL import Image
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])  # noqa: F841
    OUT.mkdir(exist_ok=True)
    for size in SIZES:
        render(size).save(str(OUT / f"distill-audit-{size}.png"))
        render(size, document=True).save(str(OUT / f"distill-audit-case-{size}.png"))
    big = Image.open(OUT / "distill-audit-512.png").convert("RGBA")
    big.save(OUT / "distill-audit.ico", sizes=[(s, s) for s in (16, 24, 32, 48, 64, 128, 256)])
    big.save(OUT / "distill-audit.icns")
    doc = Image.open(OUT / "distill-audit-case-512.png").convert("RGBA")
    doc.save(OUT / "distill-audit-case.ico", sizes=[(s, s) for s in (16, 24, 32, 48, 64, 128, 256)])
    doc.save(OUT / "distill-audit-case.icns")
    for path in sorted(OUT.iterdir()):
        print(f"{path.relative_to(ROOT)}  {path.stat().st_size:>8} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
