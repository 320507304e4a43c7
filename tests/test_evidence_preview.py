"""core.evidence.preview: what a file holds before import, and the defaults it suggests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import Cancelled, EvidenceError
from core.evidence.formats import MODEL, POLICY, TRANSCRIPT_ROLES, TRANSCRIPTS
from core.evidence.preview import (
    EvidencePreview,
    format_size,
    guess_transcript_role,
    preview_evidence,
    transcript_stats,
)
from core.jobs import CallbackState
from tests.gui import fixtures as gui_fixtures
from tests.gui.fixtures import demo_world, needs_demo, new_case, wait_page
from tests.gui.fixtures import no_dangling_threads as _thread_check

no_dangling_threads = _thread_check  # autouse: fails a test that leaves a thread running

window = gui_fixtures.window


def _answers(path: Path, models: list[str], *, answered: bool = True) -> Path:
    rows = [
        {
            "id": f"q{i}",
            "prompt": f"Question {i}?",
            **({"response": f"Answer {i}."} if answered else {}),
            "model": model,
            "provider": "Halcyon Labs",
            "collector": "A. Analyst",
            "collected_at": f"2025-09-0{1 + i % 3}T10:0{i % 10}:00Z",
        }
        for i, model in enumerate(models)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "name, records, answered, role",
    [
        ("human_probe_answers.jsonl", 10, 10, "control-answers"),
        ("Humans-written.csv", 10, 10, "control-answers"),
        ("control_set.jsonl", 10, 10, "control-answers"),
        ("protected_probe_answers.jsonl", 10, 10, "protected-answers"),
        ("lumen-api-capture.jsonl", 10, 10, "protected-answers"),
        ("rapid_answers.jsonl", 10, 10, "protected-answers"),  # "api" only as a whole word start
        ("answers.jsonl", 10, 10, "protected-answers"),  # nothing said: the usual case
        ("human_control_api.jsonl", 10, 10, "control-answers"),  # the first telling word
        ("api_vs_human.jsonl", 10, 10, "protected-answers"),
        ("human_probe_answers.jsonl", 10, 0, "probes"),  # no answers: probes, whatever the name
        ("protected_answers.jsonl", 10, 7, "probes"),  # some answers missing
    ],
)
def test_role_guess(name: str, records: int, answered: int, role: str) -> None:
    assert guess_transcript_role(Path(name), records, answered) == role
    assert role in TRANSCRIPT_ROLES


def test_human_answers_default_to_control_answers(tmp_path: Path) -> None:
    """The fix: a control file named for its human authors is not the protected model's."""
    found = preview_evidence(_answers(tmp_path / "human_answers.jsonl", ["human"] * 4))
    assert found.kind == TRANSCRIPTS and found.defaults["role"] == "control-answers"
    protected = preview_evidence(_answers(tmp_path / "protected_answers.jsonl", ["Lumen"] * 4))
    assert protected.defaults["role"] == "protected-answers"


def test_transcript_statistics(tmp_path: Path) -> None:
    f = _answers(tmp_path / "capture.jsonl", ["Lumen", "Lumen", "Lumen-mini", "Lumen", "Other"])
    found = preview_evidence(f)
    facts = dict(found.facts)
    assert facts["Records"] == "5 (5 with a response)"
    assert facts["File size"] == format_size(f.stat().st_size)
    assert facts["Model named in the file"] == "Lumen, Lumen-mini, Other"  # every model seen
    assert facts["Provider named in the file"] == "Halcyon Labs"
    assert facts["Collected"] == "2025-09-01 10:00 to 2025-09-03 10:02 UTC"
    assert found.defaults == {
        "name": "capture",
        "role": "protected-answers",
        "provider": "Halcyon Labs",
        "model_name": "Lumen",  # the first record's
        "collector": "A. Analyst",
        "collected_at": found.defaults["collected_at"],
    }
    assert found.defaults["collected_at"].isoformat() == "2025-09-01T10:00:00+00:00"
    assert found.warnings == []
    stats = transcript_stats(f)
    assert (stats.records, stats.with_response, stats.models) == (
        5,
        5,
        ["Lumen", "Lumen-mini", "Other"],
    )


def test_transcripts_partly_without_answers_are_probes_with_a_warning(tmp_path: Path) -> None:
    f = tmp_path / "mixed.jsonl"
    f.write_text('{"prompt": "One?", "response": "Yes."}\n{"prompt": "Two?"}\n', encoding="utf-8")
    found = preview_evidence(f)
    facts = dict(found.facts)
    assert facts["Records"] == "2 (1 with a response)"
    assert facts["Model named in the file"] == "not stated"
    assert facts["Collected"] == "no timestamps in the records"
    assert found.defaults["role"] == "probes"
    assert found.warnings == [
        "1 record(s) have no response; import them as probes, or fix the file to import answers."
    ]


def test_a_long_transcript_reports_progress_and_can_be_cancelled(tmp_path: Path) -> None:
    f = _answers(tmp_path / "big.jsonl", ["Lumen"] * 1200)
    seen: list[float] = []
    found = preview_evidence(f, CallbackState(on_progress=seen.append))
    assert dict(found.facts)["Records"].startswith("1,200")
    assert seen and seen[-1] == 100 and all(0 <= p <= 100 for p in seen)
    state = CallbackState(on_progress=lambda _p: state.cancel())
    with pytest.raises(Cancelled):
        preview_evidence(f, state)


def test_model_summary(tiny_model: Path) -> None:
    found = preview_evidence(tiny_model)
    facts = dict(found.facts)
    assert found.kind == MODEL and found.path == tiny_model
    assert facts["Format"] == "Hugging Face folder (safetensors)"
    assert facts["Architecture"] == "GPT2LMHeadModel"
    assert int(facts["Parameters"].replace(",", "")) > 10_000
    assert "tokenizer.json" in facts["Tokenizer"]
    assert found.inspection is not None and found.inspection.root == tiny_model
    assert facts["Files to hash"].startswith(f"{len(found.inspection.files)} (")
    assert found.defaults == {"name": tiny_model.name, "role": "suspect"}


def test_model_with_ignored_pickles_warns(tiny_model: Path, tmp_path: Path) -> None:
    import shutil

    folder = shutil.copytree(tiny_model, tmp_path / "m")
    (folder / "pytorch_model.bin").write_bytes(b"old weights")
    found = preview_evidence(folder)
    assert found.warnings == [
        "Pickled weight files are present and will be ignored: pytorch_model.bin"
    ]


def test_policy_summary(tmp_path: Path) -> None:
    terms = tmp_path / "terms.md"
    terms.write_text(
        "# Halcyon Labs Terms of Use\n\nVersion 3.1 — effective 1 June 2025\n\n"
        "1. Use\n\nYou may use the service.\n\n"
        "2. Restrictions\n\nYou may not use outputs to develop competing models.\n",
        encoding="utf-8",
    )
    found = preview_evidence(terms)
    facts = dict(found.facts)
    assert found.kind == POLICY and facts["Format"] == "MD"
    assert int(facts["Clauses found"]) >= 2
    assert found.defaults["title"] and found.defaults["version"] == facts["Version (detected)"]


def test_unusable_paths_are_refused_plainly(tmp_path: Path) -> None:
    with pytest.raises(EvidenceError, match="does not exist"):
        preview_evidence(tmp_path / "nothing.jsonl")
    odd = tmp_path / "notes.xyz"
    odd.write_text("x", encoding="utf-8")
    with pytest.raises(EvidenceError, match="not a kind of evidence Distill Audit reads"):
        preview_evidence(odd)
    blank = tmp_path / "blank.jsonl"
    blank.write_text("\n\n", encoding="utf-8")
    with pytest.raises(EvidenceError, match="holds no prompt/response records"):
        preview_evidence(blank)


def test_format_size() -> None:
    assert format_size(512) == "512 bytes"
    assert format_size(1536) == "1.5 KiB"
    assert format_size(3 * 2**30) == "3.0 GiB"


# --- the wizard only shows it ------------------------------------------------------------------


def test_the_wizard_shows_the_preview_and_defaults_human_answers_to_control(
    window, qtbot, tmp_path: Path
) -> None:
    new_case(window)
    path = _answers(tmp_path / "human_probe_answers.jsonl", ["human"] * 6)
    wizard = window.evidence.add_evidence(path)
    wait_page(wizard, wizard.found_page, qtbot)
    assert isinstance(wizard.found(), EvidencePreview)
    assert wizard.found().facts == preview_evidence(path).facts
    wizard.next()
    assert wizard.details.widget("role").currentData() == "control-answers"
    assert wizard.details.widget("collector").text() == "A. Analyst"
    wizard.reject()


def test_the_wizard_still_defaults_a_model_to_suspect(window, qtbot, tiny_model: Path) -> None:
    new_case(window)
    wizard = window.evidence.add_evidence(tiny_model)
    wait_page(wizard, wizard.found_page, qtbot)
    wizard.next()
    assert wizard.details.widget("role").currentData() == "suspect"
    wizard.reject()


def test_the_terms_wizard_asks_for_a_terms_document(window, qtbot) -> None:
    asked = gui_fixtures.Recorder(None)
    window.ask_path = asked
    new_case(window)
    wizard = window.evidence.import_policy()
    wizard.choose.file_button.click()
    wizard.reject()
    everything = window.evidence.add_evidence()
    everything.choose.file_button.click()
    everything.choose.folder_button.click()
    everything.reject()
    assert asked.calls == [("policy",), ("evidence",), ("model",)]


@needs_demo
def test_the_demo_control_answers_are_recognised() -> None:
    found = preview_evidence(demo_world() / "transcripts" / "human_probe_answers.jsonl")
    assert found.defaults["role"] == "control-answers"
    found = preview_evidence(demo_world() / "transcripts" / "protected_probe_answers.jsonl")
    assert found.defaults["role"] == "protected-answers"


def test_records_naming_the_model_human_default_to_control_answers(tmp_path: Path) -> None:
    """Issue 18.6: the records say model "human"; the file name says nothing about whose."""
    found = preview_evidence(_answers(tmp_path / "probe_answers.jsonl", ["human"] * 4))
    assert found.defaults["role"] == "control-answers"
    lumen = preview_evidence(_answers(tmp_path / "answers_b.jsonl", ["Lumen"] * 4))
    assert lumen.defaults["role"] == "protected-answers"
    assert guess_transcript_role(Path("a.jsonl"), 3, 3, ["Human annotators"]) == "control-answers"
