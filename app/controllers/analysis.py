"""Analyses: the Run a check and experiment wizards, the report, a run and partial results."""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

from app.controllers.base import Controller

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWizard

    from app.jobs import Job
    from app.wizards.export_report import ExportReportWizard
    from app.wizards.run_check import RunCheckWizard

DISTILL_MODULE = "core.distill.experiment"


def experiments_available() -> bool:
    """Whether the experiment engine (core.distill) is part of this build."""
    return importlib.util.find_spec(DISTILL_MODULE) is not None


class AnalysisController(Controller):
    """Run a check, run an experiment, show a run, export the report."""

    def run_check(self) -> RunCheckWizard | None:
        if not self.need_case("run a check"):
            return None
        from app.wizards.run_check import RunCheckWizard

        wizard = RunCheckWizard(self.host, parent=self.host.dialog_parent())
        wizard.accepted.connect(lambda: self.show_run(wizard.run_id))
        self.host.open_wizard(wizard)
        return wizard

    def run_experiment(self) -> QWizard | None:
        if not experiments_available() or not self.need_case("run an experiment"):
            return None
        from app.wizards.experiment import ExperimentWizard

        wizard = ExperimentWizard(self.host, parent=self.host.dialog_parent())
        wizard.accepted.connect(
            lambda: self.show_run(wizard.run_ids[0] if wizard.run_ids else None)
        )
        self.host.open_wizard(wizard)
        return wizard

    def show_run(self, run_id: int | None) -> None:
        """Switch to the Analyses tab with ``run_id`` selected."""
        self.host.refresh_case()
        self.host.show_tab("analyses")
        self.host.select_run(run_id)

    def export_report(self) -> ExportReportWizard | None:
        if not self.need_case("export a report"):
            return None
        from app.wizards.export_report import ExportReportWizard

        wizard = ExportReportWizard(
            self.host, self.host.selected_case_reference(), parent=self.host.dialog_parent()
        )
        self.host.open_wizard(wizard)
        return wizard

    def show_partial_results(self, job: Job) -> None:
        """What a running check has handed over so far, one JSON line per result."""
        import json

        text = (
            "\n".join(json.dumps(v, default=str, ensure_ascii=False) for v in job.partial_results)
            or "Nothing yet."
        )
        self.host.show_text(f"Partial results: {job.label}", text)
