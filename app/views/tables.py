"""The table view every tab uses: sortable, filterable, copyable, read-only.

One mechanism for all tables (issue 18): :func:`make_table` returns a
:class:`RecordTableView` that puts a :class:`QSortFilterProxyModel` between itself and
the :class:`~app.views.table_model.RecordTableModel` it is given, so a click on a header
sorts and :func:`make_filter_box` searches every column. Views always speak in *source*
rows (``select_source_row``, ``selected_source_row``): the proxy's order is the view's
business only. Ctrl+C and the context menu copy the cell or the selected rows as
tab-separated text (pastes into a spreadsheet or a letter).
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QAbstractItemModel, QEvent, QModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLineEdit, QTableView, QWidget

from app.views.table_model import COPY_ROLE, SORT_ROLE

FIT = QHeaderView.ResizeMode.ResizeToContents
STRETCH = QHeaderView.ResizeMode.Stretch


class RecordTableView(QTableView):
    """A table view over a sort/filter proxy of its source model."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setFilterKeyColumn(-1)  # every column
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setSortRole(SORT_ROLE)
        self.proxy.setSortCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.copy_cell_action = QAction("Copy &cell", self)
        self.copy_cell_action.triggered.connect(self.copy_cell)
        self.copy_rows_action = QAction("Copy selected &rows", self)
        self.copy_rows_action.setShortcut(QKeySequence.StandardKey.Copy)
        self.copy_rows_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.copy_rows_action.triggered.connect(self.copy_rows)
        self.addAction(self.copy_cell_action)
        self.addAction(self.copy_rows_action)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)

    def changeEvent(self, event: QEvent) -> None:
        """Rows grow with the text when the text size setting changes."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)

    # --- model ------------------------------------------------------------------------
    def setModel(self, model: QAbstractItemModel | None) -> None:
        """Show ``model`` through the proxy (sorted as the user clicks, filtered)."""
        if model is None:
            super().setModel(None)
            return
        self.proxy.setSourceModel(model)
        super().setModel(self.proxy)
        # No sort until the user clicks a header: the source order (e.g. the audit
        # chain's) is the first thing shown.
        self.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.setSortingEnabled(True)

    def source_model(self) -> QAbstractItemModel | None:
        return self.proxy.sourceModel()

    def set_filter(self, text: str) -> None:
        """Show only rows where some column contains ``text`` (any case)."""
        self.proxy.setFilterFixedString(text)

    # --- rows in source terms ---------------------------------------------------------
    def selected_source_rows(self) -> list[int]:
        """The selected rows as rows of the source model, top to bottom as shown."""
        rows = sorted(i.row() for i in self.selectionModel().selectedRows())
        return [self.proxy.mapToSource(self.proxy.index(r, 0)).row() for r in rows]

    def selected_source_row(self) -> int | None:
        """The current selected row (the one with focus, else the first), or None."""
        current = self.currentIndex()
        selected = self.selectionModel().selectedRows()
        if not selected:
            return None
        if current.isValid() and self.selectionModel().isRowSelected(current.row()):
            return self.proxy.mapToSource(current).row()
        return self.proxy.mapToSource(selected[0]).row()

    def select_source_row(self, row: int) -> None:
        """Select a row given in source terms (no-op when the filter hides it)."""
        source = self.proxy.sourceModel()
        if source is None:
            return
        index = self.proxy.mapFromSource(source.index(row, 0))
        if index.isValid():
            self.selectRow(index.row())

    # --- copying ----------------------------------------------------------------------
    def copy_cell(self) -> str:
        """Put the current cell's text on the clipboard; return it."""
        index = self.currentIndex()
        text = "" if not index.isValid() else str(index.data(COPY_ROLE) or index.data() or "")
        QGuiApplication.clipboard().setText(text)
        return text

    def copy_rows(self) -> str:
        """Put the selected rows, with the column headers, on the clipboard as TSV."""
        cols = range(self.proxy.columnCount())
        header = "\t".join(
            str(self.proxy.headerData(c, Qt.Orientation.Horizontal) or "") for c in cols
        )
        rows = sorted(i.row() for i in self.selectionModel().selectedRows())
        lines = [header] + ["\t".join(_cell(self.proxy.index(r, c)) for c in cols) for r in rows]
        text = "\n".join(lines) if rows else ""
        QGuiApplication.clipboard().setText(text)
        return text


def _cell(index: QModelIndex) -> str:
    return str(index.data(COPY_ROLE) or index.data() or "").replace("\t", " ").replace("\n", " ")


def make_table(name: str, parent: QWidget | None = None) -> RecordTableView:
    """A table view: whole-row selection, no editing, sortable, stretchy last column."""
    view = RecordTableView(parent)
    view.setObjectName(name)
    view.setAccessibleName(name)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 10)
    view.horizontalHeader().setStretchLastSection(True)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    view.horizontalHeader().setHighlightSections(False)
    return view


def make_filter_box(view: RecordTableView, parent: QWidget | None = None) -> QLineEdit:
    """A search box that filters ``view`` on every column as the user types."""
    box = QLineEdit(parent)
    box.setObjectName(f"{view.objectName()} filter")
    box.setAccessibleName(f"Search {view.objectName().lower()}")
    box.setPlaceholderText("Search all columns…")
    box.setClearButtonEnabled(True)
    box.textChanged.connect(view.set_filter)
    return box


def fit_columns(view: QTableView, stretch: int, fit: Iterable[int] = ()) -> None:
    """Size columns to their contents except ``stretch``, which takes the spare width.

    ``fit`` columns follow their contents as rows change; the others are sized once per
    call and stay user-resizable. No horizontal scroll bar in the common case, and the
    view scrolls back to the left edge (new rows start where the eye does).
    """
    header = view.horizontalHeader()
    header.setStretchLastSection(False)
    fit = set(fit)
    for col in range(header.count()):
        if col == stretch:
            header.setSectionResizeMode(col, STRETCH)
        elif col in fit:
            header.setSectionResizeMode(col, FIT)
        else:
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            view.resizeColumnToContents(col)
    view.horizontalScrollBar().setValue(0)


def fit_rows(view: QTableView, at_least: int = 3, at_most: int = 8) -> int:
    """Keep ``view`` tall enough to show its rows whole (between the two bounds).

    A layout may otherwise squeeze a short table to a row and a half; returns the
    minimum height set, in pixels.
    """
    rows = max(at_least, min(at_most, view.model().rowCount() if view.model() else 0))
    height = (
        view.horizontalHeader().sizeHint().height()
        + rows * view.verticalHeader().defaultSectionSize()
        + 2 * view.frameWidth()
        + (view.horizontalScrollBar().sizeHint().height() if view.horizontalScrollBar() else 0)
    )
    view.setMinimumHeight(height)
    return height
