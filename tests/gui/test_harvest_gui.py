"""The check wizard offers the harvest test when the case holds its two sets (the registry's
``fits`` decides), with its can-show sentence, and says what is missing otherwise."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from core.checks.harvest import SPEC, fits
from core.evidence.importer import import_transcripts
from tests.conftest import write_jsonl
from tests.gui import fixtures as gui_fixtures
from tests.gui.fixtures import needs_demo, wait_page
from tests.test_harvest_evidence import logged, regen

no_dangling_threads = gui_fixtures.no_dangling_threads
demo_case_master = gui_fixtures.demo_case_master
demo_window = gui_fixtures.demo_window


def _open_checks_page(win: Any, qtbot: Any) -> Any:
    wizard = win.analysis.run_check()
    wait_page(wizard, wizard.question_page, qtbot)
    wizard.next()
    wizard.next()
    return wizard


@needs_demo
def test_the_wizard_offers_the_harvest_test_with_its_two_sets(demo_window, qtbot, tmp_path) -> None:
    """The demo case ships Halcyon's log and Lumen's regenerations: the test is offered; without
    the log the wizard says what is missing, in the words the runner uses."""
    win = demo_window
    wizard = _open_checks_page(win, qtbot)
    ev = wizard.evidence
    assert ev.harvested.currentData() is not None and ev.regenerations.currentData() is not None
    assert ev.rows["harvested"][1].isVisibleTo(ev) and ev.rows["regenerations"][1].isVisibleTo(ev)
    box, note = wizard.checks_page.boxes[SPEC.key], wizard.checks_page.notes[SPEC.key]
    assert box.isEnabled() and SPEC.title in box.text() and note.text() == SPEC.can_show
    without_log = replace(ev.available(), harvested=False)
    reason = fits(without_log)
    assert reason and "harvested" in reason and "role harvested-exchanges" in reason
    wizard.reject()
    log = write_jsonl(tmp_path / "log.jsonl", [logged(i) for i in range(3)])
    regs = write_jsonl(
        tmp_path / "regen.jsonl", [regen(i, k) for i in range(3) for k in range(1, 20)]
    )
    import_transcripts(win.case_file, win.case_id, log, "harvested-exchanges")
    import_transcripts(win.case_file, win.case_id, regs, "regenerations")
    wizard = _open_checks_page(win, qtbot)
    assert wizard.evidence.harvested.count() >= 2  # both logs are offered
    wizard.reject()


def test_the_analyses_tab_and_the_pdf_draw_the_same_rank_histogram() -> None:
    from types import SimpleNamespace

    from app.views.charts import probe_chart
    from core.checks.harvest import expected_histogram

    hist = [9, 3, 2, 1, 1, 1, 1, 0, 1, 1]
    record = SimpleNamespace(
        details={"rank_histogram": hist, "rank_histogram_expected": expected_histogram([19] * 20)},
        title=SPEC.title,
        series=[],
    )
    fig = probe_chart(record)
    assert fig is not None
    (ax,) = fig.axes
    assert [round(p.get_height()) for p in ax.patches] == hist  # type: ignore[attr-defined]
    assert expected_histogram([19] * 20) == pytest.approx([2.0] * 10)  # flat under Hd
    legend = ax.get_legend()
    assert legend is not None
    assert any("never saw" in t.get_text() for t in legend.get_texts())
