"""The main window's actions as one table, and the menus and tab toolbars built from it.

Each :class:`ActionSpec` says an action's id, text, shortcut, tip, what it does and when
it is enabled (:func:`needs_case_file`, :func:`needs_case`, :func:`needs_experiments`).
The window looks actions up by id (``window.action("new_case")``) and computes every
action's enabled state from the table (:func:`update_enabled`), so adding an action is one
row here plus its place in :data:`MENUS` (and :data:`TOOLBARS`).

Menus: File (cases, evidence, terms, report, recent files, quit), Edit (settings),
Analysis (checks, experiments, verification), View (tabs, jobs panel, refresh), Help
(demo case, about). Platform-standard shortcuts where Qt has them; tab mnemonics avoid
the menus' letters; Ctrl+1…6 also switch tabs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QKeySequence

from app.controllers.analysis import experiments_available

if TYPE_CHECKING:
    from app.host import Host, Tab
    from app.main_window import MainWindow

Shortcut = QKeySequence.StandardKey | str
_STD = QKeySequence.StandardKey
_ROLE = QAction.MenuRole

SEPARATOR = "-"
RECENT = "<recent files>"  # the File → Open recent submenu
GO_TO_TABS = "<go to tabs>"  # View → Go to <tab>, one per tab, Ctrl+1…6
JOBS_PANEL = "jobs_panel"  # the jobs dock's show/hide action, Ctrl+J
EXPERIMENTS_MISSING = "Available when the experiment engine (core.distill) is installed"


# --- when an action is enabled ----------------------------------------------------------
def always(_host: Host) -> bool:
    return True


def needs_case_file(host: Host) -> bool:
    """A case file is open."""
    return host.case_file is not None


def needs_case(host: Host) -> bool:
    """A case of the open case file is selected."""
    return host.case_file is not None and host.case_id is not None


def needs_experiments(host: Host) -> bool:
    """A case is selected and the experiment engine is part of this build."""
    return needs_case(host) and experiments_available()


@dataclass(frozen=True)
class ActionSpec:
    """One menu / toolbar action: what it says, its keys, what it does, when it is enabled."""

    id: str
    text: str
    handler: Callable[[MainWindow], object]
    shortcuts: tuple[Shortcut, ...] = ()  # the first one this platform defines is used
    tip: str = ""
    enabled_when: Callable[[Host], bool] = always
    role: QAction.MenuRole | None = None


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec(
        "new_case",
        "&New case…",
        lambda w: w.case_files.new_case(),
        (_STD.New,),
        "Create a case with its two competing hypotheses",
        needs_case_file,
    ),
    ActionSpec(
        "open_case_file",
        "&Open case file…",
        lambda w: w.case_files.open_case_file_dialog(),
        (_STD.Open,),
        "Open another case file",
    ),
    ActionSpec(
        "add_evidence",
        "&Add evidence…",
        lambda w: w.evidence.add_evidence(),
        ("Ctrl+I",),
        "Import a model, a transcript file or a terms document, with its provenance",
        needs_case,
    ),
    ActionSpec(
        "import_model",
        "Import &model…",
        lambda w: w.evidence.add_evidence_of("model"),
        ("Ctrl+Shift+M",),
        "Hash and record a model folder (Hugging Face safetensors or ONNX)",
        needs_case,
    ),
    ActionSpec(
        "import_transcripts",
        "Import &transcripts…",
        lambda w: w.evidence.add_evidence_of("transcripts"),
        ("Ctrl+Shift+T",),
        "Hash and record a JSONL or CSV file of prompt/response pairs",
        needs_case,
    ),
    ActionSpec(
        "import_policy",
        "Import terms of &service…",
        lambda w: w.evidence.import_policy(),
        ("Ctrl+Shift+P",),
        "Import a version of a provider's terms and see what changed",
        needs_case,
    ),
    ActionSpec(
        "compare_policies",
        "&Compare terms versions…",
        lambda w: w.evidence.compare_policies(),
        (),
        "Clause-by-clause changes between two versions",
        needs_case,
    ),
    ActionSpec(
        "export_report",
        "&Export report…",
        lambda w: w.analysis.export_report(),
        ("Ctrl+E",),
        "Write the case's PDF report (and JSON / CSV)",
        needs_case,
    ),
    ActionSpec(
        "settings",
        "&Settings…",
        lambda w: w.case_files.edit_settings(),
        (_STD.Preferences, "Ctrl+,"),
        "CPU threads, default alpha, data folder, reviewer name",
        role=_ROLE.PreferencesRole,
    ),
    ActionSpec("quit", "&Quit", lambda w: w.close(), ("Ctrl+Q",), role=_ROLE.QuitRole),
    ActionSpec(
        "run_check",
        "Run a &check…",
        lambda w: w.analysis.run_check(),
        ("Ctrl+R",),
        "Test whether the suspect was trained on the protected "
        "model's outputs, against the reference panel",
        needs_case,
    ),
    ActionSpec(
        "experiment",
        "Run a distillation &experiment…",
        lambda w: w.analysis.run_experiment(),
        ("Ctrl+Shift+X",),
        "Distil a student locally to see what the checks detect",
        needs_experiments,
    ),
    ActionSpec(
        "verify_evidence",
        "&Verify evidence",
        lambda w: w.evidence.verify_evidence(),
        ("Ctrl+Shift+V",),
        "Re-hash every evidence file of the case and compare with the recorded SHA-256",
        needs_case,
    ),
    ActionSpec(
        "verify_chain",
        "Verify the audit &chain",
        lambda w: w.case_files.verify_chain(),
        (),
        "Check that no audit event was altered or removed",
        needs_case_file,
    ),
    ActionSpec("refresh", "&Refresh", lambda w: w.refresh(), (_STD.Refresh,)),
    ActionSpec(
        "demo_case",
        "Open &demo case",
        lambda w: w.case_files.open_demo_case(),
        (),
        "Build (once) and open the shipped demonstration case",
    ),
    ActionSpec(
        "help",
        "&Help and glossary",
        lambda w: w.show_help(),
        (_STD.HelpContents, "F1"),
        "How a case goes, and the report's glossary",
    ),
    ActionSpec("about", "&About Distill Audit", lambda w: w.show_about(), role=_ROLE.AboutRole),
)

MENUS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "&File",
        (
            "new_case",
            "open_case_file",
            RECENT,
            SEPARATOR,
            "add_evidence",
            "import_model",
            "import_transcripts",
            "import_policy",
            SEPARATOR,
            "export_report",
            SEPARATOR,
            "quit",
        ),
    ),
    ("&Edit", ("settings",)),
    (
        "&Analysis",
        (
            "run_check",
            "experiment",
            SEPARATOR,
            "compare_policies",
            "verify_evidence",
            "verify_chain",
        ),
    ),
    ("&View", (GO_TO_TABS, SEPARATOR, JOBS_PANEL, "refresh")),
    ("&Help", ("help", "demo_case", SEPARATOR, "about")),
)

# The buttons above a tab's table, by tab.
TOOLBARS: dict[Tab, tuple[str, ...]] = {
    "evidence": ("add_evidence", "verify_evidence"),
    "policies": ("import_policy", "compare_policies"),
    "analyses": ("run_check", "experiment", "export_report"),
}


def _shortcut(candidates: tuple[Shortcut, ...]) -> QKeySequence | None:
    for candidate in candidates:
        sequence = QKeySequence(candidate)
        if not sequence.isEmpty():
            return sequence
    return None


def build_actions(win: MainWindow) -> dict[str, QAction]:
    """One QAction per row of :data:`ACTIONS`, by id, each calling its handler on ``win``."""
    actions: dict[str, QAction] = {}
    for spec in ACTIONS:
        if spec.id in actions:
            raise ValueError(f"Two actions have the id {spec.id!r}")
        action = QAction(spec.text, win)
        action.setObjectName(spec.id)
        sequence = _shortcut(spec.shortcuts)
        if sequence is not None:
            action.setShortcut(sequence)
        if spec.tip:
            action.setStatusTip(spec.tip)
            action.setToolTip(spec.tip)
        if spec.role is not None:
            action.setMenuRole(spec.role)
        action.triggered.connect(lambda _checked=False, h=spec.handler: h(win))
        actions[spec.id] = action
    if not experiments_available():
        actions["experiment"].setToolTip(EXPERIMENTS_MISSING)
    return actions


def toolbar(actions: dict[str, QAction], tab: Tab) -> list[QAction]:
    """The actions shown as buttons on ``tab`` (see :data:`TOOLBARS`)."""
    return [actions[i] for i in TOOLBARS.get(tab, ())]


def build_menus(win: MainWindow, actions: dict[str, QAction]) -> None:
    """The menu bar from :data:`MENUS`; adds the tab and jobs-panel actions to ``actions``."""
    bar = win.menuBar()
    for title, entries in MENUS:
        menu = bar.addMenu(title)
        for entry in entries:
            if entry == SEPARATOR:
                menu.addSeparator()
            elif entry == RECENT:
                win.recent_menu = menu.addMenu("Open &recent")
                win.recent_menu.aboutToShow.connect(
                    lambda: win.case_files.fill_recent_menu(win.recent_menu)
                )
            elif entry == GO_TO_TABS:
                for number in range(win.tabs.count()):
                    name = win.tabs.tabText(number).replace("&", "")
                    go = QAction(f"Go to {name}", win)
                    go.setShortcut(QKeySequence(f"Ctrl+{number + 1}"))
                    go.triggered.connect(lambda _c=False, n=number: win.tabs.setCurrentIndex(n))
                    actions[f"go_to_{name.lower()}"] = go
                    menu.addAction(go)
            elif entry == JOBS_PANEL:
                toggle = win.jobs_dock.toggleViewAction()
                toggle.setText("&Jobs panel")
                toggle.setShortcut(QKeySequence("Ctrl+J"))
                actions[JOBS_PANEL] = toggle
                menu.addAction(toggle)
            else:
                menu.addAction(actions[entry])


def update_enabled(host: Host, actions: dict[str, QAction]) -> None:
    """Enable each action of the table as its ``enabled_when`` says for ``host`` now."""
    for spec in ACTIONS:
        actions[spec.id].setEnabled(spec.enabled_when(host))
