"""The actions table (app.menus): unique ids, menus built from it, enabled states it computes."""

from __future__ import annotations

import pytest

from app import menus
from tests.gui import fixtures as gui_fixtures
from tests.gui.fixtures import new_case, wait_jobs

window = gui_fixtures.window

SPECIAL = {menus.SEPARATOR, menus.RECENT, menus.GO_TO_TABS, menus.JOBS_PANEL}


def test_every_action_has_a_unique_id_and_a_place_in_a_menu():
    ids = [spec.id for spec in menus.ACTIONS]
    assert len(ids) == len(set(ids))
    placed = [entry for _title, entries in menus.MENUS for entry in entries]
    assert set(placed) - SPECIAL <= set(ids)  # no menu entry names a missing action
    assert set(ids) <= set(placed)  # and no action is unreachable from the menus
    for tab, entries in menus.TOOLBARS.items():
        assert set(entries) <= set(ids), tab


def test_actions_keep_their_texts_and_shortcuts(window):
    keys = {spec.id: (window.action(spec.id).text(), spec.shortcuts) for spec in menus.ACTIONS}
    shown = {i: window.action(i).shortcut().toString() for i in keys}
    assert keys["new_case"][0] == "&New case…" and shown["new_case"] == "Ctrl+N"
    assert keys["open_case_file"][0] == "&Open case file…" and shown["open_case_file"] == "Ctrl+O"
    assert {i: shown[i] for i in ("add_evidence", "export_report", "run_check", "quit")} == {
        "add_evidence": "Ctrl+I",
        "export_report": "Ctrl+E",
        "run_check": "Ctrl+R",
        "quit": "Ctrl+Q",
    }
    assert shown["import_transcripts"] == "Ctrl+Shift+T" and shown["experiment"] == "Ctrl+Shift+X"
    assert shown["settings"]  # the platform's Preferences key, else Ctrl+,
    assert window.action("go_to_audit").shortcut().toString() == "Ctrl+6"
    assert window.action("jobs_panel").shortcut().toString() == "Ctrl+J"
    file_menu = window.menuBar().actions()[0].menu()
    assert [a.text() for a in file_menu.actions() if a.text()] == [
        "&New case…",
        "&Open case file…",
        "Open &recent",
        "&Add evidence…",
        "Import &model…",
        "Import &transcripts…",
        "Import terms of &service…",
        "&Export report…",
        "&Quit",
    ]
    with pytest.raises(KeyError, match="no_such_action"):
        window.action("no_such_action")


def enabled(win) -> dict[str, bool]:
    return {spec.id: win.action(spec.id).isEnabled() for spec in menus.ACTIONS}


def expected(win) -> dict[str, bool]:
    return {spec.id: spec.enabled_when(win) for spec in menus.ACTIONS}


def test_enabled_states_follow_the_predicates(window, monkeypatch):
    # A case file, no case: only what needs a case file (or nothing) is enabled.
    assert window.case_file is not None and window.case_id is None
    state = enabled(window)
    assert state == expected(window)
    assert state["new_case"] and state["verify_chain"] and state["open_case_file"]
    assert not state["add_evidence"] and not state["run_check"] and not state["experiment"]
    assert window.audit_view.verify_button.isEnabled()

    new_case(window)
    state = enabled(window)
    assert state == expected(window)
    needs_case = [s.id for s in menus.ACTIONS if s.enabled_when is menus.needs_case]
    assert needs_case and all(state[i] for i in needs_case)
    assert state["experiment"] == menus.experiments_available()

    # Without the experiment engine the experiment stays disabled, even with a case.
    monkeypatch.setattr(menus, "experiments_available", lambda: False)
    window.refresh_cases(select_id=window.case_id)
    window._update_enabled()
    assert not window.action("experiment").isEnabled()
    assert window.action("run_check").isEnabled()

    # No case selected any more: the case actions go grey again.
    window.case_list.set_cases([], None)
    assert window.case_id is None
    assert enabled(window) == expected(window)
    assert not window.action("export_report").isEnabled()


def test_triggering_an_action_calls_its_controller(window, qtbot):
    new_case(window)
    window.action("export_report").trigger()
    (wizard,) = window.wizards
    assert wizard.objectName() == "ExportReportWizard"
    wizard.reject()  # cancels its preview job
    wait_jobs(window, qtbot)
