"""A rotated copy of a GPT-2: the same function in another basis of the residual stream.

The evasion the weight-lineage check must see through. The residual stream x becomes x·M for
an orthogonal M that keeps the all-ones direction (LayerNorm centres, so only such rotations
commute with it). Every normalisation's gain and bias are folded into the matrices that
read its output, which leaves each LayerNorm a plain normalisation (gain 1, bias 0):

* readers (attention c_attn, MLP c_fc; Conv1D [in, out]): W' = Mᵀ·diag(g)·W, b' = b + β·W;
* writers (attention and MLP c_proj): W' = W·M, b' = b·M; embeddings: E' = E·M;
* the final norm feeds the (now untied) output head: head' = E·diag(g_f)·M and the final
  norm's bias becomes (β_f / g_f)·M, so the logits are unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def ones_fixing_rotation(d: int, seed: int) -> np.ndarray:
    """A random orthogonal d×d matrix M with M·1 = 1 (a rotation of the centred subspace)."""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(np.column_stack([np.ones(d), rng.standard_normal((d, d - 1))]))
    inner, _ = np.linalg.qr(rng.standard_normal((d - 1, d - 1)))
    b = basis[:, 1:]  # orthonormal basis of the complement of the ones vector
    return np.outer(np.ones(d), np.ones(d)) / d + b @ inner @ b.T


def rotated_copy(base: Path, out: Path, seed: int = 5) -> Path:
    """Write the rotated copy of the GPT-2 in ``base`` to ``out``; assert equal logits."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2LMHeadModel

    ref = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32).eval()
    cfg = ref.config
    m = torch.tensor(ones_fixing_rotation(cfg.n_embd, seed), dtype=torch.float64)
    sd = {k: v.detach().to(torch.float64).clone() for k, v in ref.state_dict().items()}
    new: dict[str, torch.Tensor] = {}
    wte = sd["transformer.wte.weight"]
    new["transformer.wte.weight"] = wte @ m
    new["transformer.wpe.weight"] = sd["transformer.wpe.weight"] @ m
    for i in range(cfg.n_layer):
        b = f"transformer.h.{i}"
        for ln, reader in (("ln_1", "attn.c_attn"), ("ln_2", "mlp.c_fc")):
            g, beta = sd[f"{b}.{ln}.weight"], sd[f"{b}.{ln}.bias"]
            w = sd[f"{b}.{reader}.weight"]
            new[f"{b}.{reader}.weight"] = m.T @ torch.diag(g) @ w
            new[f"{b}.{reader}.bias"] = sd[f"{b}.{reader}.bias"] + beta @ w
            new[f"{b}.{ln}.weight"], new[f"{b}.{ln}.bias"] = torch.ones_like(g), torch.zeros_like(g)
        for writer in ("attn.c_proj", "mlp.c_proj"):
            new[f"{b}.{writer}.weight"] = sd[f"{b}.{writer}.weight"] @ m
            new[f"{b}.{writer}.bias"] = sd[f"{b}.{writer}.bias"] @ m
    gf, bf = sd["transformer.ln_f.weight"], sd["transformer.ln_f.bias"]
    new["lm_head.weight"] = wte @ torch.diag(gf) @ m
    new["transformer.ln_f.weight"], new["transformer.ln_f.bias"] = (
        torch.ones_like(gf),
        (bf / gf) @ m,
    )
    cfg_new = type(cfg).from_dict({**cfg.to_dict(), "tie_word_embeddings": False})
    model = GPT2LMHeadModel(cfg_new).eval()
    state = model.state_dict()
    for k in state:
        state[k] = (new[k] if k in new else sd[k]).to(torch.float32)
    model.load_state_dict(state)
    ids = torch.tensor([[1, 5, 9, 30, 2, 17, 4]])
    with torch.no_grad():
        got, want = model(ids).logits, ref(ids).logits
    assert torch.allclose(got, want, atol=1e-3), float((got - want).abs().max())
    model.save_pretrained(out, safe_serialization=True)
    AutoTokenizer.from_pretrained(str(base)).save_pretrained(out)
    return out
