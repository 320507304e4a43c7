"""The check wizard offers an API-only suspect's answers and answers-only references, and
the checks page says which checks cannot use them (the runner's own judgement)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from core.evidence.importer import import_transcripts
from tests.conftest import write_jsonl
from tests.gui import fixtures as gui_fixtures
from tests.gui.fixtures import needs_demo, wait_page

no_dangling_threads = gui_fixtures.no_dangling_threads
demo_case_master = gui_fixtures.demo_case_master
demo_window = gui_fixtures.demo_window


def _answers(path: Path, model: str) -> Path:
    rows = [
        {"prompt": f"Question {i}?", "response": f"Answer {i}.", "model": model} for i in range(3)
    ]
    return write_jsonl(path, rows)


@needs_demo
def test_the_wizard_offers_answer_sets(demo_window: Any, qtbot: Any, tmp_path: Path) -> None:
    win = demo_window
    import_transcripts(
        win.case_file, win.case_id, _answers(tmp_path / "s.jsonl", "quill-api"), "suspect-answers"
    )
    import_transcripts(
        win.case_file, win.case_id, _answers(tmp_path / "r.jsonl", "api-ref"), "reference-answers"
    )
    wizard = win.analysis.run_check()
    wait_page(wizard, wizard.question_page, qtbot)
    wizard.next()
    ev = wizard.evidence
    assert ev.rows["suspect_answers"][1].isVisibleTo(ev)
    assert ev.suspect_answers.currentData() is None  # the suspect model stays the default
    assert ev.reference_answers_ids() and len(ev.reference_ids()) == 3
    labels = [ev.references.item(i).text() for i in range(ev.references.count())]
    assert any("answers only" in t for t in labels)
    ev.suspect_answers.setCurrentIndex(1)
    available = ev.available()
    assert available.suspect_answers_only and available.reference_answers == 1
    wizard.next()
    page = wizard.checks_page
    assert not page.boxes["likelihood"].isEnabled()
    assert "token probabilities" in page.notes["likelihood"].text()
    assert page.boxes["similarity"].isEnabled() and page.boxes["similarity"].isChecked()
    for i in range(ev.references.count()):  # untick the answers-only reference
        item = ev.references.item(i)
        if "answers only" in item.text():
            item.setCheckState(Qt.CheckState.Unchecked)
    assert ev.available().reference_answers == 0
    wizard.reject()
