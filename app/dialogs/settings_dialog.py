"""Edit → Settings: CPU threads, model precision, alpha, data folder, reviewer, text size."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from app.settings import MAX_FONT, MIN_FONT, AppSettings
from core.backends.precision import DTYPES

DTYPE_LABELS = {
    "auto": "Auto (the model's own bfloat16/float16 where this CPU runs it well)",
    "float32": "float32 (exact, 4 bytes a parameter)",
    "bfloat16": "bfloat16 (half the memory)",
    "float16": "float16 (half the memory)",
    "int8": "int8 (dynamic quantisation, a quarter of the memory once loaded)",
}


class SettingsDialog(QDialog):
    """A small form; on OK calls ``save(settings)`` with the edited copy."""

    def __init__(
        self,
        settings: AppSettings,
        save: Callable[[AppSettings], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setObjectName("SettingsDialog")
        self._save = save
        self._settings = settings
        self.threads = QSpinBox(self)
        self.threads.setAccessibleName("CPU threads for analyses")
        self.threads.setRange(1, 256)
        self.threads.setValue(settings.cpu_threads)
        self.dtype = QComboBox(self)
        self.dtype.setAccessibleName("Model precision")
        for d in DTYPES:
            self.dtype.addItem(DTYPE_LABELS[d], d)
        self.dtype.setCurrentIndex(max(0, self.dtype.findData(settings.model_dtype)))
        self.alpha = QDoubleSpinBox(self)
        self.alpha.setAccessibleName("Default significance level alpha")
        self.alpha.setDecimals(3)
        self.alpha.setRange(0.001, 0.2)
        self.alpha.setSingleStep(0.005)
        self.alpha.setValue(settings.default_alpha)
        self.folder = QLineEdit(settings.data_folder, self)
        self.folder.setAccessibleName("Default data folder")
        browse = QPushButton("&Browse…", self)
        browse.setAccessibleName("Choose the default data folder")
        browse.clicked.connect(self._browse)
        self.reviewer = QLineEdit(settings.reviewer_name, self)
        self.reviewer.setAccessibleName("Reviewer name")
        self.reviewer.setPlaceholderText("Your name, as it should appear in the audit log")
        self.font_size = QSpinBox(self)
        self.font_size.setAccessibleName("Text size in points")
        self.font_size.setRange(MIN_FONT - 1, MAX_FONT)
        self.font_size.setSpecialValueText("System default")
        self.font_size.setSuffix(" pt")
        self.font_size.setValue(settings.font_size or MIN_FONT - 1)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        holder = QWidget(self)
        holder.setLayout(row)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        for button in buttons.buttons():
            button.setAccessibleName(button.text().replace("&", ""))
        note = QLabel(
            "Threads: how many CPU cores an analysis may use (fewer keeps the machine "
            "responsive). Precision: the arithmetic models run at; a model that would not "
            "fit in free memory is refused before anything is written. Alpha: the "
            "significance level a new check starts with.",
            self,
        )
        note.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow("CPU &threads:", self.threads)
        form.addRow("Model &precision:", self.dtype)
        form.addRow("Default &alpha:", self.alpha)
        form.addRow("Default data &folder:", holder)
        form.addRow("&Reviewer name:", self.reviewer)
        form.addRow("Text si&ze:", self.font_size)
        form.addRow(note)
        form.addRow(buttons)

    def _browse(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Default data folder", self.folder.text())
        if chosen:
            self.folder.setText(chosen)

    def edited(self) -> AppSettings:
        folder = self.folder.text().strip() or str(Path.home())
        return AppSettings(
            cpu_threads=self.threads.value(),
            default_alpha=round(self.alpha.value(), 6),
            data_folder=folder,
            reviewer_name=self.reviewer.text().strip(),
            font_size=0 if self.font_size.value() < MIN_FONT else self.font_size.value(),
            recent_files=list(self._settings.recent_files),
            model_dtype=str(self.dtype.currentData() or "auto"),
        )

    def accept(self) -> None:
        self._save(self.edited())
        super().accept()
