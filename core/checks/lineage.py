"""Check 5, weight lineage (white-box): is the suspect a fine-tune of a given base model?

This check answers "derived from the base model", never anything about outputs or
distillation. Hidden units of a network can be reordered without changing what it
computes, so the suspect's units are first aligned to the base's:

1. the residual (embedding) dimensions, by matching the columns of the input embedding
   matrices (standardised over the vocabulary) with the Hungarian algorithm
   (``scipy.optimize.linear_sum_assignment``);
2. each compared layer's MLP units, by matching the rows of the MLP *input* matrices
   (after step 1) the same way.

The statistic is measured on tensors the alignment never saw: the MLP *output* matrices.
It is the mean, over their residual rows, of the Pearson correlation between the base's
row and the aligned suspect's row. Null hypothesis: the suspect was initialised
independently of the base, so after alignment its output weights are paired with the
base's no better than a random pairing of units would pair them. Permutation test: N
random pairings (residual and MLP units permuted at random, seeded) give the null
distribution, p = (1+k)/(N+1). A fine-tune keeps most of its base's weights (correlation
near 1); independently trained models can share a little structure (convergent
learning), so a result counts as support only when the correlation also reaches the
minimum effect fixed in the specification (0.3). The unaligned statistic (no alignment)
is reported too: when it is far below the aligned one, the units were reordered.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from core.checks.available import AvailableInputs
from core.checks.framework import (
    WEIGHTS_PASS,
    CheckResult,
    CheckSpec,
    ReferenceComparison,
    Verdict,
    declined,
)
from core.checks.plugin import Check, CheckData, RunContext
from core.checks.stats import bootstrap_ci
from core.checks.verbal import INCONCLUSIVE, LIMITED, strength
from core.errors import DeclinedError
from core.jobs import JobState

MIN_SIMILARITY = 0.3
_EMBED = re.compile(r"(^|\.)(wte|embed_tokens|word_embeddings|tok_embeddings|embed_in)\.weight$")
_LAYER = re.compile(r"\.(\d+)\.")
_MLP_IN = ("c_fc", "up_proj", "fc1", "fc_in", "dense_h_to_4h", "w1", "gate_proj", "w3")
_MLP_OUT = ("c_proj", "down_proj", "fc2", "fc_out", "dense_4h_to_h", "w2")
_MLP_SCOPE = ("mlp", "ffn", "feed_forward", "feedforward")
NULL_LABEL = "independent initialisation (random pairing of hidden units)"

SPEC = CheckSpec(
    key="lineage",
    title="Weight lineage",
    question="Is the suspect derived from the given base model (a fine-tune of its weights), "
    "rather than initialised independently? (This check does not address training on the "
    "protected model's outputs.)",
    access="weights",
    null_hypothesis="The suspect was initialised independently of the base model: after aligning "
    "hidden units, its MLP output weights match the base's no better than a random "
    "pairing of units would.",
    alternative="The suspect is derived from the base model: its aligned weights match the base's "
    "far better than random pairings do.",
    test="Hidden units aligned with the Hungarian algorithm on the input embedding and the MLP "
    "input matrices; statistic: mean row correlation of the MLP output matrices (not used for the "
    "alignment); permutation test against N seeded random pairings, p = (1+k)/(N+1); BCa "
    "bootstrap CI over rows; support also needs a mean correlation of at least 0.3.",
    minimum_inputs="The suspect and the base as safetensors folders with the same architecture "
    "(hidden and MLP sizes, vocabulary) and at least one MLP layer.",
    min_effect=MIN_SIMILARITY,
    can_show="Can show that the suspect's weights derive from the given base model; cannot "
    "say anything about training on the protected model's outputs.",
    answers=("weights", "same"),
    addresses_hp=False,
    not_hp_reason="The weight-lineage check answers a different question (is the suspect "
    "derived from the given base model?), so it takes no part in the combined Hp-vs-Hd summary.",
    passes=(WEIGHTS_PASS,),
    inputs=("base_model",),
    effect_name="mean aligned row correlation of the MLP output weights",
)


def read_config(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / "config.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DeclinedError(
            f"{folder} has no readable config.json ({exc}); the weight check needs the "
            "model's Hugging Face folder."
        ) from exc


def read_weights(folder: str | Path) -> dict[str, np.ndarray]:
    """Every tensor of the folder's safetensors files as float32 numpy (no pickle is ever read)."""
    from safetensors import safe_open

    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        raise DeclinedError(
            f"{folder} holds no safetensors weights; the weight check reads weights "
            "only from safetensors (an ONNX export cannot be aligned)."
        )
    out: dict[str, np.ndarray] = {}
    for f in files:
        with safe_open(str(f), framework="pt") as fh:
            for key in fh.keys():
                out[key] = fh.get_tensor(key).float().numpy()
    return out


def _sizes(config: Mapping[str, Any]) -> tuple[int, int]:
    cfg = config.get("text_config") or config
    hidden = cfg.get("hidden_size") or cfg.get("n_embd") or cfg.get("d_model")
    inner = cfg.get("intermediate_size") or cfg.get("n_inner") or cfg.get("ffn_dim")
    if inner is None and hidden and cfg.get("model_type") == "gpt2":
        inner = 4 * int(hidden)
    if not hidden or not inner:
        raise DeclinedError("The model's config does not state its hidden and MLP sizes.")
    return int(hidden), int(inner)


def _embedding(w: Mapping[str, np.ndarray], hidden: int) -> np.ndarray:
    for name in sorted(w):
        if _EMBED.search(name) and w[name].ndim == 2 and w[name].shape[1] == hidden:
            return w[name]
    raise DeclinedError("No input embedding matrix was found to align the hidden dimensions.")


def _mlp_pairs(w: Mapping[str, np.ndarray], hidden: int, inner: int) -> dict[int, tuple[str, str]]:
    """layer -> (input matrix name, output matrix name) of its MLP."""
    layers: dict[int, dict[str, str]] = {}
    for name, t in w.items():
        m = _LAYER.search(name)
        if not m or t.ndim != 2 or set(t.shape) != {hidden, inner} or not name.endswith(".weight"):
            continue
        if not any(s in name for s in _MLP_SCOPE):
            continue
        part = name.rsplit(".", 2)[-2]
        slot = layers.setdefault(int(m.group(1)), {})
        if part in _MLP_IN and (
            "in" not in slot or _MLP_IN.index(part) < _MLP_IN.index(slot["in_part"])
        ):
            slot["in"], slot["in_part"] = name, part
        elif part in _MLP_OUT:
            slot["out"] = name
    return {k: (v["in"], v["out"]) for k, v in sorted(layers.items()) if "in" in v and "out" in v}


def _oriented(t: np.ndarray, rows: int, name: str) -> np.ndarray:
    """The matrix with ``rows`` rows (transposing GPT-2 Conv1D [in, out] storage when needed)."""
    if t.shape[0] == rows and t.shape[1] != rows:
        return t
    if t.shape[1] == rows and t.shape[0] != rows:
        return t.T
    return t.T if any(k in name for k in ("c_fc", "c_proj")) else t  # square: Conv1D vs Linear


def _standardise_rows(x: np.ndarray) -> np.ndarray:
    """Rows centred and scaled to unit length, so a dot product is a Pearson correlation."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norm > 0, norm, 1.0)


def _match(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """perm such that row i of ``a`` is matched with row perm[i] of ``b`` (max total
    correlation)."""
    from scipy.optimize import linear_sum_assignment

    corr = _standardise_rows(a) @ _standardise_rows(b).T
    rows, cols = linear_sum_assignment(corr, maximize=True)
    perm = np.empty(a.shape[0], dtype=np.int64)
    perm[rows] = cols
    return perm


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.reshape(-1).astype(np.float64), b.reshape(-1).astype(np.float64)
    d = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b / d) if d > 0 else 0.0


def lineage_check(
    base: Mapping[str, np.ndarray],
    suspect: Mapping[str, np.ndarray],
    base_config: Mapping[str, Any],
    suspect_config: Mapping[str, Any],
    *,
    seed: int,
    alpha: float = 0.05,
    n_resamples: int = 999,
    max_layers: int = 4,
    state: JobState | None = None,
) -> CheckResult:
    """The weight-lineage check on two already read weight sets (see the module docstring)."""
    state = state or JobState()
    try:
        hidden, inner = _sizes(base_config)
        if _sizes(suspect_config) != (hidden, inner):
            raise DeclinedError(
                f"The suspect's hidden/MLP sizes {_sizes(suspect_config)} differ from the "
                f"base's {(hidden, inner)}: a fine-tune keeps its base's shapes, so this "
                "test does not apply (which does not show independence either)."
            )
        eb, es = _embedding(base, hidden), _embedding(suspect, hidden)
        if eb.shape != es.shape:
            raise DeclinedError(
                f"The embedding matrices differ in shape ({eb.shape} vs {es.shape}): the "
                "vocabularies differ, so hidden units cannot be aligned through them."
            )
        pairs_b, pairs_s = _mlp_pairs(base, hidden, inner), _mlp_pairs(suspect, hidden, inner)
        common = sorted(set(pairs_b) & set(pairs_s))
        if not common:
            raise DeclinedError(
                "No MLP layers with matching names and shapes were found in both models."
            )
    except DeclinedError as exc:
        return declined(SPEC, str(exc), seed=seed, alpha=alpha)
    picks = sorted(
        {
            common[int(round(i))]
            for i in np.linspace(0, len(common) - 1, min(max_layers, len(common)))
        }
    )
    state.set_status("Aligning hidden dimensions on the embeddings")
    perm_h = _match(eb.T, es.T)
    zb, zs, zs_raw, tensors = [], [], [], {}
    for n, layer in enumerate(picks):
        state.check_cancelled()
        (in_b, out_b), (in_s, out_s) = pairs_b[layer], pairs_s[layer]
        w1b, w1s = (
            _oriented(base[in_b], inner, in_b),
            _oriented(suspect[in_s], inner, in_s)[:, perm_h],
        )
        perm_i = _match(w1b, w1s)
        w2b, w2s = _oriented(base[out_b], hidden, out_b), _oriented(suspect[out_s], hidden, out_s)
        aligned = w2s[perm_h][:, perm_i]
        zb.append(_standardise_rows(w2b))
        zs.append(_standardise_rows(aligned))
        zs_raw.append(_standardise_rows(w2s))
        tensors[out_b] = {
            "aligned_cosine": _cosine(w2b, aligned),
            "unaligned_cosine": _cosine(w2b, w2s),
            "input_aligned_cosine": _cosine(w1b, w1s[perm_i]),
        }
        state.set_progress(n + 1, len(picks) + 1)
    row_corr = np.concatenate([(b * s).sum(1) for b, s in zip(zb, zs, strict=True)])
    raw_corr = np.concatenate([(b * s).sum(1) for b, s in zip(zb, zs_raw, strict=True)])
    observed, unaligned = float(row_corr.mean()), float(raw_corr.mean())
    state.set_status("Permutation test against random pairings of units")
    rng = np.random.default_rng(seed)
    null = np.empty(n_resamples)
    for k in range(n_resamples):
        if k % 50 == 0:
            state.check_cancelled()
        total = 0.0
        sigma_h = rng.permutation(hidden)
        for b, s in zip(zb, zs, strict=True):
            total += float((b * s[sigma_h][:, rng.permutation(inner)]).sum())
        null[k] = total / row_corr.size
    k_ext = int(np.count_nonzero(null >= observed - 1e-12))
    p = (1 + k_ext) / (n_resamples + 1)
    ci = bootstrap_ci(row_corr, n_resamples=2000, seed=[seed, 1])
    p_unaligned = (1 + int(np.count_nonzero(null >= unaligned - 1e-12))) / (n_resamples + 1)
    state.set_progress(100)
    comp = ReferenceComparison(
        reference=NULL_LABEL,
        statistic=observed,
        p_value=p,
        n=int(row_corr.size),
        effect_size=observed,
        ci=(ci.low, ci.high),
        p_holm=p,
        n_resamples=n_resamples,
        method=f"Permutation test, N = {n_resamples} random pairings, seed {seed}",
    )
    level = strength(p, observed, min_effect=SPEC.min_effect)
    supports = p <= alpha and level.supports_hp and level is not LIMITED
    verdict: Verdict
    if supports:
        verdict, reason = (
            "supports Hp",
            (
                "After aligning hidden units, the suspect's MLP output weights correlate with the "
                f"base's at {observed:.3f} on average (95% CI {ci.low:.3f} to {ci.high:.3f}) over "
                f"{len(picks)} layers; none of {n_resamples} random pairings came close "
                f"(p = {p:.3g}). This supports that the suspect is derived from the base model; it "
                "says nothing about training on outputs."
            ),
        )
    else:
        level = INCONCLUSIVE
        why = (
            f"p = {p:.3g} > {alpha:g}"
            if p > alpha
            else f"the mean aligned correlation {observed:.3f} is below the minimum of "
            f"{SPEC.min_effect:g} fixed for this check; independently trained models can share "
            "that much structure"
        )
        verdict, reason = (
            "inconclusive",
            (
                "The suspect's aligned weights are not shown to come from the base model: "
                f"{why}. This does not show that the suspect was trained independently."
            ),
        )
    details = {
        "layers_compared": picks,
        "hidden_size": hidden,
        "mlp_size": inner,
        "mean_row_correlation_aligned": observed,
        "mean_row_correlation_unaligned": unaligned,
        "p_value_unaligned": p_unaligned,
        "units_reordered": bool(observed - unaligned > 0.2),
        "null_mean": float(null.mean()),
        "null_max": float(null.max()),
        "tensors": tensors,
        "tensor_cosines_unaligned": {
            k: _cosine(v, suspect[k])
            for k, v in base.items()
            if k in suspect and suspect[k].shape == v.shape
        },
        "min_similarity": SPEC.min_effect,
    }
    return CheckResult(
        spec_key=SPEC.key,
        verdict=verdict,
        reason=reason,
        strength=level.label,
        null_hypothesis=SPEC.null_hypothesis,
        test=SPEC.test,
        statistic=observed,
        effect_size=observed,
        ci=(ci.low, ci.high),
        p_value=p,
        p_value_any=p,
        alpha=alpha,
        n_probes=len(picks),
        n_references=0,
        comparisons=(comp,),
        seed=seed,
        details=details,
    )


# --- what the runner calls (core.checks.plugin) ----------------------------------------------
def fits(available: AvailableInputs) -> str | None:
    """Why the weight check cannot run with this evidence (None: it can)."""
    if available.base_model:
        return None
    return (
        "The weight-lineage check needs the base model the suspect may be derived from: "
        f"{available.hint('base_model')}."
    )


def evaluate(ctx: RunContext, data: CheckData, state: JobState) -> CheckResult:
    """Read both weight sets (after the model passes) and run the lineage test."""
    base, sus = ctx.evidence.base, ctx.evidence.suspect
    assert base is not None  # fits() declined otherwise
    state.set_status(f"Reading the weights of {base.label} and {sus.label}")
    wb, ws = read_weights(base.path), read_weights(sus.path)
    cb, cs = read_config(base.path), read_config(sus.path)
    s = ctx.settings
    return lineage_check(
        wb,
        ws,
        cb,
        cs,
        seed=s.seed,
        alpha=s.alpha,
        n_resamples=s.lineage_resamples,
        max_layers=s.lineage_max_layers,
        state=state,
    )


CHECK = Check(SPEC, fits=fits, evaluate=evaluate)
