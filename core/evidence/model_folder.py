"""Inspect a model on disk before import: Hugging Face folders and ONNX exports.

Nothing here imports torch or transformers or executes anything from the folder. Pickled
weights are refused (unpickling can run arbitrary code), safetensors headers and ONNX
graphs are validated, and the tokenizer must be present so the model can be scored.

Containment: every file recorded must be inside the model folder. A shard index or an
ONNX external-data entry naming an absolute path or ``..``, and a link (symlink) inside the
folder that points outside it, are refused before anything is read, so the manifest can
only ever describe the folder the user chose (not, say, ``/etc/passwd`` linked in as the
LICENSE). Links that stay inside the folder are followed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from core.errors import EvidenceError, PickledWeightsError
from core.evidence.formats import ONNX_SUFFIX, PICKLE_SUFFIXES, read_json_file
from core.evidence.safetensors_header import read_header
from core.evidence.unsupported_models import refuse_adapter, refuse_gguf, refuse_quantised

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
        """The tokenizer's identity, computed as the checks compute it
        (:func:`core.backends.encoding.tokenizer_hash`, over the tokenization rules), so the
        inventory, the report and the checks' results name one hash for one tokenizer. Only
        a tokenizer that cannot be loaded (which no check can use either) is identified by
        its files' names and contents instead."""
        from core.backends.encoding import load_tokenizer, tokenizer_hash
        from core.errors import ModelLoadError

        if self.tokenizer_files:
            try:
                return tokenizer_hash(load_tokenizer(self.tokenizer_files[0].parent))
            except ModelLoadError:
                pass
        h = hashlib.sha256()
        for f in sorted(self.tokenizer_files, key=lambda p: p.name):
            h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
        return h.hexdigest()


_MAX_COUNT = 2**62  # parameter and vocabulary counts above this are not real (SQLite INTEGER)
# JSON files of a folder that loaders parse later: checked (depth, size, valid JSON) now.
_JSON_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "generation_config.json",
    "chat_template.json",
)


def require_inside(folder: Path, path: Path) -> Path:
    """``path`` when it, and any link on the way to it, stays inside ``folder``.

    EvidenceError otherwise, naming the file and where it leads: a link leaving the
    evidence folder could make the tool hash and record (and later load) a file that is
    not part of the model.
    """
    try:
        root, target = folder.resolve(), path.resolve()
    except (RuntimeError, OSError) as exc:  # a loop of links (Python 3.11: RuntimeError)
        raise EvidenceError(
            f"{path.name} in the model folder {folder} is a link that cannot be followed "
            f"({exc}); refused. Copy the real file into the folder and import again."
        ) from exc
    if target == root or root in target.parents:
        return path
    shown = path.relative_to(folder) if path.is_relative_to(folder) else path
    link = " is a link to" if path.is_symlink() else " leads (through a linked folder) to"
    raise EvidenceError(
        f"{shown} in the model folder {folder}{link} {target}, outside the folder. Links "
        "that leave the evidence folder are refused, so the record can only describe the "
        "folder itself. Copy the real file into the folder (e.g. `cp -L`) and import again."
    )


def _relative_name(folder: Path, name: Any, what: str) -> Path:
    """A file named by the model's own files (a shard index, ONNX external data): a
    relative path inside ``folder``, never absolute and never through ``..``."""
    if not isinstance(name, str) or not name.strip() or "\0" in name:
        raise EvidenceError(f"{what} in {folder} names a file as {str(name)[:80]!r}; not a file.")
    posix, windows = PurePosixPath(name), PureWindowsPath(name)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or ".." in windows.parts:
        raise EvidenceError(
            f"{what} in {folder} points at {name[:200]!r}, outside the model folder. Only "
            "files inside the folder are accepted as parts of the model; if that file "
            "really belongs to it, copy it into the folder and fix the reference."
        )
    return require_inside(folder, folder / name)


def _read_json(path: Path) -> dict[str, Any]:
    data = read_json_file(path)
    if not isinstance(data, dict):
        raise EvidenceError(f"{path.name} in {path.parent} is not a JSON object.")
    return data


INDEX_NAME = "model.safetensors.index.json"
SINGLE_WEIGHTS = "model.safetensors"


def weight_files(folder: Path) -> list[Path]:
    """The safetensors files that make up the model, by the one rule import and load share.

    With ``model.safetensors.index.json``: exactly the shards its weight_map names (a stale
    extra ``*.safetensors`` beside them is not part of the model and is never read). Without
    one: ``model.safetensors``, or the folder's only ``*.safetensors`` file. Several files
    and no index are refused: which of them is the model cannot be told, so neither the
    hash nor a check could be sure to describe the same weights. EvidenceError otherwise.
    """
    index_path = folder / INDEX_NAME
    if index_path.is_file():
        index = _read_json(require_inside(folder, index_path))
        weight_map = index.get("weight_map") or {}
        if not isinstance(weight_map, dict):
            raise EvidenceError(f"{INDEX_NAME} in {folder}: weight_map is not a table.")
        shards = sorted({_relative_name(folder, s, INDEX_NAME) for s in weight_map.values()})
        missing = [str(s.relative_to(folder)) for s in shards if not s.is_file()]
        if not shards or missing:
            raise EvidenceError(
                f"{folder} is a sharded model but shards are missing: "
                f"{', '.join(missing) or 'all'}."
            )
        return shards
    found = sorted(folder.glob("*.safetensors"))
    if (folder / SINGLE_WEIGHTS).is_file():
        return [require_inside(folder, folder / SINGLE_WEIGHTS)]
    if len(found) == 1:
        return [require_inside(folder, found[0])]
    if not found:
        raise EvidenceError(f"{folder} has no *.safetensors weights.")
    names = ", ".join(f.name for f in found[:5])
    raise EvidenceError(
        f"{folder} holds several safetensors files ({names}) but no {INDEX_NAME} saying "
        "which of them make up the model; refused, so the hash and every check describe the "
        "same weights. Save the model again with save_pretrained, or remove the stray files."
    )


def _count(value: Any, what: str, source: Path) -> int | None:
    """A count from a config (vocab_size): a plausible non-negative int, or None if absent."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_COUNT:
        raise EvidenceError(
            f"{source.name} in {source.parent}: {what} {str(value)[:40]!r} is "
            "not a plausible count."
        )
    return value


def _architecture(config: dict[str, Any], default: str) -> str:
    archs = config.get("architectures")
    if isinstance(archs, list) and archs and isinstance(archs[0], str):
        return archs[0][:200]
    model_type = config.get("model_type")
    return model_type[:200] if isinstance(model_type, str) and model_type else default


def _tokenizer_files(folder: Path) -> list[Path]:
    found = [require_inside(folder, folder / n) for n in TOKENIZER_FILES if (folder / n).is_file()]
    for p in found:
        if p.name in _JSON_FILES:
            read_json_file(p)  # loaders parse it later: hostile nesting is refused now
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
    if names & {"tokenizer.json", "vocab.json", "vocab.txt"} == set():
        _require_sentencepiece_class(folder)
    return found


# Tokenizer classes that read a SentencePiece tokenizer.model (sentencepiece is installed).
SENTENCEPIECE_CLASSES = frozenset(
    f"{base}{fast}"
    for base in ("LlamaTokenizer", "CodeLlamaTokenizer", "GemmaTokenizer", "T5Tokenizer")
    for fast in ("", "Fast")
)


def _require_sentencepiece_class(folder: Path) -> None:
    """A folder whose only tokenizer is tokenizer.model must say which class reads it
    (tokenizer_config.json), or the loader guesses and may ask for packages it lacks."""
    cfg = folder / "tokenizer_config.json"
    config = _read_json(require_inside(folder, cfg)) if cfg.is_file() else {}
    cls = config.get("tokenizer_class")
    if isinstance(cls, str) and cls in SENTENCEPIECE_CLASSES:
        return
    shown = f"names {str(cls)[:60]!r}" if cls else "names no tokenizer_class"
    raise EvidenceError(
        f"{folder}'s only tokenizer is tokenizer.model (SentencePiece) and its "
        f"tokenizer_config.json {shown}, so it cannot be told how to read it. Save the "
        "tokenizer with transformers' save_pretrained (which writes tokenizer.json) beside "
        "the model, or give tokenizer_config.json the tokenizer_class the model's publisher "
        "uses (e.g. LlamaTokenizer), and import again."
    )


# Files beside the model that a load also reads (generation and chat-template settings)
# or that describe it: hashed with it whenever present.
EXTRA_FILES = (
    "generation_config.json",
    INDEX_NAME,
    *LICENCE_NAMES,
    "README.md",
    "chat_template.jinja",
    "chat_template.json",
    "spiece.model",
)


def _with_extras(folder: Path, files: list[Path]) -> list[Path]:
    """``files`` plus those of :data:`EXTRA_FILES` present (JSON ones checked as JSON)."""
    out = list(files)
    for extra in EXTRA_FILES:
        p = folder / extra
        if p.is_file() and p not in out:
            out.append(require_inside(folder, p))
            if p.name.endswith(".json"):
                read_json_file(p)
    return out


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
    weights = [require_inside(folder, w) for w in sorted(folder.glob("*.safetensors"))]
    pickles = sorted(p for p in folder.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES)
    if not weights and pickles:
        raise PickledWeightsError(
            f"{folder} holds only pickled weights ({', '.join(p.name for p in pickles)}). "
            + _CONVERT_HINT
        )
    refuse_gguf(folder)
    if not config_path.is_file():
        refuse_adapter(folder, None)
        raise EvidenceError(f"{folder} has no config.json; it is not a Hugging Face model folder.")
    if not weights:
        raise EvidenceError(f"{folder} has no *.safetensors weights.")
    config = _read_json(require_inside(folder, config_path))
    refuse_quantised(folder, config)
    if config.get("auto_map"):
        raise EvidenceError(
            f"{folder} needs custom code from the model's authors (auto_map in config.json); "
            "Distill Audit never runs code shipped with a model."
        )
    weights = weight_files(folder)
    params = 0
    dtypes: set[str] = set()
    for w in weights:
        info = read_header(w)
        params += info.parameters
        dtypes.update(info.dtypes)
    tok = _tokenizer_files(folder)
    files = _with_extras(folder, [config_path, *weights, *tok])
    return ModelInspection(
        root=folder,
        format="hf-folder",
        files=files,
        architecture=_architecture(config, "unknown"),
        parameter_count=params,
        vocab_size=_count(config.get("vocab_size"), "vocab_size", config_path),
        tokenizer_files=tok,
        licence_file=_licence(folder),
        details={
            "model_type": config.get("model_type"),
            "dtypes": sorted(dtypes),
            "shards": len(weights),
            "ignored_pickles": [p.name for p in pickles],
        },
    )


ONNX_SUBFOLDER = "onnx"  # the onnx-community layout: onnx/model.onnx, tokenizer at the root


def onnx_location(path: Path) -> tuple[Path, Path]:
    """``(root, graph)`` of an ONNX model path: the folder that holds tokenizer and config,
    and the .onnx file that is the model.

    ``folder/model.onnx``, ``folder/x.onnx`` (the named file, never another one beside it)
    and the onnx-community layout (``folder/onnx/model.onnx`` with the tokenizer and
    config.json at ``folder``) are recognised.
    """
    if path.is_dir():
        for graph in (path / "model.onnx", path / ONNX_SUBFOLDER / "model.onnx"):
            if graph.is_file():
                return path, graph
        raise EvidenceError(f"No model.onnx in {path} (nor in {path / ONNX_SUBFOLDER}).")
    parent = path.parent
    if (
        parent.name == ONNX_SUBFOLDER
        and not _has_tokenizer(parent)
        and _has_tokenizer(parent.parent)
    ):
        return parent.parent, path
    return parent, path


def _has_tokenizer(folder: Path) -> bool:
    return any((folder / n).is_file() for n in ("tokenizer.json", "tokenizer.model", "vocab.json"))


def inspect_onnx(path: Path) -> ModelInspection:
    """Validate an ONNX causal LM: checker, input_ids/attention_mask in, logits out."""
    folder, model_path = onnx_location(path)
    if not model_path.is_file():
        raise EvidenceError(f"No model.onnx in {path}.")
    require_inside(folder, model_path)
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
    where = f"{model_path.name}'s external data"
    external_paths = [_relative_name(model_path.parent, e, where) for e in external]
    for e in external_paths:
        require_inside(folder, e)
    missing = [e for e, p in zip(external, external_paths, strict=True) if not p.is_file()]
    if missing:
        raise EvidenceError(f"{model_path.name} refers to missing external data: {missing}.")
    tok = _tokenizer_files(folder)
    stored = model_path.stat().st_size + sum(p.stat().st_size for p in external_paths)
    params = _onnx_parameters(model, model_path, stored)
    cfg = folder / "config.json"
    config = _read_json(require_inside(folder, cfg)) if cfg.is_file() else {}
    vocab = _count(config.get("vocab_size"), "vocab_size", cfg)
    files = [model_path, *external_paths, *tok]
    if cfg.is_file():
        files.append(cfg)
    files = _with_extras(folder, files)
    return ModelInspection(
        root=folder,
        format="onnx",
        files=files,
        architecture=_architecture(config, "onnx"),
        parameter_count=params,
        vocab_size=vocab,
        tokenizer_files=tok,
        licence_file=_licence(folder),
        details={
            "inputs": inputs,
            "outputs": outputs,
            "opset": [o.version for o in model.opset_import],
            "external_data": external,
            "onnx_file": model_path.relative_to(folder).as_posix(),
        },
    )


def _onnx_parameters(model: Any, model_path: Path, stored_bytes: int) -> int:
    """Elements of the graph's initializers, refused when dims are negative or when even at
    half a byte per element (the smallest ONNX type) they need more bytes than are stored."""
    params = 0
    for t in model.graph.initializer:
        n = 1
        for d in t.dims:
            if d < 0:
                raise EvidenceError(
                    f"{model_path.name}: weight {t.name[:80]!r} has a negative dimension; the "
                    "file is damaged or forged."
                )
            n *= d
        params += n
        if params > _MAX_COUNT or params > 2 * stored_bytes:
            raise EvidenceError(
                f"{model_path.name} claims more parameters than its {stored_bytes:,} bytes "
                "(model and external data) can hold; the file is damaged or forged."
            )
    return params


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
        refuse_gguf(path)
        raise EvidenceError(f"{path.name}: expected a model folder or an .onnx file.")
    community = (path / ONNX_SUBFOLDER / "model.onnx").is_file()
    if (path / "model.onnx").is_file() or (community and not any(path.glob("*.safetensors"))):
        return inspect_onnx(path)
    return inspect_hf_folder(path)


def model_path(root: str, fmt: str, details: Any) -> str:
    """Where a check opens an imported model: the folder, or for ONNX the very graph file
    the import hashed (``details["onnx_file"]``), never another .onnx beside it."""
    name = details.get("onnx_file") if isinstance(details, dict) else None
    if fmt == "onnx" and isinstance(name, str) and name:
        return str(Path(root) / name)
    return root
