"""Export a transformers causal LM to ONNX, and check the export against the original.

The graph takes ``input_ids``, ``attention_mask`` (and ``position_ids`` when the model
accepts them) with dynamic batch and sequence axes and outputs ``logits``; the KV cache
is disabled. The torch.export-based exporter is tried first and the legacy TorchScript
exporter second; an export counts only once onnxruntime reproduces the torch logits on
inputs of a different shape than the tracing example (with padding). Everything is
written to a hidden temporary folder beside the target and renamed at the end, so a
failed or cancelled export leaves nothing half-written.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from core.backends.folders import ONNX_FILENAME, TOKENIZER_FILES, check_hf_folder
from core.errors import Cancelled, EvidenceError, ModelLoadError

if TYPE_CHECKING:
    from core.jobs import JobState

Exporter = Literal["auto", "dynamo", "legacy"]
VERIFY_TOLERANCE = 1e-3  # on logits, for accepting a graph
LEGACY_OPSET = 17
EXTERNAL_DATA_BYTES = (
    1_500_000_000  # above this, weights go to model.onnx.data (2 GB protobuf limit)
)
COPIED_FILES = (*TOKENIZER_FILES, "config.json", "generation_config.json")


class OnnxExportError(ModelLoadError):
    """The model could not be exported to a graph that reproduces its outputs."""


@dataclass(frozen=True)
class ParityReport:
    """How far the ONNX export's log-probabilities are from the torch model's."""

    max_abs_diff: float  # over the per-token log-probs of the texts
    mean_abs_diff: float
    n_tokens: int
    n_texts: int
    max_abs_diff_distribution: float  # over full next-token log-prob distributions
    argmax_agreement: float  # share of positions where both pick the same top token
    tolerance: float

    @property
    def passed(self) -> bool:
        return (
            self.max_abs_diff < self.tolerance and self.max_abs_diff_distribution < self.tolerance
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def export_onnx(
    hf_folder: str | Path,
    out_folder: str | Path,
    state: JobState | None = None,
    *,
    exporter: Exporter = "auto",
    opset: int | None = None,
) -> Path:
    """Export the model in ``hf_folder`` to ``out_folder``/model.onnx with its tokenizer.

    ``out_folder`` must not exist or be empty. Raises OnnxExportError when no exporter
    produces a faithful graph, and Cancelled (leaving nothing behind) when cancelled.
    """
    source = check_hf_folder(hf_folder)
    target = Path(out_folder)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise EvidenceError(
            f"{target} already exists and is not empty; choose a new folder for the export."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    _status(state, f"Loading {source.name}", 0)
    from core.backends.torch_backend import load_causal_lm

    model = load_causal_lm(source, attn_implementation="eager")
    model.config.use_cache = False
    order = ["dynamo", "legacy"] if exporter == "auto" else [exporter]
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        failures: list[str] = []
        for number, kind in enumerate(order):
            _check(state)
            _status(state, f"Exporting with the {kind} exporter", 10 + 70 * number / len(order))
            try:
                inputs = _export_graph(kind, model, work / ONNX_FILENAME, opset)
                _check(state)
                _status(
                    state, "Checking the graph against torch", 10 + 70 * (number + 1) / len(order)
                )
                diff = _verify_graph(model, work / ONNX_FILENAME, inputs)
            except Cancelled:
                raise
            except Exception as exc:  # exporter failures come in every type
                failures.append(f"{kind} exporter: {type(exc).__name__}: {exc}")
            else:
                if diff <= VERIFY_TOLERANCE:
                    break
                failures.append(f"{kind} exporter: logits differ from torch by {diff:.2e}")
            _empty(work)
        else:
            raise OnnxExportError(
                f"Could not export {source} to ONNX. " + " | ".join(f[:500] for f in failures)
            )
        for name in COPIED_FILES:
            if (source / name).is_file():
                shutil.copy2(source / name, work / name)
        _write_info(work, source, kind, inputs, diff)
        _check(state)
        if target.exists():
            target.rmdir()
        os.replace(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    _status(state, "Export finished", 100)
    return target


def parity_check(
    hf_folder: str | Path,
    onnx_folder: str | Path,
    texts: list[str],
    state: JobState | None = None,
    *,
    tolerance: float = 1e-3,
) -> ParityReport:
    """Compare per-token and full-distribution log-probs of a model and its ONNX export."""
    from core.backends.onnx_backend import OnnxModel
    from core.backends.torch_backend import TorchModel

    if not texts:
        raise ValueError("parity_check needs at least one text")
    reference, exported = TorchModel(hf_folder), OnnxModel(onnx_folder)
    try:
        if reference.tokenizer_hash != exported.tokenizer_hash:
            raise EvidenceError(
                f"The tokenizer beside {exported.onnx_path} differs from the one in {hf_folder}; "
                "parity can only be checked with the same tokenizer."
            )
        results = []
        for number, model in enumerate((reference, exported)):
            quarter = [
                state.sub(50 * number + 25 * k, 50 * number + 25 * (k + 1)) if state else None
                for k in (0, 1)
            ]
            scored = model.score([""] * len(texts), texts, state=quarter[0])
            dists = model.next_token_distributions(texts, state=quarter[1])
            results.append((scored, dists))
            model.release()
    finally:
        reference.release()
        exported.release()
    (t_scored, t_dists), (o_scored, o_dists) = results
    token_diffs = np.concatenate(
        [np.abs(a.logprobs - b.logprobs) for a, b in zip(t_scored, o_scored, strict=True)]
        + [np.zeros(0)]
    )
    dist_max, agree, positions = 0.0, 0, 0
    for a, b in zip(t_dists, o_dists, strict=True):
        if a.size:
            dist_max = max(dist_max, float(np.abs(a - b).max()))
            agree += int((a.argmax(-1) == b.argmax(-1)).sum())
            positions += a.shape[0]
    return ParityReport(
        max_abs_diff=float(token_diffs.max()) if token_diffs.size else 0.0,
        mean_abs_diff=float(token_diffs.mean()) if token_diffs.size else 0.0,
        n_tokens=int(token_diffs.size),
        n_texts=len(texts),
        max_abs_diff_distribution=dist_max,
        argmax_agreement=agree / positions if positions else 1.0,
        tolerance=tolerance,
    )


# --- internals -----------------------------------------------------------------------
def _wrapper(model: Any, inputs: tuple[str, ...]) -> Any:
    """A module whose forward takes the graph inputs positionally and returns logits only."""
    import torch

    class LogitsOnly(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, position_ids: Any = None) -> Any:
            extra = {"position_ids": position_ids} if "position_ids" in inputs else {}
            out = self.model(
                input_ids=input_ids, attention_mask=attention_mask, use_cache=False, **extra
            )
            return out["logits"]

    return LogitsOnly().eval()


def _example(
    model: Any, batch: int, length: int, inputs: tuple[str, ...], seed: int, pad_first: int = 0
) -> tuple:
    """Random token ids (row 0 left-padded by ``pad_first``) with mask and positions."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(
        0, model.config.get_text_config().vocab_size, (batch, length), generator=generator
    )
    mask = torch.ones_like(ids)
    mask[0, :pad_first] = 0
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    return (ids, mask, positions)[: len(inputs)]


def _export_graph(kind: str, model: Any, path: Path, opset: int | None) -> tuple[str, ...]:
    """Run one exporter; returns the graph's input names."""
    import torch

    accepts_positions = "position_ids" in inspect.signature(model.forward).parameters
    inputs = (
        ("input_ids", "attention_mask", "position_ids")
        if accepts_positions
        else ("input_ids", "attention_mask")
    )
    wrapper = _wrapper(model, inputs)
    args = _example(model, 2, 8, inputs, seed=0)
    large = sum(p.numel() * p.element_size() for p in model.parameters()) > EXTERNAL_DATA_BYTES
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), _quiet("torch.onnx"):
        warnings.simplefilter("ignore")
        if kind == "dynamo":
            batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
            torch.onnx.export(
                wrapper,
                args,
                str(path),
                dynamo=True,
                input_names=list(inputs),
                output_names=["logits"],
                dynamic_shapes={name: {0: batch, 1: sequence} for name in inputs},
                opset_version=opset,
                external_data=large,
                verbose=False,
            )
        elif kind == "legacy":
            axes = {name: {0: "batch", 1: "sequence"} for name in (*inputs, "logits")}
            torch.onnx.export(
                wrapper,
                args,
                str(path),
                dynamo=False,
                input_names=list(inputs),
                output_names=["logits"],
                dynamic_axes=axes,
                opset_version=opset or LEGACY_OPSET,
                do_constant_folding=True,
            )
        else:
            raise ValueError(f"unknown exporter {kind!r}")
    return inputs


def _verify_graph(model: Any, path: Path, inputs: tuple[str, ...]) -> float:
    """Max |logit difference| between torch and onnxruntime on an unseen, padded shape."""
    import torch

    from core.backends.onnx_backend import import_onnxruntime

    ort = import_onnxruntime()

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}
    if names != set(inputs) or "logits" not in {o.name for o in session.get_outputs()}:
        raise OnnxExportError(f"exported graph has inputs {sorted(names)}, expected {list(inputs)}")
    worst = 0.0
    for batch, length, pad in ((3, 5, 2), (1, 11, 0)):
        args = _example(model, batch, length, inputs, seed=batch, pad_first=pad)
        with torch.inference_mode():
            expected = _wrapper(model, inputs)(*args).float().numpy()
        (got,) = session.run(["logits"], {n: a.numpy() for n, a in zip(inputs, args, strict=True)})
        valid = args[1].numpy().astype(bool)
        worst = max(worst, float(np.abs(got - expected)[valid].max()))
    return worst


def _write_info(
    folder: Path, source: Path, kind: str, inputs: tuple[str, ...], diff: float
) -> None:
    import torch
    import transformers

    from core.backends.onnx_backend import import_onnxruntime

    onnxruntime = import_onnxruntime()
    info = {
        "source_folder": str(source),
        "exporter": kind,
        "inputs": list(inputs),
        "outputs": ["logits"],
        "verification_max_abs_logit_diff": diff,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "onnxruntime": onnxruntime.__version__,
    }
    (folder / "export_info.json").write_text(json.dumps(info, indent=2), encoding="utf-8")


@contextlib.contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    """Silence a library logger's chatter (e.g. 'torchvision is not installed') for a while."""
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _empty(folder: Path) -> None:
    for child in folder.iterdir():
        shutil.rmtree(child) if child.is_dir() else child.unlink()


def _check(state: JobState | None) -> None:
    if state is not None:
        state.check_cancelled()


def _status(state: JobState | None, text: str, percent: float) -> None:
    if state is not None:
        state.set_status(text)
        state.set_progress(percent)
