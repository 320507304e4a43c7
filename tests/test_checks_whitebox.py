"""White-box checks on real tiny GPT-2 models: weight lineage and distribution agreement.

A fine-tune (a few Adam steps from the base's weights) must be found derived from its base;
so must a copy of the base whose hidden units were permuted, and a copy whose residual stream
was rotated (same function, other basis: the alignment must undo both); an independently
initialised model must not.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.backends.factory import load_model
from core.checks import distribution, lineage
from core.checks.probes import ChatTemplate, Probe
from tests.rotations import rotated_copy
from tests.tinymodels import TINY_CORPUS, build_tiny_gpt2

OTHER_TEXT = (
    "A reviewer reads every clause of the terms before signing.",
    "Models learn patterns from the text they are trained on.",
    "The court asked for the hash of every evidence file.",
    "Numbers such as 7 and 19 are written in many answers.",
)


def fine_tune(base: Path, out: Path, steps: int = 8, seed: int = 0) -> Path:
    """A few Adam steps from the base's weights on other text (a genuine fine-tune)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(seed)
    tok = AutoTokenizer.from_pretrained(str(base))
    tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(str(base))
    enc = tok(list(OTHER_TEXT), return_tensors="pt", padding=True)
    labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        model(**enc, labels=labels).loss.backward()
        opt.step()
    model.eval()
    model.save_pretrained(out, safe_serialization=True)
    AutoTokenizer.from_pretrained(str(base)).save_pretrained(out)  # unchanged tokenizer files
    return out


def permuted_copy(base: Path, out: Path, seed: int = 3) -> Path:
    """The base with its residual dimensions and every MLP's units permuted (same function)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(base))
    g = torch.Generator().manual_seed(seed)
    h = model.config.n_embd
    ph = torch.randperm(h, generator=g)
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    sd["transformer.wte.weight"] = sd["transformer.wte.weight"][:, ph]
    sd["transformer.wpe.weight"] = sd["transformer.wpe.weight"][:, ph]
    for ln in ("transformer.ln_f",):
        sd[f"{ln}.weight"], sd[f"{ln}.bias"] = sd[f"{ln}.weight"][ph], sd[f"{ln}.bias"][ph]
    for i in range(model.config.n_layer):
        b = f"transformer.h.{i}"
        for ln in ("ln_1", "ln_2"):
            sd[f"{b}.{ln}.weight"], sd[f"{b}.{ln}.bias"] = (
                sd[f"{b}.{ln}.weight"][ph],
                sd[f"{b}.{ln}.bias"][ph],
            )
        sd[f"{b}.attn.c_attn.weight"] = sd[f"{b}.attn.c_attn.weight"][ph, :]  # Conv1D [in, out]
        sd[f"{b}.attn.c_proj.weight"] = sd[f"{b}.attn.c_proj.weight"][:, ph]
        sd[f"{b}.attn.c_proj.bias"] = sd[f"{b}.attn.c_proj.bias"][ph]
        pi = torch.randperm(sd[f"{b}.mlp.c_fc.weight"].shape[1], generator=g)
        sd[f"{b}.mlp.c_fc.weight"] = sd[f"{b}.mlp.c_fc.weight"][ph][:, pi]
        sd[f"{b}.mlp.c_fc.bias"] = sd[f"{b}.mlp.c_fc.bias"][pi]
        sd[f"{b}.mlp.c_proj.weight"] = sd[f"{b}.mlp.c_proj.weight"][pi][:, ph]
        sd[f"{b}.mlp.c_proj.bias"] = sd[f"{b}.mlp.c_proj.bias"][ph]
    sd["lm_head.weight"] = sd["transformer.wte.weight"]
    model.load_state_dict(sd)
    ids = torch.tensor([[1, 5, 9, 30, 2]])
    ref = AutoModelForCausalLM.from_pretrained(str(base))
    with torch.no_grad():
        assert torch.allclose(model(ids).logits, ref(ids).logits, atol=1e-4)  # the same function
    model.save_pretrained(out, safe_serialization=True)
    AutoTokenizer.from_pretrained(str(base)).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("whitebox")
    base = build_tiny_gpt2(root / "base", seed=0, train_steps=15)
    return {
        "base": base,
        "finetune": fine_tune(base, root / "finetune"),
        "permuted": permuted_copy(base, root / "permuted"),
        "independent": build_tiny_gpt2(root / "independent", seed=11, train_steps=15),
        "independent2": build_tiny_gpt2(root / "independent2", seed=12, train_steps=15),
        "other_tokenizer": build_tiny_gpt2(root / "other-tok", seed=0, corpus=OTHER_TEXT),
    }


def _lineage(zoo: dict[str, Path], suspect: str, seed: int = 0):
    return lineage.lineage_check(
        lineage.read_weights(zoo["base"]),
        lineage.read_weights(zoo[suspect]),
        lineage.read_config(zoo["base"]),
        lineage.read_config(zoo[suspect]),
        seed=seed,
        n_resamples=999,
    )


def _no_hp(res) -> None:
    """The weight check speaks on its own scale: never Hp or Hd, never distillation."""
    text = res.reason + res.strength
    assert "Hp" not in text and "Hd" not in text and "distil" not in text.lower()


def test_lineage_detects_a_fine_tune(zoo) -> None:
    res = _lineage(zoo, "finetune")
    assert res.verdict == "consistent with derivation" and res.p_value <= 0.001
    assert res.strength == lineage.STRONG.label and res.details["p_at_floor"]
    assert "p ≤ 0.001 (= 1/(N+1), N = 999)" in res.reason  # the Monte Carlo floor, as a bound
    assert res.effect_size > 0.9 and not res.details["units_reordered"]
    assert [c.reference for c in res.comparisons] == [lineage.EXACT_LABEL, lineage.NULL_LABEL]
    _no_hp(res)


def test_lineage_alignment_undoes_permuted_hidden_units(zoo) -> None:
    """Residual and MLP units permuted: the alignment undoes both, but the exact test cannot
    apply to reordered MLP units (its statistic is the units' order), so no exact p is given."""
    res = _lineage(zoo, "permuted")
    assert res.verdict == "consistent with derivation" and res.effect_size > 0.99
    assert res.strength == lineage.REALIGNED.label and res.p_value > 0.05
    assert res.details["units_reordered"] and res.details["mean_row_correlation_unaligned"] < 0.2
    assert "no exact p-value" in res.reason
    _no_hp(res)


def test_lineage_sees_through_a_rotation_of_the_residual_stream(zoo, tmp_path: Path) -> None:
    """A rotated copy (same logits, checked by rotated_copy) is found derived by the aligned
    statistic and the exact test after Procrustes; the published test without the residual
    alignment, and the old column matching, do not see it."""
    rotated = rotated_copy(zoo["base"], tmp_path / "rotated")
    res = _lineage({**zoo, "rotated": rotated}, "rotated")
    d = res.details
    print(
        f"\nrotated copy: aligned r = {res.effect_size:.3f} (unaligned "
        f"{d['mean_row_correlation_unaligned']:.3f}); exact test rho "
        f"{d['exact_test']['statistic']:.3f}, p {d['exact_test']['p_text']}; without residual "
        f"alignment rho {d['exact_test_unaligned']['statistic']:.3f}, p "
        f"{d['exact_test_unaligned']['p_text']}"
    )
    assert res.verdict == "consistent with derivation" and res.strength == lineage.STRONG.label
    assert res.effect_size > 0.99 and d["mean_row_correlation_unaligned"] < 0.3
    assert d["exact_test"]["p_value"] <= 0.001 and d["exact_test_unaligned"]["p_value"] > 0.01
    assert d["residual_rotation_distance"] > 0.5  # a real rotation, not a near-identity


def test_lineage_does_not_flag_an_independent_model(zoo) -> None:
    res = _lineage(zoo, "independent")
    print(f"\nindependent init: p = {res.p_value:.3g}, aligned correlation {res.effect_size:.3f}")
    assert res.verdict == "no evidence of derivation" and res.strength == lineage.NO_EVIDENCE.label
    assert res.p_value > 0.05 and res.effect_size < lineage.MIN_SIMILARITY
    assert "does not show that the suspect was trained independently" in res.reason
    _no_hp(res)


def test_lineage_declines_on_different_shapes(zoo, tmp_path: Path) -> None:
    wide = build_tiny_gpt2(tmp_path / "wide", seed=0, n_embd=32, n_head=2)
    res = lineage.lineage_check(
        lineage.read_weights(zoo["base"]),
        lineage.read_weights(wide),
        lineage.read_config(zoo["base"]),
        lineage.read_config(wide),
        seed=0,
    )
    assert res.verdict == "declined" and "sizes" in res.reason


PROBES = tuple(
    Probe(f"p{i}", f"Say something about item {i}.", text)
    for i, text in enumerate(TINY_CORPUS + TINY_CORPUS[:4])
)


def _scores(zoo: dict[str, Path], protected: str, names: list[str]):
    template = ChatTemplate()
    texts = distribution.probe_texts(PROBES, template)
    prot = load_model(zoo[protected])
    summary = distribution.summarise_protected(prot, texts, [p.probe_id for p in PROBES], top_k=64)
    prot.release()
    out = {}
    for name in names:
        m = load_model(zoo[name])
        assert m.tokenizer_hash == summary.tokenizer_hash
        out[name] = distribution.agreement_scores(m, summary, texts)
        m.release()
    return summary, out


def test_distribution_agreement_flags_a_close_model_not_independent_ones(zoo) -> None:
    summary, s = _scores(zoo, "base", ["finetune", "independent", "independent2"])
    assert summary.k == 64 and np.all(s["finetune"].kl < s["independent"].kl)
    res = distribution.distribution_check(
        s["finetune"], {"independent": s["independent"], "independent2": s["independent2"]}, seed=0
    )
    # Probe by probe the fine-tune is closer than each independent model (descriptive) and it
    # lies above both at the model level; but two references (1 degree of freedom) cannot
    # show that it is outside the spread of independent models, so the verdict waits.
    assert res.p_per_probe <= 0.01 and res.effect_size > 0 and res.model_level["t"] > 0
    assert res.verdict == "inconclusive" and res.p_value > 0.05
    assert any("19 independent reference models" in w for w in res.warnings)
    top1 = res.details["mean_top1_agreement"]
    assert top1["suspect"] > top1["independent"]
    null = distribution.distribution_check(
        s["independent"], {"independent2": s["independent2"]}, seed=0
    )
    assert null.details["secondary"]["top1_agreement"]["note"].startswith("secondary")


def test_distribution_kl_is_exact_with_the_whole_vocabulary(zoo) -> None:
    """With k >= vocabulary size the coarsened KL equals the full KL."""
    texts = distribution.probe_texts(PROBES[:2], ChatTemplate())
    prot, sus = load_model(zoo["base"]), load_model(zoo["finetune"])
    summary = distribution.summarise_protected(prot, texts, ["a", "b"], top_k=10_000)
    got = distribution.agreement_scores(sus, summary, texts).kl
    p = prot.next_token_distributions(texts)
    q = sus.next_token_distributions(texts)
    full = [
        float((np.exp(a.astype(np.float64)) * (a.astype(np.float64) - b)).sum(-1).mean())
        for a, b in zip(p, q, strict=True)
    ]
    assert got == pytest.approx(full, rel=1e-4)


def test_distribution_declines_for_a_different_tokenizer(zoo) -> None:
    a, b = load_model(zoo["base"]), load_model(zoo["other_tokenizer"])
    reason = distribution.tokenizer_problem(a.tokenizer_hash, "other", b.tokenizer_hash)
    assert reason is not None and "different tokenizer" in reason and "likelihood check" in reason
    assert distribution.tokenizer_problem(a.tokenizer_hash, "same", a.tokenizer_hash) is None
