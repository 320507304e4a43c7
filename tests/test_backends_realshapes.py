"""Real shapes (Qwen2, Llama 3, Mistral, Gemma 2, GPT-2) imported, checked and scored: each
model's own chat template, no doubled BOS, the answer's bytes scored verbatim, precision and
memory, and custody of every byte a check reads."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from core.backends import load_model
from core.backends.folders import safetensors_files
from core.backends.memory import require_memory
from core.backends.precision import resolve_dtype
from core.checks.chat import ModelChatTemplate, template_for
from core.checks.evidence import ModelRef
from core.checks.lineage import read_weights
from core.checks.model_loading import require_hashed
from core.checks.runner import CheckInputs, CheckSettings, run_checks
from core.errors import EvidenceChangedError, EvidenceError, InsufficientMemoryError
from core.evidence.importer import import_model, import_transcripts
from core.evidence.model_folder import inspect_model, model_path
from core.store.cases import create_case
from core.store.db import open_case_file
from core.store.models import Run
from tests.conftest import write_jsonl
from tests.realshapes import ASSISTANT_HEADERS, BOS_TEXT, SHAPES, build_shape

ANSWER = "Paris is the capital."
SYSTEM = "Be brief."


@pytest.fixture(scope="session")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One tiny model per shape (Qwen2 in bfloat16, Llama 3 sharded), built once a session."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    root = tmp_path_factory.mktemp("realshapes")
    return {
        s: build_shape(s, root / s, bf16=s == "qwen2", shard_kb=40 if s == "llama3" else 0)
        for s in SHAPES
    }


@pytest.mark.parametrize("shape", SHAPES)
def test_each_shape_is_scored_through_its_own_template(shapes, shape) -> None:
    info = inspect_model(shapes[shape])  # accepted at import (Mistral: tokenizer.model only)
    model = load_model(shapes[shape], dtype="auto")
    template = template_for(model, CheckSettings())
    context = template.context("What is the capital of France?", SYSTEM)
    if shape == "gpt2":  # no chat template: the plain one, with its separating space
        assert not isinstance(template, ModelChatTemplate)
        assert context == "User: What is the capital of France?\nAssistant:"
        assert template.continuation(ANSWER) == " " + ANSWER
        return
    assert isinstance(template, ModelChatTemplate)
    assert template.describe()["source"] == "the model's chat_template"
    assert context.endswith(ASSISTANT_HEADERS[shape]) and SYSTEM in context
    assert template.continuation(ANSWER) == ANSWER  # no forced leading space
    encoder = model._ensure_loaded()
    (pair,) = encoder.encode_pairs([context], [ANSWER])
    tok = model._ensure_tokenizer()
    if shape in BOS_TEXT:  # the rendered BOS is the only one
        assert context.startswith(BOS_TEXT[shape])
        assert pair.ids[0] == tok.bos_token_id and pair.ids.count(tok.bos_token_id) == 1
    scored = pair.ids[len(pair.ids) - pair.n_scored :]
    assert tok.decode(scored).strip() == ANSWER and pair.n_bytes == len(ANSWER.encode())
    (result,) = model.score([context], [ANSWER])
    assert result.n_tokens == pair.n_scored and np.isfinite(result.bits_per_byte)
    assert model.load_record()["dtype"] == ("bfloat16" if shape == "qwen2" else "float32") or (
        shape == "qwen2" and resolve_dtype("auto", ("BF16",)) == "float32"
    )
    assert info.details["shards"] == (12 if shape == "llama3" else 1)


def test_a_system_prompt_the_template_refuses_is_folded_into_the_user_turn(shapes) -> None:
    template = template_for(load_model(shapes["gemma2"]), CheckSettings())
    text = template.context("Hi", SYSTEM)
    assert text == f"<bos><start_of_turn>user\n{SYSTEM}\n\nHi<end_of_turn>\n<start_of_turn>model\n"


def test_fixed_mode_and_a_template_file_for_a_model_without_one(shapes, tmp_path) -> None:
    qwen = load_model(shapes["qwen2"])
    fixed = template_for(qwen, CheckSettings(chat_templates="fixed"))
    assert fixed.context("Hi") == "User: Hi\nAssistant:"
    jinja = tmp_path / "chatml.jinja"
    jinja.write_text(
        "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}<|assistant|>",
        encoding="utf-8",
    )
    gpt2 = template_for(load_model(shapes["gpt2"]), CheckSettings(template_file=str(jinja)))
    assert gpt2.context("Hi") == "<|user|>Hi\n<|assistant|>"
    assert gpt2.describe()["source"] == "file chatml.jinja"


def _case(tmp_path: Path, shapes: dict[str, Path], suspect: str, refs: tuple[str, ...]):
    cf = open_case_file(tmp_path / "case.dacase")
    cid = create_case(cf, "Halcyon Labs v Quillmark AI", "DA-SHAPES-1")
    rows = [
        {"id": f"p{i}", "prompt": f"Question {i}: what does the fox do?", "response": a}
        for i, a in enumerate(["The quick brown fox jumps.", "It jumps over the lazy dog."] * 6)
    ]
    for r in rows:
        r["system_prompt"] = SYSTEM  # kept in the item's metadata
    ctrl = [{**r, "response": f"I cannot say {r['id']}."} for r in rows]
    prot = import_transcripts(cf, cid, write_jsonl(tmp_path / "p.jsonl", rows), "protected-answers")
    ctl = import_transcripts(cf, cid, write_jsonl(tmp_path / "c.jsonl", ctrl), "control-answers")
    ids = {n: import_model(cf, cid, shapes[n], "reference") for n in (suspect, *refs)}
    inputs = CheckInputs(ids[suspect], tuple(ids[r] for r in refs), prot, ctl)
    return cf, cid, ids, inputs


FAST = CheckSettings(checks=("likelihood",), n_resamples=500, seed=5)


def test_a_likelihood_run_records_each_models_template_precision_and_files(
    shapes, tmp_path
) -> None:
    cf, cid, ids, inputs = _case(tmp_path, shapes, "qwen2", ("llama3", "mistral", "gemma2"))
    try:
        report = run_checks(cf, cid, inputs, FAST)
        loading = report.parameters["model_loading"]
        assert set(loading) == {"qwen2", "llama3", "mistral", "gemma2"}
        assert loading["llama3"]["files_read"][:1] == ["config.json"]
        assert sum(f.endswith(".safetensors") for f in loading["llama3"]["files_read"]) == 12
        assert loading["qwen2"]["dtype_requested"] == "auto"
        # the bundle's copy (the run's parameters) holds each model's rendering too
        assert loading["llama3"]["chat_template"]["rendered_context"].startswith(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief."
        )
        with cf.read_session() as s:
            summary = s.get(Run, report.run_id).summary
        models = summary["models"]
        for label, header in (("qwen2", "<|im_start|>assistant\n"), ("gemma2", "model\n")):
            rendered = models[label]["chat_template"]["rendered_context"]
            assert rendered.endswith(header) and SYSTEM in rendered
        assert models["mistral"]["chat_template"]["rendered_context"].startswith("<s>[INST]")
        assert models["llama3"]["loaded"]["files_read"] == loading["llama3"]["files_read"]
        assert report.results["likelihood"].verdict  # it ran on all four shapes
    finally:
        cf.close()


def test_a_model_that_does_not_fit_is_refused_before_the_run_exists(
    shapes, tmp_path, monkeypatch
) -> None:
    cf, cid, ids, inputs = _case(tmp_path, shapes, "gpt2", ("qwen2",))
    try:
        monkeypatch.setattr("core.backends.memory.available_memory", lambda: 40 * 2**20)
        with pytest.raises(InsufficientMemoryError) as err:
            run_checks(cf, cid, inputs, replace(FAST, dtype="float32"))
        message = str(err.value)
        assert "at float32 needs about" in message and "MB is free" in message
        assert "case file is unchanged" in message
        with cf.read_session() as s:
            assert s.scalar(select(func.count()).select_from(Run)) == 0
    finally:
        cf.close()


def test_the_estimate_names_the_precisions_that_would_fit() -> None:
    config = {"vocab_size": 152064, "hidden_size": 3584, "intermediate_size": 18944}
    seven_b = 7_615_616_512
    fits = require_memory("Qwen2.5-7B", seven_b, "bfloat16", ("BF16",), config, 24 * 10**9)
    assert fits.dtype == "bfloat16" and 17e9 < fits.peak_bytes < 20e9
    with pytest.raises(InsufficientMemoryError) as err:
        require_memory("Qwen2.5-7B", seven_b, "float32", ("BF16",), config, 24 * 10**9)
    text = str(err.value)
    assert "at float32 needs about 35" in text and "bfloat16 needs about" in text
    assert "float16 needs about" in text


def test_auto_takes_the_checkpoints_half_precision_only_where_the_cpu_runs_it() -> None:
    assert resolve_dtype("auto", ("BF16", "F32"), frozenset({"avx512_bf16"})) == "bfloat16"
    assert resolve_dtype("auto", ("BF16",), frozenset({"avx2"})) == "float32"
    assert resolve_dtype("auto", ("F16",), frozenset({"avx512_bf16"})) == "float32"
    assert resolve_dtype("int8", ("F32",), frozenset()) == "int8"


def test_reduced_precision_scores_within_rounding_of_float32(shapes) -> None:
    contexts = [f"Question {i}: what does the fox do?" for i in range(4)]
    answers = [" The quick brown fox jumps.", " It jumps over the lazy dog."] * 2
    scores = {}
    for dtype in ("float32", "bfloat16", "int8"):
        model = load_model(shapes["gpt2"], dtype=dtype)
        scores[dtype] = np.array([s.bits_per_byte for s in model.score(contexts, answers)])
        assert model.load_record()["dtype"] == dtype
        model.release()
    for dtype in ("bfloat16", "int8"):
        diff = np.abs(scores[dtype] - scores["float32"])
        assert diff.max() < 0.1, (dtype, diff)


def test_a_stale_shard_beside_the_index_is_never_read(shapes, tmp_path) -> None:
    folder = tmp_path / "llama3"
    shutil.copytree(shapes["llama3"], folder)
    before = inspect_model(folder)
    shutil.copy(shapes["gemma2"] / "model.safetensors", folder / "model.safetensors")
    after = inspect_model(folder)
    assert [p.name for p in after.files] == [p.name for p in before.files]
    assert "model.safetensors" not in {p.name for p in safetensors_files(folder)}
    weights = read_weights(folder)  # the weight check reads the index's shards only
    assert not any("pre_feedforward" in k for k in weights)  # no Gemma tensor crept in


def test_a_file_added_after_import_stops_the_check(shapes, tmp_path) -> None:
    folder = tmp_path / "qwen2"
    shutil.copytree(shapes["qwen2"], folder)
    info = inspect_model(folder)
    names = tuple(p.relative_to(folder).as_posix() for p in info.files)
    ref = ModelRef(1, "qwen2", "qwen2", "suspect", "hf-folder", str(folder), "x", None, names)
    model = load_model(folder)
    require_hashed(model, ref)  # as imported: fine
    (folder / "chat_template.json").write_text(json.dumps({"chat_template": "{{ 'x' }}"}))
    with pytest.raises(EvidenceChangedError, match="chat_template.json"):
        require_hashed(load_model(folder), ref)


def _gather_graph(folder: Path, tokenizer_from: Path, *, kv: bool = False) -> np.ndarray:
    """A real ONNX causal LM in miniature: logits = table[input_ids] (a bigram model), with
    the tokenizer and config of ``tokenizer_from``; ``kv`` adds optimum's cache inputs."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    folder.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "config.json"):
        shutil.copy(tokenizer_from / name, folder / name)
    vocab = json.loads((folder / "config.json").read_text())["vocab_size"]
    table = np.random.default_rng(0).normal(size=(vocab, vocab)).astype(np.float32)
    inputs = [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["b", "s"]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["b", "t"]),
    ]
    if kv:
        inputs += [
            helper.make_tensor_value_info(name, TensorProto.FLOAT, ["b", 2, "p", 8])
            for name in ("past_key_values.0.key", "past_key_values.0.value")
        ]
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "input_ids"], ["logits"])],
        "bigram",
        inputs,
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["b", "s", vocab])],
        [numpy_helper.from_array(table, "table")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(folder / "model.onnx"))
    return table


def _expected_last(model, table: np.ndarray) -> float:
    ids = model.tokenize("Hello world")
    row = table[ids[-2]].astype(np.float64)
    return float(row[ids[-1]] - np.log(np.exp(row).sum()))


def test_the_named_onnx_file_is_the_one_opened(shapes, tmp_path) -> None:
    folder = tmp_path / "onnx"
    table = _gather_graph(folder, shapes["gpt2"])
    shutil.copy(folder / "model.onnx", folder / "chosen.onnx")
    info = inspect_model(folder / "chosen.onnx")
    assert info.details["onnx_file"] == "chosen.onnx"
    assert "chosen.onnx" in {p.name for p in info.files}
    assert "model.onnx" not in {p.name for p in info.files}
    where = model_path(str(folder), "onnx", info.details)
    (folder / "model.onnx").write_bytes(b"not a graph any more")  # swapped after import
    model = load_model(where)
    assert model.onnx_path.name == "chosen.onnx" and model.files_read()[0] == "chosen.onnx"
    (scored,) = model.score(["Hello"], [" world"])
    assert scored.logprobs[-1] == pytest.approx(_expected_last(model, table), abs=1e-4)


def test_the_onnx_community_layout_is_accepted(shapes, tmp_path) -> None:
    folder = tmp_path / "community"
    table = _gather_graph(folder, shapes["gpt2"])
    (folder / "onnx").mkdir()
    shutil.move(folder / "model.onnx", folder / "onnx" / "model.onnx")
    info = inspect_model(folder)
    assert info.details["onnx_file"] == "onnx/model.onnx"
    assert {"onnx/model.onnx", "tokenizer.json"} <= {
        p.relative_to(folder).as_posix() for p in info.files
    }
    model = load_model(model_path(str(folder), "onnx", info.details))
    assert model.files_read()[0] == "onnx/model.onnx"
    (scored,) = model.score(["Hello"], [" world"])
    assert scored.logprobs[-1] == pytest.approx(_expected_last(model, table), abs=1e-4)


def test_an_export_with_a_kv_cache_is_fed_an_empty_past(shapes, tmp_path) -> None:
    folder = tmp_path / "optimum"
    table = _gather_graph(folder, shapes["gpt2"], kv=True)
    inspect_model(folder)
    model = load_model(folder)
    (scored,) = model.score(["Hello"], [" world"])
    assert scored.logprobs[-1] == pytest.approx(_expected_last(model, table), abs=1e-4)


def test_onnx_int8_quantises_a_copy_outside_the_evidence(shapes, tmp_path) -> None:
    folder = tmp_path / "int8"
    _gather_graph(folder, shapes["gpt2"])
    before = sorted(p.name for p in folder.iterdir())
    model = load_model(folder, dtype="int8")
    (scored,) = model.score(["Hello"], [" world"])
    assert np.isfinite(scored.bits_per_byte) and model.load_record()["dtype"] == "int8"
    model.release()
    assert sorted(p.name for p in folder.iterdir()) == before  # nothing written beside it
    with pytest.raises(EvidenceError, match="precision it was exported in"):
        load_model(folder, dtype="bfloat16")


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        ("quantised", "GPTQ-quantised checkpoint"),
        ("gguf", "GGUF file"),
        ("adapter", "LoRA/PEFT adapter"),
        ("spm_unnamed", "only tokenizer is tokenizer.model"),
    ],
)
def test_folders_that_could_not_be_scored_are_refused_at_import(
    shapes, tmp_path, edit, reason
) -> None:
    folder = tmp_path / edit
    shutil.copytree(shapes["mistral" if edit == "spm_unnamed" else "gpt2"], folder)
    if edit == "quantised":
        config = json.loads((folder / "config.json").read_text())
        config["quantization_config"] = {"quant_method": "gptq", "bits": 4}
        (folder / "config.json").write_text(json.dumps(config))
    elif edit == "gguf":
        for f in folder.glob("*.safetensors"):
            f.unlink()
        (folder / "model-q4.gguf").write_bytes(b"GGUF\x03\x00\x00\x00")
    elif edit == "adapter":
        (folder / "config.json").unlink()
        (folder / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA"}))
    else:
        config = json.loads((folder / "tokenizer_config.json").read_text())
        del config["tokenizer_class"]
        (folder / "tokenizer_config.json").write_text(json.dumps(config))
    with pytest.raises(EvidenceError, match=reason):
        inspect_model(folder)


def test_the_cli_takes_the_precision_and_template_options() -> None:
    from core.cli import build_parser
    from core.cli.check import _settings, plain_template

    base = ["check", "--suspect", "s", "--reference", "r", "--protected-transcripts", "p"]
    args = build_parser().parse_args(
        [*base, "--json", "o.json", "--dtype", "bfloat16", "--chat-templates", "fixed"]
        + ["--template", "Q: {prompt}\\nA:", "--template-file", "t.jinja"]
    )
    settings = _settings(args)
    assert (settings.dtype, settings.chat_templates, settings.template_file) == (
        "bfloat16",
        "fixed",
        "t.jinja",
    )
    assert settings.template == "Q: {prompt}\nA:" == plain_template("Q: {prompt}\\nA:")
    with pytest.raises(SystemExit):
        build_parser().parse_args([*base, "--json", "o.json", "--dtype", "float8"])
