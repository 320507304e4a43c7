"""Evidence: the Add evidence and terms wizards, quick imports, dropped files, re-hashing.

Every wizard is opened non-modally and returned, so tests drive it with ``next()``; every
question goes through a patchable ``ask_…`` method of the window.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.controllers.base import Controller

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWizard

    from app.jobs import Job
    from app.wizards.add_evidence import AddEvidenceWizard
    from app.wizards.import_policy import CompareVersionsWizard, ImportPolicyWizard


class EvidenceController(Controller):
    """Add evidence (wizard or quick import), terms of service, verify evidence, drops."""

    # --- wizards ---------------------------------------------------------------------
    def add_evidence(self, path: Path | None = None) -> AddEvidenceWizard | None:
        """The Add evidence wizard (starting at ``path`` if given)."""
        if not self.need_case("add evidence"):
            return None
        from app.wizards.add_evidence import AddEvidenceWizard

        wizard = AddEvidenceWizard(self.host, path, parent=self.host.dialog_parent())
        wizard.accepted.connect(lambda: self._after_evidence(wizard))
        self.host.open_wizard(wizard)
        if path is not None and wizard.choose.isComplete():
            wizard.next()
        return wizard

    def add_evidence_of(self, kind: str) -> AddEvidenceWizard | None:
        """Ask for a model folder / transcript file, then open the wizard on it."""
        if not self.need_case("add evidence"):
            return None
        path = self.host.ask_path(kind)
        return self.add_evidence(path) if path is not None else None

    def _after_evidence(self, wizard: AddEvidenceWizard) -> None:
        found = wizard.found()
        self.host.refresh_case()
        if found is not None and wizard.imported_id is not None:
            self.host.show_tab("policies" if found.kind == "policy" else "evidence")

    def import_policy(self, path: Path | None = None) -> ImportPolicyWizard | None:
        """The Import terms wizard (starting at ``path`` if given)."""
        if not self.need_case("import terms"):
            return None
        from app.wizards.import_policy import ImportPolicyWizard

        wizard = ImportPolicyWizard(self.host, path, parent=self.host.dialog_parent())
        wizard.accepted.connect(self._after_policy)
        self.host.open_wizard(wizard)
        if path is not None and wizard.choose.isComplete():
            wizard.next()
        return wizard

    def _after_policy(self) -> None:
        self.host.refresh_case()
        self.host.show_tab("policies")

    def compare_policies(self) -> CompareVersionsWizard | None:
        """Compare two versions of a terms document, starting from the selected one."""
        if not self.need_case("compare terms"):
            return None
        from app.wizards.import_policy import CompareVersionsWizard

        wizard = CompareVersionsWizard(
            self.host, self.host.selected_policy_id(), parent=self.host.dialog_parent()
        )
        self.host.open_wizard(wizard)
        return wizard

    # --- verification ----------------------------------------------------------------
    def verify_evidence(self) -> Job | None:
        """Re-hash the case's evidence (a job); the Evidence tab shows each item's outcome."""
        if not self.need_case("verify the evidence"):
            return None
        from core.evidence.verify import verify_case_evidence

        self.host.show_tab("evidence")
        return self.host.runner.run(
            verify_case_evidence,
            self.host.case_file,
            self.host.case_id,
            actor=self.host.reviewer(),
            label="Verify the evidence",
            on_success=self.host.show_evidence_verification,
        )

    # --- dropped files ---------------------------------------------------------------
    def open_dropped(self, path: Path) -> QWizard | bool | None:
        """A dropped case file opens; evidence starts the matching import wizard."""
        from core.evidence.formats import CASE_FILE_SUFFIX, POLICY, detect_kind

        if path.suffix.lower() == CASE_FILE_SUFFIX:
            return self.host.open_case_file(path, create=False)
        kind = detect_kind(path)
        if kind is None:
            self.host.show_error(
                "Cannot import this file",
                f"{path.name} is not a model, a transcript file or a terms document.",
            )
            return None
        return self.import_policy(path) if kind == POLICY else self.add_evidence(path)

    # --- quick imports (no wizard; used by scripts and tests) --------------------------
    def import_model(self) -> Job | None:
        from core.evidence.formats import ARTIFACT_ROLES

        path = self.host.ask_path("model")
        role = self.host.ask_role("model", ARTIFACT_ROLES) if path is not None else None
        return self.start_model_import(path, role) if path and role else None

    def import_transcripts(self) -> Job | None:
        from core.evidence.formats import TRANSCRIPT_ROLES

        path = self.host.ask_path("transcripts")
        role = self.host.ask_role("transcripts", TRANSCRIPT_ROLES) if path is not None else None
        return self.start_transcript_import(path, role) if path and role else None

    def start_model_import(self, path: Path, role: str) -> Job:
        from core.evidence.importer import import_model

        return self._start_import(import_model, path, role, f"Import model {Path(path).name}")

    def start_transcript_import(self, path: Path, role: str) -> Job:
        from core.evidence.importer import import_transcripts

        return self._start_import(
            import_transcripts, path, role, f"Import transcripts {Path(path).name}"
        )

    def _start_import(self, fn: Callable[..., Any], path: Path, role: str, label: str) -> Job:
        host = self.host
        assert host.case_file is not None and host.case_id is not None
        case_id = host.case_id
        return host.runner.run(
            fn,
            host.case_file,
            case_id,
            Path(path),
            role,
            label=label,
            on_success=lambda _id: self._after_import(case_id),
            on_failure=lambda exc: host.show_job_error(f"{label} failed", exc),
        )

    def _after_import(self, case_id: int) -> None:
        self.host.refresh_cases(select_id=case_id)
        self.host.show_tab("evidence")
