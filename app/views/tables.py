"""A read-only, row-selecting table view with the settings every table here shares."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

FIT = QHeaderView.ResizeMode.ResizeToContents
STRETCH = QHeaderView.ResizeMode.Stretch


def make_table(name: str, parent: QWidget | None = None) -> QTableView:
    """A table view: whole-row selection, no editing, sortless, stretchy last column."""
    view = QTableView(parent)
    view.setObjectName(name)
    view.setAccessibleName(name)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 10)
    view.horizontalHeader().setStretchLastSection(True)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    view.horizontalHeader().setHighlightSections(False)
    return view


def fit_columns(view: QTableView, stretch: int, fit: Iterable[int] = ()) -> None:
    """Size columns to their contents except ``stretch``, which takes the spare width.

    ``fit`` columns follow their contents as rows change; the others are sized once per
    call and stay user-resizable. No horizontal scroll bar in the common case.
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
