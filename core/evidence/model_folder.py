"""Inspect a model on disk before import: Hugging Face folders and ONNX exports.

Nothing here imports torch or transformers or executes anything from the folder. Pickled
weights are refused (unpickling can run arbitrary code), safetensors headers and ONNX
graphs are validated, and the tokenizer must be present so the model can be scored.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import EvidenceError, PickledWeightsError
from core.evidence.formats import ONNX_SUFFIX, PICKLE_SUFFIXES
from core.evidence.safetensors_header import read_header

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
)
LICENCE_NAMES = ("LICENSE", "LICENSE.txt", "LICENSE.md", "LICENCE", "LICENCE.txt", "COPYING")
_CONVERT_HINT = (
    "Pickled weights can execute code when loaded, so Distill Audit refuses them. Convert "
    "them to safetensors on an isolated machine you trust, e.g. "
    "`AutoModelForCausalLM.from_pretrained(folder).save_pretrained(out, "
    "safe_serialization=True)`, hash both copies, and import the safetensors folder."
)


@dataclass
class ModelInspection:
    """What an import found in a model folder or ONNX file."""

    root: Path
    format: str  # "hf-folder" | "onnx"
    files: list[Path]
    architecture: str | None = None
    parameter_count: int | None = None
    vocab_size: int | None = None
    tokenizer_files: list[Path] = field(default_factory=list)
    licence_file: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def tokenizer_hash(self) -> str:
        """Hash over the tokenizer files' names and contents: equal hashes, same tokenizer."""
        h = hashlib.sha256()
        for f in sorted(self.tokenizer_files, key=lambda p: p.name):
            h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
        return h.hexdigest()


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EvidenceError(f"{path.name} in {path.parent} is not valid JSON: {exc}.") from exc
    if not isinstance(data, dict):
        raise EvidenceError(f"{path.name} in {path.parent} is not a JSON object.")
    return data


def _tokenizer_files(folder: Path) -> list[Path]:
    found = [folder / n for n in TOKENIZER_FILES if (folder / n).is_file()]
    names = {p.name for p in found}
    usable = (
        "tokenizer.json" in names
        or "tokenizer.model" in names
        or {"vocab.json", "merges.txt"} <= names
        or "vocab.txt" in names
    )
    if not usable:
        raise EvidenceError(
            f"{folder} has no tokenizer (expected tokenizer.json, or vocab.json + merges.txt, "
            "or tokenizer.model). Without it the model's outputs cannot be scored; copy the "
            "tokenizer files that came with the model into the same folder."
        )
    return found


def _licence(folder: Path) -> str | None:
    for name in LICENCE_NAMES:
        if (folder / name).is_file():
            return name
    return None


def inspect_hf_folder(folder: Path) -> ModelInspection:
    """Validate a Hugging Face folder: config, safetensors (sharded too), tokenizer."""
    if not folder.is_dir():
        raise EvidenceError(f"{folder} is not a folder.")
    config_path = folder / "config.json"
    weights = sorted(folder.glob("*.safetensors"))
    pickles = sorted(p for p in folder.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES)
    if not weights and pickles:
        raise PickledWeightsError(
            f"{folder} holds only pickled weights ({', '.join(p.name for p in pickles)}). "
            + _CONVERT_HINT
        )
    if not config_path.is_file():
        raise EvidenceError(f"{folder} has no config.json; it is not a Hugging Face model folder.")
    if not weights:
        raise EvidenceError(f"{folder} has no *.safetensors weights.")
    config = _read_json(config_path)
    if config.get("auto_map"):
        raise EvidenceError(
            f"{folder} needs custom code from the model's authors (auto_map in config.json); "
            "Distill Audit never runs code shipped with a model."
        )
    index_path = folder / "model.safetensors.index.json"
    if index_path.is_file():
        index = _read_json(index_path)
        shards = sorted(set((index.get("weight_map") or {}).values()))
        missing = [s for s in shards if not (folder / s).is_file()]
        if not shards or missing:
            raise EvidenceError(
                f"{folder} is a sharded model but shards are missing: "
                f"{', '.join(missing) or 'all'}."
            )
        weights = [folder / s for s in shards]
    params = 0
    dtypes: set[str] = set()
    for w in weights:
        info = read_header(w)
        params += info.parameters
        dtypes.update(info.dtypes)
    tok = _tokenizer_files(folder)
    archs = config.get("architectures") or [config.get("model_type", "unknown")]
    files = [config_path, *weights, *tok]
    for extra in (
        "generation_config.json",
        "model.safetensors.index.json",
        *LICENCE_NAMES,
        "README.md",
        "chat_template.jinja",
    ):
        p = folder / extra
        if p.is_file() and p not in files:
            files.append(p)
    return ModelInspection(
        root=folder,
        format="hf-folder",
        files=files,
        architecture=str(archs[0]),
        parameter_count=params,
        vocab_size=config.get("vocab_size"),
        tokenizer_files=tok,
        licence_file=_licence(folder),
        details={
            "model_type": config.get("model_type"),
            "dtypes": sorted(dtypes),
            "shards": len(weights),
            "ignored_pickles": [p.name for p in pickles],
        },
    )


def inspect_onnx(path: Path) -> ModelInspection:
    """Validate an ONNX causal LM: checker, input_ids/attention_mask in, logits out."""
    model_path = path / "model.onnx" if path.is_dir() else path
    folder = model_path.parent
    if not model_path.is_file():
        raise EvidenceError(f"No model.onnx in {path}.")
    import onnx  # light import (no torch)

    try:
        onnx.checker.check_model(str(model_path))
        model = onnx.load(str(model_path), load_external_data=False)
    except Exception as exc:
        raise EvidenceError(
            f"{model_path.name} is not a valid ONNX model: {str(exc).splitlines()[0][:200]}"
        ) from exc
    inputs = [i.name for i in model.graph.input]
    initializers = {i.name for i in model.graph.initializer}
    inputs = [i for i in inputs if i not in initializers]
    outputs = [o.name for o in model.graph.output]
    if "input_ids" not in inputs:
        raise EvidenceError(f"{model_path.name} has no 'input_ids' input (inputs: {inputs}).")
    if "logits" not in outputs:
        raise EvidenceError(
            f"{model_path.name} has no 'logits' output (outputs: {outputs}); export the model "
            "as a causal language model returning logits."
        )
    external = sorted(
        {d.value for t in model.graph.initializer for d in t.external_data if d.key == "location"}
    )
    missing = [e for e in external if not (folder / e).is_file()]
    if missing:
        raise EvidenceError(f"{model_path.name} refers to missing external data: {missing}.")
    tok = _tokenizer_files(folder)
    params = 0
    for t in model.graph.initializer:
        n = 1
        for d in t.dims:
            n *= d
        params += n
    vocab = None
    cfg = folder / "config.json"
    config = _read_json(cfg) if cfg.is_file() else {}
    vocab = config.get("vocab_size")
    files = [model_path, *(folder / e for e in external), *tok]
    if cfg.is_file():
        files.append(cfg)
    return ModelInspection(
        root=folder,
        format="onnx",
        files=files,
        architecture=(config.get("architectures") or ["onnx"])[0],
        parameter_count=params,
        vocab_size=vocab,
        tokenizer_files=tok,
        licence_file=_licence(folder),
        details={
            "inputs": inputs,
            "outputs": outputs,
            "opset": [o.version for o in model.opset_import],
            "external_data": external,
        },
    )


def inspect_model(path: Path) -> ModelInspection:
    """Detect the format and inspect it: ONNX if a model.onnx is there, else an HF folder."""
    path = Path(path)
    if not path.exists():
        raise EvidenceError(f"{path} does not exist.")
    if path.is_file():
        if path.suffix.lower() in PICKLE_SUFFIXES:
            raise PickledWeightsError(f"{path.name} is a pickled checkpoint. " + _CONVERT_HINT)
        if path.suffix.lower() == ONNX_SUFFIX:
            return inspect_onnx(path)
        raise EvidenceError(f"{path.name}: expected a model folder or an .onnx file.")
    if (path / "model.onnx").is_file():
        return inspect_onnx(path)
    return inspect_hf_folder(path)
