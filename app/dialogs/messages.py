"""Message boxes: errors with a plain message and a Details expander, and questions.

The main window reaches these only through its own ``show_error`` / ``ask_…`` methods,
which tests replace; nothing here is called directly by a test.
"""

from __future__ import annotations

import traceback

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from core.errors import DistillAuditError


def describe_error(error: BaseException, traceback_text: str = "") -> tuple[str, str]:
    """(plain message, details) for an exception: user errors read as they are, bugs say so.

    An expected failure (a typed error, or a disk / case-file failure core.failures
    explains) gets its one-line message and, as details, that message and what to do,
    never a traceback; only a bug's details carry the traceback for support.
    """
    from core.failures import explain, one_line

    explained = error if isinstance(error, DistillAuditError) else explain(error)
    if explained is not None:
        message = one_line(str(explained)) or type(explained).__name__
        return message, (
            f"{message}\n\nWhat to do: correct what the message names (a file, a setting, "
            "the disk) and try again. Nothing was changed by the step that stopped."
        )
    else:
        message = (
            f"Distill Audit hit an unexpected problem ({type(error).__name__}: {error}). "
            "This is a bug; nothing was changed by the step that failed. Please send "
            "the details below to support."
        )
    details = traceback_text or "".join(
        traceback.format_exception(type(error), error, error.__traceback__)
    )
    return message, f"{type(error).__module__}.{type(error).__qualname__}\n\n{details}"


def open_error_box(
    parent: QWidget | None, title: str, message: str, details: str = ""
) -> QMessageBox:
    """Show a window-modal error box without blocking (``open()``, not ``exec()``)."""
    box = QMessageBox(
        QMessageBox.Icon.Critical, title, message, QMessageBox.StandardButton.Ok, parent
    )
    box.setTextFormat(Qt.TextFormat.PlainText)
    if details:
        box.setDetailedText(details)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


def ask_yes_no(
    parent: QWidget | None, title: str, question: str, default_yes: bool = False
) -> bool:
    """A blocking yes/no question (only ever reached through a patchable ``ask_…`` method)."""
    Button = QMessageBox.StandardButton
    answer = QMessageBox.question(
        parent, title, question, Button.Yes | Button.No, Button.Yes if default_yes else Button.No
    )
    return answer == Button.Yes


def open_text_box(parent: QWidget | None, title: str, text: str) -> QWidget:
    """A non-blocking read-only text window (e.g. a job's partial results)."""
    from PySide6.QtWidgets import QDialog, QDialogButtonBox, QPlainTextEdit, QVBoxLayout

    dialog = QDialog(parent)
    dialog.setWindowTitle(title)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    view = QPlainTextEdit(text, dialog)
    view.setReadOnly(True)
    view.setAccessibleName(title)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, dialog)
    buttons.rejected.connect(dialog.reject)
    layout = QVBoxLayout(dialog)
    layout.addWidget(view)
    layout.addWidget(buttons)
    dialog.resize(560, 380)
    dialog.open()
    return dialog
