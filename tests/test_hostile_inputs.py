"""Hostile structure in evidence files (issue 19, item 8's remaining cases).

JSON nested 100,000-200,000 deep in any JSON the tool reads as evidence (config.json,
tokenizer_config.json, the shard index, a safetensors header, a JSONL record) is refused
in one line before parsing, never a RecursionError; a lone surrogate escape (``\\ud800``,
accepted by ``json.loads`` but not storable as UTF-8) is refused with its line number; a
NUL character in a CSV or JSONL record is refused with its line number (the choice:
refuse, not strip, so what is stored is what was imported). Each case runs through the
real CLI (one line, exit 2, case file unchanged) or the real reader.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from core.cli import main
from core.errors import DocumentLimitError, EvidenceError, ModelLoadError
from core.evidence.formats import MAX_JSON_DEPTH, json_too_deep, parse_json
from core.evidence.transcripts import read_prompts, read_transcripts
from tests.hostile_models import deep_json, minimal_folder, row_counts, safetensors_bytes

DEEP = 100_000
DEEPER = 200_000


@pytest.fixture
def case(tmp_path: Path) -> Path:
    db = tmp_path / "case.dacase"
    assert main(["--db", str(db), "case", "new", "--title", "T", "--reference", "DA-H-1"]) == 0
    return db


def refused(capsys: pytest.CaptureFixture[str], db: Path, argv: list[str], *needles: str) -> str:
    """Run the CLI on ``db``: exit 2, one line on stderr holding ``needles``, rows unchanged."""
    before = row_counts(db)
    code = main(["--db", str(db), *argv])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("distill-audit: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and "RecursionError" not in err
    for needle in needles:
        assert needle in err, err
    assert row_counts(db) == before
    return err


def import_model_argv(folder: Path) -> list[str]:
    return ["import", "model", str(folder), "--case", "DA-H-1", "--role", "suspect"]


def import_transcripts_argv(path: Path) -> list[str]:
    return ["import", "transcripts", str(path), "--case", "DA-H-1", "--role", "protected-answers"]


# --- nesting ------------------------------------------------------------------------------


def test_deep_config_json_is_one_line(tmp_path: Path, case: Path, capsys) -> None:
    folder = minimal_folder(tmp_path / "m", config=deep_json(DEEP).encode())
    refused(capsys, case, import_model_argv(folder), "config.json", "nested too deeply")


def test_deep_tokenizer_config_is_one_line(tmp_path: Path, case: Path, capsys) -> None:
    folder = minimal_folder(tmp_path / "m")
    (folder / "tokenizer_config.json").write_text(deep_json(DEEPER))
    refused(capsys, case, import_model_argv(folder), "tokenizer_config.json", "nested too deeply")


def test_deep_shard_index_is_one_line(tmp_path: Path, case: Path, capsys) -> None:
    folder = minimal_folder(tmp_path / "m")
    (folder / "model.safetensors.index.json").write_text(deep_json(DEEP))
    refused(capsys, case, import_model_argv(folder), "index.json", "nested too deeply")


def test_deep_safetensors_header_is_one_line(tmp_path: Path, case: Path, capsys) -> None:
    folder = minimal_folder(tmp_path / "m")
    (folder / "model.safetensors").write_bytes(safetensors_bytes(deep_json(DEEPER).encode()))
    refused(capsys, case, import_model_argv(folder), "safetensors header", "nested too deeply")


def test_deep_jsonl_record_names_its_line(tmp_path: Path, case: Path, capsys) -> None:
    path = tmp_path / "deep.jsonl"
    ok = json.dumps({"prompt": "Hi?", "response": "Hello."})
    path.write_text(ok + "\n" + '{"prompt": "a", "response": "b", "x": ' + deep_json(DEEP) + "}\n")
    refused(capsys, case, import_transcripts_argv(path), "deep.jsonl, line 2", "nested too deeply")


def test_deep_prompt_set_record_is_a_typed_error(tmp_path: Path) -> None:
    path = tmp_path / "probes.jsonl"
    path.write_text('{"prompt": ' + "[" * DEEP + "]" * DEEP + "}\n")
    with pytest.raises(DocumentLimitError, match="line 1"):
        list(read_prompts(path))


def test_the_model_loader_reads_deep_configs_as_a_load_error(tmp_path: Path) -> None:
    from core.backends.folders import read_config

    folder = minimal_folder(tmp_path / "m")
    (folder / "generation_config.json").write_text(deep_json(DEEPER))
    with pytest.raises(ModelLoadError, match="nested too deeply"):
        read_config(folder, "generation_config.json")


def test_the_depth_scan_is_linear_and_ignores_brackets_in_strings() -> None:
    started = time.perf_counter()
    assert json_too_deep("[" * 2_000_000)
    assert time.perf_counter() - started < 2.0
    in_text = json.dumps({"prompt": "[" * 10_000 + "{" * 10_000, "response": "]" * 500})
    assert not json_too_deep(in_text)
    assert parse_json(in_text, "x")["prompt"].startswith("[[[")
    exactly = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert parse_json(exactly, "x") is not None
    with pytest.raises(DocumentLimitError):
        parse_json("[" + exactly + "]", "x")


# --- text that cannot be stored ----------------------------------------------------------


def test_lone_surrogate_in_jsonl_is_refused_with_its_line(
    tmp_path: Path, case: Path, capsys
) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text(
        '{"prompt": "Hi?", "response": "Hello."}\n'
        '{"prompt": "Hi again?", "response": "Bad \\ud800 text"}\n'
    )
    refused(capsys, case, import_transcripts_argv(path), "s.jsonl, line 2", "surrogate")


@pytest.mark.parametrize("where", ["key", "meta", "prompt"])
def test_lone_surrogates_anywhere_in_a_record_are_refused(tmp_path: Path, where: str) -> None:
    record = {
        "key": '{"prompt": "p", "response": "r", "\\udc00": 1}',
        "meta": '{"prompt": "p", "response": "r", "note": ["x", "\\udfff"]}',
        "prompt": '{"prompt": "p\\ud83d", "response": "r"}',
    }[where]
    path = tmp_path / "s.jsonl"
    path.write_text(record + "\n")
    with pytest.raises(EvidenceError, match="line 1: holds a lone UTF-16 surrogate"):
        list(read_transcripts(path))


def test_a_surrogate_pair_is_ordinary_text(tmp_path: Path) -> None:
    path = tmp_path / "emoji.jsonl"
    path.write_text('{"prompt": "Smile \\ud83d\\ude00?", "response": "\\\\ud800 is an escape"}\n')
    [rec] = read_transcripts(path)
    assert rec.prompt == "Smile \U0001f600?" and rec.response == "\\ud800 is an escape"


def test_nul_in_a_csv_prompt_is_refused_with_its_line(tmp_path: Path, case: Path, capsys) -> None:
    path = tmp_path / "n.csv"
    path.write_bytes(b"prompt,response\nHi?,Hello.\nBad\x00prompt,Fine.\n")
    refused(capsys, case, import_transcripts_argv(path), "n.csv, line 3", "NUL character")


def test_nul_escape_in_a_jsonl_record_is_refused_with_its_line(
    tmp_path: Path, case: Path, capsys
) -> None:
    path = tmp_path / "n.jsonl"
    path.write_text('{"prompt": "Hi?", "response": "Hel\\u0000lo."}\n')
    refused(capsys, case, import_transcripts_argv(path), "n.jsonl, line 1", "NUL character")


def test_nul_in_a_prompt_set_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "probes.csv"
    path.write_bytes(b"prompt\nfine\nnot\x00fine\n")
    with pytest.raises(EvidenceError, match="line 3: the record contains a NUL"):
        list(read_prompts(path))
