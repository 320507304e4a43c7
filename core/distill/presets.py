"""Students for distillation experiments: an imported base model, or a fresh preset.

A fresh student is a small GPT-2 (``tiny`` or ``small``) initialised from the
experiment's seed, with a tokenizer of the user's choice: the teacher's (which makes
logit distillation possible), any local tokenizer folder, or a fresh byte-level BPE
trained on the experiment's own prompt and answer texts (what an attacker without the
teacher's tokenizer would do). An imported base keeps its own tokenizer: changing it
would mean new embeddings, i.e. a different model.

Everything loads offline, from safetensors, without remote code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.errors import DistillAuditError

EOS, PAD = "<|endoftext|>", "<|pad|>"


@dataclass(frozen=True)
class StudentPreset:
    """Size of a fresh GPT-2 student and of its fresh tokenizer's vocabulary."""

    name: str
    n_layer: int
    n_embd: int
    n_head: int
    n_positions: int
    vocab_size: int  # for a fresh tokenizer; a borrowed tokenizer keeps its own size

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PRESETS: dict[str, StudentPreset] = {
    "tiny": StudentPreset("tiny", n_layer=2, n_embd=64, n_head=4, n_positions=256, vocab_size=1024),
    "small": StudentPreset(
        "small", n_layer=4, n_embd=128, n_head=4, n_positions=512, vocab_size=4096
    ),
}
TOKENIZER_CHOICES = ("teacher", "fresh")  # or a path to a tokenizer folder


def preset(name: str) -> StudentPreset:
    """The preset called ``name``; DistillAuditError naming the choices otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise DistillAuditError(
            f"Unknown student preset {name!r}; choose one of {', '.join(PRESETS)}."
        ) from None


def train_bpe(texts: Iterable[str], vocab_size: int) -> Any:
    """A byte-level BPE tokenizer trained on ``texts`` (streamed), with end and pad tokens.

    Deterministic for the same texts in the same order; ``PreTrainedTokenizerFast`` so
    that it saves and loads like any Hugging Face tokenizer.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

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
    tok.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token=EOS, bos_token=EOS, pad_token=PAD, model_max_length=4096
    )


def borrowed_tokenizer(folder: str | Path) -> Any:
    """The tokenizer saved in ``folder`` (a teacher, base or tokenizer-only folder)."""
    from core.backends.encoding import load_tokenizer

    return load_tokenizer(Path(folder))


def new_student(spec: StudentPreset, tokenizer: Any, seed: int) -> Any:
    """A freshly initialised GPT-2 sized for ``tokenizer`` (seeded; dropout off)."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    eos = tokenizer.eos_token_id
    if eos is None:
        raise DistillAuditError(
            "The chosen tokenizer has no end-of-text token, so a student could not learn where "
            "an answer ends; choose another tokenizer (e.g. --tokenizer fresh)."
        )
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=spec.n_positions,
        n_embd=spec.n_embd,
        n_layer=spec.n_layer,
        n_head=spec.n_head,
        bos_token_id=eos,
        eos_token_id=eos,
        pad_token_id=pad,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    return GPT2LMHeadModel(config).eval()


def load_base(folder: str | Path) -> tuple[Any, Any]:
    """(model, tokenizer) of an imported base: float32, safetensors only, eval mode."""
    from core.backends.encoding import load_tokenizer
    from core.backends.folders import check_hf_folder
    from core.backends.torch_backend import load_causal_lm

    path = check_hf_folder(folder)
    return load_causal_lm(path), load_tokenizer(path)


def pad_id(tokenizer: Any) -> int:
    """The id used to pad batches (pad, else end-of-text, else 0); never trained on."""
    for candidate in (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.bos_token_id):
        if candidate is not None:
            return int(candidate)
    return 0


def context_window(model: Any) -> int:
    """The model's context window in tokens (n_positions / max_position_embeddings)."""
    cfg = (
        model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    )
    for key in ("n_positions", "max_position_embeddings"):
        value = getattr(cfg, key, None)
        if isinstance(value, int) and value > 1:
            return value
    return 1024
