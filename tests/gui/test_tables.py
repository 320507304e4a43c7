"""The shared table mechanism: sort on header click, filter on every column, copy, tooltips."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from app.views.column_help import COLUMN_HELP
from app.views.readable import label, readable
from app.views.table_model import Column, RecordTableModel
from app.views.tables import make_filter_box, make_table


@dataclass
class Row:
    id: int
    name: str
    digest: str


COLUMNS: list[Column[Row]] = [
    Column("ID", lambda r: r.id, align_right=True),
    Column("Name", lambda r: r.name),
    Column("Hash", lambda r: r.digest[:4] + "…", copy=lambda r: r.digest),
]
ROWS = [Row(10, "beta", "b" * 64), Row(9, "alpha", "a" * 64), Row(100, "Gamma", "c" * 64)]


def _table(qtbot: Any) -> tuple[Any, RecordTableModel[Row]]:
    model: RecordTableModel[Row] = RecordTableModel(COLUMNS)
    view = make_table("Things")
    qtbot.addWidget(view)
    view.setModel(model)
    model.set_records(ROWS)
    return view, model


def test_source_order_until_a_header_is_clicked_then_numbers_sort_as_numbers(qtbot: Any) -> None:
    view, _model = _table(qtbot)
    shown = [view.model().index(r, 0).data() for r in range(3)]
    assert shown == ["10", "9", "100"]  # no sort until the user asks
    view.horizontalHeader().sectionClicked.emit(0)
    view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    assert [view.model().index(r, 0).data() for r in range(3)] == ["9", "10", "100"]
    view.sortByColumn(1, Qt.SortOrder.AscendingOrder)  # case-insensitive text
    assert [view.model().index(r, 1).data() for r in range(3)] == ["alpha", "beta", "Gamma"]


def test_selection_speaks_in_source_rows_when_sorted_and_filtered(qtbot: Any) -> None:
    view, model = _table(qtbot)
    view.sortByColumn(1, Qt.SortOrder.AscendingOrder)
    view.select_source_row(0)  # "beta", shown second
    assert view.currentIndex().row() == 1
    assert model.record(view.selected_source_row()).name == "beta"
    box = make_filter_box(view)
    qtbot.addWidget(box)
    box.setText("GAM")  # any column, any case
    assert view.model().rowCount() == 1
    assert view.model().index(0, 1).data() == "Gamma"
    view.select_source_row(1)  # hidden by the filter: nothing happens
    box.setText("")
    assert view.model().rowCount() == 3


def test_copy_cell_and_rows_with_full_values(qtbot: Any) -> None:
    view, _model = _table(qtbot)
    view.selectRow(0)
    view.setCurrentIndex(view.model().index(0, 2))
    assert view.copy_cell() == "b" * 64  # the whole hash, not the abbreviation
    view.selectAll()
    text = view.copy_rows()
    assert QGuiApplication.clipboard().text() == text
    lines = text.splitlines()
    assert lines[0] == "ID\tName\tHash" and len(lines) == 4
    assert lines[1] == f"10\tbeta\t{'b' * 64}"
    names = [a.text() for a in view.actions()]
    assert "Copy &cell" in names and "Copy selected &rows" in names
    assert view.contextMenuPolicy() == Qt.ContextMenuPolicy.ActionsContextMenu


def test_header_tooltips_come_from_the_one_table(qtbot: Any) -> None:
    _view, model = _table(qtbot)
    tip = model.headerData(2, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    assert tip == COLUMN_HELP["Hash"]
    from app.views import analyses_view, audit_view, evidence_view, findings_view, policies_view

    headers = [
        c.header
        for cols in (
            analyses_view.RUN_COLUMNS,
            analyses_view.CHECK_COLUMNS,
            audit_view.COLUMNS,
            evidence_view.COLUMNS,
            findings_view.COLUMNS,
            policies_view.POLICY_COLUMNS,
        )
        for c in cols
    ]
    assert [h for h in headers if h not in COLUMN_HELP] == []


def test_readable_parameters() -> None:
    assert label("max_new_tokens") == "Max new tokens"
    assert label("sha256") == "SHA-256"
    text = readable({"n_probes": 40, "checks": ["a", "b"], "seed": None, "inner": {"ok": True}})
    assert text.splitlines() == ["N probes: 40", "Checks: a, b", "Seed: —", "Inner:", "  Ok: yes"]


def test_evidence_detail_pane_shows_collection_source_hashes_and_sizes(qtbot: Any) -> None:
    from app.views.evidence_detail import EvidenceDetailDialog, evidence_fields
    from core.evidence.inventory import EvidenceItem

    item = EvidenceItem(
        "model", 3, "suspect", "suspect", "safetensors", "f" * 64, 2_500_000, "/x/suspect",
        "gpt2, 1,000 parameters", "A. Reviewer", "2026-01-02T03:04:05+00:00",
        {"manifest": [{"path": "model.safetensors", "size": 2_500_000, "sha256": "e" * 64}],
         "provenance": {"source": "seized laptop"}, "architecture": "gpt2"},
    )  # fmt: skip
    fields = dict(evidence_fields(item))
    assert fields["SHA-256 of the file manifest"] == "f" * 64
    assert fields["Size"] == "2,500,000 bytes (2.5 MB)"
    assert fields["Imported at (UTC)"] == "2026-01-02 03:04:05"
    assert fields["Provenance"] == "Source: seized laptop"  # words, not JSON
    assert fields["Files"] == "1"
    dialog = EvidenceDetailDialog(item)
    qtbot.addWidget(dialog)
    assert dialog.values["Imported by"].text() == "A. Reviewer"
    assert dialog.files is not None and "e" * 64 in dialog.files.toPlainText()


def test_refitting_columns_scrolls_back_to_the_left_edge(qtbot: Any) -> None:
    from app.views.tables import fit_columns

    view, model = _table(qtbot)
    model.set_records([Row(1, "x" * 400, "d" * 64)])
    view.resize(200, 120)
    view.show()
    fit_columns(view, stretch=2, fit=(0, 1))
    bar = view.horizontalScrollBar()
    assert bar.maximum() > 0  # the long name needs scrolling
    bar.setValue(bar.maximum())
    model.set_records([Row(2, "y" * 400, "e" * 64)])  # the next run's rows
    fit_columns(view, stretch=2, fit=(0, 1))
    assert bar.maximum() > 0 and bar.value() == 0


def test_fit_rows_keeps_every_row_whole(qtbot: Any) -> None:
    from app.views.tables import fit_rows

    view, _model = _table(qtbot)
    height = fit_rows(view, at_least=3)
    row = view.verticalHeader().defaultSectionSize()
    assert view.minimumHeight() == height
    assert height >= view.horizontalHeader().sizeHint().height() + 3 * row
