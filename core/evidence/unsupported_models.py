"""Model folders that would pass a file check but could not be scored: refused at import.

A folder accepted at import and unusable at check time wastes a hash, an audit entry and
the reviewer's time, and the error then (``pip install …``) is one a lawyer cannot act
on. So the shapes Distill Audit cannot load on a CPU without extra packages are named
here, each with the reason and the route that turns it into something it can load:
quantised checkpoints (GPTQ, AWQ, FP8, bitsandbytes: ``quantization_config`` in
config.json), GGUF files (the ``gguf`` package is not part of Distill Audit) and LoRA
adapters (``adapter_config.json``: weights that mean nothing without their base).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.errors import EvidenceError

GGUF_SUFFIX = ".gguf"
ADAPTER_CONFIG = "adapter_config.json"

_DEQUANTISE = (
    "Import the unquantised checkpoint the model was made from (the publisher's float16/"
    "bfloat16 safetensors), or dequantise it on a machine you trust, e.g. "
    "`AutoModelForCausalLM.from_pretrained(folder, device_map='cpu').dequantize()` then "
    "`save_pretrained(out, safe_serialization=True)`, hash both, and import `out`. Reduced "
    "precision can then be chosen at check time (--dtype bfloat16 or int8)."
)


def quantisation_method(config: dict[str, Any]) -> str | None:
    """The ``quant_method`` (gptq, awq, fp8, bitsandbytes, …) of a quantised config, else None."""
    for cfg in (config, config.get("text_config")):
        if isinstance(cfg, dict) and isinstance(cfg.get("quantization_config"), dict):
            q = cfg["quantization_config"]
            method = q.get("quant_method")
            if not isinstance(method, str) or not method:
                method = "bitsandbytes" if q.get("load_in_4bit") or q.get("load_in_8bit") else ""
            return (method or "unknown")[:40]
    return None


def refuse_quantised(folder: Path, config: dict[str, Any]) -> None:
    """EvidenceError for a checkpoint stored quantised (its loader needs GPU-only packages)."""
    method = quantisation_method(config)
    if method is None:
        return
    raise EvidenceError(
        f"{folder} holds a {method.upper()}-quantised checkpoint (quantization_config in "
        "config.json). Its weights can only be read through a quantisation package that "
        "needs a GPU or code outside Distill Audit, so it is refused at import. " + _DEQUANTISE
    )


def refuse_gguf(path: Path) -> None:
    """EvidenceError for a GGUF file, or a folder whose only weights are GGUF files."""
    if path.is_file():
        found = [path] if path.suffix.lower() == GGUF_SUFFIX else []
    else:
        found = sorted(p for p in path.glob("*") if p.suffix.lower() == GGUF_SUFFIX)
        if any(path.glob("*.safetensors")) or (path / "model.onnx").is_file():
            return  # GGUF beside real weights: the weights are what is imported
    if not found:
        return
    raise EvidenceError(
        f"{found[0].name} is a GGUF file (llama.cpp). Distill Audit cannot read GGUF: the "
        "`gguf` package is not part of it, and GGUF weights are usually quantised. Import the "
        "Hugging Face safetensors checkpoint the GGUF was converted from, or convert it back "
        "on a machine you trust (transformers `from_pretrained(folder, gguf_file=...)` then "
        "`save_pretrained(out, safe_serialization=True)`) and import `out`."
    )


def refuse_adapter(folder: Path, config: dict[str, Any] | None) -> None:
    """EvidenceError for a LoRA/PEFT adapter folder: its weights need their base model."""
    if not (folder / ADAPTER_CONFIG).is_file() or config is not None:
        return
    raise EvidenceError(
        f"{folder} is a LoRA/PEFT adapter ({ADAPTER_CONFIG}, no config.json): its weights are "
        "only a difference from a base model and cannot be scored alone. Merge it into the "
        "base it names (base_model_name_or_path) on a machine you trust, e.g. "
        "`PeftModel.from_pretrained(base, folder).merge_and_unload().save_pretrained(out, "
        "safe_serialization=True)` with the tokenizer copied beside it, hash the base, the "
        "adapter and `out`, and import `out`."
    )
