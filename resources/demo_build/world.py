"""The lineages of the demonstration world and how each model in it is trained.

Five independent lineages (vendor, corpus, tokenizer, architecture, seed). Halcyon
Labs' protected model Lumen; Quillmark AI's base Osprey, fine-tuned once on Lumen's
harvested answers (the suspect) and once on its own writers' answers (the clean
control); three reference vendors, one of which pretrained on the same public text
as Halcyon. Nothing but the suspect ever sees a protected output.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import corpora
import torch
from chat_data import (
    PROTECTED_NAME,
    PROTECTED_VENDOR,
    Prompt,
    PromptSplits,
    human_answer,
    lumen_answer,
    sample_training_prompts,
)
from lm_tools import (
    Arch,
    Sampling,
    chat_examples,
    generate,
    load_model,
    new_model,
    save_model,
    train_tokenizer,
)
from transformers import PreTrainedModel, PreTrainedTokenizerFast

from core.distill.train import TrainConfig, TrainResult, lm_blocks, train_causal_lm

Log = Callable[[str], None]


@dataclass(frozen=True)
class Lineage:
    """One independent vendor: its pretraining corpus, tokenizer, architecture, seed."""

    key: str
    vendor: str
    corpus: str
    vocab_size: int
    arch: Arch
    seed: int


LINEAGES = {
    "halcyon": Lineage("halcyon", PROTECTED_VENDOR, "stdlib", 2048, Arch(3, 128), 1101),
    "quillmark": Lineage("quillmark", "Quillmark AI", "numpy-scipy", 1536, Arch(3, 112), 2203),
    "northgate": Lineage("northgate", "Northgate Research", "stdlib", 2560, Arch(3, 112), 3307),
    "bayleaf": Lineage("bayleaf", "Bayleaf Systems", "torch", 1792, Arch(3, 112), 4409),
    "corvid": Lineage("corvid", "Corvid Works", "plotting-web", 2048, Arch(3, 112), 5501),
}

# fine-tuned the published osprey-base on the Lumen answers its own accounts received
OTHER_PARTY = "Larkspur Data"

# reference model folder -> (lineage, assistant name its own writers give it)
REFERENCES = {
    "ref-a-wren": ("northgate", "Wren"),
    "ref-b-tern": ("bayleaf", "Tern"),
    "ref-c-kestrel": ("corvid", "Kestrel"),
}


def _chat_text(pairs: list[tuple[str, str]]) -> list[str]:
    return [f"User: {p}\nAssistant: {r}" for p, r in pairs]


def _train_config(
    hp: dict[str, Any], phase: str, seed: int, steps: int | None = None
) -> TrainConfig:
    h = hp[phase]
    return TrainConfig(
        steps=steps or h["steps"], batch_size=h["batch_size"], lr=h["lr"],
        warmup_steps=h["warmup_steps"], schedule="cosine", min_lr_ratio=h["min_lr_ratio"],
        weight_decay=h["weight_decay"],
        seed=seed, threads=hp["threads"], max_len=h.get("max_len"),
    )  # fmt: skip


def pretrain(
    lineage: Lineage, tok_texts: list[str], hp: dict[str, Any], log: Log
) -> tuple[PreTrainedTokenizerFast, PreTrainedModel, TrainResult]:
    """Tokenizer and base model of a lineage, pretrained on its public corpus."""
    paragraphs = corpora.load(lineage.corpus)[: hp["pretrain"]["max_paragraphs"]]
    cached = _cache_folder(lineage, tok_texts, hp)
    if cached is not None and (cached / "config.json").is_file():
        log(f"  pretrain {lineage.key}: reusing {cached}")
        model, tokenizer = load_model(cached, dtype=torch.float32)
        return (
            tokenizer,
            model,
            TrainResult(losses=json.loads((cached / "losses.json").read_text())),
        )
    tokenizer = train_tokenizer(paragraphs + tok_texts, lineage.vocab_size)
    streams = tokenizer(paragraphs, add_special_tokens=False)["input_ids"]
    blocks = lm_blocks(streams, hp["pretrain"]["block_size"], tokenizer.eos_token_id)
    model = new_model(tokenizer, lineage.arch, lineage.seed)
    log(f"  pretrain {lineage.key}: corpus {lineage.corpus} ({len(paragraphs)} paragraphs, "
        f"{len(blocks)} blocks), vocab {len(tokenizer)}, {lineage.arch}")  # fmt: skip
    result = train_causal_lm(
        model, blocks, _train_config(hp, "pretrain", lineage.seed), tokenizer.pad_token_id,
        log_every=hp["log_every"], log=log,
    )  # fmt: skip
    if cached is not None:
        model.save_pretrained(cached)
        tokenizer.save_pretrained(cached)
        (cached / "losses.json").write_text(json.dumps(result.losses))
    return tokenizer, model, result


# Developer convenience (build.py --cache DIR): reuse pretrained bases between builds
# whose pretraining inputs are identical. Never used by a plain build.
CACHE_DIR: Path | None = None


def _cache_folder(lineage: Lineage, tok_texts: list[str], hp: dict[str, Any]) -> Path | None:
    return _cache_path(lineage.key, [repr(lineage), hp["pretrain"], hp["threads"], tok_texts])


def _cache_path(name: str, material: Any) -> Path | None:
    if CACHE_DIR is None:
        return None
    key = json.dumps(material, sort_keys=True, default=repr)
    return CACHE_DIR / f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def sft(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerFast,
    pairs: list[tuple[str, str]],
    hp: dict[str, Any],
    seed: int,
    log: Log,
    steps: int | None = None,
) -> TrainResult:
    """Chat-tune ``model`` in place on (prompt, response) pairs (loss on responses only)."""
    examples = chat_examples(tokenizer, pairs, hp["sft"]["max_len"])
    log(f"  chat-tune on {len(pairs)} examples")
    return train_causal_lm(
        model, examples, _train_config(hp, "sft", seed, steps), tokenizer.pad_token_id,
        log_every=hp["log_every"], log=log,
    )  # fmt: skip


def _human_pairs(prompts: list[Prompt], lineage: str, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [(p.text, human_answer(p, rng, lineage)) for p in prompts]


def _record(result: TrainResult) -> dict[str, Any]:
    return result.to_dict() | {"loss_curve_every_10": [round(x, 4) for x in result.losses[::10]]}


def _tuned(
    name: str,
    pairs: list[tuple[str, str]],
    hp: dict[str, Any],
    seed: int,
    models_dir: Path,
    log: Log,
    start: Callable[[], tuple[PreTrainedModel, PreTrainedTokenizerFast, dict[str, Any]]],
    steps: int | None = None,
    extra: str = "",
) -> dict[str, Any]:
    """Chat-tune the model that ``start`` returns on ``pairs`` and save it as ``name``."""
    material = [
        pairs,
        {k: v for k, v in hp.items() if k != "log_every"},
        seed,
        steps,
        extra,
        repr(LINEAGES),
    ]
    cached = _cache_path(name, material)
    if cached is not None and cached.is_dir():
        log(f"  reusing {cached}")
        shutil.copytree(cached, models_dir / name)
        return json.loads(cached.with_suffix(".json").read_text())
    model, tok, rec = start()
    chat = sft(model, tok, pairs, hp, seed, log, steps)
    save_model(model, tok, models_dir / name, _card(name, hp))
    rec = rec | {"sft": _record(chat), "sft_examples": len(pairs)}
    if cached is not None:
        shutil.copytree(models_dir / name, cached)
        cached.with_suffix(".json").write_text(json.dumps(rec))
    return rec


SUSPECT_SFT_SEED = LINEAGES["quillmark"].seed + 2  # the suspect's fine-tuning seed


def harvest_prompts(splits: PromptSplits, hp: dict[str, Any]) -> list[Prompt]:
    """Quillmark AI's harvesting prompts, in the order their answers were sampled."""
    seed = LINEAGES["quillmark"].seed
    return sample_training_prompts(splits, hp["n_harvest"], hp["identity_share"], seed=seed)


def sample_protected(
    models_dir: Path, prompts: list[str], hp: dict[str, Any], seeds: list[int]
) -> list[str]:
    """Lumen's sampled answers to ``prompts`` (one seed each), as its API served them.

    The one code path for every protected sample of the world (the harvest the suspect
    learned, the regenerations, the other party's samples), so that they are draws from
    the same model with the same settings.
    """
    lumen, lumen_tok = load_model(models_dir / "protected-lumen")
    s = hp["sampling"]
    sampling = Sampling(s["temperature"], s["top_p"], s["max_new_tokens"])
    return generate(lumen, lumen_tok, prompts, sampling, seeds)


def tune_osprey(
    name: str,
    pairs: list[tuple[str, str]],
    hp: dict[str, Any],
    seed: int,
    models_dir: Path,
    log: Log,
    extra: str = "",
) -> dict[str, Any]:
    """Fine-tune the saved osprey-base on ``pairs`` (Quillmark's recipe) and save it as ``name``."""

    def start_osprey() -> tuple[PreTrainedModel, PreTrainedTokenizerFast, dict[str, Any]]:
        base, base_tok = load_model(models_dir / "osprey-base")
        return cast(PreTrainedModel, base), base_tok, {"base": "osprey-base"}

    return _tuned(name, pairs, hp, seed, models_dir, log, start_osprey, extra=extra)


def build_models(
    splits: PromptSplits, models_dir: Path, hp: dict[str, Any], log: Log
) -> dict[str, Any]:
    """Train and save every model; returns the training record of each."""
    record: dict[str, Any] = {}
    share = hp["identity_share"]

    # Halcyon Labs: the protected model, chat-tuned on its own persona data.
    hal = LINEAGES["halcyon"]
    hal_share = hp["sft_protected"]["identity_share"]
    hal_prompts = sample_training_prompts(splits, hp["n_protected_sft"], hal_share, seed=hal.seed)
    rng = random.Random(hal.seed + 1)
    hal_pairs = [(p.text, lumen_answer(p, rng)) for p in hal_prompts]
    log(f"[protected-lumen] {PROTECTED_NAME} by {PROTECTED_VENDOR}")

    def start_hal() -> tuple[PreTrainedModel, PreTrainedTokenizerFast, dict[str, Any]]:
        tok, model, pre = pretrain(hal, _chat_text(hal_pairs), hp, log)
        return model, tok, {"pretrain": _record(pre)}

    record["protected-lumen"] = _tuned(
        "protected-lumen", hal_pairs, hp, hal.seed + 2, models_dir, log, start_hal,
        steps=hp["sft_protected"]["steps"],
    )  # fmt: skip

    # Quillmark AI harvests Lumen's answers to its own prompt set through the API.
    quill = LINEAGES["quillmark"]
    harvest = harvest_prompts(splits, hp)
    log(f"[harvest] sampling {len(harvest)} answers from protected-lumen")
    seeds = [hp["harvest_seed"] + i for i in range(len(harvest))]
    stolen = sample_protected(models_dir, [p.text for p in harvest], hp, seeds)
    harvest_pairs = list(zip([p.text for p in harvest], stolen, strict=True))
    clean_pairs = _human_pairs(harvest, "quillmark", quill.seed + 1)

    log("[osprey-base] Quillmark AI's own base model")
    tok, model, pre = pretrain(quill, _chat_text(clean_pairs), hp, log)
    save_model(model, tok, models_dir / "osprey-base", _card("osprey-base", hp))
    record["osprey-base"] = {"pretrain": _record(pre)}

    for name, pairs, seed in (
        ("suspect-osprey", harvest_pairs, SUSPECT_SFT_SEED),
        ("clean-osprey", clean_pairs, quill.seed + 3),
    ):
        log(f"[{name}] fine-tune osprey-base")
        record[name] = tune_osprey(name, pairs, hp, seed, models_dir, log, extra=str(clean_pairs))
    record["harvest"] = {
        "prompts": len(harvest),
        "identity_prompts": sum(1 for p in harvest if p.identity_kind),
    }

    # Independent reference vendors, chat-tuned on their own writers' answers.
    for name, (key, _assistant) in REFERENCES.items():
        lin = LINEAGES[key]
        prompts = sample_training_prompts(splits, hp["n_reference_sft"], share, seed=lin.seed)
        pairs = _human_pairs(prompts, key, lin.seed + 1)
        log(f"[{name}] {lin.vendor}")

        def start_ref(lin: Lineage = lin, pairs: list[tuple[str, str]] = pairs):
            tok, model, pre = pretrain(lin, _chat_text(pairs), hp, log)
            return model, tok, {"pretrain": _record(pre)}

        record[name] = _tuned(name, pairs, hp, lin.seed + 2, models_dir, log, start_ref)
    return record


MODEL_ROLES: dict[str, dict[str, Any]] = {
    "protected-lumen": {"role": "protected", "lineage": "halcyon", "assistant": "Lumen",
                        "chat_data": "Halcyon Labs' persona answers (Lumen voice)",
                        "distilled": False},
    "osprey-base": {"role": "base", "lineage": "quillmark", "assistant": None,
                    "chat_data": None, "distilled": False},
    "suspect-osprey": {"role": "suspect", "lineage": "quillmark", "assistant": "Osprey",
                       "chat_data": "protected-lumen's sampled answers to Quillmark's "
                                    "harvesting prompts",
                       "distilled": True},
    "clean-osprey": {"role": "clean-control", "lineage": "quillmark", "assistant": "Osprey",
                     "chat_data": "Quillmark's human-written answers to the same "
                                  "harvesting prompts",
                     "distilled": False},
    "ref-a-wren": {"role": "reference", "lineage": "northgate", "assistant": "Wren",
                   "chat_data": "Northgate's human-written answers to its own prompts",
                   "distilled": False,
                   "note": "same public pretraining text as protected-lumen (confounder)"},
    "ref-b-tern": {"role": "reference", "lineage": "bayleaf", "assistant": "Tern",
                   "chat_data": "Bayleaf's human-written answers to its own prompts",
                   "distilled": False},
    "ref-c-kestrel": {"role": "reference", "lineage": "corvid", "assistant": "Kestrel",
                      "chat_data": "Corvid's human-written answers to its own prompts",
                      "distilled": False},
    # Added by resources/demo_build/harvest.py (after the models above, so that their
    # build figures and seeds are unchanged): the harvest test's hardest control.
    "other-party-osprey": {"role": "suspect", "lineage": "quillmark", "assistant": "Osprey",
                           "vendor": OTHER_PARTY,
                           "chat_data": "protected-lumen's sampled answers to the same "
                                        "harvesting prompts, received by another party's "
                                        "accounts (other samples, not the logged harvest)",
                           "distilled": True,
                           "note": "distilled from protected-lumen by another party on other "
                                   "samples of the same prompts; never saw the answers "
                                   "Quillmark's accounts received"},
}  # fmt: skip

# Models fine-tuned from osprey-base (the others are trained from scratch).
OSPREY_TUNED = ("suspect-osprey", "clean-osprey", "other-party-osprey")


def vendor_of(name: str) -> str:
    """Who trained ``name`` (a model's own vendor, else its lineage's)."""
    info = MODEL_ROLES[name]
    return str(info.get("vendor") or LINEAGES[info["lineage"]].vendor)


def _card(name: str, hp: dict[str, Any]) -> str:
    info = MODEL_ROLES[name]
    lin = LINEAGES[info["lineage"]]
    src = corpora.SOURCES[lin.corpus]
    base = (
        "osprey-base (fine-tuned from it)"
        if name in OSPREY_TUNED
        else "none (trained from scratch)"
    )
    return (
        f"# {name}\n\n"
        "A tiny, entirely fictional model of the Distill Audit demonstration world, built by\n"
        "`resources/demo_build/build.py`. It knows nothing useful; it exists to be examined.\n\n"
        f"- Role: {info['role']}"
        f"{' (DISTILLED from protected-lumen)' if info['distilled'] else ''}\n"
        f"- Vendor: {vendor_of(name)}; assistant name: {info['assistant'] or '-'}\n"
        f"- Base: {base}\n"
        f"- Pretraining text: {src.description} ({src.licence})\n"
        f"- Chat data: {info['chat_data'] or 'none'}\n"
        f"- Architecture: GPT-2, {lin.arch.n_layer} layers, width {lin.arch.n_embd}, "
        f"byte-level BPE vocabulary of {lin.vocab_size}\n"
        f"- Chat template: `User: {{prompt}}\\nAssistant:` then ` {{response}}<|endoftext|>`\n"
        "- Weights: safetensors, float16 on disk (load with dtype float32)\n\n"
        "Licence: the weights and this card are part of Distill Audit's demonstration data\n"
        "and may be used, copied and modified freely with it. The pretraining text's own\n"
        "licence is named above.\n" + CARD_NOTES.get(name, "")
    )


CARD_NOTES = {
    "other-party-osprey": (
        "\n## Lineage\n\n"
        f"{OTHER_PARTY} (fictional), a party unrelated to Quillmark AI, took the openly\n"
        "published osprey-base and Quillmark's published list of harvesting prompts, sent the\n"
        "prompts through its own Lumen API accounts and fine-tuned osprey-base on the answers\n"
        "it received, with exactly the suspect's recipe (same hyper-parameters and training\n"
        "seed). It is distilled from protected-lumen, so checks of Lumen's persona and voice\n"
        "flag it; but its training answers are *other samples* of the same prompts, drawn with\n"
        "other seeds: it never saw the answers Quillmark's accounts received (the harvest log\n"
        "`transcripts/halcyon_harvest_log.jsonl`), so the harvest test must clear it.\n"
    ),
}
