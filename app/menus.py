"""The main window's actions and menus, with platform-standard shortcuts where Qt has them.

Menus: File (cases, evidence, terms, report, recent files, quit), Edit (settings),
Analysis (checks, experiments, verification), View (tabs, jobs panel, refresh), Help
(demo case, about). Tab mnemonics avoid the menus' letters; Ctrl+1…6 also switch tabs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QKeySequence

if TYPE_CHECKING:
    from app.main_window import MainWindow

DISTILL_MODULE = "core.distill.experiment"


def _action(
    win: MainWindow,
    text: str,
    slot: object,
    shortcut: QKeySequence | str | None = None,
    tip: str = "",
) -> QAction:
    action = QAction(text, win)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    if tip:
        action.setStatusTip(tip)
        action.setToolTip(tip)
    action.triggered.connect(slot)
    return action


def experiments_available() -> bool:
    """Whether the experiment engine (core.distill) is part of this build."""
    import importlib.util

    return importlib.util.find_spec(DISTILL_MODULE) is not None


def build_actions(win: MainWindow) -> None:
    std = QKeySequence.StandardKey
    win.new_case_action = _action(
        win, "&New case…", win.new_case, std.New, "Create a case with its two competing hypotheses"
    )
    win.open_action = _action(
        win, "&Open case file…", win.open_case_file_dialog, std.Open, "Open another case file"
    )
    win.add_evidence_action = _action(
        win,
        "&Add evidence…",
        lambda: win.add_evidence(),
        "Ctrl+I",
        "Import a model, a transcript file or a terms document, with its provenance",
    )
    win.import_model_action = _action(
        win,
        "Import &model…",
        lambda: win.add_evidence_of("model"),
        "Ctrl+Shift+M",
        "Hash and record a model folder (Hugging Face safetensors or ONNX)",
    )
    win.import_transcripts_action = _action(
        win,
        "Import &transcripts…",
        lambda: win.add_evidence_of("transcripts"),
        "Ctrl+Shift+T",
        "Hash and record a JSONL or CSV file of prompt/response pairs",
    )
    win.import_policy_action = _action(
        win,
        "Import terms of &service…",
        lambda: win.import_policy(),
        "Ctrl+Shift+P",
        "Import a version of a provider's terms and see what changed",
    )
    win.compare_action = _action(
        win,
        "&Compare terms versions…",
        lambda: win.compare_policies(),
        tip="Clause-by-clause changes between two versions",
    )
    win.export_action = _action(
        win,
        "&Export report…",
        lambda: win.export_report(),
        "Ctrl+E",
        "Write the case's PDF report (and JSON / CSV)",
    )
    win.settings_action = _action(
        win,
        "&Settings…",
        win.edit_settings,
        std.Preferences if not QKeySequence(std.Preferences).isEmpty() else "Ctrl+,",
        "CPU threads, default alpha, data folder, reviewer name",
    )
    win.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
    win.quit_action = _action(win, "&Quit", win.close, "Ctrl+Q")
    win.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
    win.run_check_action = _action(
        win,
        "Run a &check…",
        lambda: win.run_check(),
        "Ctrl+R",
        "Test whether the suspect was trained on the protected "
        "model's outputs, against the reference panel",
    )
    win.experiment_action = _action(
        win,
        "Run a distillation &experiment…",
        lambda: win.run_experiment(),
        "Ctrl+Shift+X",
        "Distil a student locally to see what the checks detect",
    )
    if not experiments_available():
        win.experiment_action.setToolTip(
            "Available when the experiment engine (core.distill) is installed"
        )
    win.verify_evidence_action = _action(
        win,
        "&Verify evidence",
        lambda: win.verify_evidence(),
        "Ctrl+Shift+V",
        "Re-hash every evidence file of the case and compare with the recorded SHA-256",
    )
    win.verify_chain_action = _action(
        win,
        "Verify the audit &chain",
        lambda: win.verify_chain(),
        tip="Check that no audit event was altered or removed",
    )
    win.refresh_action = _action(win, "&Refresh", win.refresh, std.Refresh)
    win.demo_action = _action(
        win,
        "Open &demo case",
        lambda: win.open_demo_case(),
        tip="Build (once) and open the shipped demonstration case",
    )
    win.about_action = _action(win, "&About Distill Audit", win.show_about)
    win.about_action.setMenuRole(QAction.MenuRole.AboutRole)


def build_menus(win: MainWindow) -> None:
    bar = win.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addActions([win.new_case_action, win.open_action])
    win.recent_menu = file_menu.addMenu("Open &recent")
    win.recent_menu.aboutToShow.connect(win.fill_recent_menu)
    file_menu.addSeparator()
    file_menu.addActions(
        [
            win.add_evidence_action,
            win.import_model_action,
            win.import_transcripts_action,
            win.import_policy_action,
        ]
    )
    file_menu.addSeparator()
    file_menu.addAction(win.export_action)
    file_menu.addSeparator()
    file_menu.addAction(win.quit_action)
    edit_menu = bar.addMenu("&Edit")
    edit_menu.addAction(win.settings_action)
    analysis = bar.addMenu("&Analysis")
    analysis.addActions([win.run_check_action, win.experiment_action])
    analysis.addSeparator()
    analysis.addActions([win.compare_action, win.verify_evidence_action, win.verify_chain_action])
    view = bar.addMenu("&View")
    for number in range(win.tabs.count()):
        name = win.tabs.tabText(number).replace("&", "")
        go = QAction(f"Go to {name}", win)
        go.setShortcut(QKeySequence(f"Ctrl+{number + 1}"))
        go.triggered.connect(lambda _c=False, n=number: win.tabs.setCurrentIndex(n))
        view.addAction(go)
    view.addSeparator()
    jobs_toggle = win.jobs_dock.toggleViewAction()
    jobs_toggle.setText("&Jobs panel")
    jobs_toggle.setShortcut(QKeySequence("Ctrl+J"))
    view.addAction(jobs_toggle)
    view.addAction(win.refresh_action)
    help_menu = bar.addMenu("&Help")
    help_menu.addAction(win.demo_action)
    help_menu.addSeparator()
    help_menu.addAction(win.about_action)
