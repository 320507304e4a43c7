"""Settings with a schema version, recent case files, and the Settings dialog."""

from __future__ import annotations

import json

from app.recent import existing, remember
from app.settings import (
    MAX_RECENT,
    SCHEMA_VERSION,
    AppSettings,
    load_settings,
    migrate,
    save_settings,
    settings_path,
)
from tests.gui import fixtures as gui_fixtures

window = gui_fixtures.window


def test_settings_round_trip_with_their_schema_version(tmp_path):
    path = tmp_path / "settings.json"
    settings = AppSettings(
        cpu_threads=3,
        default_alpha=0.01,
        data_folder=str(tmp_path),
        reviewer_name="A. Reviewer",
        recent_files=["/x/a.dacase"],
    )
    save_settings(settings, path)
    data = json.loads(path.read_text())
    assert data["schema_version"] == SCHEMA_VERSION
    assert load_settings(path) == settings


def test_migrate_upgrades_old_files_and_repairs_bad_values(tmp_path):
    unversioned = {"cpu_threads": 6, "default_alpha": 0.2, "reviewer_name": "B"}
    assert migrate(unversioned).cpu_threads == 6
    broken = {
        "schema_version": 1,
        "cpu_threads": "many",
        "default_alpha": 3,
        "recent_files": [f"/f{i}.dacase" for i in range(20)],
        "unknown": 1,
    }
    settings = migrate(broken)
    assert settings.cpu_threads == AppSettings().cpu_threads  # default
    assert settings.default_alpha == 0.05
    assert len(settings.recent_files) == MAX_RECENT
    assert migrate(["not", "a", "dict"]) == AppSettings()
    newer = {"schema_version": SCHEMA_VERSION + 5, "cpu_threads": 2}
    assert migrate(newer).cpu_threads == 2  # known keys of a newer file are read
    garbled = tmp_path / "garbled.json"
    garbled.write_text("{not json", encoding="utf-8")
    assert load_settings(garbled) == AppSettings()


def test_recent_files_most_recent_first_without_duplicates(tmp_path):
    a, b = tmp_path / "a.dacase", tmp_path / "b.dacase"
    recent = remember(remember(remember([], a), b), a)
    assert recent == [str(a), str(b)]
    a.write_text("x")
    assert existing(recent) == [str(a)]


def test_the_window_remembers_case_files_and_lists_them(window, tmp_path):
    other = tmp_path / "other.dacase"
    assert window.open_case_file(other)
    assert window.settings.recent_files[:2] == [str(other), str(tmp_path / "case.dacase")]
    window.case_files.fill_recent_menu(window.recent_menu)
    labels = [a.text() for a in window.recent_menu.actions() if a.text()]
    assert labels[:2] == ["&1 other.dacase", "&2 case.dacase"]
    stored = json.loads(settings_path().read_text())
    assert stored["recent_files"][0] == str(other)


def test_settings_dialog_saves_and_the_check_wizard_uses_the_alpha(window, tmp_path):
    dialog = window.case_files.edit_settings()
    dialog.threads.setValue(3)
    dialog.alpha.setValue(0.01)
    dialog.folder.setText(str(tmp_path))
    dialog.reviewer.setText("C. Counsel")
    assert dialog.dtype.currentData() == "auto"  # the default precision
    dialog.dtype.setCurrentIndex(dialog.dtype.findData("bfloat16"))
    dialog.accept()
    assert (window.settings.cpu_threads, window.settings.default_alpha) == (3, 0.01)
    assert window.settings.model_dtype == "bfloat16"
    assert migrate({"schema_version": 1, "model_dtype": "float8"}).model_dtype == "auto"
    assert window.reviewer() == "C. Counsel"
    stored = json.loads(settings_path().read_text())
    assert stored["schema_version"] == SCHEMA_VERSION and stored["cpu_threads"] == 3
    assert gui_fixtures.unnamed_controls(dialog) == []
