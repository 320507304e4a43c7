"""The Add evidence wizard: choose a file, see what it holds, say what it is, hash and import.

1. *Choose* a model folder, an ONNX file, a transcript file or a terms document (or drop
   it on the window); the kind is detected from the name.
2. *What I found*: core inspects it in a job (core.evidence.preview: architecture, size,
   tokenizer; record count and dates; detected title, version and effective dates, clause
   count) and suggests the form's defaults, e.g. the role a transcript's file name implies.
3. *About this evidence*: its role in the case and its provenance (who collected it,
   when, how), or for terms the provider, title, version and dates in force.
4. *Import*: core hashes every file with progress and records the evidence with its audit
   event — core.evidence.importer.import_model / import_transcripts or
   core.policy.persist.import_policy, the same functions as ``distill-audit import``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QDate, QDateTime, Qt, QTime
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDateTimeEdit,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from app.jobs import Job
from app.wizards.common import HostWizard, JobPage, error_label, show_message
from core.evidence.formats import (
    ARTIFACT_ROLES,
    MODEL,
    POLICY,
    TRANSCRIPT_ROLES,
    TRANSCRIPTS,
    EvidenceKind,
    detect_kind,
)
from core.evidence.preview import EvidencePreview, preview_evidence
from core.evidence.source_custody import COLLECTION_METHODS, SourceCustody

if TYPE_CHECKING:
    from app.host import Host

KIND_TITLES: dict[str, str] = {
    MODEL: "a model",
    TRANSCRIPTS: "a transcript file",
    POLICY: "a terms document",
}
ROLE_HELP = {
    "suspect": "The model you suspect was trained on the protected model's outputs.",
    "reference": "A model known to be independent of the protected model: one of the control "
    "panel every result is compared with.",
    "protected": "The protected model itself (needed for the white-box distribution check).",
    "base": "A public base model the suspect may have been fine-tuned from (lineage check).",
    "experiment-student": "A model you distilled yourself in an experiment.",
    "protected-answers": "Answers captured from the protected model (e.g. from its API).",
    "control-answers": "Other answers to the same prompts (e.g. human-written), as a control.",
    "probes": "Questions to put to the models (no answers needed).",
    "other": "Any other transcript kept with the case.",
}


def _line(name: str, parent: QWidget, placeholder: str = "") -> QLineEdit:
    edit = QLineEdit(parent)
    edit.setAccessibleName(name)
    edit.setPlaceholderText(placeholder)
    return edit


def _combo(name: str, items: tuple[str, ...], parent: QWidget) -> QComboBox:
    box = QComboBox(parent)
    box.setAccessibleName(name)
    for item in items:
        box.addItem(item, item)
        box.setItemData(box.count() - 1, ROLE_HELP.get(item, ""), Qt.ItemDataRole.ToolTipRole)
    return box


def _custody_rows(parent: QWidget) -> list[tuple[str, str, QWidget]]:
    """Optional custody-from-the-source fields (core.evidence.source_custody)."""
    method = QComboBox(parent)
    method.setAccessibleName("How the item was collected (custody)")
    method.addItem("not stated", "")
    for m in COLLECTION_METHODS:
        method.addItem(m.replace("_", " "), m)
    return [
        ("produced_by", "Produced b&y:", _line("Who produced the item", parent, "optional")),
        ("collection_method", "Collection method:", method),
        (
            "production_no",
            "Production (Bates) no.:",
            _line("Production number", parent, "optional, e.g. HAL-0000123"),
        ),
        (
            "source_sha256",
            "SHA-256 at source:",
            _line("Hash stated by the producer", parent, "optional: checked against the import"),
        ),
    ]


def custody_of(values: dict[str, Any]) -> SourceCustody | None:
    """The custody fields of the details page, for the import use case (None: none given;
    the collection date alone, often detected from the file, does not start a record)."""
    keys = ("produced_by", "collection_method", "production_no", "source_sha256")
    if not any(values.get(k) for k in keys):
        return None
    when = values.get("collected_at")
    return SourceCustody(
        produced_by=values.get("produced_by") or "",
        collected_at=when.isoformat() if when else "",
        collection_method=values.get("collection_method") or "",
        production_no=values.get("production_no") or "",
        source_sha256=values.get("source_sha256") or "",
    )


class OptionalDate(QWidget):
    """A date (or date and time) that may be unknown: a check box "known" and the editor."""

    def __init__(self, name: str, parent: QWidget | None = None, with_time: bool = False) -> None:
        super().__init__(parent)
        self.known = QCheckBox("known", self)
        self.known.setAccessibleName(f"{name} is known")
        self.edit: QDateEdit | QDateTimeEdit
        if with_time:
            self.edit = QDateTimeEdit(QDateTime.currentDateTimeUtc(), self)
            self.edit.setDisplayFormat("yyyy-MM-dd HH:mm 'UTC'")
        else:
            self.edit = QDateEdit(QDate.currentDate(), self)
            self.edit.setDisplayFormat("yyyy-MM-dd")
        self.edit.setCalendarPopup(True)
        self.edit.setAccessibleName(name)
        self.known.toggled.connect(self.edit.setEnabled)
        self.set_value(None)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.known)
        row.addWidget(self.edit, 1)

    def set_value(self, value: date | datetime | None) -> None:
        self.known.setChecked(value is not None)
        self.edit.setEnabled(value is not None)
        if isinstance(value, datetime) and isinstance(self.edit, QDateTimeEdit):
            utc = value.astimezone(UTC)
            self.edit.setDateTime(
                QDateTime(
                    QDate(utc.year, utc.month, utc.day), QTime(utc.hour, utc.minute, utc.second)
                )
            )
        elif isinstance(value, date) and not isinstance(value, datetime):
            self.edit.setDate(QDate(value.year, value.month, value.day))

    def value(self) -> date | datetime | None:
        if not self.known.isChecked():
            return None
        if isinstance(self.edit, QDateTimeEdit) and not isinstance(self.edit, QDateEdit):
            moment = self.edit.dateTime().toPython()
            assert isinstance(moment, datetime)
            return moment.replace(tzinfo=UTC)
        day = self.edit.date().toPython()
        assert isinstance(day, date)
        return day


class ChoosePage(QWizardPage):
    """Step 1: the file or folder, typed, chosen or dropped; its kind shown as you type."""

    def __init__(self, kinds: tuple[str, ...], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kinds = kinds
        only_policy = kinds == (POLICY,)
        self.setTitle("Choose the terms document" if only_policy else "Choose the evidence")
        self.setSubTitle(
            "A terms-of-service document: .txt, .md, .html, .pdf or .docx."
            if only_policy
            else "A model folder (Hugging Face: config.json, *.safetensors and the "
            "tokenizer), an .onnx file, a transcript file (.jsonl or .csv) or a "
            "terms-of-service document (.txt, .md, .html, .pdf, .docx)."
        )
        self.path = _line(
            "Path of the evidence",
            self,
            "Type a path, choose below, or drop a file on the main window",
        )
        self.path.textChanged.connect(self._changed)
        self.file_button = QPushButton("Choose a &file…", self)
        self.file_button.setAccessibleName("Choose a file")
        self.file_button.clicked.connect(lambda: self._choose("file"))
        self.folder_button = QPushButton("Choose a model f&older…", self)
        self.folder_button.setAccessibleName("Choose a model folder")
        self.folder_button.clicked.connect(lambda: self._choose("model"))
        self.folder_button.setVisible(MODEL in kinds)
        self.kind = QLabel(self)
        self.kind.setAccessibleName("Detected kind of evidence")
        self.kind.setWordWrap(True)
        label = QLabel("&Path:", self)
        label.setBuddy(self.path)
        row = QHBoxLayout()
        row.addWidget(self.file_button)
        row.addWidget(self.folder_button)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(label)
        layout.addWidget(self.path)
        layout.addLayout(row)
        layout.addWidget(self.kind)
        layout.addStretch(1)

    def _choose(self, what: str) -> None:
        wizard = self.wizard()
        chosen = wizard.ask_path(what) if isinstance(wizard, AddEvidenceWizard) else None
        if chosen is not None:
            self.path.setText(str(chosen))

    def chosen(self) -> Path | None:
        text = self.path.text().strip()
        return Path(text).expanduser() if text else None

    def _changed(self) -> None:
        path = self.chosen()
        if path is None:
            self.kind.setText("")
        elif not path.exists():
            self.kind.setText("Nothing exists at this path yet.")
        else:
            kind = detect_kind(path)
            self.kind.setText(
                f"This looks like {KIND_TITLES[kind]}."
                if kind in self.kinds
                else "This is not a kind of evidence this wizard imports."
            )
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        path = self.chosen()
        return path is not None and path.exists() and detect_kind(path) in self.kinds


class FoundPage(JobPage):
    """Step 2: what core found in the file (a job: a big PDF or transcript takes a moment)."""

    def __init__(self, wizard: AddEvidenceWizard) -> None:
        super().__init__(
            "What I found",
            "Read only: nothing is imported yet.",
            wizard.start_inspection,
            wizard,
            compact=True,
        )
        self.found: EvidencePreview | None = None
        self.form = QFormLayout()
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.warnings = QLabel(self)
        self.warnings.setAccessibleName("Warnings about the file")
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet("color: #8a4b00;")
        self.body.addLayout(self.form)
        self.body.addWidget(self.warnings)
        self.body.addStretch(1)

    def initializePage(self) -> None:
        self.found = None
        while self.form.rowCount():
            self.form.removeRow(0)
        self.warnings.setText("")
        super().initializePage()

    def succeeded(self, result: Any) -> None:
        self.found = result
        assert isinstance(result, EvidencePreview)
        self.setSubTitle(
            f"{result.path.name} is {KIND_TITLES[result.kind]}. Read only: nothing is imported yet."
        )
        for label, value in result.facts:
            shown = QLabel(value, self)
            shown.setAccessibleName(label)
            shown.setWordWrap(True)
            shown.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.form.addRow(f"{label}:", shown)
        self.warnings.setText("\n".join(result.warnings))


class DetailsPage(QWizardPage):
    """Step 3: role and provenance (models, transcripts) or the document's identity (terms)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle("About this evidence")
        self.stack = QStackedWidget(self)
        self.panels: dict[str, dict[str, Any]] = {}
        self._model_panel()
        self._transcript_panel()
        self._policy_panel()
        self.role_help = QLabel(self)
        self.role_help.setAccessibleName("What the role means")
        self.role_help.setWordWrap(True)
        self.error = error_label(self)
        layout = QVBoxLayout(self)
        layout.addWidget(self.stack)
        layout.addWidget(self.role_help)
        layout.addWidget(self.error)
        layout.addStretch(1)

    def _panel(self, kind: str, rows: list[tuple[str, str, QWidget]]) -> None:
        panel = QWidget(self.stack)
        form = QFormLayout(panel)
        for _key, text, widget in rows:
            widget.setParent(panel)
            form.addRow(text, widget)
            if isinstance(widget, QLineEdit):
                widget.textChanged.connect(self.completeChanged)
            if isinstance(widget, QComboBox) and _key == "role":
                widget.currentIndexChanged.connect(lambda _i, w=widget: self._role_help(w))
        self.panels[kind] = {key: widget for key, _text, widget in rows}
        self.panels[kind]["_panel"] = panel
        self.stack.addWidget(panel)

    def _model_panel(self) -> None:
        self._panel(
            MODEL,
            [
                ("role", "&Role in the case:", _combo("Role of the model", ARTIFACT_ROLES, self)),
                ("name", "N&ame:", _line("Name of the model", self)),
                (
                    "collector",
                    "&Collected by:",
                    _line("Who collected the model", self, "e.g. J. Doe, forensic examiner"),
                ),
                (
                    "collected_at",
                    "Collected &on:",
                    OptionalDate("Date the model was collected", self),
                ),
                (
                    "method",
                    "&How:",
                    _line(
                        "How the model was obtained",
                        self,
                        "e.g. produced in discovery; downloaded from …",
                    ),
                ),
                ("notes", "No&tes:", _line("Notes on the model", self)),
                *_custody_rows(self),
            ],
        )

    def _transcript_panel(self) -> None:
        self._panel(
            TRANSCRIPTS,
            [
                (
                    "role",
                    "&Role in the case:",
                    _combo("Role of the transcripts", TRANSCRIPT_ROLES, self),
                ),
                ("name", "N&ame:", _line("Name of the transcript set", self)),
                (
                    "source",
                    "&How obtained:",
                    _line(
                        "How the transcripts were obtained",
                        self,
                        "e.g. captured from the provider's API",
                    ),
                ),
                ("provider", "&Provider:", _line("Provider of the answering model", self)),
                ("model_name", "&Model name:", _line("Name of the answering model", self)),
                ("collector", "&Collected by:", _line("Who collected the transcripts", self)),
                (
                    "collected_at",
                    "Collected a&t:",
                    OptionalDate("Time the transcripts were collected", self, with_time=True),
                ),
                *_custody_rows(self),
            ],
        )

    def _policy_panel(self) -> None:
        self._panel(
            POLICY,
            [
                (
                    "provider",
                    "&Provider:",
                    _line("Provider whose terms these are", self, "e.g. Halcyon Labs"),
                ),
                ("title", "&Title:", _line("Title of the document", self)),
                ("version", "&Version:", _line("Version of the document", self, "e.g. 2025-06")),
                (
                    "effective_from",
                    "In force &from:",
                    OptionalDate("Date the version took effect", self),
                ),
                ("effective_to", "In force &until:", OptionalDate("Date the version ended", self)),
                *_custody_rows(self),
            ],
        )

    def kind(self) -> EvidenceKind:
        wizard = self.wizard()
        found = wizard.found() if isinstance(wizard, AddEvidenceWizard) else None
        return found.kind if found else MODEL

    def field_values(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key, widget in self.panels[self.kind()].items():
            if isinstance(widget, QLineEdit):
                values[key] = widget.text().strip()
            elif isinstance(widget, QComboBox):
                values[key] = widget.currentData()
            elif isinstance(widget, OptionalDate):
                values[key] = widget.value()
        return values

    def widget(self, key: str) -> Any:
        return self.panels[self.kind()][key]

    def initializePage(self) -> None:
        kind = self.kind()
        wizard = self.wizard()
        found = wizard.found() if isinstance(wizard, AddEvidenceWizard) else None
        self.stack.setCurrentWidget(self.panels[kind]["_panel"])
        self.setSubTitle(
            {
                MODEL: "Its role, and where it came from (kept as chain of custody).",
                TRANSCRIPTS: "Their role, and how they were collected.",
                POLICY: "Whose terms, which version, and when it was in force. "
                "Detected values are filled in: check them.",
            }[kind]
        )
        defaults = dict(found.defaults) if found else {}
        defaults.update(getattr(wizard, "preset", {}) or {})
        for key, value in defaults.items():
            widget = self.panels[kind].get(key)
            if isinstance(widget, QLineEdit) and value:
                widget.setText(str(value))
            elif isinstance(widget, QComboBox) and value:
                widget.setCurrentIndex(max(0, widget.findData(value)))
            elif isinstance(widget, OptionalDate):
                widget.set_value(value)
        role = self.panels[kind].get("role")
        self.role_help.setVisible(role is not None)
        if role is not None:
            self._role_help(role)
        show_message(self.error, "")

    def _role_help(self, box: QComboBox) -> None:
        self.role_help.setText(ROLE_HELP.get(box.currentData() or "", ""))

    def isComplete(self) -> bool:
        values = self.field_values()
        if self.kind() == POLICY:
            return bool(values.get("provider") and values.get("version") and values.get("title"))
        return bool(values.get("name"))


class ImportPage(JobPage):
    """Step 4: hash and record, with progress (the same functions as the CLI)."""

    def __init__(self, wizard: AddEvidenceWizard) -> None:
        super().__init__(
            "Hash and import",
            "Every file is hashed (SHA-256) and recorded with an "
            "audit event; nothing is written if this stops or fails.",
            wizard.start_import,
            wizard,
        )
        self.done = QLabel(self)
        self.done.setAccessibleName("Import result")
        self.done.setWordWrap(True)
        self.body.addWidget(self.done)
        self.body.addStretch(1)

    def initializePage(self) -> None:
        self.done.setText("")
        super().initializePage()

    def succeeded(self, result: Any) -> None:
        wizard = self.wizard()
        found = wizard.found() if isinstance(wizard, AddEvidenceWizard) else None
        kind = found.kind if found is not None else ""
        where = "Policies" if kind == POLICY else "Evidence"
        self.done.setText(
            f"Imported (record {result}). It is listed in the {where} tab with its "
            "SHA-256; the audit log records the import."
        )
        if isinstance(wizard, AddEvidenceWizard):
            wizard.imported_id = int(result)


class AddEvidenceWizard(HostWizard):
    """Choose → What I found → About this evidence → Hash and import."""

    def __init__(
        self,
        host: Host,
        path: Path | None = None,
        kinds: tuple[str, ...] = (MODEL, TRANSCRIPTS, POLICY),
        parent: QWidget | None = None,
        title: str = "Add evidence",
    ) -> None:
        super().__init__(host, title, "AddEvidenceWizard", parent)
        self.case_id = host.case_id
        self.imported_id: int | None = None
        self.preset: dict[str, Any] = {}
        self.choose = ChoosePage(kinds, self)
        self.found_page = FoundPage(self)
        self.details = DetailsPage(self)
        self.importing = ImportPage(self)
        for page in (self.choose, self.found_page, self.details, self.importing):
            self.addPage(page)
        self.details.setButtonText(self.WizardButton.NextButton, "&Import")
        if path is not None:
            self.choose.path.setText(str(path))

    def found(self) -> EvidencePreview | None:
        return self.found_page.found

    def ask_path(self, what: str) -> Path | None:
        """The file dialog (through the host, so tests can answer it)."""
        ask = getattr(self.host, "ask_path", None)
        if ask is None:
            return None
        if what == "model":
            return ask("model")
        return ask("policy" if self.choose.kinds == (POLICY,) else "evidence")

    def start_inspection(self) -> Job | None:
        path = self.choose.chosen()
        if path is None:
            return None
        return self.host.runner.run(preview_evidence, path, label=f"Inspect {path.name}")

    def start_import(self) -> Job | None:
        found, cf = self.found(), self.host.case_file
        if found is None or cf is None or self.case_id is None:
            return None
        v = self.details.field_values()
        actor = self.host.reviewer()
        label = f"Import {found.path.name}"
        if found.kind == MODEL:
            provenance = {
                "collector": v["collector"],
                "method": v["method"],
                "notes": v["notes"],
                "collected_at": v["collected_at"].isoformat() if v["collected_at"] else None,
            }
            from core.evidence.importer import import_model

            return self.host.runner.run(
                import_model,
                cf,
                self.case_id,
                found.path,
                v["role"],
                name=v["name"],
                provenance=provenance,
                actor=actor,
                inspection=found.inspection,
                custody=custody_of(v),
                label=label,
            )
        if found.kind == TRANSCRIPTS:
            from core.evidence.importer import import_transcripts

            return self.host.runner.run(
                import_transcripts,
                cf,
                self.case_id,
                found.path,
                v["role"],
                name=v["name"],
                source=v["source"],
                provider=v["provider"],
                model_name=v["model_name"],
                collector=v["collector"],
                collected_at=v["collected_at"],
                actor=actor,
                custody=custody_of(v),
                label=label,
            )
        from core.policy.persist import import_policy

        return self.host.runner.run(
            import_policy,
            cf,
            self.case_id,
            found.path,
            provider=v["provider"],
            title=v["title"],
            version=v["version"],
            effective_from=v["effective_from"],
            effective_to=v["effective_to"],
            actor=actor,
            custody=custody_of(v),
            label=label,
        )

    def background_jobs(self) -> list[Job]:
        return [j for j in (self.importing.job,) if j is not None]
