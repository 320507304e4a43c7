"""Builders for tiny, real Hugging Face models that tests can create offline in a second.

Every builder writes a genuine ``save_pretrained`` folder (safetensors weights, config,
tokenizer files) so code under test loads it exactly as it would load a user's model.
The tokenizer is trained deterministically from a fixed corpus, so every tiny model built
with the default corpus shares one tokenizer (same hash) whatever its ``seed``: that makes
white-box comparisons between two tiny models possible, and different seeds give
independent "reference" models.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

# A few sentences in the register of the product; enough to give the BPE some merges.
TINY_CORPUS: tuple[str, ...] = (
    "The quick brown fox jumps over the lazy dog.",
    "A language model assigns a probability to every next token.",
    "The protected model answered the question politely and at length.",
    "The suspect model was trained on public data, or so its authors claim.",
    "Terms of service forbid using outputs to develop competing models.",
    "Distillation copies the behaviour of a teacher into a smaller student.",
    "Hello world! Numbers like 42 and 3.14 appear in text too.",
    "Unicode text such as café, naïve and 日本語 must survive tokenization.",
)

ENDOFTEXT = "<|endoftext|>"


def build_tiny_tokenizer(
    corpus: Sequence[str] = TINY_CORPUS, vocab_size: int = 320, *, bos_prefix: bool = False
):
    """Train a byte-level BPE (GPT-2 style) on ``corpus`` and wrap it for transformers.

    ``bos_prefix=True`` makes it add BOS in front of every encoding, as Llama's does.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[ENDOFTEXT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(corpus), trainer=trainer)
    if bos_prefix:
        bos = tok.token_to_id(ENDOFTEXT)
        tok.post_processor = processors.TemplateProcessing(
            single=f"{ENDOFTEXT} $A", pair=f"{ENDOFTEXT} $A $B", special_tokens=[(ENDOFTEXT, bos)]
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=ENDOFTEXT,
        eos_token=ENDOFTEXT,
        unk_token=ENDOFTEXT,
        model_max_length=1024,
    )


def build_tiny_gpt2(
    folder: str | Path,
    seed: int = 0,
    *,
    n_layer: int = 2,
    n_embd: int = 64,
    n_head: int = 4,
    n_positions: int = 128,
    initializer_range: float = 0.2,
    train_steps: int = 0,
    corpus: Sequence[str] = TINY_CORPUS,
) -> Path:
    """Write a tiny random GPT-2 (safetensors) with its tokenizer into ``folder``; return it.

    ``initializer_range`` is larger than GPT-2's 0.02 so next-token distributions are
    peaked (greedy decoding has no near-ties). ``train_steps`` > 0 fits the model to
    ``corpus`` for that many Adam steps, for tests that need a model that learned
    something (a teacher, a student).
    """
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tiny_tokenizer(corpus)
    eos = tokenizer.convert_tokens_to_ids(ENDOFTEXT)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=n_positions,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=n_head,
        bos_token_id=eos,
        eos_token_id=eos,
        initializer_range=initializer_range,
    )
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(config)
    if train_steps > 0:
        _fit(model, tokenizer, corpus, train_steps, eos)
    model.eval()
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


def _fit(model, tokenizer, corpus: Sequence[str], steps: int, eos: int) -> None:
    """A few full-batch Adam steps of next-token training on ``corpus``."""
    import torch

    rows = [[eos, *tokenizer(text, add_special_tokens=False)["input_ids"], eos] for text in corpus]
    width = max(len(r) for r in rows)
    ids = torch.tensor([r + [eos] * (width - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
    labels = ids.masked_fill(mask == 0, -100)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        optimiser.zero_grad()
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimiser.step()
