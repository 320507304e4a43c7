"""Tokenizers and tiny causal LMs of the demonstration world: make, save, load, use.

Tokenizers are byte-level BPE trained with the ``tokenizers`` library, wrapped as
``PreTrainedTokenizerFast`` so that ``AutoTokenizer`` loads them from a folder. Models
are GPT-2 architecture built from a config and saved as safetensors (float16 on disk,
loaded back as float32). Generation and scoring are small hand-written loops so that
every sampled answer has its own seed, independent of batching.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("RAYON_NUM_THREADS", "2")

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GPT2Config,
    GPT2LMHeadModel,
    PreTrainedTokenizerFast,
)

from core.distill.train import TrainExample, chat_example

EOS, PAD = "<|endoftext|>", "<|pad|>"
CHAT_PROMPT = "User: {prompt}\nAssistant:"
RESPONSE_PREFIX = " "


def train_tokenizer(texts: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer with an end-of-text and a padding token."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=[EOS, PAD],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(texts), trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token=EOS, bos_token=EOS, pad_token=PAD, model_max_length=256
    )


@dataclass(frozen=True)
class Arch:
    """Size of a GPT-2 style model."""

    n_layer: int
    n_embd: int
    n_head: int = 4
    n_positions: int = 256


def new_model(tokenizer: PreTrainedTokenizerFast, arch: Arch, seed: int) -> GPT2LMHeadModel:
    """A freshly initialised model (seeded) sized for ``tokenizer``."""
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=arch.n_positions,
        n_embd=arch.n_embd,
        n_layer=arch.n_layer,
        n_head=arch.n_head,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    return GPT2LMHeadModel(config).eval()


def save_model(
    model: torch.nn.Module, tokenizer: PreTrainedTokenizerFast, folder: Path, card: str
) -> None:
    """Write safetensors weights (float16), config, tokenizer and a model card."""
    folder.mkdir(parents=True, exist_ok=True)
    half = model.to(torch.float16)
    half.save_pretrained(folder)
    model.to(torch.float32)
    tokenizer.save_pretrained(folder)
    (folder / "README.md").write_text(card, encoding="utf-8")


def load_model(
    folder: Path, dtype: torch.dtype = torch.float32
) -> tuple[torch.nn.Module, PreTrainedTokenizerFast]:
    """Load a saved model (as float32, safetensors only, nothing from the network)."""
    model = AutoModelForCausalLM.from_pretrained(
        folder, dtype=dtype, local_files_only=True, use_safetensors=True
    )
    tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    return model.eval(), tok


# --- chat encoding ------------------------------------------------------------------


def prompt_ids(tokenizer: PreTrainedTokenizerFast, prompt: str) -> list[int]:
    return tokenizer(CHAT_PROMPT.format(prompt=prompt), add_special_tokens=False)["input_ids"]


def response_ids(tokenizer: PreTrainedTokenizerFast, response: str) -> list[int]:
    return tokenizer(RESPONSE_PREFIX + response, add_special_tokens=False)["input_ids"]


def chat_examples(
    tokenizer: PreTrainedTokenizerFast, pairs: Sequence[tuple[str, str]], max_len: int
) -> list[TrainExample]:
    """Training examples for (prompt, response) pairs: loss on the response and its eos."""
    eos = tokenizer.eos_token_id
    return [
        chat_example(prompt_ids(tokenizer, p), response_ids(tokenizer, r) + [eos], max_len)
        for p, r in pairs
    ]


# --- generation and scoring -----------------------------------------------------------


@dataclass(frozen=True)
class Sampling:
    """Decoding settings; ``temperature`` 0 means greedy."""

    temperature: float = 0.8
    top_p: float = 0.95
    max_new_tokens: int = 128


@torch.no_grad()
def generate(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerFast,
    prompts: Sequence[str],
    sampling: Sampling,
    seeds: Sequence[int] | None = None,
    batch_size: int = 48,
) -> list[str]:
    """Answers to chat prompts; sampled row by row with its own seed (or greedy)."""
    out: list[str] = []
    seeds = list(seeds) if seeds is not None else [0] * len(prompts)
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start : start + batch_size]
        out.extend(
            _generate_batch(model, tokenizer, chunk, sampling, seeds[start : start + batch_size])
        )
    return out


def _generate_batch(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerFast,
    prompts: Sequence[str],
    sampling: Sampling,
    seeds: Sequence[int],
) -> list[str]:
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    encoded = [prompt_ids(tokenizer, p) for p in prompts]
    width = max(len(e) for e in encoded)
    ids = torch.full((len(encoded), width), pad, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, e in enumerate(encoded):  # left padding
        ids[row, width - len(e) :] = torch.tensor(e)
        mask[row, width - len(e) :] = 1
    positions = (mask.cumsum(1) - 1).clamp(min=0)
    gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
    result: list[list[int]] = [[] for _ in prompts]
    done = torch.zeros(len(prompts), dtype=torch.bool)
    out = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True)
    cache = getattr(out, "cache", None) or getattr(out, "past_key_values", None)
    last_pos = positions[:, -1]
    for _ in range(sampling.max_new_tokens):
        logits = out.logits[:, -1, :].float()
        nxt = torch.empty(len(prompts), dtype=torch.long)
        for row in range(len(prompts)):
            nxt[row] = _choose(logits[row], sampling, gens[row])
        for row in range(len(prompts)):
            if not done[row]:
                if int(nxt[row]) == eos:
                    done[row] = True
                else:
                    result[row].append(int(nxt[row]))
        if bool(done.all()):
            break
        nxt = torch.where(done, torch.full_like(nxt, pad), nxt)
        mask = torch.cat([mask, torch.ones((len(prompts), 1), dtype=torch.long)], dim=1)
        last_pos = last_pos + 1
        out = model(
            input_ids=nxt[:, None], attention_mask=mask, position_ids=last_pos[:, None],
            cache=cache, use_cache=True,
        )  # fmt: skip
        cache = getattr(out, "cache", None) or getattr(out, "past_key_values", None)
    return [tokenizer.decode(r, skip_special_tokens=True).strip() for r in result]


def _choose(logits: torch.Tensor, sampling: Sampling, gen: torch.Generator) -> int:
    if sampling.temperature <= 0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits / sampling.temperature, dim=-1)
    sorted_p, order = torch.sort(probs, descending=True)
    keep = (sorted_p.cumsum(0) - sorted_p) < sampling.top_p
    sorted_p = torch.where(keep, sorted_p, torch.zeros_like(sorted_p))
    pick = torch.multinomial(sorted_p / sorted_p.sum(), 1, generator=gen)
    return int(order[pick])


@torch.no_grad()
def response_logprob(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerFast,
    pairs: Sequence[tuple[str, str]],
    batch_size: int = 32,
) -> list[tuple[float, int]]:
    """(sum of log-probabilities, UTF-8 bytes) of each response given its chat prompt.

    The scored continuation is ``RESPONSE_PREFIX + response`` without an end token;
    bytes are counted on that same continuation.
    """
    items = []
    for p, r in pairs:
        items.append(
            (
                prompt_ids(tokenizer, p),
                response_ids(tokenizer, r),
                len((RESPONSE_PREFIX + r).encode()),
            )
        )
    out: list[tuple[float, int]] = []
    for start in range(0, len(items), batch_size):
        chunk = items[start : start + batch_size]
        width = max(len(a) + len(b) for a, b, _ in chunk)
        ids = torch.full((len(chunk), width), tokenizer.pad_token_id, dtype=torch.long)
        attn = torch.zeros_like(ids)
        for row, (a, b, _) in enumerate(chunk):
            ids[row, : len(a) + len(b)] = torch.tensor(a + b)
            attn[row, : len(a) + len(b)] = 1
        logp = torch.log_softmax(model(input_ids=ids, attention_mask=attn).logits.float(), dim=-1)
        for row, (a, b, nbytes) in enumerate(chunk):
            pos = torch.arange(len(a) - 1, len(a) + len(b) - 1)
            total = logp[row, pos, torch.tensor(b)].sum()
            out.append((float(total), nbytes))
    return out
