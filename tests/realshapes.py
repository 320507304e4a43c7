"""Tiny models in the real shapes users import: Qwen2, Llama 3, Mistral, Gemma 2, GPT-2.

Each builder writes a genuine ``save_pretrained`` folder of 2 layers and hidden size 64
with the family's own config class, special tokens and chat template (the Jinja as the
public repositories ship it, tool-calling branches left out), and a tokenizer trained
locally: a byte-level BPE from the ``tokenizers`` library, or for Mistral a SentencePiece
``tokenizer.model`` alone (no tokenizer.json), as its original repository ships it.
Options: ``bf16`` stores the weights in bfloat16, ``shard_kb`` splits them into shards
with a ``model.safetensors.index.json``. Nothing is downloaded.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.tinymodels import TINY_CORPUS

QWEN2_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
    "assistant.<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if (message.role == 'user') or (message.role == 'system' and not loop.first) or "
    "(message.role == 'assistant') %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
LLAMA3_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
    " + message['content'] | trim + '<|eot_id|>' %}"
    "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{% endif %}"
)
MISTRAL_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token }}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}"
    "{% endif %}{% endfor %}"
)
GEMMA2_TEMPLATE = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}"
    "{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}"
    "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}"
    "{% else %}{% set role = message['role'] %}{% endif %}"
    "{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}"
)

SHAPES = ("qwen2", "llama3", "mistral", "gemma2", "gpt2")
# What the rendered context of one user turn ("Hi") begins and ends with, per shape.
ASSISTANT_HEADERS = {
    "qwen2": "<|im_start|>assistant\n",
    "llama3": "<|start_header_id|>assistant<|end_header_id|>\n\n",
    "mistral": " [/INST]",
    "gemma2": "<start_of_turn>model\n",
}
BOS_TEXT = {"llama3": "<|begin_of_text|>", "mistral": "<s>", "gemma2": "<bos>"}


def _bpe(specials: list[str], bos: str | None, vocab_size: int = 400) -> Any:
    """A byte-level BPE trained on the tiny corpus with ``specials``; BOS added when given."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(TINY_CORPUS), trainer=trainer)
    if bos is not None:
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A $B", special_tokens=[(bos, tok.token_to_id(bos))]
        )
    return tok


def _fast(tok: Any, **special: Any) -> Any:
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=256, **special)


def _sentencepiece(folder: Path, template: str) -> int:
    """Write a SentencePiece tokenizer.model (BPE, byte fallback) + tokenizer_config.json."""
    import sentencepiece as spm

    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(list(TINY_CORPUS) * 3),
        model_writer=buf,
        vocab_size=400,
        model_type="bpe",
        hard_vocab_limit=False,
        byte_fallback=True,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        minloglevel=2,
    )
    (folder / "tokenizer.model").write_bytes(buf.getvalue())
    config = {
        "tokenizer_class": "LlamaTokenizer",
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "add_bos_token": True,
        "add_eos_token": False,
        "model_max_length": 256,
        "chat_template": template,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    return 400


def _small(**extra: Any) -> dict[str, Any]:
    return {
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 256,
        **extra,
    }


def build_shape(
    shape: str, folder: str | Path, *, seed: int = 0, bf16: bool = False, shard_kb: int = 0
) -> Path:
    """Write a tiny model of ``shape`` (one of :data:`SHAPES`) into ``folder``; return it."""
    import torch

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer, config = _BUILDERS[shape](folder)
    torch.manual_seed(seed)
    from transformers import AutoModelForCausalLM

    config.initializer_range = 0.2  # peaked distributions: no near-ties in greedy decoding
    model = AutoModelForCausalLM.from_config(config)
    model.eval()
    if bf16:
        model = model.to(torch.bfloat16)
    kwargs: dict[str, Any] = {"max_shard_size": f"{shard_kb}KB"} if shard_kb else {}
    model.save_pretrained(folder, safe_serialization=True, **kwargs)
    if tokenizer is not None:
        tokenizer.save_pretrained(folder)
    return folder


def _qwen2(folder: Path) -> tuple[Any, Any]:
    from transformers import Qwen2Config

    tok = _fast(
        _bpe(["<|endoftext|>", "<|im_start|>", "<|im_end|>"], None),
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
    )
    tok.chat_template = QWEN2_TEMPLATE
    ids = tok.convert_tokens_to_ids
    config = Qwen2Config(
        vocab_size=len(tok),
        tie_word_embeddings=True,
        eos_token_id=ids("<|im_end|>"),
        bos_token_id=ids("<|endoftext|>"),
        **_small(),
    )
    return tok, config


def _llama3(folder: Path) -> tuple[Any, Any]:
    from transformers import LlamaConfig

    specials = [
        "<|begin_of_text|>",
        "<|end_of_text|>",
        "<|start_header_id|>",
        "<|end_header_id|>",
        "<|eot_id|>",
    ]
    tok = _fast(
        _bpe(specials, "<|begin_of_text|>"), bos_token="<|begin_of_text|>", eos_token="<|eot_id|>"
    )
    tok.chat_template = LLAMA3_TEMPLATE
    ids = tok.convert_tokens_to_ids
    config = LlamaConfig(
        vocab_size=len(tok),
        rope_parameters={"rope_type": "default", "rope_theta": 500000.0},
        bos_token_id=ids("<|begin_of_text|>"),
        eos_token_id=[ids("<|end_of_text|>"), ids("<|eot_id|>")],
        **_small(),
    )
    return tok, config


def _mistral(folder: Path) -> tuple[Any, Any]:
    from transformers import MistralConfig

    vocab = _sentencepiece(folder, MISTRAL_TEMPLATE)
    config = MistralConfig(
        vocab_size=vocab, bos_token_id=1, eos_token_id=2, sliding_window=None, **_small()
    )
    return None, config


def _gemma2(folder: Path) -> tuple[Any, Any]:
    from transformers import Gemma2Config

    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"]
    tok = _fast(
        _bpe(specials, "<bos>"),
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
    )
    tok.chat_template = GEMMA2_TEMPLATE
    ids = tok.convert_tokens_to_ids
    config = Gemma2Config(
        vocab_size=len(tok),
        head_dim=16,
        query_pre_attn_scalar=16,
        sliding_window=64,
        pad_token_id=ids("<pad>"),
        bos_token_id=ids("<bos>"),
        eos_token_id=[ids("<eos>"), ids("<end_of_turn>")],
        **_small(attn_implementation="eager"),
    )
    return tok, config


def _gpt2(folder: Path) -> tuple[Any, Any]:
    from transformers import GPT2Config

    tok = _fast(_bpe(["<|endoftext|>"], None), bos_token="<|endoftext|>", eos_token="<|endoftext|>")
    eos = tok.convert_tokens_to_ids("<|endoftext|>")
    config = GPT2Config(
        vocab_size=len(tok),
        n_positions=256,
        n_embd=64,
        n_layer=2,
        n_head=4,
        bos_token_id=eos,
        eos_token_id=eos,
    )
    return tok, config


_BUILDERS: dict[str, Callable[[Path], tuple[Any, Any]]] = {
    "qwen2": _qwen2,
    "llama3": _llama3,
    "mistral": _mistral,
    "gemma2": _gemma2,
    "gpt2": _gpt2,
}
