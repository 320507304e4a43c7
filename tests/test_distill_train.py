"""The training loop's optional hooks, checkpoints, disk-backed data and the cost estimate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from core.checks.probes import ChatTemplate
from core.distill.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from core.distill.cost import (
    cost_estimate,
    count_tokens,
    custom_price,
    load_price_presets,
    price,
)
from core.distill.data import ChatEncoder, TokenStore, select
from core.distill.train import (
    TrainConfig,
    TrainHooks,
    capture_resume_state,
    chat_example,
    train_causal_lm,
)
from core.errors import Cancelled, DistillAuditError, EvidenceError
from core.jobs import JobState


class StopAt(JobState):
    """Cancels the job once ``k`` steps have been reported."""

    def __init__(self, k: int) -> None:
        super().__init__()
        self.k = k

    def set_progress(self, done: float, total: float | None = None) -> None:
        super().set_progress(done, total)
        if total and done >= self.k:
            self.cancel()


def _model(folder: Path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(folder)  # tiny GPT-2 with dropout 0.1 on


def _examples() -> list:
    return [chat_example([1, 2, 3, 4][: 1 + i % 4], [5 + i % 7, 9, 11, 0]) for i in range(40)]


def test_resume_from_a_checkpoint_gives_bit_identical_weights(
    tiny_model: Path, tmp_path: Path
) -> None:
    config = TrainConfig(steps=9, batch_size=4, warmup_steps=2, seed=3, threads=1)
    reference = _model(tiny_model)
    full = train_causal_lm(reference, _examples(), config, pad_id=0)

    interrupted = _model(tiny_model)
    folder = tmp_path / "ck"

    def save(ctx) -> None:
        save_checkpoint(folder, ctx.model, capture_resume_state(ctx), {"note": "x"})

    hooks = TrainHooks(after_step=lambda c: save(c) if c.step % 2 == 0 else None, on_cancel=save)
    with pytest.raises(Cancelled):
        train_causal_lm(interrupted, _examples(), config, 0, state=StopAt(5), hooks=hooks)
    latest = latest_checkpoint(folder)
    assert latest is not None and latest.name == "step-000005"
    assert [p.name for p in folder.iterdir() if not p.name.startswith(".")] == ["step-000005"]

    resumed = _model(tiny_model)
    checkpoint = load_checkpoint(latest, resumed)
    assert checkpoint.extra == {"note": "x"}
    result = train_causal_lm(
        resumed, _examples(), config, 0, hooks=TrainHooks(resume=checkpoint.resume)
    )
    assert result.losses == full.losses
    expected = reference.state_dict()
    for name, tensor in resumed.state_dict().items():
        assert torch.equal(tensor, expected[name]), name
    # nothing in a checkpoint is a pickle
    assert {p.suffix for p in latest.iterdir()} == {".safetensors", ".json"}


def test_a_checkpoint_from_other_data_is_refused(tiny_model: Path, tmp_path: Path) -> None:
    config = TrainConfig(steps=4, batch_size=4, warmup_steps=1, seed=3, threads=1)
    model = _model(tiny_model)
    hooks = TrainHooks(
        after_step=lambda c: save_checkpoint(tmp_path, c.model, capture_resume_state(c))
    )
    train_causal_lm(model, _examples(), config, 0, hooks=hooks)
    other = _model(tiny_model)
    resume = load_checkpoint(latest_checkpoint(tmp_path), other).resume
    with pytest.raises(ValueError, match="data order"):
        train_causal_lm(other, _examples()[:13], config, 0, hooks=TrainHooks(resume=resume))


def test_custom_loss_hook_replaces_the_cross_entropy(tiny_model: Path) -> None:
    config = TrainConfig(steps=2, batch_size=4, warmup_steps=0, seed=0, threads=1)
    calls = []

    def loss_fn(logits, batch):
        calls.append(logits.shape)
        return logits.float().pow(2).mean()

    train_causal_lm(_model(tiny_model), _examples(), config, 0, hooks=TrainHooks(loss_fn=loss_fn))
    assert len(calls) == 2


def test_token_store_trains_like_the_in_memory_list(tiny_model: Path, tmp_path: Path) -> None:
    from core.backends.encoding import load_tokenizer

    tokenizer = load_tokenizer(tiny_model)
    encoder = ChatEncoder(tokenizer, ChatTemplate(), max_len=64)
    pairs = [(f"Question {i}?", f"Answer number {i}.") for i in range(30)]
    store = TokenStore.write(tmp_path / "store", iter(pairs), encoder, chunk=7)
    in_memory = encoder.encode(pairs)
    assert len(store) == 30 and [store[i] for i in range(30)] == in_memory
    assert store.lengths == [len(e.input_ids) for e in in_memory]
    config = TrainConfig(steps=3, batch_size=8, warmup_steps=0, seed=1, threads=1)
    a, b = _model(tiny_model), _model(tiny_model)
    assert (
        train_causal_lm(a, store, config, 0).losses
        == train_causal_lm(b, in_memory, config, 0).losses
    )


def test_selection_holds_out_evaluation_records_and_refuses_too_many() -> None:
    chosen = select(50, 10, 8, seed=4)
    assert len(chosen.train) == 10 and len(chosen.eval) == 8
    assert not set(chosen.train) & set(chosen.eval)
    assert select(50, 10, 8, seed=4) == chosen
    assert len(select(50, None, 8, seed=4).train) == 42
    with pytest.raises(EvidenceError, match="only 50 usable records"):
        select(50, 45, 8, seed=4)


def test_price_presets_and_token_counts() -> None:
    presets = load_price_presets()
    assert presets and all(p.as_of and p.input >= 0 and p.output >= 0 for p in presets)
    count = count_tokens([("abcd" * 3, "x" * 9)] * 4)  # no tokenizer: bytes / 4, rounded up
    assert (count.tokens_in, count.tokens_out, count.method) == (12, 12, "UTF-8 bytes / 4")
    assert count.scaled(8).tokens_in == 24
    rate = custom_price(1.0, 2.0)
    assert price(count, rate) == pytest.approx((12 * 1 + 12 * 2) / 1e6)
    estimate = cost_estimate(count, [0, 4, 100], [rate], {"training": 1.5})
    assert [r["n"] for r in estimate["by_samples"]] == [0, 4, 100]
    assert estimate["by_samples"][1]["measured"] is True
    assert estimate["counted_with"] == "UTF-8 bytes / 4"
    json.dumps(estimate)
    with pytest.raises(DistillAuditError):
        custom_price(-1, 0)


def test_prompt_sets_are_read_from_txt_jsonl_and_csv(tmp_path: Path) -> None:
    from core.distill.data import read_prompts

    (tmp_path / "p.txt").write_text("First?\n\n  Second?  \n", encoding="utf-8")
    (tmp_path / "p.jsonl").write_text(
        '{"id": "a", "prompt": "First?"}\n{"question": "Second?"}\n', encoding="utf-8"
    )
    (tmp_path / "p.csv").write_text("id,prompt\na,First?\nb,Second?\n", encoding="utf-8")
    for name in ("p.txt", "p.jsonl", "p.csv"):
        assert [p for _, p in read_prompts(tmp_path / name)] == ["First?", "Second?"], name
    (tmp_path / "bad.jsonl").write_text('{"text": "no prompt field"}\n', encoding="utf-8")
    with pytest.raises(EvidenceError, match="line 1"):
        list(read_prompts(tmp_path / "bad.jsonl"))


def test_torn_teacher_answers_are_cut_back_to_whole_chunks(tmp_path: Path) -> None:
    from core.distill.sequence import _whole_chunks

    path = tmp_path / "teacher.jsonl"
    path.write_text(
        "".join(f'{{"answer": "{i}"}}\n' for i in range(7)) + '{"answ', encoding="utf-8"
    )
    assert _whole_chunks(path, 5) == 5
    assert path.read_text(encoding="utf-8").count("\n") == 5 and path.read_text().endswith("}\n")
