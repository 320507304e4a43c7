"""core.evidence.formats: one place for what each evidence file is, and one strict line reader."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from core.errors import EvidenceError, PickledWeightsError
from core.evidence import formats
from core.evidence.formats import (
    DIALOG_KINDS,
    MODEL,
    PICKLE_SUFFIXES,
    POLICY,
    POLICY_SUFFIXES,
    TRANSCRIPT_SUFFIXES,
    TRANSCRIPTS,
    detect_kind,
    dialog_filters,
    read_lines,
)
from core.evidence.transcripts import read_prompts, read_transcripts
from tests.gui import fixtures as gui_fixtures

no_dangling_threads = gui_fixtures.no_dangling_threads
window = gui_fixtures.window
ROOT = Path(__file__).resolve().parents[1]


# --- what a path is --------------------------------------------------------------------------


def test_detect_kind_from_the_name(tmp_path: Path) -> None:
    assert detect_kind(tmp_path) == MODEL  # a folder is a model
    assert detect_kind(tmp_path / "export.ONNX") == MODEL
    for suffix in TRANSCRIPT_SUFFIXES:
        assert detect_kind(tmp_path / f"answers{suffix.upper()}") == TRANSCRIPTS, suffix
    for suffix in POLICY_SUFFIXES:
        assert detect_kind(tmp_path / f"terms{suffix}") == POLICY, suffix
    assert detect_kind(tmp_path / "notes.xyz") is None
    assert detect_kind(tmp_path / "case.dacase") is None  # a case file is not evidence


def test_every_transcript_suffix_is_read_and_others_refused(tmp_path: Path) -> None:
    for suffix in TRANSCRIPT_SUFFIXES:
        f = tmp_path / f"answers{suffix}"
        if suffix in formats.CSV_SUFFIXES:
            sep = "\t" if suffix == ".tsv" else ","
            f.write_text(f"prompt{sep}response\nHi?{sep}Hello.\n", encoding="utf-8")
        else:
            f.write_text('{"prompt": "Hi?", "response": "Hello."}\n', encoding="utf-8")
        assert [(r.prompt, r.response) for r in read_transcripts(f)] == [("Hi?", "Hello.")]
    other = tmp_path / "answers.txt"
    other.write_text("Hi?\n", encoding="utf-8")
    with pytest.raises(EvidenceError, match="must be .jsonl or .csv"):
        read_transcripts(other)


@pytest.mark.parametrize("suffix", PICKLE_SUFFIXES)
def test_every_pickle_suffix_is_refused_by_import_and_by_the_loaders(
    tmp_path: Path, suffix: str
) -> None:
    from core.backends.folders import check_hf_folder
    from core.evidence.model_folder import inspect_model

    weights = tmp_path / f"weights{suffix}"
    weights.write_bytes(b"not really a pickle")
    with pytest.raises(PickledWeightsError):
        inspect_model(weights)
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(PickledWeightsError):
        check_hf_folder(tmp_path)


def test_policy_extraction_accepts_exactly_the_policy_suffixes(tmp_path: Path) -> None:
    from core.policy.extract import extract_text

    doc = tmp_path / "terms.markdown"
    doc.write_text("# Terms\n\n1. You may not distill our models.\n", encoding="utf-8")
    assert "distill" in extract_text(doc).text
    odd = tmp_path / "terms.rtf"
    odd.write_text("x", encoding="utf-8")
    with pytest.raises(EvidenceError, match="unsupported format"):
        extract_text(odd)


# --- roles and the case-file suffix: one definition --------------------------------------------


def test_roles_and_case_suffix_are_the_stores_own() -> None:
    from core.store import db, models, vocabulary

    assert formats.ARTIFACT_ROLES is models.ARTIFACT_ROLES is vocabulary.ARTIFACT_ROLES
    assert formats.TRANSCRIPT_ROLES is models.TRANSCRIPT_ROLES is vocabulary.TRANSCRIPT_ROLES
    assert formats.CASE_FILE_SUFFIX == db.CASE_FILE_SUFFIX == ".dacase"
    assert "control-answers" in formats.TRANSCRIPT_ROLES and "suspect" in formats.ARTIFACT_ROLES


def test_the_cli_offers_exactly_the_roles() -> None:
    from core.cli import evidence

    parser = argparse.ArgumentParser()
    evidence.add_parser(parser.add_subparsers())
    for kind, roles in (
        ("model", formats.ARTIFACT_ROLES),
        ("transcripts", formats.TRANSCRIPT_ROLES),
    ):
        ok = parser.parse_args(["import", kind, "x", "--case", "1", "--role", roles[-1]])
        assert ok.role == roles[-1]
        with pytest.raises(SystemExit):
            parser.parse_args(["import", kind, "x", "--case", "1", "--role", "bystander"])


def test_no_other_module_spells_out_the_lists() -> None:
    """The lists are written in formats (and the roles in core.store.vocabulary) only."""
    spelled = {
        "transcript suffixes": re.compile(r'"\.jsonl",\s*"\.ndjson",\s*"\.json"'),
        "policy suffixes": re.compile(r'"\.markdown",\s*"\.html"'),
        "pickle suffixes": re.compile(r'"\.pkl",\s*"\.pickle"'),
        "artifact roles": re.compile(r'"base",\s*"experiment-student"'),
        "transcript roles": re.compile(r'"protected-answers",\s*"control-answers"'),
        "case-file suffix": re.compile(r'=\s*"\.dacase"'),
    }
    allowed = {ROOT / "core/evidence/formats.py", ROOT / "core/store/vocabulary.py"}
    found = [
        f"{path.relative_to(ROOT)}: {what}"
        for folder in ("core", "app")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path not in allowed
        for what, pattern in spelled.items()
        if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert found == []


# --- file dialogs ------------------------------------------------------------------------------


def test_dialog_filters_come_from_the_suffix_lists() -> None:
    for kind in DIALOG_KINDS:
        filters = dialog_filters(kind)
        assert filters[-1] == ("All files", ("*",))
        assert all(p.startswith("*.") for _label, patterns in filters[:-1] for p in patterns)
    ((label, patterns), _all) = dialog_filters("transcripts")
    assert label == "Transcripts" and patterns == tuple(f"*{s}" for s in TRANSCRIPT_SUFFIXES)
    assert dialog_filters("case-file")[0] == ("Case files", ("*.dacase",))
    assert dialog_filters("policy")[0][1] == tuple(f"*{s}" for s in POLICY_SUFFIXES)
    evidence = dialog_filters("evidence")[0][1]
    assert len(set(evidence)) == len(evidence)
    # Everything the evidence dialog offers is something the wizard recognises, and back.
    assert {detect_kind(Path("x" + p[1:])) for p in evidence} == {MODEL, TRANSCRIPTS, POLICY}
    known = {".onnx", *TRANSCRIPT_SUFFIXES, *POLICY_SUFFIXES}
    assert {p[1:] for p in evidence} == known
    with pytest.raises(ValueError, match="No file dialog"):
        dialog_filters("spreadsheet")


def test_the_main_window_formats_them_for_qt(window, monkeypatch, tmp_path: Path) -> None:
    from PySide6.QtWidgets import QFileDialog

    from app.main_window import MainWindow

    asked: list[tuple[str, str]] = []

    def fake_open(_parent, title, _folder, filters):
        asked.append((title, filters))
        return str(tmp_path / "chosen.jsonl"), ""

    monkeypatch.setattr(QFileDialog, "getOpenFileName", fake_open)
    ask = MainWindow.ask_path  # the real dialog method (the fixture replaced the window's)
    assert ask(window, "transcripts") == tmp_path / "chosen.jsonl"
    ask(window, "policy")
    ask(window, "case-file")
    assert asked == [
        (
            "Choose a transcript file",
            "Transcripts (*.jsonl *.ndjson *.json *.csv *.tsv);;All files (*)",
        ),
        (
            "Choose a terms document",
            "Terms documents (*.txt *.text *.md *.markdown *.html *.htm *.pdf *.docx);;"
            "All files (*)",
        ),
        ("Open case file", "Case files (*.dacase);;All files (*)"),
    ]


# --- the one strict UTF-8 line reader ----------------------------------------------------------


def test_read_lines_numbers_lines_and_drops_a_bom(tmp_path: Path) -> None:
    f = tmp_path / "t.txt"
    f.write_bytes("\ufeffone\n\ntwo é\nthree".encode())
    assert list(read_lines(f)) == [(1, "one\n"), (2, "\n"), (3, "two é\n"), (4, "three")]
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert list(read_lines(empty)) == []


def test_read_lines_names_the_line_and_byte_of_bad_text(tmp_path: Path) -> None:
    f = tmp_path / "t.jsonl"
    f.write_bytes(b"fine\nalso fine\ncaf\xe9 au lait\nnever read\n")
    lines = read_lines(f)
    assert next(lines) == (1, "fine\n") and next(lines) == (2, "also fine\n")
    with pytest.raises(EvidenceError, match=r"t\.jsonl, line 3: not valid UTF-8 .* at byte 3"):
        next(lines)


def test_read_lines_reports_a_character_cut_off_at_the_end(tmp_path: Path) -> None:
    f = tmp_path / "cut.csv"
    f.write_bytes(b"prompt,response\nHi?,Caf\xc3")  # the last character lost its second byte
    with pytest.raises(EvidenceError, match="line 2: not valid UTF-8"):
        list(read_lines(f))


def test_every_line_based_reader_uses_it(tmp_path: Path) -> None:
    bad = "prompt,response\nCaf\u00e9?,Oui\n".encode("latin-1")
    for name in ("a.csv", "a.txt", "a.jsonl"):
        f = tmp_path / name
        f.write_bytes(bad if name != "a.jsonl" else b'{"prompt": "caf\xe9"}\n')
        line = 1 if name == "a.jsonl" else 2
        with pytest.raises(EvidenceError, match=f"{name}, line {line}: not valid UTF-8"):
            list(read_prompts(f))
        if name != "a.txt":
            with pytest.raises(EvidenceError, match=f"{name}, line {line}: not valid UTF-8"):
                list(read_transcripts(f))


# --- prompt sets: the transcript reader's prompts-only mode ------------------------------------


def test_prompt_sets_read_only_the_prompt(tmp_path: Path) -> None:
    f = tmp_path / "prompts.jsonl"
    f.write_text(
        '{"id": "a", "prompt": "  First?  ", "collected_at": "last Tuesday"}\n'
        '{"question": "   "}\n'
        "\n"
        '{"item_id": "c", "instruction": "Third?", "response": 42}\n',
        encoding="utf-8",
    )
    # A bad timestamp, a non-text answer and a blank prompt do not matter to a prompt set...
    assert list(read_prompts(f)) == [("a", "First?"), ("c", "Third?")]
    # ...but the same file is not a usable transcript.
    with pytest.raises(EvidenceError, match="line 1: timestamp 'last Tuesday' is not ISO-8601"):
        list(read_transcripts(f, require_response=False))


def test_prompt_sets_refuse_what_they_cannot_read(tmp_path: Path) -> None:
    csv = tmp_path / "p.csv"
    csv.write_text("id,prompt\na,First?\nb,Second?,extra\n", encoding="utf-8")
    with pytest.raises(EvidenceError, match="p.csv, line 3: more fields than the header"):
        list(read_prompts(csv))
    listed = tmp_path / "p.jsonl"
    listed.write_text('["not", "an", "object"]\n', encoding="utf-8")
    with pytest.raises(EvidenceError, match="line 1: expected a JSON object"):
        list(read_prompts(listed))
    notes = tmp_path / "p.md"
    notes.write_text("First?\n", encoding="utf-8")
    with pytest.raises(EvidenceError, match="a prompt set must be a .txt, .jsonl or .csv"):
        list(read_prompts(notes))
    with pytest.raises(EvidenceError, match="is not a file"):
        list(read_prompts(tmp_path / "missing.txt"))
