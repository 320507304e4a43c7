"""Generation speed of our decoder against transformers' own ``generate`` (shared helpers).

Both sides run the same model on the same left-truncated prompts, one thread, greedy,
and both stop a row at EOS the same way (a batch runs until its last row stops), so
rates are compared per token slot: prompts x ``new_tokens`` over seconds.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

PHRASE = "The suspect model number {i} answered the question politely and at length. "


def prompts(n: int) -> list[str]:
    """``n`` distinct prompts, each longer than a 128-token window allows with 96 new."""
    return [PHRASE.format(i=i) * 3 for i in range(n)]


def hf_generate_seconds(model: Any, texts: list[str], prompt_tokens: int, new: int) -> float:
    """Seconds transformers' greedy ``generate`` takes on the left-padded prompts."""
    import torch

    tokenizer = model._ensure_tokenizer()
    side, pad = tokenizer.padding_side, tokenizer.pad_token
    tokenizer.padding_side, tokenizer.pad_token = "left", tokenizer.eos_token
    try:
        enc = tokenizer(
            texts, return_tensors="pt", padding=True, truncation=True, max_length=prompt_tokens
        )
    finally:
        tokenizer.padding_side, tokenizer.pad_token = side, pad
    net = model.torch_model
    start = time.perf_counter()
    with torch.inference_mode():
        net.generate(
            **enc,
            max_new_tokens=new,
            do_sample=False,
            pad_token_id=tokenizer.eos_token_id,
        )
    return time.perf_counter() - start


def ours_seconds(model: Any, texts: list[str], new: int, **kwargs: Any) -> float:
    """Seconds :meth:`generate` takes (weights already loaded)."""
    start = time.perf_counter()
    model.generate(texts, new, seed=1, **kwargs)
    return time.perf_counter() - start


def build(folder: Path) -> Path:
    """The issue's shape: GPT-2, 3 layers, 128 wide, 128-token context."""
    from tests.tinymodels import build_tiny_gpt2

    return build_tiny_gpt2(folder, n_layer=3, n_embd=128, n_head=4, n_positions=128)
