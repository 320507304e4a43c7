"""No label, button or check box cuts its text, at 1024×700 and at 1440×900 (issue 18)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.gui.fixtures import demo_case_master, demo_window
from tests.gui.layout_check import clipped

__all__ = ["demo_case_master", "demo_window"]

SIZES = [(1024, 700), (1440, 900)]
WIZARDS = (
    ("new case", lambda w: w.case_files.new_case()),
    ("add evidence", lambda w: w.evidence.add_evidence()),
    ("import terms", lambda w: w.evidence.import_policy()),
    ("compare terms", lambda w: w.evidence.compare_policies()),
    ("run a check", lambda w: w.analysis.run_check()),
    ("experiment", lambda w: w.analysis.run_experiment()),
    ("export report", lambda w: w.analysis.export_report()),
    ("settings", lambda w: w.case_files.edit_settings()),
    ("help", lambda w: w.show_help()),
)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_no_clipped_text_on_any_tab(demo_window: Any, qtbot: Any, size: tuple[int, int]) -> None:
    demo_window.resize(*size)
    problems = []
    for i in range(demo_window.tabs.count()):
        demo_window.tabs.setCurrentIndex(i)
        qtbot.wait(20)
        problems += [f"{demo_window.tabs.tabText(i)}: {p}" for p in clipped(demo_window)]
    assert problems == []
    demo_window.jobs_dock.show()  # the window still fits a 700 px high screen
    assert demo_window.minimumSizeHint().height() <= SIZES[0][1]


def test_no_clipped_text_on_wizard_first_pages_and_dialogs(demo_window: Any, qtbot: Any) -> None:
    problems = []
    for name, open_wizard in WIZARDS:
        wizard = open_wizard(demo_window)
        assert wizard is not None, name
        qtbot.waitExposed(wizard)
        for size in SIZES:
            wizard.resize(min(size[0], 900), min(size[1], 680))
            qtbot.wait(20)
            problems += [f"{name} {size}: {p}" for p in clipped(wizard)]
        wizard.reject()
        demo_window.runner.cancel_and_wait()  # some first pages start a quick read
    assert problems == []


def test_the_check_finds_a_cut_label(qtbot: Any) -> None:
    from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

    holder = QWidget()
    qtbot.addWidget(holder)
    label = QLabel("A label far too long for its box", holder)
    QVBoxLayout(holder).addWidget(label)
    label.setFixedWidth(40)
    holder.show()
    assert len(clipped(holder)) == 1
    label.setWordWrap(True)
    assert clipped(holder) == []
