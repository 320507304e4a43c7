"""core.backends against real tiny GPT-2 models: torch, ONNX export, onnxruntime, refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.backends import (
    LanguageModel,
    OnnxModel,
    ScoredText,
    TorchModel,
    export_onnx,
    load_model,
    parity_check,
)
from core.backends.encoding import TextEncoder, length_buckets
from core.errors import Cancelled, EvidenceError, ModelLoadError, PickledWeightsError
from core.jobs import JobState
from tests.tinymodels import build_tiny_gpt2, build_tiny_tokenizer

REPO = Path(__file__).resolve().parents[1]
CONTEXTS = ["", "Hello", "The quick brown fox jumps over the", "", "Terms of service forbid using"]
CONTINUATIONS = [
    " world",
    " world!",
    " lazy dog.",
    "Unicode text such as café and 日本語.",
    " outputs to develop competing models, says the protected model's licence.",
]


@pytest.fixture(scope="module")
def tiny(tiny_model: Path) -> Path:
    """The session's tiny GPT-2 (tests/conftest.py), treated as read-only."""
    return tiny_model


@pytest.fixture(scope="module")
def model(tiny: Path) -> TorchModel:
    m = load_model(tiny)
    assert isinstance(m, TorchModel)
    return m


@pytest.fixture(scope="module")
def exported(tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx(tiny, tmp_path_factory.mktemp("export") / "tiny-onnx")


@pytest.fixture(scope="module")
def hf(tiny: Path):
    """The raw transformers model and tokenizer, for reference forward passes."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    hf_model = AutoModelForCausalLM.from_pretrained(
        tiny, local_files_only=True, use_safetensors=True
    )
    return hf_model.eval(), AutoTokenizer.from_pretrained(tiny, local_files_only=True)


def _direct_logprobs(hf_model, ids: list[int]) -> np.ndarray:
    import torch

    with torch.inference_mode():
        logits = hf_model(input_ids=torch.tensor([ids])).logits[0]
    return torch.log_softmax(logits.double(), dim=-1).numpy()


def test_import_does_not_load_torch() -> None:
    code = (
        "import core.backends, sys; "
        "heavy = [m for m in ('torch', 'transformers', 'onnxruntime') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60)


def test_model_properties(model: TorchModel, tiny: Path) -> None:
    config = json.loads((tiny / "config.json").read_text())
    assert isinstance(model, LanguageModel)
    assert (model.name, model.backend, model.folder) == (tiny.name, "torch", tiny)
    assert (model.vocab_size, model.max_length) == (config["vocab_size"], config["n_positions"])
    assert len(model.tokenizer_hash) == 64


def test_score_matches_direct_forward(model: TorchModel, hf) -> None:
    hf_model, tok = hf
    results = model.score(CONTEXTS, CONTINUATIONS)
    assert len(results) == len(CONTINUATIONS)
    for ctx, cont, res in zip(CONTEXTS, CONTINUATIONS, results, strict=True):
        assert isinstance(res, ScoredText)
        ctx_ids = tok(ctx, add_special_tokens=False)["input_ids"] if ctx else [tok.bos_token_id]
        cont_ids = tok(cont, add_special_tokens=False)["input_ids"]
        ids = ctx_ids + cont_ids
        expected = _direct_logprobs(hf_model, ids)[
            np.arange(len(ctx_ids) - 1, len(ids) - 1), cont_ids
        ]
        assert res.logprobs.dtype == np.float64 and res.logprobs.shape == (len(cont_ids),)
        assert res.n_tokens == len(cont_ids) and res.token_ids.tolist() == cont_ids
        assert (
            res.n_bytes == len(cont.encode("utf-8")) and res.n_unscored == 0 and not res.truncated
        )
        np.testing.assert_allclose(res.logprobs, expected, atol=1e-5)
        assert res.bits_per_byte == pytest.approx(
            -expected.sum() / np.log(2) / res.n_bytes, rel=1e-5
        )


def test_mixed_length_batches_equal_one_at_a_time(tiny: Path, model: TorchModel) -> None:
    contexts = CONTEXTS * 3
    continuations = [c[: 3 + 7 * i] for i, c in enumerate(CONTINUATIONS * 3)]
    batched = model.score(contexts, continuations)
    small = load_model(tiny, max_batch_tokens=40, max_batch_size=4).score(contexts, continuations)
    for i, (ctx, cont) in enumerate(zip(contexts, continuations, strict=True)):
        (single,) = model.score([ctx], [cont])
        np.testing.assert_allclose(batched[i].logprobs, single.logprobs, atol=1e-5)
        np.testing.assert_allclose(small[i].logprobs, single.logprobs, atol=1e-5)
        assert batched[i].token_ids.tolist() == single.token_ids.tolist()


def test_empty_continuation_and_no_inputs(model: TorchModel) -> None:
    (empty,) = model.score(["Hello"], [""])
    assert empty.n_tokens == 0 and empty.n_bytes == 0 and empty.total_logprob == 0.0
    assert model.score([], []) == []
    with pytest.raises(ValueError):
        model.score(["a"], [])


def test_long_input_truncated_from_left_keeping_bos(tiny: Path, hf) -> None:
    hf_model, tok = hf
    short = load_model(tiny, max_length=16)
    context, continuation = "The quick brown fox jumps over the lazy dog. " * 3, " Hello world"
    (res,) = short.score([context], [continuation])
    cont_ids = tok(continuation, add_special_tokens=False)["input_ids"]
    assert res.truncated and res.n_tokens == len(cont_ids) and res.n_unscored == 0
    kept = tok(context, add_special_tokens=False)["input_ids"][-(16 - len(cont_ids)) :]
    ids = kept + cont_ids
    expected = _direct_logprobs(hf_model, ids)[np.arange(len(kept) - 1, 15), cont_ids]
    np.testing.assert_allclose(res.logprobs, expected, atol=1e-5)
    # A prompt-less text longer than the window keeps its BOS and its last tokens.
    dist = short.next_token_distributions(["Hello world! " * 10])[0]
    assert dist.shape == (16, short.vocab_size)
    assert short.tokenize("Hello world! " * 10)[0] == tok.bos_token_id


def test_next_token_distributions_agree_with_score(model: TorchModel) -> None:
    text = "Terms of service forbid using outputs."
    (dist,) = model.next_token_distributions([text])
    ids = model.tokenize(text)
    assert dist.dtype == np.float32 and dist.shape == (len(ids), model.vocab_size)
    np.testing.assert_allclose(np.exp(dist).sum(axis=-1), 1.0, atol=1e-5)
    (scored,) = model.score([""], [text])
    np.testing.assert_allclose(dist[np.arange(len(ids) - 1), ids[1:]], scored.logprobs, atol=1e-5)


def test_greedy_generation_deterministic_and_matches_transformers(model: TorchModel, hf) -> None:
    import torch

    hf_model, tok = hf
    prompts = ["Hello", "The suspect model was trained on", ""]
    first = model.generate(prompts, max_new_tokens=12, seed=0)
    assert first == model.generate(prompts, max_new_tokens=12, seed=123)
    assert first == [model.generate([p], max_new_tokens=12, seed=0)[0] for p in prompts]
    ids = tok(prompts[1], return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        out = hf_model.generate(
            ids,
            max_new_tokens=12,
            do_sample=False,
            pad_token_id=tok.eos_token_id,
            eos_token_id=tok.eos_token_id,
            attention_mask=torch.ones_like(ids),
        )
    new = out[0, ids.shape[1] :].tolist()
    new = new[: new.index(tok.eos_token_id)] if tok.eos_token_id in new else new
    assert first[1] == tok.decode(new, skip_special_tokens=True, clean_up_tokenization_spaces=False)
    assert model.generate(["Hello"], max_new_tokens=0, seed=0) == [""]


def test_sampling_reproducible_for_a_seed(tiny: Path, model: TorchModel) -> None:
    prompts = ["Hello", "The protected model", "A"]
    kwargs = {"max_new_tokens": 10, "greedy": False, "temperature": 0.9, "top_p": 0.95}
    a = model.generate(prompts, seed=7, **kwargs)
    assert a == model.generate(prompts, seed=7, **kwargs)
    assert a != model.generate(prompts, seed=8, **kwargs)
    one_by_one = load_model(tiny, max_batch_size=1).generate(prompts, seed=7, **kwargs)
    assert one_by_one == a
    with pytest.raises(ValueError):
        model.generate(prompts, max_new_tokens=3, seed=0, greedy=False, temperature=0.0)


def test_onnx_export_and_parity(tiny: Path, exported: Path) -> None:
    assert {"model.onnx", "tokenizer.json", "config.json", "export_info.json"} <= {
        p.name for p in exported.iterdir()
    }
    assert [p.name for p in exported.parent.iterdir()] == [exported.name]  # no partial folders
    texts = ["Hello world", "Terms of service forbid", "café 日本語"]
    report = parity_check(tiny, exported, texts)
    assert report.passed and report.max_abs_diff < 1e-3 and report.max_abs_diff_distribution < 1e-3
    assert report.n_texts == 3 and report.n_tokens > 10 and report.argmax_agreement == 1.0


def test_onnx_backend_equals_torch(model: TorchModel, exported: Path) -> None:
    onnx_model = load_model(exported)
    assert isinstance(onnx_model, OnnxModel) and onnx_model.backend == "onnx"
    assert onnx_model.tokenizer_hash == model.tokenizer_hash
    assert (onnx_model.vocab_size, onnx_model.max_length) == (model.vocab_size, model.max_length)
    for a, b in zip(
        model.score(CONTEXTS, CONTINUATIONS), onnx_model.score(CONTEXTS, CONTINUATIONS), strict=True
    ):
        assert a.token_ids.tolist() == b.token_ids.tolist()
        np.testing.assert_allclose(a.logprobs, b.logprobs, atol=1e-4)
    prompts = ["Hello", "The suspect model was trained on"]
    assert onnx_model.generate(prompts, 8, seed=0) == model.generate(prompts, 8, seed=0)
    onnx_model.release()
    assert len(onnx_model.score(["Hello"], [" world"])[0].logprobs) > 0  # reloads lazily


def test_export_refuses_non_empty_target_and_cleans_up_on_cancel(
    tiny: Path, tmp_path: Path
) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file.txt").write_text("x")
    with pytest.raises(EvidenceError):
        export_onnx(tiny, tmp_path / "busy")
    state = JobState()
    state.cancel()
    with pytest.raises(Cancelled):
        export_onnx(tiny, tmp_path / "out", state=state)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy"]


def test_pickled_weights_refused(tiny: Path, tmp_path: Path) -> None:
    import torch

    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "config.json").write_bytes((tiny / "config.json").read_bytes())
    torch.save({"w": torch.zeros(2)}, folder / "pytorch_model.bin")
    for opener in (load_model, TorchModel):
        with pytest.raises(PickledWeightsError, match="safe_serialization=True"):
            opener(folder)


def _folder_with_tokenizer(tiny: Path, folder: Path) -> Path:
    folder.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (folder / name).write_bytes((tiny / name).read_bytes())
    return folder


def test_onnx_without_logits_refused(tiny: Path, tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["input_ids"], ["hidden"])],
        "no-logits",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"])],
        [helper.make_tensor_value_info("hidden", TensorProto.INT64, ["batch", "sequence"])],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    folder = _folder_with_tokenizer(tiny, tmp_path / "nologits")
    onnx.save(proto, folder / "model.onnx")
    with pytest.raises(ModelLoadError, match="logits"):
        load_model(folder).load()


def test_random_bytes_onnx_refused(tiny: Path, tmp_path: Path) -> None:
    folder = _folder_with_tokenizer(tiny, tmp_path / "garbage")
    (folder / "model.onnx").write_bytes(os.urandom(4096))
    with pytest.raises(ModelLoadError):
        load_model(folder).score([""], ["Hello"])


def test_folders_without_a_model_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model(tmp_path / "missing")
    with pytest.raises(ModelLoadError, match="No model weights"):
        load_model(tmp_path)


def test_cancel_stops_scoring(tiny: Path) -> None:
    class CancelAfterFirstBatch(JobState):
        def on_progress(self, percent: float) -> None:
            self.cancel()

    state = CancelAfterFirstBatch()
    one_at_a_time = load_model(tiny, max_batch_size=1)
    with pytest.raises(Cancelled):
        one_at_a_time.score(CONTEXTS, CONTINUATIONS, state=state)
    assert 0 < state.progress < 100


def test_progress_reaches_completion(model: TorchModel) -> None:
    seen: list[float] = []

    class Recorder(JobState):
        def on_progress(self, percent: float) -> None:
            seen.append(percent)

    model.score(CONTEXTS, CONTINUATIONS, state=Recorder())
    assert seen and seen[-1] == 100.0 and seen == sorted(seen)


def test_independent_seeds_share_the_tokenizer(
    tiny: Path, tmp_path: Path, model: TorchModel
) -> None:
    other = load_model(build_tiny_gpt2(tmp_path / "other", seed=1))
    assert other.tokenizer_hash == model.tokenizer_hash
    a, b = model.score([""], ["Hello world"])[0], other.score([""], ["Hello world"])[0]
    assert not np.allclose(a.logprobs, b.logprobs)
    other.release()


def test_legacy_exporter_also_faithful(tiny: Path, tmp_path: Path) -> None:
    out = export_onnx(tiny, tmp_path / "legacy", exporter="legacy")
    assert json.loads((out / "export_info.json").read_text())["exporter"] == "legacy"
    assert parity_check(tiny, out, ["Hello world"]).passed


def test_checkpoint_missing_tensors_refused(tiny: Path, tmp_path: Path) -> None:
    from safetensors.numpy import load_file, save_file

    folder = tmp_path / "partial"
    folder.mkdir()
    for item in tiny.iterdir():
        (folder / item.name).write_bytes(item.read_bytes())
    tensors = load_file(folder / "model.safetensors")
    del tensors["transformer.h.0.mlp.c_fc.weight"]
    save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ModelLoadError, match="random"):
        load_model(folder).load()


def test_thread_counts_apply(tiny: Path, exported: Path) -> None:
    import torch

    before = torch.get_num_threads()
    try:
        load_model(tiny, num_threads=1).load()
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    onnx_model = load_model(exported, num_threads=1)
    assert onnx_model.score(["Hello"], [" world"])[0].n_tokens > 0
    assert onnx_model._session.get_session_options().intra_op_num_threads == 1


def test_encoder_boundary_and_bos_rules() -> None:
    gpt_style = TextEncoder(build_tiny_tokenizer(), max_length=8)
    hello, world = gpt_style.ids(["Hello", " world"])
    assert gpt_style.prefix == [] and gpt_style.start_id == 0
    with_ctx, no_ctx = gpt_style.encode_pairs(["Hello", ""], [" world", " world"])
    assert with_ctx.ids == hello + world and with_ctx.n_scored == len(world)
    assert no_ctx.ids == [0] + world and no_ctx.n_scored == len(world)
    llama_style = TextEncoder(build_tiny_tokenizer(bos_prefix=True), max_length=8)
    assert llama_style.prefix == [0]
    (pair,) = llama_style.encode_pairs(["Hello" * 5], [" world"])
    assert pair.truncated and len(pair.ids) == 8 and pair.ids[0] == 0
    assert pair.ids[-len(world) :] == world and pair.n_scored == len(world)
    (too_long,) = llama_style.encode_pairs([""], ["Hello world! Hello world!"])
    assert too_long.truncated and too_long.n_scored == 7 and too_long.n_unscored > 0


def test_length_buckets_group_similar_lengths() -> None:
    lengths = [5, 50, 7, 48, 6, 300, 49]
    batches = length_buckets(lengths, max_batch_tokens=100, max_batch_size=8)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert batches[0] == [5]  # longer than the budget: alone
    for batch in batches:
        assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= 100
    assert [lengths[b[0]] for b in batches] == sorted(
        (lengths[b[0]] for b in batches), reverse=True
    )
