"""The detail pane of one evidence item (double-click in the Evidence tab).

Who collected it and when, where it came from, its fingerprints and sizes, in labelled
fields rather than raw JSON; for a model, every file of its manifest with its SHA-256
and size. Everything shown comes from :class:`core.evidence.inventory.EvidenceItem`
(read through ``core.records``); the dialog changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from app.views.readable import label, readable_lines

if TYPE_CHECKING:
    from core.evidence.inventory import EvidenceItem

KIND_NAMES = {"model": "Model", "transcripts": "Transcript set", "policy": "Terms document"}
#: Details shown as their own fields (in this order); the rest go under "Other details".
FIELD_KEYS = (
    "collector",
    "collected_at",
    "source",
    "sampling",
    "items",
    "duplicate_prompts",
    "architecture",
    "parameter_count",
    "vocab_size",
    "tokenizer_hash",
    "licence_file",
    "provenance",
)
FIELD_LABELS = {
    "collector": "Collected by",
    "collected_at": "Collected at (UTC)",
    "source": "Source",
    "items": "Prompt/response pairs",
    "tokenizer_hash": "Tokenizer SHA-256",
    "licence_file": "Licence file",
    "parameter_count": "Parameters",
}


def size_text(size: int | None) -> str:
    """Bytes in words a reader can compare: ``1,234,567 bytes (1.2 MB)``."""
    if size is None:
        return "—"
    for unit, factor in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= factor:
            return f"{size:,} bytes ({size / factor:.1f} {unit})"
    return f"{size:,} bytes"


def _value(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, (dict, list)):
        return "\n".join(readable_lines(value))
    return str(value)


def evidence_fields(item: EvidenceItem) -> list[tuple[str, str]]:
    """The labelled fields of the pane, top to bottom."""
    details = dict(item.details or {})
    digest = "SHA-256 of the file manifest" if item.kind == "model" else "SHA-256 of the file"
    fields = [
        ("Kind", KIND_NAMES.get(item.kind, item.kind)),
        ("Name", item.name),
        ("Role", item.role),
        ("Format", item.format),
        ("Description", item.description),
        ("Source path", item.path),
        (digest, item.sha256),
        ("Size", size_text(item.size)),
        ("Imported by", item.imported_by or "—"),
        ("Imported at (UTC)", item.imported_at[:19].replace("T", " ")),
    ]
    for key in FIELD_KEYS:
        if key in details:
            fields.append((FIELD_LABELS.get(key, label(key)), _value(details.pop(key))))
    manifest = details.pop("manifest", None)
    if manifest:
        fields.append(("Files", str(len(manifest))))
    if details:
        fields.append(("Other details", "\n".join(readable_lines(details))))
    return fields


def manifest_text(item: EvidenceItem) -> str:
    """A model's files, one a line: path, size, SHA-256 (empty for transcript sets)."""
    manifest = (item.details or {}).get("manifest") or []
    return "\n".join(
        f"{e.get('path', '?')}  ·  {size_text(e.get('size'))}  ·  SHA-256 {e.get('sha256', '—')}"
        for e in manifest
        if isinstance(e, dict)
    )


class EvidenceDetailDialog(QDialog):
    """A read-only form of one evidence item; text can be selected and copied."""

    def __init__(self, item: EvidenceItem, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("EvidenceDetail")
        self.setWindowTitle(f"Evidence — {item.name}")
        self.item = item
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.values: dict[str, QLabel] = {}
        for name, text in evidence_fields(item):
            value = QLabel(text, self)
            value.setWordWrap(True)
            value.setAccessibleName(name)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(f"{name}:", value)
            self.values[name] = value
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        files = manifest_text(item)
        self.files: QPlainTextEdit | None = None
        if files:
            self.files = QPlainTextEdit(files, self)
            self.files.setReadOnly(True)
            self.files.setAccessibleName("Files of the model with their SHA-256")
            self.files.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
            layout.addWidget(QLabel("Files of the model (as hashed at import):", self))
            layout.addWidget(self.files, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(720, 520 if files else 420)
