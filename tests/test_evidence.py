"""Evidence import: real model folders and transcripts, and every bad input refused cleanly."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.errors import DistillAuditError, EvidenceError, PickledWeightsError
from core.evidence.importer import (
    find_model,
    find_or_import_model,
    import_model,
    import_transcripts,
)
from core.evidence.inventory import list_evidence
from core.evidence.verify import verify_case_evidence
from core.jobs import CallbackState
from core.store import audit
from core.store.models import AuditEvent, ModelArtifact, TranscriptItem, TranscriptSet
from tests.conftest import write_jsonl


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _counts(cf) -> tuple[int, int, int, int]:
    with cf.read_session() as s:
        return tuple(
            s.execute(select(func.count()).select_from(m)).scalar_one()
            for m in (ModelArtifact, TranscriptSet, TranscriptItem, AuditEvent)
        )


def _copy_model(tiny_model: Path, dest: Path) -> Path:
    shutil.copytree(tiny_model, dest)
    return dest


def test_import_hf_folder_hashes_every_file(case_file, case_id, tiny_model) -> None:
    seen: list[float] = []
    art_id = import_model(
        case_file,
        case_id,
        tiny_model,
        "suspect",
        provenance={"collector": "J. Doe"},
        state=CallbackState(on_progress=seen.append),
    )
    with case_file.read_session() as s:
        art = s.get(ModelArtifact, art_id)
        manifest = {e["path"]: e["sha256"] for e in art.manifest}
        assert art.format == "hf-folder" and art.architecture == "GPT2LMHeadModel"
        assert art.parameter_count and art.parameter_count > 10_000
        assert art.tokenizer_hash and len(art.tokenizer_hash) == 64
        assert audit.verify_chain(s).ok
    assert manifest["model.safetensors"] == _sha(tiny_model / "model.safetensors")
    assert manifest["config.json"] == _sha(tiny_model / "config.json")
    assert "tokenizer.json" in manifest
    assert seen and seen[-1] == 100
    assert list_evidence(case_file, case_id)[0].role == "suspect"


def test_parameter_count_matches_torch(tiny_model, case_file, case_id) -> None:
    from transformers import AutoModelForCausalLM

    art_id = import_model(case_file, case_id, tiny_model, "reference")
    model = AutoModelForCausalLM.from_pretrained(tiny_model, local_files_only=True)
    with case_file.read_session() as s:
        # safetensors stores tied weights once; torch counts unique parameters the same way
        assert s.get(ModelArtifact, art_id).parameter_count == sum(
            p.numel() for p in model.parameters()
        )


def test_sharded_safetensors(tmp_path: Path, tiny_model: Path, case_file, case_id) -> None:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model, local_files_only=True)
    out = tmp_path / "sharded"
    model.save_pretrained(out, safe_serialization=True, max_shard_size="100KB")
    for f in tiny_model.glob("tokenizer*"):
        shutil.copy(f, out)
    assert len(list(out.glob("*.safetensors"))) > 1
    art_id = import_model(case_file, case_id, out, "suspect")
    with case_file.read_session() as s:
        art = s.get(ModelArtifact, art_id)
        assert art.details["shards"] > 1
        assert art.parameter_count == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    "damage, error, match",
    [
        ("truncate", EvidenceError, "truncated"),
        ("pickle", PickledWeightsError, "pickled"),
        ("no_tokenizer", EvidenceError, "no tokenizer"),
        ("no_config", EvidenceError, "config.json"),
        ("remote_code", EvidenceError, "custom code"),
    ],
)
def test_bad_model_folders_are_refused_with_nothing_written(
    tmp_path: Path, tiny_model: Path, case_file, case_id, damage: str, error: type, match: str
) -> None:
    folder = _copy_model(tiny_model, tmp_path / damage)
    weights = folder / "model.safetensors"
    if damage == "truncate":
        data = weights.read_bytes()
        weights.write_bytes(data[: len(data) // 2])
    elif damage == "pickle":
        weights.unlink()
        (folder / "pytorch_model.bin").write_bytes(b"\x80\x04\x95 pickled")
    elif damage == "no_tokenizer":
        for f in folder.glob("tokenizer*"):
            f.unlink()
    elif damage == "no_config":
        (folder / "config.json").unlink()
    elif damage == "remote_code":
        cfg = (folder / "config.json").read_text()
        (folder / "config.json").write_text(
            cfg.replace("{", '{"auto_map": {"AutoModel": "evil.Model"},', 1)
        )
    before = _counts(case_file)
    with pytest.raises(error, match=match):
        import_model(case_file, case_id, folder, "suspect")
    assert _counts(case_file) == before


def test_pickle_message_says_how_to_convert(tmp_path: Path, case_file, case_id) -> None:
    f = tmp_path / "model.pt"
    f.write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(PickledWeightsError, match="safe_serialization=True"):
        import_model(case_file, case_id, f, "suspect")


def test_random_bytes_onnx_is_refused(tmp_path: Path, tiny_model: Path, case_file, case_id) -> None:
    folder = tmp_path / "onnx"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(bytes(range(256)) * 40)
    for f in tiny_model.glob("tokenizer*"):
        shutil.copy(f, folder)
    before = _counts(case_file)
    with pytest.raises(EvidenceError, match="not a valid ONNX model"):
        import_model(case_file, case_id, folder, "suspect")
    assert _counts(case_file) == before


def _onnx_graph(path: Path, output_name: str) -> None:
    import onnx
    from onnx import TensorProto, helper

    inp = helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["b", "s"])
    out = helper.make_tensor_value_info(output_name, TensorProto.INT64, ["b", "s"])
    graph = helper.make_graph(
        [helper.make_node("Identity", ["input_ids"], [output_name])], "g", [inp], [out]
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def test_onnx_without_logits_is_refused(
    tmp_path: Path, tiny_model: Path, case_file, case_id
) -> None:
    folder = tmp_path / "onnx"
    folder.mkdir()
    _onnx_graph(folder / "model.onnx", "hidden_states")
    for f in tiny_model.glob("tokenizer*"):
        shutil.copy(f, folder)
    with pytest.raises(EvidenceError, match="no 'logits' output"):
        import_model(case_file, case_id, folder, "suspect")


def test_import_transcripts_jsonl(case_file, case_id, transcript_file: Path) -> None:
    set_id = import_transcripts(case_file, case_id, transcript_file, "protected-answers")
    with case_file.read_session() as s:
        ts = s.get(TranscriptSet, set_id)
        assert ts.item_count == 20 and ts.file_sha256 == _sha(transcript_file)
        assert ts.model_name == "Lumen" and ts.provider == "Halcyon Labs"
        assert ts.sampling["temperature"] == 0.8
        assert ts.collected_at is not None and ts.collected_at.year == 2025
        first = ts.items[0]
        assert first.item_key == "p000" and first.prompt == "Question number 0?"
        assert first.meta["sampling"]["seed"] == 7


def test_duplicate_prompts_are_reported(tmp_path: Path, case_file, case_id) -> None:
    recs = [
        {"prompt": "Same?", "response": "a"},
        {"prompt": "Other?", "response": "b"},
        {"prompt": "Same?", "response": "c"},
    ]
    set_id = import_transcripts(
        case_file, case_id, write_jsonl(tmp_path / "d.jsonl", recs), "protected-answers"
    )
    with case_file.read_session() as s:
        assert s.get(TranscriptSet, set_id).duplicate_prompts == 1
        ev = s.execute(select(AuditEvent).order_by(AuditEvent.id.desc())).scalars().first()
        assert ev.details["duplicate_prompts"] == ["line 3 repeats line 1"]


def test_csv_transcripts(tmp_path: Path, case_file, case_id) -> None:
    f = tmp_path / "answers.csv"
    f.write_text(
        'id,prompt,response,collected_at\n1,"Hi, who are you?","I am, well, Lumen."'
        ",2025-01-02T03:04:05Z\n2,Second?,Yes.,\n",
        encoding="utf-8",
    )
    set_id = import_transcripts(case_file, case_id, f, "control-answers")
    with case_file.read_session() as s:
        items = s.get(TranscriptSet, set_id).items
        assert [i.prompt for i in items] == ["Hi, who are you?", "Second?"]
        assert items[0].response == "I am, well, Lumen."


@pytest.mark.parametrize(
    "name, content, match",
    [
        (
            "bad.jsonl",
            b'{"prompt": "a", "response": "b"}\n{"prompt": "c", "resp\n'
            b'{"prompt": "e", "response": "f"}\n',
            "line 2: not valid JSON",
        ),
        (
            "missing.jsonl",
            b'{"prompt": "a", "response": "b"}\n{"text": "x"}\n',
            "line 2: each record needs a prompt and a response",
        ),
        (
            "latin1.csv",
            "prompt,response\nCaf\u00e9?,Oui\n".encode("latin-1"),
            "line 2: not valid UTF-8",
        ),
        ("empty.jsonl", b"", "empty"),
        ("blank.jsonl", b"\n\n", "no prompt/response records"),
        ("notes.txt", b"prompt response", "must be .jsonl or .csv"),
    ],
)
def test_bad_transcripts_import_nothing(
    tmp_path: Path, case_file, case_id, name: str, content: bytes, match: str
) -> None:
    f = tmp_path / name
    f.write_bytes(content)
    before = _counts(case_file)
    with pytest.raises(EvidenceError, match=match):
        import_transcripts(case_file, case_id, f, "protected-answers")
    assert _counts(case_file) == before


def test_cancel_during_transcript_import_writes_nothing(tmp_path: Path, case_file, case_id) -> None:
    from core.errors import Cancelled

    recs = [{"prompt": f"q{i}", "response": "r"} for i in range(2000)]
    f = write_jsonl(tmp_path / "big.jsonl", recs)
    state = CallbackState(on_status=lambda t: state.cancel() if "Read" in t else None)
    before = _counts(case_file)
    with pytest.raises(Cancelled):
        import_transcripts(case_file, case_id, f, "protected-answers", state=state)
    assert _counts(case_file) == before


def test_verify_detects_changed_and_missing_files(
    tmp_path: Path, tiny_model: Path, case_file, case_id, transcript_file: Path
) -> None:
    folder = _copy_model(tiny_model, tmp_path / "m")
    import_model(case_file, case_id, folder, "suspect")
    import_transcripts(case_file, case_id, transcript_file, "protected-answers")
    assert all(c.ok for c in verify_case_evidence(case_file, case_id))
    (folder / "config.json").write_text((folder / "config.json").read_text() + " ")
    transcript_file.unlink()
    checks = verify_case_evidence(case_file, case_id)
    problems = {(c.kind, f.status) for c in checks for f in c.files if f.status != "ok"}
    assert problems == {("model", "changed"), ("transcripts", "missing")}
    with case_file.read_session() as s:
        last = s.execute(select(AuditEvent).order_by(AuditEvent.id.desc())).scalars().first()
        assert last.action == "evidence.verified" and len(last.details["problems"]) == 2


def test_probe_sets_need_no_responses(tmp_path: Path, case_file, case_id) -> None:
    f = write_jsonl(
        tmp_path / "probes.jsonl",
        [{"id": "i1", "prompt": "Who are you?"}, {"id": "i2", "prompt": "Who made you?"}],
    )
    set_id = import_transcripts(case_file, case_id, f, "probes")
    with case_file.read_session() as s:
        assert [i.response for i in s.get(TranscriptSet, set_id).items] == ["", ""]
    with pytest.raises(EvidenceError, match="needs a prompt and a response"):
        import_transcripts(case_file, case_id, f, "protected-answers")


def test_find_or_import_model_reuses_the_cases_model(
    tmp_path: Path, tiny_model: Path, case_file, case_id, monkeypatch
) -> None:
    folder = _copy_model(tiny_model, tmp_path / "m")
    assert find_model(case_file, case_id, folder, "suspect") is None
    first = find_or_import_model(case_file, case_id, folder, "suspect")
    before = _counts(case_file)
    monkeypatch.chdir(tmp_path)
    # The same folder by another spelling is the same evidence: nothing hashed, nothing added.
    assert find_or_import_model(case_file, case_id, "m/../m", "suspect") == first
    assert _counts(case_file) == before
    assert find_model(case_file, case_id, folder, "suspect") == first
    assert find_model(case_file, case_id, folder) == first  # in any role
    assert find_model(case_file, case_id, folder, "base") is None
    # The same model in another role is another piece of evidence.
    other = find_or_import_model(case_file, case_id, folder, "reference", name="Panel model")
    assert other != first
    with case_file.read_session() as s:
        assert s.get(ModelArtifact, other).name == "Panel model"
    with pytest.raises(DistillAuditError, match="Unknown role 'bystander'"):
        find_or_import_model(case_file, case_id, folder, "bystander")


def test_the_same_transcript_file_twice_in_one_role_is_refused(
    tmp_path: Path, case_file, case_id
) -> None:
    """Issue 18.7: duplicate evidence (same hash, same role) points to the existing record."""
    from core.errors import DuplicateEvidenceError
    from core.evidence.importer import import_transcripts
    from tests.gui.fixtures import write_jsonl

    path = write_jsonl(tmp_path / "answers.jsonl")
    first = import_transcripts(case_file, case_id, path, "protected-answers")
    with pytest.raises(DuplicateEvidenceError, match=f"transcript set {first} ") as err:
        import_transcripts(case_file, case_id, path, "protected-answers")
    assert err.value.existing_id == first
    assert import_transcripts(case_file, case_id, path, "control-answers") != first
