"""Model-folder containment and forged headers (issue 19, item 6 and part of 8).

A model's manifest may only describe the folder the user chose: a shard index or ONNX
external data naming ``../`` or an absolute path, and links inside the folder that lead
out of it (LICENSE -> /etc/passwd), are refused before anything is read or hashed. A
safetensors header is believed only when its bytes are there: 10^10 parameters in 125 KB,
overlapping tensors, shapes that overflow or are not whole numbers, offsets out of range
and a header longer than the file are typed errors, through the real CLI in one line, with
the case file unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from core.cli import main
from core.errors import EvidenceError, ModelLoadError
from core.evidence.importer import import_model
from core.evidence.model_folder import inspect_model
from core.evidence.safetensors_header import read_header
from tests.hostile_models import f32_header, minimal_folder, row_counts, safetensors_bytes

OUTSIDE_THE_FOLDER = "outside the model folder"


@pytest.fixture
def case(tmp_path: Path) -> Path:
    db = tmp_path / "case.dacase"
    assert main(["--db", str(db), "case", "new", "--title", "T", "--reference", "DA-C-1"]) == 0
    return db


def import_cli(capsys: pytest.CaptureFixture[str], db: Path, folder: Path) -> tuple[int, str]:
    code = main(
        ["--db", str(db), "import", "model", str(folder), "--case", "DA-C-1", "--role", "suspect"]
    )
    return code, capsys.readouterr().err


def assert_refused_in_one_line(
    capsys: pytest.CaptureFixture[str], db: Path, folder: Path, *needles: str
) -> str:
    """The CLI import fails with one line naming the problem, and writes nothing."""
    before = row_counts(db)
    code, err = import_cli(capsys, db, folder)
    assert code == 2, err
    assert err.startswith("distill-audit: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    assert row_counts(db) == before
    return err


# --- paths that leave the folder ---------------------------------------------------------


def _sharded(folder: Path, shard_name: str) -> Path:
    minimal_folder(folder)
    header, data = f32_header([2, 2])
    index = {"metadata": {}, "weight_map": {"t0": shard_name}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    return folder


def test_shard_index_pointing_outside_is_refused(tmp_path: Path, case: Path, capsys) -> None:
    outside = tmp_path / "outside_weights"
    outside.mkdir()
    header, data = f32_header([2, 2])
    (outside / "model-00001.safetensors").write_bytes(safetensors_bytes(header, data))
    folder = _sharded(tmp_path / "m", "../outside_weights/model-00001.safetensors")
    err = assert_refused_in_one_line(capsys, case, folder, OUTSIDE_THE_FOLDER)
    assert "../outside_weights/model-00001.safetensors" in err


def test_shard_index_with_an_absolute_path_is_refused(tmp_path: Path, case: Path, capsys) -> None:
    target = tmp_path / "elsewhere.safetensors"
    header, data = f32_header([2, 2])
    target.write_bytes(safetensors_bytes(header, data))
    folder = _sharded(tmp_path / "m", str(target))
    assert_refused_in_one_line(capsys, case, folder, OUTSIDE_THE_FOLDER)


@pytest.mark.parametrize("bad", [5, None, ["a"], ""])
def test_shard_index_entries_that_are_not_file_names_are_refused(
    tmp_path: Path, bad: object
) -> None:
    folder = _sharded(tmp_path / "m", "x")
    index = {"weight_map": {"t0": bad}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(EvidenceError, match="names a file as"):
        inspect_model(folder)


def test_shard_in_a_subfolder_of_the_model_is_accepted(tmp_path: Path) -> None:
    folder = minimal_folder(tmp_path / "m")
    (folder / "shards").mkdir()
    header, data = f32_header([3, 2])
    (folder / "shards" / "a.safetensors").write_bytes(safetensors_bytes(header, data))
    index = {"weight_map": {"t0": "shards/a.safetensors"}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    info = inspect_model(folder)
    assert info.parameter_count == 6
    assert folder / "shards" / "a.safetensors" in info.files


@pytest.mark.parametrize("name", ["LICENSE", "tokenizer_config.json", "model.safetensors"])
def test_links_leading_out_of_the_folder_are_refused(
    tmp_path: Path, case: Path, capsys, name: str
) -> None:
    secret = tmp_path / "secret"
    secret.mkdir()
    folder = minimal_folder(tmp_path / "m")
    if name == "model.safetensors":  # genuine weights, but kept outside the folder
        os.replace(folder / name, secret / name)
        target = secret / name
    elif name == "LICENSE" and Path("/etc/passwd").is_file():
        target = Path("/etc/passwd")
    else:
        target = secret / name
        target.write_text("{}" if name.endswith(".json") else "MIT")
    (folder / name).symlink_to(target)
    err = assert_refused_in_one_line(capsys, case, folder, "is a link to", "outside the folder")
    assert str(target.resolve()) in err and name in err


def test_a_linked_folder_inside_leading_out_is_refused(tmp_path: Path, case: Path, capsys) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    header, data = f32_header([2, 2])
    (outside / "a.safetensors").write_bytes(safetensors_bytes(header, data))
    folder = minimal_folder(tmp_path / "m")
    (folder / "shards").symlink_to(outside, target_is_directory=True)
    index = {"weight_map": {"t0": "shards/a.safetensors"}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    assert_refused_in_one_line(capsys, case, folder, "outside the folder")


def test_a_link_loop_is_refused_in_one_line(tmp_path: Path, case: Path, capsys) -> None:
    folder = minimal_folder(tmp_path / "m")
    (folder / "loop.safetensors").symlink_to(folder / "loop.safetensors")
    assert_refused_in_one_line(capsys, case, folder, "cannot be followed")


def test_links_that_stay_inside_the_folder_are_followed(tmp_path: Path, case_file, case_id) -> None:
    folder = minimal_folder(tmp_path / "m")
    (folder / "LICENSE.txt").write_text("Apache-2.0")
    (folder / "LICENSE").symlink_to("LICENSE.txt")
    art = import_model(case_file, case_id, folder, "suspect")
    assert art > 0


def test_the_model_loader_refuses_weights_linked_from_outside(tmp_path: Path) -> None:
    from core.backends.folders import check_hf_folder, read_config

    folder = minimal_folder(tmp_path / "m")
    os.replace(folder / "model.safetensors", tmp_path / "w.safetensors")
    (folder / "model.safetensors").symlink_to(tmp_path / "w.safetensors")
    with pytest.raises(ModelLoadError, match="outside the folder"):
        check_hf_folder(folder)
    os.replace(tmp_path / "w.safetensors", folder / "model.safetensors")
    (tmp_path / "cfg.json").write_text("{}")
    (folder / "generation_config.json").symlink_to(tmp_path / "cfg.json")
    with pytest.raises(ModelLoadError, match="outside the folder"):
        read_config(folder, "generation_config.json")


def _onnx_with_external(folder: Path, location: str) -> None:
    from onnx import TensorProto, helper

    weight = helper.make_tensor("w", TensorProto.FLOAT, [2, 2], [0.0] * 4)
    weight.data_location = TensorProto.EXTERNAL
    entry = weight.external_data.add()
    entry.key, entry.value = "location", location
    weight.ClearField("float_data")
    inp = helper.make_tensor_value_info("input_ids", TensorProto.FLOAT, [2, 2])
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [2, 2])
    graph = helper.make_graph(
        [helper.make_node("Add", ["input_ids", "w"], ["logits"])], "g", [inp], [out], [weight]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.onnx").write_bytes(model.SerializeToString())
    (folder / "vocab.txt").write_text("[PAD]\n[UNK]\n")


def test_onnx_external_data_outside_the_folder_is_refused(
    tmp_path: Path, case: Path, capsys
) -> None:
    (tmp_path / "outside.bin").write_bytes(b"\0" * 16)
    folder = tmp_path / "onnx"
    _onnx_with_external(folder, "../outside.bin")
    assert_refused_in_one_line(capsys, case, folder, "outside")


def test_onnx_external_data_linked_from_outside_is_refused(
    tmp_path: Path, case: Path, capsys
) -> None:
    (tmp_path / "outside.bin").write_bytes(b"\0" * 16)
    folder = tmp_path / "onnx"
    _onnx_with_external(folder, "w.bin")
    (folder / "w.bin").symlink_to(tmp_path / "outside.bin")
    assert_refused_in_one_line(capsys, case, folder, "link")  # onnx's checker says so too


# --- forged safetensors headers ----------------------------------------------------------


def test_ten_billion_parameters_in_125_kb_are_refused(tmp_path: Path, case: Path, capsys) -> None:
    data = b"\0" * (125 * 1024)
    header = {"w": {"dtype": "F16", "shape": [100_000, 100_000], "data_offsets": [0, len(data)]}}
    folder = minimal_folder(tmp_path / "m", header, data)
    assert_refused_in_one_line(capsys, case, folder, "needs", "bytes but its offsets span")


def test_tensors_sharing_bytes_cannot_multiply_the_parameter_count(tmp_path: Path) -> None:
    data = b"\0" * 4096
    header = {
        f"w{i}": {"dtype": "F32", "shape": [1024], "data_offsets": [0, 4096]} for i in range(50)
    }
    path = tmp_path / "m.safetensors"
    path.write_bytes(safetensors_bytes(header, data))
    with pytest.raises(EvidenceError, match="claim the same bytes"):
        read_header(path)


HOSTILE_ENTRIES = {
    "overflowing shape": {"dtype": "F32", "shape": [2**64, 2**64], "data_offsets": [0, 16]},
    "shape of strings": {"dtype": "F32", "shape": ["2", "2"], "data_offsets": [0, 16]},
    "shape as a string": {"dtype": "F32", "shape": "22", "data_offsets": [0, 16]},
    "negative dimension": {"dtype": "F32", "shape": [-2, -2], "data_offsets": [0, 16]},
    "boolean dimension": {"dtype": "F32", "shape": [True, 4], "data_offsets": [0, 16]},
    "float dimension": {"dtype": "F32", "shape": [2.0, 2], "data_offsets": [0, 16]},
    "offsets as strings": {"dtype": "F32", "shape": [2, 2], "data_offsets": ["0", "16"]},
    "offsets reversed": {"dtype": "F32", "shape": [2, 2], "data_offsets": [16, 0]},
    "three offsets": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 8, 16]},
    "offsets past the end": {"dtype": "F32", "shape": [2, 2], "data_offsets": [10**6, 10**6 + 16]},
    "huge offsets": {"dtype": "F32", "shape": [2, 2], "data_offsets": [2**70, 2**70 + 16]},
    "unknown dtype": {"dtype": "F1024", "shape": [2, 2], "data_offsets": [0, 16]},
    "dtype not text": {"dtype": ["F32"], "shape": [2, 2], "data_offsets": [0, 16]},
    "entry not a table": [0, 16],
}


@pytest.mark.parametrize("kind", sorted(HOSTILE_ENTRIES))
def test_hostile_tensor_entries_are_one_line_errors(
    tmp_path: Path, case: Path, capsys, kind: str
) -> None:
    folder = minimal_folder(tmp_path / "m", {"w": HOSTILE_ENTRIES[kind]}, b"\0" * 16)
    assert_refused_in_one_line(capsys, case, folder, "model.safetensors")


def test_header_longer_than_the_file_is_refused(tmp_path: Path, case: Path, capsys) -> None:
    folder = minimal_folder(tmp_path / "m")
    raw = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes((2**40).to_bytes(8, "little") + raw[8:])
    assert_refused_in_one_line(capsys, case, folder, "header length")


def test_a_genuine_model_still_imports_with_its_true_count(
    tmp_path: Path, tiny_model: Path, case_file, case_id
) -> None:
    folder = shutil.copytree(tiny_model, tmp_path / "m")
    info = inspect_model(folder)
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), "np") as f:
        expected = sum(_prod(f.get_slice(k).get_shape()) for k in f.keys())
    assert expected > 0 and info.parameter_count == expected
    assert import_model(case_file, case_id, folder, "suspect") > 0


def _prod(shape: list[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


# --- config values that cannot be stored --------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [
        {"model_type": "gpt2", "vocab_size": 10**30},
        {"model_type": "gpt2", "vocab_size": "many"},
        {"model_type": "gpt2", "vocab_size": -1},
    ],
)
def test_absurd_vocab_size_is_refused(tmp_path: Path, case: Path, capsys, config: dict) -> None:
    folder = minimal_folder(tmp_path / "m", config=config)
    assert_refused_in_one_line(capsys, case, folder, "vocab_size")


@pytest.mark.parametrize("archs", [{"a": 1}, 7, [["x"]], "GPT2"])
def test_odd_architectures_never_crash(tmp_path: Path, archs: object) -> None:
    folder = minimal_folder(tmp_path / "m", config={"model_type": "gpt2", "architectures": archs})
    assert inspect_model(folder).architecture == "gpt2"
