"""What is in a model folder, decided from file names alone (cheap, imports nothing heavy).

The pickle rule lives here: weights stored with Python pickle can run code when loaded,
so a folder that only has pickled weights is refused before any library touches it. So is
the containment rule, at load time as at import: config and weights that are links leading
out of the folder are refused (core.evidence.model_folder.require_inside), and configs are
read by the one bounded JSON reader (core.evidence.formats.read_json_file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from core.errors import EvidenceError, ModelLoadError, PickledWeightsError
from core.evidence.formats import PICKLE_SUFFIXES, read_json_file
from core.evidence.model_folder import onnx_location, require_inside, weight_files
from core.evidence.safetensors_header import read_header

ONNX_FILENAME = "model.onnx"
# Files a tokenizer may consist of; copied beside an ONNX export.
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "vocab.txt",
    "merges.txt",
    "tokenizer.model",
    "spiece.model",
    "chat_template.jinja",
    "chat_template.json",
)

ModelFormat = Literal["onnx", "hf"]


def require_folder(path: str | Path) -> Path:
    """The path as a folder, or ModelLoadError saying what is wrong with it."""
    folder = Path(path)
    if not folder.exists():
        raise ModelLoadError(f"Model folder {folder} does not exist.")
    if not folder.is_dir():
        raise ModelLoadError(f"{folder} is a file; choose the folder that holds the model.")
    return folder


def safetensors_files(folder: Path) -> list[Path]:
    """The weight files a load reads: exactly those the import hashed
    (:func:`core.evidence.model_folder.weight_files`: the index's shards, or the one file);
    [] when the folder has none, ModelLoadError when they cannot be told apart."""
    if not any(folder.glob("*.safetensors")):
        return []
    try:
        return weight_files(folder)
    except EvidenceError as exc:
        raise ModelLoadError(str(exc)) from exc


def stored_dtypes(folder: Path) -> tuple[str, ...]:
    """The safetensors dtypes (BF16, F32, …) of the model's weight files."""
    found: set[str] = set()
    for w in safetensors_files(folder):
        found.update(_header(w).dtypes)
    return tuple(sorted(found))


def parameter_count(folder: Path) -> int:
    """Parameters in the model's weight files, from their headers (no tensor is read)."""
    return sum(_header(w).parameters for w in safetensors_files(folder))


def _header(path: Path) -> Any:
    try:
        return read_header(path)
    except EvidenceError as exc:
        raise ModelLoadError(str(exc)) from exc


def present_files(folder: Path, names: tuple[str, ...]) -> list[str]:
    """Those of ``names`` that are files in ``folder``, in order."""
    return [n for n in names if (folder / n).is_file()]


def pickled_files(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in PICKLE_SUFFIXES
    )


def check_hf_folder(path: str | Path) -> Path:
    """Check a Hugging Face folder can be loaded safely: config.json and safetensors weights.

    Raises PickledWeightsError when the only weights are pickles, ModelLoadError when
    config or weights are missing.
    """
    folder = require_folder(path)
    weights = safetensors_files(folder)
    if not weights:
        pickles = pickled_files(folder)
        if pickles:
            names = ", ".join(p.name for p in pickles[:5])
            raise PickledWeightsError(
                f"The model in {folder} stores its weights in pickle files ({names}). "
                "Loading a pickle can run arbitrary code, so Distill Audit refuses it. "
                "Convert the weights to safetensors in a trusted, isolated environment, e.g. "
                "AutoModelForCausalLM.from_pretrained(folder).save_pretrained(new_folder, "
                "safe_serialization=True), copy the tokenizer files, and import new_folder."
            )
        raise ModelLoadError(
            f"No model weights found in {folder}: expected *.safetensors files "
            "(a Hugging Face folder) or model.onnx (an ONNX export)."
        )
    if not (folder / "config.json").is_file():
        raise ModelLoadError(
            f"{folder} has safetensors weights but no config.json; save the model with "
            "save_pretrained so its configuration is stored beside the weights."
        )
    for f in (folder / "config.json", *weights):
        _contained(folder, f)
    return folder


def _contained(folder: Path, path: Path) -> Path:
    """``path`` if it stays inside ``folder``; ModelLoadError (same message) if it leaves."""
    try:
        return require_inside(folder, path)
    except EvidenceError as exc:
        raise ModelLoadError(str(exc)) from exc


def read_config(folder: Path, name: str = "config.json") -> dict[str, Any]:
    """A JSON config file (config.json by default) as a dict, {} when absent."""
    path = folder / name
    if not path.is_file():
        return {}
    try:
        data = read_json_file(_contained(folder, path))
    except OSError as exc:
        raise ModelLoadError(f"{path} cannot be read: {exc.strerror or exc}.") from exc
    except EvidenceError as exc:  # too deep, too large, not JSON: say so as a load error
        raise ModelLoadError(str(exc)) from exc
    if not isinstance(data, dict):
        raise ModelLoadError(f"{path} does not hold a JSON object.")
    return data


def detect_format(path: str | Path) -> tuple[ModelFormat, Path, str]:
    """``(format, folder, onnx filename)`` for a model path (a folder or a .onnx file).

    For ONNX the folder holds the tokenizer and config and the filename is relative to it
    (``x.onnx``, or ``onnx/model.onnx`` in the onnx-community layout): a .onnx path opens
    that file and no other (:func:`core.evidence.model_folder.onnx_location`).
    """
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".onnx":
        root, graph = onnx_location(path)
        return "onnx", root, graph.relative_to(root).as_posix()
    folder = require_folder(path)
    community = folder / "onnx" / ONNX_FILENAME
    if (folder / ONNX_FILENAME).is_file() or (
        community.is_file() and not any(folder.glob("*.safetensors"))
    ):
        root, graph = onnx_location(folder)
        return "onnx", root, graph.relative_to(root).as_posix()
    check_hf_folder(folder)
    return "hf", folder, ""
