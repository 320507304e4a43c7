"""Everyday features of the window: the text size setting, Help and glossary."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtWidgets import QApplication

from app.settings import settings_path
from core.reports.wording import glossary
from tests.gui.fixtures import window

__all__ = ["window"]


def test_text_size_setting_applies_app_wide_and_persists(window: Any) -> None:
    system = QApplication.font().pointSizeF()
    dialog = window.case_files.edit_settings()
    assert dialog.font_size.text() == "System default"
    dialog.font_size.setValue(15)
    dialog.accept()
    try:
        assert window.settings.font_size == 15
        assert QApplication.font().pointSizeF() == 15
        QApplication.processEvents()  # the font change reaches widgets as an event
        table = window.evidence_view.table
        assert table.font().pointSizeF() == 15  # every widget follows
        assert table.verticalHeader().defaultSectionSize() == table.fontMetrics().height() + 10
        assert json.loads(settings_path().read_text())["font_size"] == 15
    finally:
        dialog = window.case_files.edit_settings()
        dialog.font_size.setValue(dialog.font_size.minimum())  # back to the system's
        dialog.accept()
    assert window.settings.font_size == 0
    assert QApplication.font().pointSizeF() == system


def test_help_shows_the_reports_glossary(window: Any) -> None:
    help_menu = next(m.menu() for m in window.menuBar().actions() if m.text() == "&Help")
    action = next(a for a in help_menu.actions() if a.objectName() == "help")
    action.trigger()
    dialog = window.help_dialog
    assert dialog.isVisible()
    text = dialog.glossary.toPlainText()
    for g in glossary():  # one source: every term of the report, with its definition
        assert g["term"] in text and g["definition"][:40] in text
    assert "Run a check" in dialog.guide.toPlainText()
    dialog.close()


def test_welcome_page_until_a_case_file_opens(qtbot: Any, tmp_path: Any) -> None:
    from app.main_window import MainWindow
    from app.settings import AppSettings

    earlier = tmp_path / "earlier.dacase"
    first = MainWindow(settings=AppSettings(recent_files=[]))
    qtbot.addWidget(first)
    assert first.open_case_file(earlier)  # a real case file to list as recent
    first.close()
    win = MainWindow(settings=AppSettings(recent_files=[str(earlier), str(tmp_path / "gone")]))
    qtbot.addWidget(win)
    assert win.pages.currentWidget() is win.welcome
    labels = [b.text() for b in win.welcome.buttons.values()]
    assert labels == ["Open the &demo case", "&Open a case file…", "&New case…"]
    assert win.welcome.recent.count() == 1  # the missing file is not offered
    item = win.welcome.recent.item(0)
    assert item.data(256) == str(earlier)
    win.welcome.recent.itemActivated.emit(item)
    assert win.case_file is not None and win.case_file.path == earlier
    assert win.pages.currentIndex() == 1
    win.runner.cancel_and_wait()
    win.close()
