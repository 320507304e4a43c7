"""Help → Help and glossary: the steps of a case in plain words, and the glossary.

The glossary is the report's own (:func:`core.reports.wording.glossary`), so a word
means on screen exactly what it means in the PDF; nothing is defined twice.
"""

from __future__ import annotations

from html import escape

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from core.reports.wording import glossary

STEPS = (
    ("Open or create a case", "File → New case… or Open…; Help → Open demo case shows a "
     "finished example."),
    ("Add the evidence", "Evidence tab → Add evidence…: the suspect model, the protected "
     "model's answers, reference models. Every file is hashed (SHA-256) on import."),
    ("Import the terms", "Policies tab → Import terms…: each clause is tagged with the kind "
     "of restriction it states."),
    ("Run a check", "Analysis → Run a check… (Ctrl+R). Each check states its question, its "
     "null hypothesis (Hd) and its test; the results land in the Analyses tab."),
    ("Review the findings", "Findings tab: accept or reject each draft finding, with a "
     "reason, and link it to the clause in force on the date of the conduct."),
    ("Export the report", "File → Export report… (Ctrl+E): the PDF, and the JSON/CSV "
     "that hold the same numbers."),
)  # fmt: skip

TIPS = (
    "Click a column header to sort; type in a search box to filter every column.",
    "Ctrl+C copies the selected rows (full hashes included); right-click copies one cell.",
    "Hover over a column header for what it means; double-click evidence for its details.",
    "Every change is recorded in the Audit tab under the reviewer name from Settings.",
)


def glossary_html() -> str:
    """The report's glossary as a definition list."""
    items = "".join(
        f"<dt><b>{escape(g['term'])}</b></dt><dd>{escape(g['definition'])}</dd>" for g in glossary()
    )
    return f"<h2>Glossary</h2><p>The same words as in the report.</p><dl>{items}</dl>"


def guide_html() -> str:
    """The steps of a case and a few tips."""
    steps = "".join(f"<li><b>{escape(t)}</b>: {escape(d)}</li>" for t, d in STEPS)
    tips = "".join(f"<li>{escape(t)}</li>" for t in TIPS)
    return f"<h2>How a case goes</h2><ol>{steps}</ol><h3>Tips</h3><ul>{tips}</ul>"


class HelpDialog(QDialog):
    """Two pages: the guide and the glossary."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("HelpDialog")
        self.setWindowTitle("Distill Audit — help and glossary")
        self.pages = QTabWidget(self)
        self.guide = QTextBrowser(self)
        self.guide.setAccessibleName("How to use Distill Audit")
        self.guide.setHtml(guide_html())
        self.glossary = QTextBrowser(self)
        self.glossary.setAccessibleName("Glossary")
        self.glossary.setHtml(glossary_html())
        self.pages.addTab(self.guide, "&Guide")
        self.pages.addTab(self.glossary, "G&lossary")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.pages)
        layout.addWidget(buttons)
        self.resize(640, 520)
