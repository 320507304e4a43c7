"""Finds label text a widget is too narrow to show (the layout tests' one rule)."""

from __future__ import annotations

from PySide6.QtWidgets import QAbstractButton, QCheckBox, QLabel, QRadioButton, QWidget

# Room a button / check box needs beside its text (frame, indicator), in pixels.
CHROME = {QCheckBox: 20, QRadioButton: 20}


def clipped(root: QWidget) -> list[str]:
    """Every visible QLabel / QPushButton / QCheckBox / QRadioButton whose text is cut."""
    out = []
    for w in root.findChildren(QWidget):
        if not w.isVisibleTo(root) or not isinstance(w, (QLabel, QAbstractButton)):
            continue
        if isinstance(w, QLabel):
            if w.wordWrap() or w.textFormat() == 1 or "<" in w.text():  # rich text wraps
                continue
            lines = _plain(w.text()).split("\n")
            need = max(w.fontMetrics().horizontalAdvance(t) for t in lines)
            room = w.contentsRect().width() - 2 * w.margin()
        else:
            text = _plain(w.text())
            need = w.fontMetrics().horizontalAdvance(text) + CHROME.get(type(w), 0)
            room = w.width() if type(w) in CHROME else w.width() - 6
        if text_of(w) and need > room:
            out.append(f"{type(w).__name__} {text_of(w)[:60]!r}: needs {need}px, has {room}px")
    return out


def _plain(text: str) -> str:
    """The text as drawn: a mnemonic's "&" is not shown ("&&" shows one)."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


def text_of(w: QWidget) -> str:
    return w.text() if isinstance(w, (QLabel, QAbstractButton)) else ""
