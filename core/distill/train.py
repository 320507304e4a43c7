"""A small, deterministic training loop for causal language models.

Used to pretrain and chat-tune the tiny models of the demonstration world and, later,
for local distillation experiments (a student fine-tuned on a teacher's generations).
It is a plain torch loop: AdamW, a fixed seed, warm-up then cosine or linear decay,
length-bucketed batches, and a loss restricted to the tokens marked as trainable (the
assistant's turn in chat fine-tuning). Progress and cancellation go through
:class:`core.jobs.JobState`.

Nothing here reads or writes pickles; saving models is the caller's business
(``save_pretrained(..., safe_serialization=True)``).

Distillation experiments plug in through :class:`TrainHooks` (all optional; without them
the loop behaves exactly as it always did): a different loss (knowledge distillation), a
callback after every step (checkpoints, evaluations), a callback on cancellation (a last
checkpoint) and a :class:`ResumeState` to continue an interrupted run bit for bit.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from core.errors import Cancelled
from core.jobs import JobState

IGNORE_INDEX = -100


@dataclass(frozen=True)
class TrainExample:
    """One training sequence: token ids and, per token, whether it is predicted (trained on)."""

    input_ids: tuple[int, ...]
    loss_mask: tuple[bool, ...]

    def __post_init__(self) -> None:
        if len(self.input_ids) != len(self.loss_mask):
            raise ValueError("input_ids and loss_mask must have the same length")


@dataclass(frozen=True)
class TrainConfig:
    """Pinned hyper-parameters of one training run."""

    steps: int
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.98)
    warmup_steps: int = 20
    schedule: Literal["cosine", "linear", "constant"] = "cosine"
    min_lr_ratio: float = 0.1
    grad_clip: float | None = 1.0
    seed: int = 0
    threads: int | None = 2
    max_len: int | None = None
    bucket_batches: int = 16  # batches sorted together by length to limit padding
    deterministic: bool = True


@dataclass
class TrainResult:
    """What a run did: the loss of every step and some totals."""

    losses: list[float] = field(default_factory=list)
    steps: int = 0
    tokens_trained: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "tokens_trained": self.tokens_trained,
            "first_loss": self.losses[0] if self.losses else None,
            "final_loss": self.losses[-1] if self.losses else None,
        }


# --- building examples -------------------------------------------------------------


def lm_blocks(
    token_streams: Sequence[Sequence[int]], block_size: int, eos_id: int
) -> list[TrainExample]:
    """Concatenate documents (each followed by ``eos_id``) and cut fixed-size blocks.

    The usual pretraining layout: every token is trained on; the tail shorter than a
    block is dropped.
    """
    flat: list[int] = []
    for ids in token_streams:
        flat.extend(ids)
        flat.append(eos_id)
    blocks = []
    for start in range(0, len(flat) - block_size + 1, block_size):
        ids = tuple(flat[start : start + block_size])
        blocks.append(TrainExample(ids, (True,) * block_size))
    return blocks


def chat_example(
    prompt_ids: Sequence[int], response_ids: Sequence[int], max_len: int | None = None
) -> TrainExample:
    """A chat turn: the prompt (context) is not trained on, the response (with eos) is."""
    ids = tuple(prompt_ids) + tuple(response_ids)
    mask = (False,) * len(prompt_ids) + (True,) * len(response_ids)
    if max_len is not None and len(ids) > max_len:
        ids, mask = ids[:max_len], mask[:max_len]
    return TrainExample(ids, mask)


# --- optional hooks (distillation experiments) ---------------------------------------


@dataclass
class StepContext:
    """What a hook sees after ``step`` completed steps: the live training objects."""

    step: int
    config: TrainConfig
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    data_rng: random.Random
    result: TrainResult


@dataclass
class ResumeState:
    """Everything besides the model's weights needed to continue a run after ``step`` steps.

    The data order is not stored as a list: the batch stream is replayed from the seed
    for ``step`` batches and the replayed ``data_rng_state`` must equal the saved one.
    """

    step: int
    optimizer_state: dict[str, Any]
    scheduler_state: dict[str, Any]
    torch_rng_state: torch.Tensor
    python_rng_state: Any
    data_rng_state: Any
    losses: list[float]
    tokens_trained: int


@dataclass
class TrainHooks:
    """Optional extensions of :func:`train_causal_lm`; every field defaults to "off".

    ``loss_fn(logits, batch)`` replaces the masked cross-entropy (``logits`` are the
    model's full-length float logits, ``batch`` the collated tensors); ``after_step`` is
    called after each optimiser step; ``on_cancel`` before a cancellation is raised
    (with the steps done so far); ``resume`` continues an earlier run.
    """

    loss_fn: Callable[[torch.Tensor, dict[str, torch.Tensor]], torch.Tensor] | None = None
    after_step: Callable[[StepContext], None] | None = None
    on_cancel: Callable[[StepContext], None] | None = None
    resume: ResumeState | None = None


def capture_resume_state(ctx: StepContext) -> ResumeState:
    """The state to save in a checkpoint after ``ctx.step`` steps (tensors are copies)."""
    opt = ctx.optimizer.state_dict()
    state = {
        k: {n: (t.detach().clone() if isinstance(t, torch.Tensor) else t) for n, t in v.items()}
        for k, v in opt["state"].items()
    }
    sched = {k: v for k, v in ctx.scheduler.state_dict().items() if k != "lr_lambdas"}
    return ResumeState(
        step=ctx.step,
        optimizer_state={"state": state, "param_groups": opt["param_groups"]},
        scheduler_state=sched,
        torch_rng_state=torch.get_rng_state().clone(),
        python_rng_state=random.getstate(),
        data_rng_state=ctx.data_rng.getstate(),
        losses=list(ctx.result.losses),
        tokens_trained=ctx.result.tokens_trained,
    )


def _apply_resume(
    resume: ResumeState,
    optim: torch.optim.Optimizer,
    sched: Any,
    batches: Iterator[list[int]],
    rng: random.Random,
    result: TrainResult,
) -> int:
    """Restore optimiser, schedule, RNGs and data position; returns the next step."""
    groups = [
        dict(g, betas=tuple(g["betas"])) if "betas" in g else dict(g)
        for g in resume.optimizer_state["param_groups"]
    ]
    optim.load_state_dict({"state": resume.optimizer_state["state"], "param_groups": groups})
    sched.load_state_dict({**resume.scheduler_state, "lr_lambdas": [None] * len(sched.lr_lambdas)})
    for _ in range(resume.step):
        next(batches)
    if _as_tuple(rng.getstate()) != _as_tuple(resume.data_rng_state):
        raise ValueError(
            "the training data differ from the checkpointed run's (data order mismatch)"
        )
    torch.set_rng_state(resume.torch_rng_state)
    random.setstate(_as_tuple(resume.python_rng_state))
    result.losses = list(resume.losses)
    result.tokens_trained = int(resume.tokens_trained)
    result.steps = resume.step
    return resume.step


def _as_tuple(value: Any) -> Any:
    """Python RNG states round-tripped through JSON come back as lists: make them tuples."""
    if isinstance(value, list | tuple):
        return tuple(_as_tuple(v) for v in value)
    return value


# --- the loop ----------------------------------------------------------------------


def lr_factor(step: int, config: TrainConfig) -> float:
    """Multiplier of the base learning rate at ``step`` (0-based): warm-up then decay."""
    if config.warmup_steps and step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    if config.schedule == "constant":
        return 1.0
    span = max(1, config.steps - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / span)
    floor = config.min_lr_ratio
    if config.schedule == "linear":
        return floor + (1.0 - floor) * (1.0 - progress)
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def batch_order(
    lengths: Sequence[int], config: TrainConfig, rng: random.Random
) -> Iterator[list[int]]:
    """Endless stream of batches of example indices, one shuffled epoch after another.

    Within each epoch, ``bucket_batches`` batches' worth of examples are sorted by
    length before being cut into batches, and the batches are shuffled again, so a
    batch holds sequences of similar length without a fixed order.
    """
    n = len(lengths)
    bs = min(config.batch_size, n)
    while True:
        order = list(range(n))
        rng.shuffle(order)
        chunk = bs * max(1, config.bucket_batches)
        batches: list[list[int]] = []
        for start in range(0, n, chunk):
            part = sorted(order[start : start + chunk], key=lambda i: lengths[i])
            batches.extend(part[j : j + bs] for j in range(0, len(part), bs))
        batches = [b for b in batches if len(b) == bs] or batches
        rng.shuffle(batches)
        yield from batches


def collate(examples: Sequence[TrainExample], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a batch; labels are the inputs with untrained and pad positions ignored."""
    width = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
    attn = torch.zeros((len(examples), width), dtype=torch.long)
    for row, ex in enumerate(examples):
        n = len(ex.input_ids)
        t = torch.tensor(ex.input_ids, dtype=torch.long)
        ids[row, :n] = t
        attn[row, :n] = 1
        mask = torch.tensor(ex.loss_mask, dtype=torch.bool)
        labels[row, :n] = torch.where(mask, t, torch.full_like(t, IGNORE_INDEX))
    return {"input_ids": ids, "attention_mask": attn, "labels": labels}


@contextmanager
def reproducible(seed: int, threads: int | None, deterministic: bool) -> Iterator[None]:
    """Seed torch and Python, fix the thread count and (optionally) deterministic kernels.

    Restores the previous thread count and determinism setting afterwards.
    """
    prev_threads = torch.get_num_threads()
    prev_det = torch.are_deterministic_algorithms_enabled()
    torch.manual_seed(seed)
    random.seed(seed)
    if threads:
        torch.set_num_threads(threads)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.set_num_threads(prev_threads)
        torch.use_deterministic_algorithms(prev_det)


def train_causal_lm(
    model: torch.nn.Module,
    examples: Sequence[TrainExample],
    config: TrainConfig,
    pad_id: int,
    state: JobState | None = None,
    log_every: int = 0,
    log: Any = None,
    hooks: TrainHooks | None = None,
) -> TrainResult:
    """Train ``model`` (a transformers causal LM) in place on ``examples``.

    The loss is the mean cross-entropy over the tokens whose ``loss_mask`` is true
    (shifted by one, as the model predicts the next token). Returns the loss of every
    step. Calls ``state.set_progress`` and ``state.check_cancelled`` once per step; a
    cancellation raises :class:`core.errors.Cancelled` and leaves the model as trained
    so far. ``log`` (e.g. ``print``) receives a line every ``log_every`` steps.
    ``hooks`` (optional) change the loss, observe steps, or resume a run (see
    :class:`TrainHooks`); ``examples`` may be any sequence, and one with a ``lengths``
    attribute (e.g. a disk-backed store) is not read to learn the lengths.
    """
    if not examples:
        raise ValueError("no training examples")
    if config.max_len is not None:
        examples = [
            TrainExample(e.input_ids[: config.max_len], e.loss_mask[: config.max_len])
            for e in examples
        ]
    result = TrainResult()
    started = time.monotonic()
    with reproducible(config.seed, config.threads, config.deterministic):
        rng = random.Random(config.seed)
        decay: list[Any] = []
        no_decay: list[Any] = []
        for name, p in model.named_parameters():
            if not p.requires_grad:
                continue
            (no_decay if p.ndim < 2 or "ln" in name or "norm" in name else decay).append(p)
        optim = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": config.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=config.lr,
            betas=config.betas,
        )
        sched = torch.optim.lr_scheduler.LambdaLR(optim, lambda s: lr_factor(s, config))
        lengths = getattr(examples, "lengths", None)
        if lengths is None:
            lengths = [len(e.input_ids) for e in examples]
        batches = batch_order(lengths, config, rng)
        hooks = hooks or TrainHooks()
        first = 0
        if hooks.resume is not None:
            first = _apply_resume(hooks.resume, optim, sched, batches, rng, result)

        def context(done: int) -> StepContext:
            return StepContext(done, config, model, optim, sched, rng, result)

        model.train()
        for step in range(first, config.steps):
            if state is not None:
                try:
                    state.check_cancelled()
                except Cancelled:
                    if hooks.on_cancel is not None:
                        hooks.on_cancel(context(step))
                    raise
            batch = collate([examples[i] for i in next(batches)], pad_id)
            out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
            target = batch["labels"][:, 1:]
            if hooks.loss_fn is not None:
                loss = hooks.loss_fn(out.logits.float(), batch)
            else:
                logits = out.logits[:, :-1, :].float()
                loss = torch.nn.functional.cross_entropy(
                    logits.reshape(-1, logits.size(-1)),
                    target.reshape(-1),
                    ignore_index=IGNORE_INDEX,
                )
            optim.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optim.step()
            sched.step()
            value = float(loss.detach())
            result.losses.append(value)
            result.tokens_trained += int((target != IGNORE_INDEX).sum())
            result.steps = step + 1
            if state is not None:
                state.set_progress(step + 1, config.steps)
            if log is not None and log_every and ((step + 1) % log_every == 0 or step == 0):
                log(f"    step {step + 1:4d}/{config.steps}  loss {value:.3f}")
            if hooks.after_step is not None:
                hooks.after_step(context(step + 1))
        model.eval()
    result.seconds = time.monotonic() - started
    return result
