"""Screenshots for the README's walk-through: ``python -m app.screenshots OUTDIR``.

Builds the demo case in a temporary folder (core.demo.build_demo_case), runs one check
on it through core (core.checks.runner.run_checks) so that the Analyses and Findings
tabs have something to show, then shows the main window at 1280×800 and saves each tab
and each wizard (all its pages, side by side) as PNG with ``QWidget.grab()``.
``make screenshots`` runs it under Xvfb when available, else offscreen.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

WIDTH, HEIGHT = 1280, 800
PAGE_SCALE = 0.62  # wizard pages in a contact sheet
TABS = ("overview", "evidence", "policies", "analyses", "findings", "audit")


def wait(until: Callable[[], bool], timeout_s: float = 300.0) -> None:
    """Process events until ``until()`` holds (a job finished, a page filled)."""
    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + timeout_s
    while not until():
        if time.monotonic() > deadline:
            raise TimeoutError("the screenshot script waited too long")
        QApplication.processEvents()
        time.sleep(0.01)
    settle()


def settle(seconds: float = 0.15) -> None:
    from PySide6.QtWidgets import QApplication

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.01)


def idle(win: Any) -> Callable[[], bool]:
    return lambda: not win.runner.active_jobs()


def page_done(page: Any) -> Callable[[], bool]:
    return lambda: page.job is not None and page.job.is_finished


def contact_sheet(images: list[Any], columns: int = 3) -> Any:
    """Wizard pages side by side, scaled, on a light background."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QColor, QImage, QPainter

    scaled = [
        i.scaledToWidth(int(i.width() * PAGE_SCALE), Qt.TransformationMode.SmoothTransformation)
        for i in images
    ]
    gap = 12
    cols = min(columns, len(scaled))
    rows = (len(scaled) + cols - 1) // cols
    cell_w = max(s.width() for s in scaled)
    cell_h = max(s.height() for s in scaled)
    sheet = QImage(
        cols * cell_w + (cols + 1) * gap,
        rows * cell_h + (rows + 1) * gap,
        QImage.Format.Format_RGB32,
    )
    sheet.fill(QColor("#d9dde3"))
    painter = QPainter(sheet)
    for n, image in enumerate(scaled):
        r, c = divmod(n, cols)
        painter.drawImage(gap + c * (cell_w + gap), gap + r * (cell_h + gap), image)
    painter.end()
    return sheet


def grab_pages(wizard: Any, steps: list[Callable[[], None]]) -> Any:
    """Grab the wizard's current page, then run each step (which moves on) and grab again."""
    shots = []
    settle(0.3)
    shots.append(wizard.grab().toImage())
    for step in steps:
        step()
        settle(0.3)
        shots.append(wizard.grab().toImage())
    return contact_sheet(shots)


def prepare_case(folder: Path) -> Path:
    """The demo case with one likelihood-and-identity check run (a few probes)."""
    from app.demo_case import demo_world
    from core.checks.runner import CheckInputs, CheckSettings, run_checks
    from core.demo import build_demo_case
    from core.store.db import open_case_file

    path = folder / "demo.dacase"
    with open_case_file(path) as cf:
        demo = build_demo_case(cf, demo_world())
        a, t = demo.artifacts, demo.transcripts
        refs = tuple(a[n] for n in ("ref-a-wren", "ref-b-tern", "ref-c-kestrel"))
        run_checks(
            cf,
            demo.case_id,
            CheckInputs(
                a["suspect-osprey"], refs, t["protected_probe_answers"], t["human_probe_answers"]
            ),
            CheckSettings(
                checks=("likelihood", "identity"),
                max_probes=40,
                n_resamples=2000,
                identity_samples=1,
                identity_suite=str(demo_world() / "transcripts" / "identity_probes.jsonl"),
                protected_names=("Lumen", "Halcyon Labs"),
                num_threads=2,
            ),
            actor="A. Reviewer",
        )
    return path


def tabs(win: Any, out: Path) -> None:
    names = dict(
        zip(
            TABS,
            (
                win.overview,
                win.evidence_view,
                win.policies_view,
                win.analyses_view,
                win.findings_view,
                win.audit_view,
            ),
            strict=True,
        )
    )
    win.evidence.verify_evidence()
    wait(idle(win))
    win.case_files.verify_chain()
    wait(idle(win))
    for name, widget in names.items():
        win.jobs_dock.setVisible(name == "overview")  # the jobs panel, once
        win.tabs.setCurrentWidget(widget)
        settle(0.3)
        if widget is win.policies_view:
            widget.set_category("competing-model-ban")
            widget.clause_table.selectRow(0)
        if widget is win.findings_view and widget.model.rowCount():
            widget.table.selectRow(0)
        settle(0.5)
        file = "main_window.png" if name == "overview" else f"tab_{name}.png"
        win.grab().save(str(out / file))


def wizards(win: Any, out: Path) -> None:
    from app.demo_case import demo_world

    world = demo_world()
    new = win.case_files.new_case()
    new.identification.title_edit.setText("Halcyon Labs v Quillmark AI")
    new.identification.reference.setText("DA-2025-002")
    new.identification.parties.setPlainText("Halcyon Labs\nQuillmark AI")
    grab_pages(new, [new.next]).save(str(out / "wizard_new_case.png"))
    new.reject()

    add = win.evidence.add_evidence(world / "models" / "suspect-osprey")
    wait(page_done(add.found_page))
    sheet = grab_pages(
        add,
        [add.next, lambda: add.details.widget("collector").setText("J. Doe, forensic examiner")],
    )
    sheet.save(str(out / "wizard_add_evidence.png"))
    add.reject()

    check = win.analysis.run_check()
    wait(page_done(check.question_page))

    def run_it() -> None:
        check.settings_page.max_probes.setValue(20)
        check.settings_page.resamples.setValue(999)
        check.next()
        wait(lambda: check.currentPage() is check.results)

    grab_pages(check, [check.next, check.next, check.next, run_it]).save(
        str(out / "wizard_run_check.png")
    )
    check.accept()
    wait(idle(win))

    exp = win.analysis.run_experiment()
    grab_pages(exp, [exp.next, exp.next]).save(str(out / "wizard_experiment.png"))
    exp.reject()

    pol = win.evidence.import_policy(world / "policies" / "terms_v1.html")
    wait(page_done(pol.found_page))

    def import_it() -> None:
        pol.details.widget("version").setText("v1 (web page)")
        pol.next()
        wait(page_done(pol.importing))

    grab_pages(pol, [pol.next, import_it]).save(str(out / "wizard_import_policy.png"))
    pol.accept()
    wait(idle(win))

    win.tabs.setCurrentWidget(win.policies_view)
    win.policies_view.select_policy(2)
    compare = win.evidence.compare_policies()

    def compared() -> None:
        compare.next()
        wait(page_done(compare.changes))

    grab_pages(compare, [compared]).save(str(out / "wizard_compare_versions.png"))
    compare.reject()

    report = win.analysis.export_report()
    wait(page_done(report.preview))
    report.files.pdf.setText(str(Path(tempfile.gettempdir()) / "distill-audit-shot.pdf"))
    grab_pages(report, [report.next]).save(str(out / "wizard_export_report.png"))
    report.reject()


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    out = Path(args[0] if args else "resources/screenshots").resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="distill-audit-shots-") as tmp:
        for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
            os.environ[var] = str(Path(tmp) / var.lower())
        from PySide6.QtWidgets import QApplication

        app = QApplication.instance() or QApplication([sys.argv[0]])
        app.setApplicationName("Distill Audit")
        from app.main_window import MainWindow
        from app.settings import AppSettings

        case = prepare_case(Path(tmp))
        win = MainWindow(
            settings=AppSettings(cpu_threads=2, reviewer_name="A. Reviewer", data_folder=tmp)
        )
        win.resize(WIDTH, HEIGHT)
        win.open_case_file(case)
        win.show()
        wait(idle(win))
        tabs(win, out)
        wizards(win, out)
        win.runner.cancel_and_wait()
        win.close()
        win.case_file = None
    print(f"Screenshots written to {out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
